"""From params to datasets on disk: what ``prepare`` writes and every later stage opens.

``prepare`` resolves each source (a real dataset named in params, or the embedded
synthetic one it renders), checks every sample, builds the SBD+VOC training pool without
the VOC val images, splits it 90/10 into meta-train / meta-val, and writes list files
under ``<data.root>/lists``. Later stages open sets by name with :func:`open_set`.

Sets: ``voc_train``, ``voc_val``, ``sbd`` (SBD train+val), ``trainaug`` (SBD+VOC pool),
``meta_train``, ``meta_val`` (list files) and ``coco_train`` (COCO JSON + kept image ids); for the
second system (under ``wacv.data.root``) ``camvid_{train,val,test}``, ``cityscapes_{train,val}`` and
its own ``meta_train``/``meta_val`` (CamVid train/val).
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ..config import DataParams
from ..errors import DataError
from .datasets import (COCOSegmentation, ListSegmentation, Sample, SBDSegmentation, SegmentationDataset,
                       VOCSegmentation, verify_dataset)
from .split import merge_pool, meta_split
from .synthetic import EmbeddedSpec, embedded_layout, write_coco, write_sbd, write_voc

LIST_SETS = ("voc_train", "voc_val", "sbd", "trainaug", "meta_train", "meta_val")
# The second system (WACV 2020): written by `nasseg prepare --only street` under wacv.data.root/lists
STREET_SETS = ("camvid_train", "camvid_val", "camvid_test", "cityscapes_train", "cityscapes_val")
SETS = LIST_SETS + ("coco_train",) + STREET_SETS


def lists_dir(data: DataParams) -> Path:
    return Path(data.root) / "lists"


def embedded_dir(data: DataParams) -> Path:
    return Path(data.root) / "embedded"


@dataclass
class SetReport:
    name: str
    source: str
    images: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    class_pixels: Optional[np.ndarray] = None
    note: str = ""


def _rel(path: Path, start: Path) -> str:
    """Paths inside the project are written relative to the list folder (portable across
    clones); paths elsewhere (real datasets) stay absolute."""
    path, start = Path(path).absolute(), Path(start).absolute()
    try:
        path.relative_to(start.parent.parent)
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


def write_list(path: Path, samples: Sequence[Sample]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{_rel(s.image, path.parent)}\t{_rel(s.mask, path.parent)}\n" for s in samples]
    path.write_text("".join(lines))


def generate_embedded(data: DataParams, progress: Optional[Callable[[str, int], Callable[[], None]]] = None) -> dict:
    """Render the embedded sets that params do not replace with real data. Returns their roots."""
    e = data.embedded
    spec = EmbeddedSpec(seed=e.seed, min_size=e.min_size, max_size=e.max_size,
                        jpeg_quality=e.jpeg_quality, max_objects=e.max_objects)
    out = embedded_dir(data)
    out.mkdir(parents=True, exist_ok=True)
    lay = embedded_layout(e.sbd.train, e.sbd.val, e.voc.train, e.voc.val)
    tick = progress or (lambda name, total: None)
    roots = {}
    if data.sources.voc is None:
        shutil.rmtree(out / "VOCdevkit", ignore_errors=True)
        roots["voc"] = write_voc(out, {"train": lay["voc_train"], "val": lay["voc_val"]}, spec,
                                 tick("render VOC", e.voc.train + e.voc.val))
    if data.sources.sbd is None:
        shutil.rmtree(out / "benchmark_RELEASE", ignore_errors=True)
        roots["sbd"] = write_sbd(out, {"train": lay["sbd_train"], "val": lay["sbd_val"]}, spec,
                                 tick("render SBD", e.sbd.train + e.sbd.val))
    if data.sources.coco is None:
        shutil.rmtree(out / "coco", ignore_errors=True)
        roots["coco"] = write_coco(out, "train", e.coco.train, spec, tick("render COCO", e.coco.train))
    return roots


def resolve_sources(data: DataParams) -> dict:
    """Where each dataset lives: the real one from params, else the embedded one."""
    emb = embedded_dir(data)
    src = data.sources
    return {
        "voc": Path(src.voc) if src.voc else emb / "VOCdevkit" / "VOC2012",
        "sbd": Path(src.sbd) if src.sbd else emb / "benchmark_RELEASE" / "dataset",
        "coco": (Path(src.coco.root), Path(src.coco.annotations)) if src.coco
        else (emb / "coco" / "images" / "train2017", emb / "coco" / "annotations" / "instances_train2017.json"),
        "embedded": {k for k in ("voc", "sbd", "coco") if getattr(src, k) is None},
    }


def build_lists(data: DataParams, *, skip_bad: bool = False,
                progress: Optional[Callable[[str, int], Callable[[], None]]] = None) -> list[SetReport]:
    """Check every sample of every source and write the list files; returns one report per set."""
    where = resolve_sources(data)
    tick = progress or (lambda name, total: None)
    nc = data.num_classes
    out = lists_dir(data)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    def label(kind):
        return "embedded" if kind in where["embedded"] else "real"

    def checked(ds: SegmentationDataset, name: str, hist: np.ndarray) -> SegmentationDataset:
        def visit(_img, mask):
            m = mask[mask != 255]
            hist[:] += np.bincount(m.numpy().ravel(), minlength=nc)[:nc]

        verify_dataset(ds, skip_bad=skip_bad, progress=tick(f"check {name}", len(ds.samples)), visit=visit)
        return ds

    reports = {}
    opened = {}
    specs = {
        "voc_train": (lambda: VOCSegmentation(where["voc"], "train", num_classes=nc, skip_bad=skip_bad), "voc"),
        "voc_val": (lambda: VOCSegmentation(where["voc"], "val", num_classes=nc, skip_bad=skip_bad), "voc"),
        "sbd_train": (lambda: SBDSegmentation(where["sbd"], "train", num_classes=nc, skip_bad=skip_bad), "sbd"),
        "sbd_val": (lambda: SBDSegmentation(where["sbd"], "val", num_classes=nc, skip_bad=skip_bad), "sbd"),
    }
    for name, (make, kind) in specs.items():
        hist = np.zeros(nc, np.int64)
        opened[name] = checked(make(), name, hist)
        reports[name] = SetReport(name, label(kind), len(opened[name]), opened[name].skipped, hist)

    coco_root, coco_ann = where["coco"]
    coco = COCOSegmentation(coco_root, coco_ann, num_classes=nc, skip_bad=skip_bad)
    hist = np.zeros(nc, np.int64)
    checked(coco, "coco_train", hist)
    (out / "coco_train.json").write_text(json.dumps({
        "root": _rel(coco_root, out), "annotations": _rel(coco_ann, out),
        "image_ids": [int(s.mask) for s in coco.samples],
    }))
    reports["coco_train"] = SetReport("coco_train", label("coco"), len(coco), coco.skipped, hist,
                                      note=f"{coco.dropped_empty} image(s) without a VOC-class object left out")

    voc_val_ids = {s.id for s in opened["voc_val"].samples}
    pool = merge_pool([[(s.id, s) for s in opened[k].samples] for k in ("voc_train", "sbd_train", "sbd_val")],
                      exclude_ids=voc_val_ids)
    sbd = merge_pool([[(s.id, s) for s in opened[k].samples] for k in ("sbd_train", "sbd_val")], voc_val_ids)
    meta_train, meta_val = meta_split([s for _, s in pool], data.split.val_fraction, data.split.seed)
    write_list(out / "voc_train.lst", opened["voc_train"].samples)
    write_list(out / "voc_val.lst", opened["voc_val"].samples)
    write_list(out / "sbd.lst", [s for _, s in sbd])
    write_list(out / "trainaug.lst", [s for _, s in pool])
    write_list(out / "meta_train.lst", meta_train)
    write_list(out / "meta_val.lst", meta_val)
    for name, n in (("sbd", len(sbd)), ("trainaug", len(pool)), ("meta_train", len(meta_train)),
                    ("meta_val", len(meta_val))):
        reports[name] = SetReport(name, "derived", n)
    order = ("coco_train", "voc_train", "voc_val", "sbd_train", "sbd_val", "sbd", "trainaug", "meta_train", "meta_val")
    return [reports[k] for k in order]


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
        raise DataError(f"{out}: no list files. Run `nasseg prepare` (or `dvc repro prepare`) first.")
    if name == "coco_train":
        meta_file = out / "coco_train.json"
        if not meta_file.is_file():
            raise DataError(f"{meta_file}: missing. Run `nasseg prepare` first.")
        meta = json.loads(meta_file.read_text())
        return COCOSegmentation(out / meta["root"], out / meta["annotations"], transforms,
                                num_classes=data.num_classes, image_ids=meta["image_ids"])
    return ListSegmentation(out / f"{name}.lst", out, transforms, num_classes=data.num_classes)
