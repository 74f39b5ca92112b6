"""The names of the sets ``prepare`` writes, in one place.

Params name sets by these strings (``pretrain.sets: coco_train+trainaug``), the loaders
open them by these strings, and the config validates them against :data:`PREPARED_SETS`.
This module imports nothing of the project, so that any module may import it.
"""
from __future__ import annotations

# `nasseg prepare` (under data.root/lists): VOC/SBD-format list files and the COCO set
SEGMENTATION_LISTS = ("voc_train", "voc_val", "sbd", "trainaug", "meta_train", "meta_val")
COCO_SET = "coco_train"

# `nasseg prepare-street` (under wacv.data.root/lists): list name -> (dataset, split); the
# second system's meta_train / meta_val are copies of camvid_train / camvid_val
STREET_SETS = {
    "camvid_train": ("camvid", "train"),
    "camvid_val": ("camvid", "val"),
    "camvid_test": ("camvid", "test"),
    "cityscapes_train": ("cityscapes", "train"),
    "cityscapes_val": ("cityscapes", "val"),
}

# every segmentation set `open_set` knows
SETS = SEGMENTATION_LISTS + (COCO_SET,) + tuple(STREET_SETS)

# `nasseg prepare-transfer` (under transfer.data.root): pose set -> (format, split), and depth sets
POSE_SETS = {"coco_kp_train": ("coco", "train"), "coco_kp_val": ("coco", "val"),
             "mpii_train": ("mpii", "train"), "mpii_valid": ("mpii", "valid")}
DEPTH_SETS = ("nyu_train", "nyu_test")
TRANSFER_SETS = tuple(POSE_SETS) + DEPTH_SETS

# every name a params `sets` / `val_set` may hold
PREPARED_SETS = SETS + TRANSFER_SETS
