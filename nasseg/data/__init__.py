"""Datasets in their public formats, joint transforms, the embedded synthetic sets.

Every dataset yields ``(image, mask)``: image uint8 3 x H x W, mask int64 H x W, 255 = void.
"""
from .catalog import SETS, open_set
from .datasets import (COCOSegmentation, ListSegmentation, SBDSegmentation, SegmentationDataset,
                       VOCSegmentation, verify_dataset)
from .palette import COCO_TO_VOC, VOC_CLASSES, VOID, voc_colormap
from .split import merge_pool, meta_split
from .transforms import SegmentationTransform

__all__ = [
    "COCOSegmentation", "ListSegmentation", "SBDSegmentation", "SegmentationDataset", "VOCSegmentation",
    "SegmentationTransform", "verify_dataset", "open_set", "SETS", "meta_split", "merge_pool",
    "COCO_TO_VOC", "VOC_CLASSES", "VOID", "voc_colormap",
]
