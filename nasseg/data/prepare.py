"""What ``nasseg prepare`` does for the segmentation sets: datasets on disk and their list files.

``prepare`` resolves each source (a real dataset named in params, or the embedded
synthetic one it renders, :mod:`nasseg.synthetic.segmentation`), checks every sample,
builds the SBD+VOC training pool without the VOC val images, splits it 90/10 into
meta-train / meta-val, and writes list files under ``<data.root>/lists``, which later
stages open with :func:`nasseg.data.catalog.open_set`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable, Optional

from ..config import DataParams
from ..outputs import write_json
from ..synthetic.segmentation import EmbeddedSpec, embedded_layout, write_coco, write_sbd, write_voc
from .catalog import lists_dir
from .datasets import COCOSegmentation, SBDSegmentation, SegmentationDataset, VOCSegmentation
from .lists import SetReport, check_set, relative_path, report_details, write_list
from .split import merge_pool, meta_split


def embedded_dir(data: DataParams) -> Path:
    return Path(data.root) / "embedded"


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

    def checked(ds: SegmentationDataset, name: str, kind: str, note: str = "") -> SetReport:
        return check_set(ds, name, label(kind), skip_bad=skip_bad, progress=tick(f"check {name}", len(ds.samples)),
                         note=note)

    reports = {}
    opened = {}
    specs = {
        "voc_train": (lambda: VOCSegmentation(where["voc"], "train", num_classes=nc, skip_bad=skip_bad), "voc"),
        "voc_val": (lambda: VOCSegmentation(where["voc"], "val", num_classes=nc, skip_bad=skip_bad), "voc"),
        "sbd_train": (lambda: SBDSegmentation(where["sbd"], "train", num_classes=nc, skip_bad=skip_bad), "sbd"),
        "sbd_val": (lambda: SBDSegmentation(where["sbd"], "val", num_classes=nc, skip_bad=skip_bad), "sbd"),
    }
    for name, (make, kind) in specs.items():
        opened[name] = make()
        reports[name] = checked(opened[name], name, kind)

    coco_root, coco_ann = where["coco"]
    coco = COCOSegmentation(coco_root, coco_ann, num_classes=nc, skip_bad=skip_bad)
    reports["coco_train"] = checked(coco, "coco_train", "coco",
                                    note=f"{coco.dropped_empty} image(s) without a VOC-class object left out")
    (out / "coco_train.json").write_text(json.dumps({
        "root": relative_path(coco_root, out), "annotations": relative_path(coco_ann, out),
        "image_ids": [int(s.mask) for s in coco.samples],
    }))

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


def write_summary(data: DataParams, reports: list[SetReport]) -> Path:
    """``<data.root>/lists/summary.json``: each set's source, size, skipped samples and class pixels."""
    summary = {
        "num_classes": data.num_classes,
        "sets": {r.name: {"source": r.source, "images": r.images, "skipped": len(r.skipped), "note": r.note}
                 for r in reports},
        **report_details(reports),
    }
    path = lists_dir(data) / "summary.json"
    write_json(summary, path)
    return path
