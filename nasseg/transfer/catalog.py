"""Where the transfer sets live: the embedded ones ``prepare-transfer`` renders, or real ones from params.

Sets (``nasseg.data.names.TRANSFER_SETS``): ``coco_kp_train`` / ``coco_kp_val`` (COCO keypoints,
person crops from ground-truth boxes), ``mpii_train`` / ``mpii_valid`` (MPII, HRNet JSON),
``nyu_train`` (NYUv2 raw RGB/depth pairs, or the labelled training split when there are
none) and ``nyu_test`` (the 654 labelled test frames of the official split).

Embedded layout under ``transfer.data.root``::

    coco/images/{train2017,val2017}/*.jpg, coco/annotations/person_keypoints_*.json
    mpii/images/*.jpg, mpii/annot/{train,valid}.json, mpii/annot/gt_valid.mat
    nyu/nyu_depth_v2_labeled.mat, nyu/splits.mat, nyu/raw/<scene>/*, nyu/raw/train_pairs.txt
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..config import TransferDataParams
from ..data.names import DEPTH_SETS, POSE_SETS
from ..errors import DataError
from .depth_data import DepthDataset, DepthPairs, load_pair_list
from .mpii import load_mpii_gt, load_mpii_json
from .nyu import NYULabeled, read_nyu_splits
from .pose_data import PoseDataset
from .pose_formats import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS, load_coco_keypoints

NUM_JOINTS = {"coco": 17, "mpii": 16}
FLIP_PAIRS = {"coco": COCO_FLIP_PAIRS, "mpii": MPII_FLIP_PAIRS}


@dataclass(frozen=True)
class PoseFiles:
    images_train: Path
    ann_train: Path
    images_val: Path
    ann_val: Path
    gt_valid: Optional[Path] = None  # MPII only


@dataclass(frozen=True)
class NYUFiles:
    labeled: Path
    splits: Path
    raw_root: Optional[Path]
    raw_list: Optional[Path]
    depth_scale: float = 1e-3


def coco_files(tp: TransferDataParams) -> PoseFiles:
    s = tp.coco_keypoints
    if s is not None:
        return PoseFiles(s.train_images, s.train_annotations, s.val_images, s.val_annotations)
    r = Path(tp.root) / "coco"
    return PoseFiles(r / "images" / "train2017", r / "annotations" / "person_keypoints_train2017.json",
                     r / "images" / "val2017", r / "annotations" / "person_keypoints_val2017.json")


def mpii_files(tp: TransferDataParams) -> PoseFiles:
    s = tp.mpii
    if s is not None:
        return PoseFiles(s.images, s.train, s.images, s.valid, s.gt_valid)
    r = Path(tp.root) / "mpii"
    return PoseFiles(r / "images", r / "annot" / "train.json", r / "images", r / "annot" / "valid.json",
                     r / "annot" / "gt_valid.mat")


def nyu_files(tp: TransferDataParams) -> NYUFiles:
    s = tp.nyu
    if s is not None:
        return NYUFiles(s.labeled, s.splits, s.raw_root, s.raw_list, s.depth_scale)
    r = Path(tp.root) / "nyu"
    raw = tp.embedded.nyu_raw_train > 0
    return NYUFiles(r / "nyu_depth_v2_labeled.mat", r / "splits.mat", r / "raw" if raw else None,
                    r / "raw" / "train_pairs.txt" if raw else None)


def pose_records(name: str, tp: TransferDataParams, aspect: float, *, skip_bad: bool = False):
    """(records, ground truth for scoring) of a pose set: COCO -> the JSON path, MPII valid ->
    load_mpii_gt's dict (None for training sets)."""
    kind, split = POSE_SETS[name]
    f = coco_files(tp) if kind == "coco" else mpii_files(tp)
    images, ann = (f.images_train, f.ann_train) if split == "train" else (f.images_val, f.ann_val)
    if kind == "coco":
        records, info = load_coco_keypoints(ann, images, aspect=aspect, skip_bad=skip_bad)
        return records, ann
    records = load_mpii_json(ann, images, aspect=aspect, skip_bad=skip_bad)
    if split == "train":
        return records, None
    if f.gt_valid is None or not Path(f.gt_valid).is_file():
        raise DataError(f"{f.gt_valid}: MPII ground truth with head boxes (HRNet's gt_valid.mat) not found; PCKh "
                        "needs each person's head box. Point transfer.data.mpii.gt_valid at it.")
    gt = load_mpii_gt(Path(f.gt_valid))
    if max((r.index for r in records), default=-1) >= len(gt["headboxes"]):
        raise DataError(f"{f.gt_valid}: holds {len(gt['headboxes'])} people but {ann} lists more; the two files "
                        "must come from the same split (HRNet's valid.json with gt_valid.mat).")
    return records, gt


def open_pose_set(name: str, tp: TransferDataParams, task, *, stride: int, train: bool):
    """A PoseDataset of the named set, with the task's Simple Baselines settings."""
    kind = POSE_SETS[name][0]
    w, h = task.input
    records, gt = pose_records(name, tp, aspect=w / h)
    ds = PoseDataset(records, input_wh=(w, h), stride=stride, sigma=task.sigma, flip_pairs=FLIP_PAIRS[kind],
                     train=train, scale_factor=task.scale_factor, rotation_factor=task.rotation_factor,
                     rotation_prob=task.rotation_prob, flip=task.flip)
    return ds, gt


def nyu_source(name: str, tp: TransferDataParams):
    f = nyu_files(tp)
    splits = read_nyu_splits(f.splits)
    if name == "nyu_test":
        return NYULabeled(f.labeled, splits["test"])
    if f.raw_list is not None:
        if f.raw_root is None:
            raise DataError("transfer.data.nyu.raw_list is set but raw_root is not; give the folder the list's "
                            "paths are relative to.")
        return DepthPairs(load_pair_list(f.raw_list, f.raw_root), depth_scale=f.depth_scale)
    return NYULabeled(f.labeled, splits["train"])


def open_depth_set(name: str, tp: TransferDataParams, task, *, train: bool) -> DepthDataset:
    return DepthDataset(nyu_source(name, tp), train=train, crop_hw=tuple(task.crop), scale=tuple(task.scale),
                        flip=task.flip, max_depth=task.max_depth, depth_scale=nyu_files(tp).depth_scale)


def open_transfer_set(name: str, tp: TransferDataParams, task, *, stride: int = 4, train: bool = True):
    """A '+'-joined list of transfer sets of one task, as a training dataset."""
    from torch.utils.data import ConcatDataset

    parts = [n.strip() for n in name.split("+")]
    sets = []
    for n in parts:
        if n in POSE_SETS:
            sets.append(open_pose_set(n, tp, task, stride=stride, train=train)[0])
        elif n in DEPTH_SETS:
            sets.append(open_depth_set(n, tp, task, train=train))
        else:
            raise DataError(f"unknown transfer set '{n}'; known: {', '.join(list(POSE_SETS) + list(DEPTH_SETS))}")
    return sets[0] if len(sets) == 1 else ConcatDataset(sets)
