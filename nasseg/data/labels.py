"""Label encodings: what the class values stored in each dataset's masks mean.

VOC (and SBD, COCO mapped to VOC): class indices 0-20, 255 = void, PNGs in the
bit-interleaved VOC palette. CamVid (SegNet version): 0-10, 11 = void. Cityscapes: raw
labelIds 0..33, turned into the 19 train ids by the official table. :func:`decode_labels`
turns a stored mask into class indices with 255 = void, for the loaders and for list
files with a ``# labels: <encoding>`` header.

This module imports nothing of the project but its error type, so any module may import it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import DataError

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)

VOID = 255

# COCO category id -> VOC class index (the 20 VOC classes; every other COCO category is
# background). The standard mapping used by torchvision's and DeepLab's COCO->VOC tools.
COCO_TO_VOC = {
    5: 1, 2: 2, 16: 3, 9: 4, 44: 5, 6: 6, 3: 7, 17: 8, 62: 9, 21: 10,
    67: 11, 18: 12, 19: 13, 4: 14, 1: 15, 64: 16, 20: 17, 63: 18, 7: 19, 72: 20,
}


def voc_colormap(n: int = 256) -> np.ndarray:
    """The VOC palette: ``n`` x 3 uint8, index 1 = (128, 0, 0), 255 = (224, 224, 192)."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


# ----------------------------------------------------------------------------- CamVid, Cityscapes

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
