"""NYU Depth v2 for depth prediction (paper Sect. 4.5): readers, writers and the dataset.

Two on-disk sources are read, both in their public formats:

* the **labelled set** ``nyu_depth_v2_labeled.mat`` (1,449 frames), a MATLAB v7.3 file,
  i.e. HDF5 behind a 512-byte MATLAB text header. h5py sees MATLAB's column-major arrays
  transposed: ``images`` is (N, 3, W, H) uint8 and ``depths`` (N, W, H) float32 metres
  (dense: the official release in-paints the Kinect holes; ``rawDepths`` keeps them). With
  the official ``splits.mat`` (``trainNdxs`` 795, ``testNdxs`` 654; 1-based uint16 column
  vectors) it gives the standard 795 / 654 split;
* **raw RGB / depth pairs** as the community redistributes the raw Kinect sequences (BTS's
  ``sync`` folders and list files, mmseg's NYU layout): an RGB JPEG and a 16-bit PNG of
  depth in millimetres, 0 = invalid.

Every sample of :class:`DepthDataset` is ``(image, depth)``: a float32 3 x H x W image
normalised with the ImageNet mean / std, and a float32 1 x H x W depth in metres where
0 marks an invalid pixel (a Kinect hole, beyond ``max_depth``, or padding).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from ..data.io import read_image
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError

NYU_SIZE = (640, 480)  # (W, H) of every NYU Depth v2 frame
NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)  # fx, fy, cx, cy at 640 x 480 (colour camera)
EIGEN_CROP_480x640 = (45, 471, 41, 601)  # top, bottom, left, right (exclusive ends)

# MATLAB v7.3 files are HDF5 with a 512-byte user block: 116 bytes of text, 8 bytes of
# subsystem offset, version 0x0200 and the endian mark 'IM'. A fixed text (no "Created
# on" time) keeps the bytes reproducible.
_MAT73_TEXT = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 "
               b"HDF5 schema 1.00 .")
_MAT73_HEADER = _MAT73_TEXT.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM"
_USERBLOCK = 512
_MAT5_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, written by nasseg (NYU Depth v2 splits)".ljust(116)


class FrameIndexError(DataError, IndexError):
    """An index outside a depth source; an IndexError too, so plain iteration stops."""


# ----------------------------------------------------------------------------- splits


def read_nyu_splits(path: str | Path) -> dict[str, np.ndarray]:
    """The official ``splits.mat`` as 0-based int64 index arrays ``{"train", "test"}``.

    Reads MATLAB v5 (the released file) and, for convenience, v7.3 (HDF5) copies."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: NYU Depth v2 split file not found. Point the depth data params at the "
                        "official splits.mat (trainNdxs / testNdxs), or run `nasseg prepare` for the embedded one.")
    keys = {"train": "trainNdxs", "test": "testNdxs"}
    raw = _read_mat_vectors(path, tuple(keys.values()))
    out = {}
    for split, key in keys.items():
        v = np.asarray(raw[key])
        if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v != np.round(v)) or v.min() < 1:
            raise DataError(f"{path}: {key} must hold 1-based frame numbers (integers >= 1); got "
                            f"{v.dtype} values from {v.min() if v.size else 'none'}. Is this the NYU splits.mat?")
        out[split] = v.reshape(-1).astype(np.int64) - 1
    overlap = np.intersect1d(out["train"], out["test"])
    if overlap.size:
        raise DataError(f"{path}: {overlap.size} frames are in both trainNdxs and testNdxs "
                        f"(e.g. {int(overlap[0]) + 1}). The split file is corrupt; use the official one.")
    return out


def _read_mat_vectors(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        head = f.read(128)
    if _is_hdf5(path):
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                missing = [n for n in names if n not in h5]
                if missing:
                    raise DataError(f"{path}: no variable {missing[0]} in this v7.3 .mat (holds {sorted(h5.keys())}). "
                                    "Expected the NYU splits.mat with trainNdxs and testNdxs.")
                return {n: np.asarray(h5[n][()]) for n in names}
        except OSError as err:
            raise DataError(f"{path}: unreadable HDF5 (v7.3) .mat file ({err}). Re-download splits.mat.") from None
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises several unrelated types for a bad file
        what = "a MATLAB file" if head.startswith(b"MATLAB") else "not a MATLAB .mat file"
        raise DataError(f"{path}: unreadable split file, {what} ({type(err).__name__}: {err}). "
                        "Re-download the official splits.mat.") from None
    missing = [n for n in names if n not in mat]
    if missing:
        have = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no variable {missing[0]} (the file holds {have}). "
                        "Expected the NYU splits.mat with trainNdxs and testNdxs.")
    return {n: mat[n] for n in names}


def write_nyu_splits(path: str | Path, train_idx0: Sequence[int], test_idx0: Sequence[int]) -> Path:
    """Write a ``splits.mat`` like the official one: MATLAB v5, ``trainNdxs`` / ``testNdxs``
    as 1-based uint16 column vectors (n x 1); byte-reproducible (fixed text header)."""
    import scipy.io

    path = Path(path)
    tr, te = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (train_idx0, test_idx0))
    for name, v in (("train", tr), ("test", te)):
        if v.size and (v.min() < 0 or v.max() + 1 > np.iinfo(np.uint16).max):
            raise ValueError(f"{name} indices must be 0-based and below {np.iinfo(np.uint16).max}")
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"trainNdxs": (tr + 1).astype(np.uint16).reshape(-1, 1),
                            "testNdxs": (te + 1).astype(np.uint16).reshape(-1, 1)}, do_compression=True)
    with open(path, "r+b") as f:  # scipy stamps the time into the 116-byte text header
        f.write(_MAT5_HEADER)
    return path


# ----------------------------------------------------------------------------- labelled .mat


def _is_hdf5(path: Path) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(str(path)))
    except Exception:
        return False


def write_nyu_labeled(path: str | Path, images: Sequence[np.ndarray], depths: Sequence[np.ndarray],
                      raw_depths: Optional[Sequence[np.ndarray]] = None) -> Path:
    """Write ``nyu_depth_v2_labeled.mat`` in the release's layout (MATLAB v7.3 = HDF5).

    ``images``: H x W x 3 uint8; ``depths`` (and optional ``rawDepths``): H x W float32
    metres. On disk, as h5py shows the real file: ``images`` (N, 3, W, H) uint8,
    ``depths`` (N, W, H) float32, each with MATLAB's ``MATLAB_class`` attribute; chunked one
    frame per chunk and deflated, as MATLAB writes v7.3. The same inputs give the same bytes
    (no object timestamps, fixed header)."""
    import h5py

    path = Path(path)
    n = len(images)
    if n == 0 or len(depths) != n or (raw_depths is not None and len(raw_depths) != n):
        raise ValueError(f"need as many depths as images (got {n} images, {len(depths)} depths)")
    h, w = np.asarray(images[0]).shape[:2]
    for i in range(n):
        im, dp = np.asarray(images[i]), np.asarray(depths[i])
        if im.shape != (h, w, 3) or im.dtype != np.uint8:
            raise ValueError(f"image {i}: expected uint8 {h}x{w}x3, got {im.dtype} {im.shape}")
        if dp.shape != (h, w):
            raise ValueError(f"depth {i}: expected {h}x{w}, got {dp.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opts = dict(compression="gzip", compression_opts=4, track_times=False)
    with h5py.File(tmp, "w", userblock_size=_USERBLOCK, track_order=False, libver="earliest") as f:
        ds = f.create_dataset("images", shape=(n, 3, w, h), dtype=np.uint8, chunks=(1, 3, w, h), **opts)
        for i in range(n):
            ds[i] = np.asarray(images[i]).transpose(2, 1, 0)
        ds.attrs["MATLAB_class"] = np.bytes_(b"uint8")
        fields = [("depths", depths)] + ([("rawDepths", raw_depths)] if raw_depths is not None else [])
        for name, frames in fields:
            ds = f.create_dataset(name, shape=(n, w, h), dtype=np.float32, chunks=(1, w, h), shuffle=True, **opts)
            for i in range(n):
                ds[i] = np.asarray(frames[i], dtype=np.float32).T
            ds.attrs["MATLAB_class"] = np.bytes_(b"single")
    with open(tmp, "r+b") as f:
        f.write(_MAT73_HEADER)
    os.replace(tmp, path)
    return path


class NYULabeled:
    """Frames of the labelled ``nyu_depth_v2_labeled.mat`` (optionally a subset).

    ``indices``: 0-based frame numbers (e.g. ``read_nyu_splits(...)["train"]``), None for
    all. ``depth_key``: ``"depths"`` (dense, in-painted; the usual target) or
    ``"rawDepths"`` (Kinect holes as 0). The HDF5 file is opened lazily, once per process:
    a pickled or forked copy (DataLoader workers) reopens its own handle."""

    def __init__(self, mat_path: str | Path, indices: Optional[Sequence[int]] = None, *, depth_key: str = "depths"):
        import h5py

        self.path = Path(mat_path)
        self.depth_key = depth_key
        self._h5 = None
        self._pid = None
        if not self.path.is_file():
            raise DataError(f"{self.path}: labelled NYU Depth v2 file not found. Point the depth data params at "
                            "nyu_depth_v2_labeled.mat, or run `nasseg prepare` for the embedded one.")
        if not _is_hdf5(self.path):
            with open(self.path, "rb") as f:
                head = f.read(128)
            if head.startswith(b"MATLAB 5.0"):
                what = "a MATLAB v5 .mat file (e.g. splits.mat)"
            elif head.startswith(b"MATLAB"):
                what = "a MATLAB .mat file without HDF5 inside"
            else:
                what = "not a MATLAB v7.3 / HDF5 file"
            raise DataError(f"{self.path}: {what}; the labelled set must be the v7.3 (HDF5) "
                            "nyu_depth_v2_labeled.mat holding 'images' and 'depths'. Check which file the param names.")
        try:
            with h5py.File(self.path, "r") as f:
                for key in ("images", depth_key):
                    if key not in f or not isinstance(f[key], h5py.Dataset):
                        raise DataError(f"{self.path}: no '{key}' dataset (the file holds {sorted(f.keys())}). "
                                        "Expected nyu_depth_v2_labeled.mat with images and depths.")
                ishape, dshape = tuple(f["images"].shape), tuple(f[depth_key].shape)
                idtype, ddtype = f["images"].dtype, f[depth_key].dtype
        except OSError as err:
            raise DataError(f"{self.path}: unreadable HDF5 file ({err}). "
                            "Re-download it, or re-run `nasseg prepare`.") from None
        if len(ishape) != 4 or ishape[1] != 3 or idtype != np.uint8:
            raise DataError(f"{self.path}: 'images' is {idtype} {ishape}; expected uint8 (N, 3, W, H) as in "
                            "nyu_depth_v2_labeled.mat.")
        if len(dshape) != 3 or ddtype.kind != "f":
            raise DataError(f"{self.path}: '{depth_key}' is {ddtype} {dshape}; expected float (N, W, H) metres.")
        if dshape != (ishape[0],) + ishape[2:]:
            raise DataError(f"{self.path}: 'images' {ishape} and '{depth_key}' {dshape} disagree (N, W, H must match). "
                            "The file is corrupt or not the NYU labelled set.")
        self.num_frames = int(ishape[0])
        self.size_wh = (int(ishape[2]), int(ishape[3]))
        if indices is None:
            self.indices = np.arange(self.num_frames, dtype=np.int64)
        else:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            bad = idx[(idx < 0) | (idx >= self.num_frames)]
            if bad.size:
                raise DataError(f"{self.path}: frame index {int(bad[0])} (0-based) is outside the file's "
                                f"{self.num_frames} frames. The split file does not belong to this labelled set.")
            self.indices = idx

    def __len__(self) -> int:
        return len(self.indices)

    def _file(self):
        import h5py

        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"], state["_pid"] = None, None
        return state

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def describe(self, i: int) -> str:
        return f"{self.path} frame {int(self.indices[i])} (0-based)"

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame ``i`` of this subset: (uint8 3 x H x W image, float32 1 x H x W depth in metres)."""
        if not -len(self) <= i < len(self):
            raise FrameIndexError(f"{self.path}: index {i} out of range for {len(self)} frames.")
        k = int(self.indices[i])
        try:
            f = self._file()
            rgb = np.asarray(f["images"][k]).transpose(2, 1, 0)  # (3, W, H) -> H x W x 3
            depth = np.asarray(f[self.depth_key][k], dtype=np.float32).T  # (W, H) -> H x W
        except OSError as err:
            raise DataError(f"{self.describe(i)}: read failed ({err}). "
                            "The file may be truncated; re-download it.") from None
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        return image, torch.from_numpy(np.ascontiguousarray(depth))[None]

    def __repr__(self) -> str:
        return f"NYULabeled({self.path}, {len(self)} frames)"


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
            image = F.resize(image, size, interpolation=F.InterpolationMode.BILINEAR, antialias=True)
            # NEAREST_EXACT samples at pixel centres as bilinear does (no half-pixel shift).
            depth = F.resize(depth, size, interpolation=F.InterpolationMode.NEAREST_EXACT) / s
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
