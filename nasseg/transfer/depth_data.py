"""Depth prediction data (paper Sect. 4.5): RGB / depth pairs and the dataset over any depth source.

Two on-disk sources are read, both in their public formats:

* the NYU Depth v2 **labelled set** (:class:`nasseg.transfer.nyu.NYULabeled`);
* **raw RGB / depth pairs** as the community redistributes the raw Kinect sequences (BTS's
  ``sync`` folders and list files, mmseg's NYU layout): an RGB JPEG and a 16-bit PNG of
  depth in millimetres, 0 = invalid (:class:`DepthPairs`).

Every sample of :class:`DepthDataset` is ``(image, depth)``: a float32 3 x H x W image
normalised with the ImageNet mean / std, and a float32 1 x H x W depth in metres where
0 marks an invalid pixel (a Kinect hole, beyond ``max_depth``, or padding).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..data import transforms as F  # resize / pad in plain torch
from ..data.io import read_image
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError
from .nyu import FrameIndexError, NYULabeled

EIGEN_CROP_480x640 = (45, 471, 41, 601)  # top, bottom, left, right (exclusive ends)


# ----------------------------------------------------------------------------- RGB / depth pairs


def read_depth_png(path: str | Path, scale: float = 1e-3) -> np.ndarray:
    """A single-channel 16-bit (or 8-bit) depth PNG as float32 H x W metres (raw x ``scale``;
    0 stays 0 = invalid)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: depth file not found. Check the dataset root and the list file that names it.")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode not in ("I;16", "I;16B", "I;16L", "I", "L"):
                raise DataError(f"{path}: depth image has mode {mode}; expected a single-channel 16-bit PNG "
                                "(I;16) of depth in millimetres, or 8-bit grey. Colour-mapped depth "
                                "visualisations cannot be used as targets.")
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: unreadable or truncated depth image ({err}). Pass --skip-bad to drop it.") from None
    if arr.ndim != 2:
        raise DataError(f"{path}: depth image must be 2-D (H x W), got shape {arr.shape}.")
    if mode == "I" and (arr.min() < 0 or arr.max() > 65535):
        raise DataError(f"{path}: 32-bit depth values outside 0..65535; expected 16-bit millimetres.")
    return (arr.astype(np.float32) * np.float32(scale)).astype(np.float32)


class PairList(list):
    """A list of (rgb, depth) path pairs; ``skipped`` holds (what, why) for dropped entries."""

    def __init__(self, items=(), skipped=()):
        super().__init__(items)
        self.skipped: list[tuple[str, str]] = list(skipped)


def load_pair_list(list_file: str | Path, root: str | Path, *, skip_bad: bool = False) -> PairList:
    """Pairs from a BTS-style list: one ``rgb_relpath depth_relpath [focal ...]`` per line,
    paths relative to ``root``; extra columns ignored, blank lines and ``#`` comments skipped.
    A missing file raises DataError, or with ``skip_bad`` drops the line (``.skipped``)."""
    list_file, root = Path(list_file), Path(root)
    if not list_file.is_file():
        raise DataError(f"{list_file}: depth pair list not found. Check the list path in the depth data params.")
    out = PairList()
    for lineno, line in enumerate(list_file.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cols = line.split()
        if len(cols) < 2:
            raise DataError(f"{list_file}:{lineno}: expected 'rgb_path depth_path [focal]', got {line!r}.")
        rgb, depth = root / cols[0], root / cols[1]
        missing = [p for p in (rgb, depth) if not p.is_file()]
        if missing:
            if not skip_bad:
                raise DataError(f"{list_file}:{lineno}: names a file that does not exist: {missing[0]}. Fix the "
                                f"list or the root ({root}), or pass --skip-bad to drop such pairs.")
            out.skipped.append((f"{list_file}:{lineno}", f"missing file {missing[0]}"))
            continue
        out.append((rgb, depth))
    if not out:
        raise DataError(f"{list_file}: no usable pairs" + (f" ({len(out.skipped)} skipped as missing)" if out.skipped
                                                           else "") + f". Check the list and the root {root}.")
    return out


_RGB_EXT = (".jpg", ".jpeg", ".png")


def pairs_from_folders(images_dir: str | Path, depths_dir: str | Path, *, skip_bad: bool = False) -> PairList:
    """Pairs matched by file stem: ``images_dir/*.jpg`` (or .png) with ``depths_dir/<stem>.png``
    (mmseg's NYU layout: ``images/`` + ``annotations/``). An image without a depth raises
    DataError, or with ``skip_bad`` is dropped (``.skipped``)."""
    images_dir, depths_dir = Path(images_dir), Path(depths_dir)
    for d, what in ((images_dir, "RGB image folder"), (depths_dir, "depth folder")):
        if not d.is_dir():
            raise DataError(f"{d}: {what} not found. Check the depth data params.")
    depth_by_stem = {p.stem: p for p in sorted(depths_dir.iterdir()) if p.suffix.lower() == ".png"}
    out = PairList()
    for img in sorted(p for p in images_dir.iterdir() if p.suffix.lower() in _RGB_EXT):
        depth = depth_by_stem.get(img.stem)
        if depth is None:
            if not skip_bad:
                raise DataError(f"{img}: no depth {depths_dir / (img.stem + '.png')} with the same name. "
                                "Add it, or pass --skip-bad to drop unmatched images.")
            out.skipped.append((str(img), "no depth file with the same stem"))
            continue
        out.append((img, depth))
    if not out:
        raise DataError(f"{images_dir}: no image has a depth PNG of the same name in {depths_dir}.")
    return out


class DepthPairs:
    """RGB / depth-PNG pairs as a depth source (same interface as :class:`NYULabeled`)."""

    def __init__(self, pairs: Sequence[tuple[Path, Path]], depth_scale: float = 1e-3):
        self.pairs = [(Path(a), Path(b)) for a, b in pairs]
        self.depth_scale = float(depth_scale)
        self.skipped = list(getattr(pairs, "skipped", []))
        if not self.pairs:
            raise DataError("depth dataset: no RGB / depth pairs given. Check the pair list or folders.")

    def __len__(self) -> int:
        return len(self.pairs)

    def describe(self, i: int) -> str:
        return f"pair (image {self.pairs[i][0]}, depth {self.pairs[i][1]})"

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise FrameIndexError(f"depth pairs: index {i} out of range for {len(self)} pairs.")
        rgb, dpath = self.pairs[i]
        image = read_image(rgb)
        depth = read_depth_png(dpath, self.depth_scale)
        if tuple(image.shape[1:]) != depth.shape:
            raise DataError(f"{self.describe(i)}: image {image.shape[2]}x{image.shape[1]} and depth "
                            f"{depth.shape[1]}x{depth.shape[0]} (WxH) differ; they must be pixel-aligned. "
                            "Pass --skip-bad to drop it.")
        return image, torch.from_numpy(depth)[None]

    def __repr__(self) -> str:
        return f"DepthPairs({len(self)} pairs)"


# ----------------------------------------------------------------------------- dataset

DepthSource = Union[NYULabeled, DepthPairs, Sequence[tuple[Path, Path]]]


def eigen_crop(h: int, w: int) -> tuple[int, int, int, int]:
    """The standard NYU evaluation crop (Eigen et al.) ``[45:471, 41:601]`` of 480 x 640,
    scaled to an h x w image: ``(top, bottom, left, right)``, ends exclusive."""
    t, b, l, r = EIGEN_CROP_480x640
    return (int(round(t * h / 480)), int(round(b * h / 480)), int(round(l * w / 640)), int(round(r * w / 640)))


class DepthDataset(Dataset):
    """``(image, depth)`` samples for depth prediction from a labelled .mat or RGB/depth pairs.

    Returns a float32 3 x H x W image normalised with the ImageNet mean / std and a float32
    1 x H x W depth in metres, 0 = invalid (non-finite, <= 0, above ``max_depth``, padding).

    Training (``train=True``), in this order, all randomness from torch's global RNG:

    * random scale ``s`` uniform in ``scale``: image bilinear, depth nearest, and the depth
      **values divided by s** (Eigen et al. 2014: enlarging the image is taken as moving the
      camera closer, so the scene gets nearer by the same factor);
    * random crop ``crop_hw`` (H, W); a smaller image is padded at a random offset, the
      image with the ImageNet mean (0 after normalisation), the depth with 0 = invalid;
    * horizontal flip with probability 0.5 (image and depth together).

    Evaluation (``train=False``): the full frame, unchanged (``crop_hw``, ``scale`` and
    ``flip`` are ignored)."""

    def __init__(self, source: DepthSource, *, train: bool, crop_hw: Optional[tuple[int, int]] = (96, 128),
                 scale: Optional[tuple[float, float]] = (1.0, 1.5), flip: bool = True, max_depth: float = 10.0,
                 depth_scale: float = 1e-3):
        if isinstance(source, (NYULabeled, DepthPairs)):
            self.source = source
        else:
            self.source = DepthPairs(source, depth_scale)
        self.train = bool(train)
        self.crop_hw = None if crop_hw is None else (int(crop_hw[0]), int(crop_hw[1]))
        self.scale = None if scale is None else (float(scale[0]), float(scale[1]))
        if self.scale is not None and not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        self.flip = bool(flip)
        self.max_depth = float(max_depth)
        self._mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.source)

    def _valid(self, depth: torch.Tensor) -> torch.Tensor:
        bad = ~torch.isfinite(depth) | (depth <= 0) | (depth > self.max_depth)
        return depth.masked_fill(bad, 0.0)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_u8, depth = self.source.load(index)
        if tuple(image_u8.shape[1:]) != tuple(depth.shape[1:]):
            raise DataError(f"{self.source.describe(index)}: image {tuple(image_u8.shape[1:])} and depth "
                            f"{tuple(depth.shape[1:])} (H, W) differ; they must be pixel-aligned.")
        image = (image_u8.to(torch.float32) / 255.0 - self._mean) / self._std
        depth = self._valid(depth.to(torch.float32))
        if self.train:
            image, depth = self._augment(image, depth)
        return image.contiguous(), depth.contiguous()

    def _augment(self, image: torch.Tensor, depth: torch.Tensor):
        if self.scale is not None and self.scale != (1.0, 1.0):
            lo, hi = self.scale
            s = lo + (hi - lo) * float(torch.rand(()))
            h, w = image.shape[-2:]
            size = [max(1, round(h * s)), max(1, round(w * s))]
            image = F.resize(image, size, "bilinear", antialias=True)
            # NEAREST_EXACT samples at pixel centres as bilinear does (no half-pixel shift).
            depth = F.resize(depth, size, "nearest-exact") / s
            depth = self._valid(depth)  # s < 1 can push depths past max_depth
        if self.crop_hw is not None:
            ch, cw = self.crop_hw
            h, w = image.shape[-2:]
            ph, pw = max(ch - h, 0), max(cw - w, 0)
            if ph or pw:
                top = int(torch.randint(0, ph + 1, ()))
                left = int(torch.randint(0, pw + 1, ()))
                pad = [left, top, pw - left, ph - top]  # left, top, right, bottom
                image = F.pad(image, pad, fill=0.0)  # 0 = the ImageNet mean after normalisation
                depth = F.pad(depth, pad, fill=0.0)  # 0 = invalid
                h, w = image.shape[-2:]
            y = int(torch.randint(0, h - ch + 1, ()))
            x = int(torch.randint(0, w - cw + 1, ()))
            image, depth = image[:, y:y + ch, x:x + cw], depth[:, y:y + ch, x:x + cw]
        if self.flip and float(torch.rand(())) < 0.5:
            image, depth = image.flip(-1), depth.flip(-1)
        return image, depth

    def __repr__(self) -> str:
        return f"DepthDataset({self.source!r}, train={self.train})"
