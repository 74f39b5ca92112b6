"""Segmentation datasets in their public on-disk formats.

Every dataset yields ``(image, mask)``: ``image`` a uint8 tensor 3 x H x W and ``mask`` an
int64 tensor H x W holding class indices, 255 = void. ``transforms(image, mask)``, when
given, is applied to the pair. Files are checked for existence when the dataset is built
(cheap) and their content when an item is read; :func:`verify_dataset` reads everything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from .io import check_mask, read_image, read_mask
from .labels import COCO_TO_VOC, LABEL_ENCODINGS, VOID, decode_labels

Transform = Callable[[torch.Tensor, torch.Tensor], tuple]


@dataclass(frozen=True)
class Sample:
    """One image and where its mask comes from (a file path, or a COCO image id)."""

    id: str
    image: Path
    mask: Path | int


class SegmentationDataset(Dataset):
    """Shared behaviour: existence checks, optional skipping, item loading and checking.
    Masks are read as stored and decoded by ``encoding`` (see :func:`~nasseg.data.labels.decode_labels`)."""

    encoding = "indices"

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        transforms: Optional[Transform] = None,
        num_classes: int = 21,
        skip_bad: bool = False,
        source: str = "",
        check_files: bool = True,
    ):
        self.transforms = transforms
        self.num_classes = num_classes
        self.source = source or type(self).__name__
        kept, self.skipped = [], []
        if not check_files:  # files a prepare run has read and indexed; a missing one fails when read, by name
            if not len(samples):
                raise DataError(f"{self.source}: no samples. Run `nasseg prepare` again.")
            self.samples = samples
            return
        for s in samples:
            missing = [p for p in (s.image, s.mask) if isinstance(p, Path) and not p.is_file()]
            if missing:
                if not skip_bad:
                    raise DataError(
                        f"{self.source}: sample '{s.id}' names a file that does not exist: {missing[0]}. "
                        "Fix the list file or the dataset root, or pass --skip-bad to drop such samples."
                    )
                self.skipped.append((s.id, f"missing file {missing[0]}"))
                continue
            kept.append(s)
        if not kept:
            raise DataError(
                f"{self.source}: no samples"
                + (f" ({len(self.skipped)} skipped as missing)" if self.skipped else "")
                + ". Check that the split or list file names images that exist."
            )
        self.samples: list[Sample] = kept

    def __len__(self) -> int:
        return len(self.samples)

    def load_mask(self, sample: Sample) -> np.ndarray:
        return decode_labels(read_mask(sample.mask), self.encoding, f"{self.source}: mask {sample.mask}")

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw, checked pair (no transforms)."""
        s = self.samples[index]
        image = read_image(s.image)
        mask = self.load_mask(s)
        where = f"{self.source} sample '{s.id}' (image {s.image}, mask {s.mask})"
        check_mask(mask, tuple(image.shape[1:]), self.num_classes, where)
        return image, torch.from_numpy(np.ascontiguousarray(mask, dtype=np.int64))

    def __getitem__(self, index: int):
        image, mask = self.load(index)
        if self.transforms is not None:
            return self.transforms(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source}, {len(self)} samples)"


def require_dir(path: Path, what: str, hint: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: {what} not found. {hint}")
    return path


def _read_ids(list_file: Path, dataset: str) -> list[str]:
    if not list_file.is_file():
        raise DataError(f"{list_file}: split list of {dataset} not found. Check the split name and the dataset root.")
    ids = [ln.strip() for ln in list_file.read_text().splitlines() if ln.strip()]
    if not ids:
        raise DataError(f"{list_file}: the split list is empty.")
    return ids


class VOCSegmentation(SegmentationDataset):
    """PASCAL VOC 2012: ``root`` holds JPEGImages/, SegmentationClass/ (palette PNGs) and
    ImageSets/Segmentation/<split>.txt."""

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes=21, skip_bad=False):
        root = require_dir(
            root, "VOC root", "Point data.sources.voc at the folder that holds JPEGImages/ (…/VOCdevkit/VOC2012)."
        )
        ids = _read_ids(root / "ImageSets" / "Segmentation" / f"{split}.txt", "VOC")
        samples = [Sample(i, root / "JPEGImages" / f"{i}.jpg", root / "SegmentationClass" / f"{i}.png") for i in ids]
        super().__init__(samples, transforms=transforms, num_classes=num_classes, skip_bad=skip_bad,
                         source=f"VOC {split} ({root})")


class SBDSegmentation(SegmentationDataset):
    """SBD (Hariharan et al.): ``root`` holds cls/*.mat (GTcls.Segmentation), img/*.jpg and
    <split>.txt (the ``benchmark_RELEASE/dataset`` folder)."""

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes=21, skip_bad=False):
        root = require_dir(
            root, "SBD root", "Point data.sources.sbd at the folder that holds cls/ and img/ (…/benchmark_RELEASE/dataset)."
        )
        ids = _read_ids(root / f"{split}.txt", "SBD")
        samples = [Sample(i, root / "img" / f"{i}.jpg", root / "cls" / f"{i}.mat") for i in ids]
        super().__init__(samples, transforms=transforms, num_classes=num_classes, skip_bad=skip_bad,
                         source=f"SBD {split} ({root})")


class ListSegmentation(SegmentationDataset):
    """A list file of ``image<TAB>mask`` lines (the authors' format; further columns, such
    as their object-mask column, are ignored; whitespace also separates). Paths are
    relative to ``root`` unless absolute. Masks may be PNG or SBD .mat files. A header
    line ``# labels: <encoding>`` before the first sample (``camvid``, ``cityscapes``, see
    :func:`nasseg.data.labels.decode_labels`) says how masks store classes (``encoding``);
    without one they hold class indices. Other ``#`` lines are comments."""

    def __init__(self, list_file, root=".", transforms=None, *, num_classes=21, skip_bad=False):
        list_file, root = Path(list_file), Path(root)
        if not list_file.is_file():
            raise DataError(f"{list_file}: list file not found. Run `nasseg prepare` or fix the path in params.yaml.")
        samples = []
        self.encoding = "indices"
        for n, line in enumerate(list_file.read_text().splitlines(), 1):
            header = line.strip().lstrip("#").split(":", 1) if line.lstrip().startswith("#") else []
            if len(header) == 2 and header[0].strip().lower() == "labels":
                self.encoding = header[1].strip()
                if samples or self.encoding not in LABEL_ENCODINGS:
                    raise DataError(f"{list_file}:{n}: {line.strip()!r}: the labels header must come before the "
                                    f"first sample and name one of {', '.join(LABEL_ENCODINGS)}.")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            if len(cols) < 2:
                raise DataError(f"{list_file}:{n}: expected 'image<TAB>mask', got {line!r}.")
            img, msk = root / cols[0].strip(), root / cols[1].strip()
            samples.append(Sample(Path(cols[0].strip()).stem, img, msk))
        if not samples:
            raise DataError(f"{list_file}: the list file is empty.")
        super().__init__(samples, transforms=transforms, num_classes=num_classes, skip_bad=skip_bad,
                         source=f"list {list_file}")


class COCOSegmentation(SegmentationDataset):
    """COCO instances JSON (polygons, RLE, uncompressed RLE) turned into class maps.

    Categories map through ``category_map`` (COCO id -> class; default: the 20 VOC
    classes, everything else background). Annotations are painted largest first so small
    objects stay visible; crowd regions (``iscrowd=1``) of mapped classes become void
    (255). Images with no annotation of a mapped class are dropped unless ``keep_empty``.
    """

    def __init__(self, root, annotation_file, transforms=None, *, num_classes=21, skip_bad=False,
                 category_map: Optional[dict[int, int]] = None, keep_empty: bool = False,
                 image_ids: Optional[Sequence[int]] = None):
        from pycocotools.coco import COCO

        root = require_dir(root, "COCO image folder", "Point data.sources.coco.root at the folder of the images.")
        annotation_file = Path(annotation_file)
        if not annotation_file.is_file():
            raise DataError(f"{annotation_file}: COCO annotation file not found. Set data.sources.coco.annotations.")
        try:
            self.coco = _quiet(lambda: COCO(str(annotation_file)))
        except (json.JSONDecodeError, KeyError, TypeError, AssertionError) as err:
            raise DataError(f"{annotation_file}: not a COCO instances file ({type(err).__name__}: {err}).") from None
        self.category_map = dict(COCO_TO_VOC if category_map is None else category_map)
        samples = []
        self.dropped_empty = 0
        wanted = None if image_ids is None else {int(i) for i in image_ids}
        for img_id in sorted(self.coco.getImgIds()):
            if wanted is not None and img_id not in wanted:
                continue
            info = self.coco.imgs[img_id]
            anns = self.coco.imgToAnns.get(img_id, [])
            if not keep_empty and not any(a["category_id"] in self.category_map for a in anns):
                self.dropped_empty += 1
                continue
            samples.append(Sample(str(img_id), root / info["file_name"], img_id))
        super().__init__(samples, transforms=transforms, num_classes=num_classes, skip_bad=skip_bad,
                         source=f"COCO {annotation_file.name}")

    def load_mask(self, sample: Sample) -> np.ndarray:
        from pycocotools import mask as mask_utils

        info = self.coco.imgs[sample.mask]
        h, w = int(info["height"]), int(info["width"])
        target = np.zeros((h, w), dtype=np.int64)
        anns = [a for a in self.coco.imgToAnns.get(sample.mask, []) if a["category_id"] in self.category_map]
        for a in sorted(anns, key=lambda a: -float(a.get("area", 0.0))):
            seg = a["segmentation"]
            try:
                if isinstance(seg, list):  # polygons
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
                elif isinstance(seg.get("counts"), list):  # uncompressed RLE
                    rle = mask_utils.frPyObjects(seg, h, w)
                else:  # compressed RLE
                    rle = seg
                m = mask_utils.decode(rle).astype(bool)
            except Exception as err:
                raise DataError(
                    f"{self.source}: annotation {a.get('id')} of image {sample.mask} has a malformed segmentation "
                    f"({err}). Pass --skip-bad to drop the image."
                ) from None
            if m.shape != (h, w):
                raise DataError(
                    f"{self.source}: annotation {a.get('id')} of image {sample.image} decodes to "
                    f"{m.shape[1]}x{m.shape[0]}, but the JSON gives the image as {w}x{h}. Fix the annotation's "
                    "'size' or the image's width/height in the JSON, or pass --skip-bad to drop the image."
                )
            target[m] = VOID if a.get("iscrowd", 0) else self.category_map[a["category_id"]]
        return target


def _quiet(fn):
    """pycocotools prints progress to stdout; keep stage output clean."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


def verify_dataset(dataset: SegmentationDataset, *, skip_bad: bool = False, progress=None,
                   visit: Optional[Callable[[torch.Tensor, torch.Tensor], None]] = None) -> list[tuple[str, str]]:
    """Read every sample; raise on the first bad one, or drop bad ones when ``skip_bad``.
    ``visit(image, mask)`` sees every good sample (statistics); ``progress()`` ticks per sample.

    Returns the ``(id, reason)`` of every sample dropped (missing files included)."""
    bad: list[tuple[str, str]] = list(dataset.skipped)
    good = []
    for i, s in enumerate(dataset.samples):
        try:
            image, mask = dataset.load(i)
            good.append(s)
            if visit is not None:
                visit(image, mask)
        except DataError as err:
            if not skip_bad:
                raise
            bad.append((s.id, str(err)))
        if progress is not None:
            progress()
    if not good:
        raise DataError(f"{dataset.source}: every sample is bad ({len(bad)}); nothing left to use.")
    dataset.samples = good
    dataset.skipped = bad
    return bad


class _IndexedSamples(Sequence):
    """The samples of an :class:`IndexedSegmentation`, built on access from the index rows."""

    def __init__(self, rows: Sequence[Sequence], roots: Sequence[Path]):
        self.rows, self.roots = rows, roots

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        r = self.rows[i]
        return Sample(r[0], self.roots[r[1]] / r[2], self.roots[r[3]] / r[4])


class IndexedSegmentation(SegmentationDataset):
    """A set as ``nasseg prepare`` indexed it (:func:`nasseg.data.catalog.open_set`): rows
    ``[id, image folder, image name, mask folder, mask name, height, width]`` (folders are
    indices into ``roots``), masks as class-index PNGs: VOC's own, or the ones prepare decoded
    from SBD ``.mat`` files and COCO polygons / RLE. Nothing is checked when the set is built
    (prepare read every file); a file missing since then fails when read, with its name."""

    def __init__(self, rows: Sequence[Sequence], roots: Sequence[Path], transforms=None, *, num_classes: int = 21,
                 source: str = ""):
        super().__init__(_IndexedSamples(rows, [Path(r) for r in roots]), transforms=transforms,
                         num_classes=num_classes, source=source or "prepared index", check_files=False)

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """(height, width) of every image, as prepare read it."""
        if not isinstance(self.samples, _IndexedSamples):  # verify_dataset replaced them by a filtered list
            raise DataError(f"{self.source}: image sizes are known for the set as indexed only.")
        return [(int(r[5]), int(r[6])) for r in self.samples.rows]
