"""Opening the sets ``prepare`` wrote: every later stage's way to its data.

``prepare`` (:mod:`nasseg.data.prepare`) writes list files under ``<data.root>/lists``;
stages open sets by name with :func:`open_set`. The names are :data:`nasseg.data.names.SETS`:
``voc_train``, ``voc_val``, ``sbd`` (SBD train+val), ``trainaug`` (SBD+VOC pool),
``meta_train``, ``meta_val`` (list files) and ``coco_train`` (COCO JSON + kept image ids); for the
second system (under ``wacv.data.root``) ``camvid_{train,val,test}``, ``cityscapes_{train,val}`` and
its own ``meta_train``/``meta_val`` (CamVid train/val).
"""
from __future__ import annotations

import json
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset

from ..config import DataParams
from ..errors import DataError
from .datasets import COCOSegmentation, ListSegmentation
from .names import COCO_SET, SETS, STREET_SETS


def lists_dir(data: DataParams) -> Path:
    """Where ``prepare`` writes the list files of ``data`` (``<data.root>/lists``)."""
    return Path(data.root) / "lists"


def open_set(name: str, data: DataParams, transforms=None) -> Dataset:
    """A set written by ``prepare``; several names joined with '+' give their concatenation
    (e.g. ``coco_train+trainaug``, the paper's COCO+SBD+VOC)."""
    names = [n.strip() for n in name.split("+") if n.strip()]
    if len(names) > 1:
        return ConcatDataset([open_set(n, data, transforms) for n in names])
    name = names[0] if names else name
    out = lists_dir(data)
    if name not in SETS:
        raise DataError(f"unknown dataset '{name}'. Known sets: {', '.join(SETS)} (join several with '+').")
    if not out.is_dir():
        stage = "prepare-street" if name in STREET_SETS else "prepare"
        raise DataError(f"{out}: no list files. Run `nasseg {stage}` (or `dvc repro {stage.replace('-', '_')}`) first.")
    if name == COCO_SET:
        meta_file = out / "coco_train.json"
        if not meta_file.is_file():
            raise DataError(f"{meta_file}: missing. Run `nasseg prepare` first.")
        meta = json.loads(meta_file.read_text())
        return COCOSegmentation(out / meta["root"], out / meta["annotations"], transforms,
                                num_classes=data.num_classes, image_ids=meta["image_ids"])
    return ListSegmentation(out / f"{name}.lst", out, transforms, num_classes=data.num_classes)
