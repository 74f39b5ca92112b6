"""PASCAL VOC class names and the standard bit-interleaved VOC colour map."""
from __future__ import annotations

import numpy as np

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
