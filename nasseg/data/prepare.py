"""What ``nasseg prepare`` does for the segmentation sets: datasets on disk and their list files.

``prepare`` resolves each source (a real dataset named in params, or the embedded
synthetic one it renders, :mod:`nasseg.synthetic.segmentation`), checks every sample,
builds the SBD+VOC training pool without the VOC val images, splits it 90/10 into
meta-train / meta-val, and writes what later stages open with :func:`nasseg.data.catalog.open_set`.

Every sample is read once here (in ``workers`` processes), and what a training step would
otherwise redo each time is done once: SBD ``cls/*.mat`` masks are decoded and COCO
polygons / RLE rasterised to VOC-class palette PNGs under ``<data.prepared>/masks/{sbd,coco}``
(VOC's own PNGs are used as they are). Written under ``<data.prepared>``:

* ``index.json``: every sample (id, image, mask PNG, height, width) and each set as row
  numbers: the one file every process opens (:func:`nasseg.data.catalog.read_index`);
* ``manifest.json``: the real source files read, with size + mtime or SHA-1
  (:mod:`nasseg.data.manifest`), so that stages depending on it rerun when a dataset changes;

and under ``<data.root>/lists`` the same sets as list files (the authors' ``image<TAB>mask``
format), ``coco_train.json`` (the kept COCO image ids) and ``summary.json``.
"""
from __future__ import annotations

import json
import multiprocessing
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..config import DataParams
from ..errors import DataError
from ..outputs import write_json
from ..synthetic.segmentation import (EmbeddedSpec, embedded_layout, save_palette_png, write_coco, write_sbd,
                                      write_voc)
from .catalog import index_path, lists_dir, prepared_dir, write_index
from .datasets import COCOSegmentation, Sample, SBDSegmentation, SegmentationDataset, VOCSegmentation
from .labels import VOID
from .lists import SetReport, relative_path, report_details, write_list
from .manifest import scan_sources, write_manifest
from .names import SETS
from .split import merge_pool, meta_split

MANIFEST = "manifest.json"


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


@dataclass(frozen=True)
class PreparedSample:
    """A good sample as prepare read it: the mask is the PNG the loops read."""

    id: str
    image: Path
    mask: Path
    height: int
    width: int

    def sample(self) -> Sample:
        return Sample(self.id, self.image, self.mask)


# (set name) -> (dataset, folder of decoded masks or None): what forked decode workers read
_JOBS: dict = {}


def _decode(ds: SegmentationDataset, i: int, mask_dir: Optional[Path]):
    """Read sample ``i`` (checked as a loop reads it); write its mask as a palette PNG into
    ``mask_dir`` when given. ``(i, (height, width, class pixels, mask PNG or None), None)``, or
    ``(i, None, reason)`` for a bad sample."""
    s = ds.samples[i]
    try:
        _, mask = ds.load(i)
    except DataError as err:
        return i, None, str(err)
    m = mask.numpy()
    hist = np.bincount(m[m != VOID].ravel(), minlength=ds.num_classes)[:ds.num_classes]
    png = None
    if mask_dir is not None:
        png = mask_dir / f"{s.id}.png"
        save_palette_png(m, png)
    return i, (int(m.shape[0]), int(m.shape[1]), hist, None if png is None else str(png)), None


def _decode_worker_init() -> None:
    """One torch thread per decode process, as DataLoader workers have: an OpenMP pool the parent
    used before the fork cannot be entered from the child (it would hang)."""
    import torch

    torch.set_num_threads(1)


def _decode_job(job):
    name, i = job
    ds, mask_dir = _JOBS[name]
    return _decode(ds, i, mask_dir)


def decode_set(ds: SegmentationDataset, name: str, source: str, mask_dir: Optional[Path], *, skip_bad: bool = False,
               workers: int = 0, progress: Optional[Callable[[], None]] = None,
               note: str = "") -> tuple[SetReport, list[PreparedSample]]:
    """Read every sample of ``ds`` (in ``workers`` forked processes when > 1), writing each mask
    into ``mask_dir`` as a palette PNG when given (SBD, COCO), counting class pixels. The first
    bad sample raises its DataError (it names the file and --skip-bad); with ``skip_bad`` bad
    ones are dropped and reported. Returns the set's report and its good samples, in order."""
    if mask_dir is not None:
        mask_dir.mkdir(parents=True, exist_ok=True)
    hist = np.zeros(ds.num_classes, np.int64)
    bad: list[tuple[str, str]] = list(ds.skipped)
    slots: list[Optional[PreparedSample]] = [None] * len(ds.samples)

    def take(i, got, reason):
        s = ds.samples[i]
        if reason is not None:
            if not skip_bad:
                raise DataError(reason)
            bad.append((s.id, reason))
        else:
            h, w, counts, png = got
            hist[:] += counts
            slots[i] = PreparedSample(s.id, Path(s.image), Path(png) if png else Path(s.mask), h, w)
        if progress is not None:
            progress()

    n = len(ds.samples)
    fork = "fork" in multiprocessing.get_all_start_methods()
    if workers > 1 and n >= 2 * workers and fork:
        _JOBS[name] = (ds, mask_dir)
        try:
            with multiprocessing.get_context("fork").Pool(workers, initializer=_decode_worker_init) as pool:
                for got in pool.imap(_decode_job, [(name, i) for i in range(n)], chunksize=max(1, min(32, n // (8 * workers)))):
                    take(*got)
        finally:
            _JOBS.pop(name, None)
    else:
        for i in range(n):
            take(*_decode(ds, i, mask_dir))
    good = [p for p in slots if p is not None]
    if not good:
        raise DataError(f"{ds.source}: every sample is bad ({len(bad)}); nothing left to use.")
    ds.samples = [p.sample() for p in good]
    ds.skipped = bad
    return SetReport(name, source, len(good), bad, hist, note), good


def build_lists(data: DataParams, *, skip_bad: bool = False, workers: int = 0,
                progress: Optional[Callable[[str, int], Callable[[], None]]] = None) -> list[SetReport]:
    """Check every sample of every source, decode the SBD and COCO masks to PNGs, write the
    index, the manifest and the list files; returns one report per set."""
    where = resolve_sources(data)
    tick = progress or (lambda name, total: None)
    nc = data.num_classes
    out, prep = lists_dir(data), prepared_dir(data)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.rmtree(prep / "masks", ignore_errors=True)  # only what this function writes there
    for f in (index_path(data), prep / MANIFEST):
        f.unlink(missing_ok=True)
    prep.mkdir(parents=True, exist_ok=True)
    manifest = scan_sources(data, progress)  # before reading: a file changed meanwhile reruns next time

    def label(kind):
        return "embedded" if kind in where["embedded"] else "real"

    opened = {
        "voc_train": (VOCSegmentation(where["voc"], "train", num_classes=nc, skip_bad=skip_bad), "voc", None),
        "voc_val": (VOCSegmentation(where["voc"], "val", num_classes=nc, skip_bad=skip_bad), "voc", None),
        "sbd_train": (SBDSegmentation(where["sbd"], "train", num_classes=nc, skip_bad=skip_bad), "sbd", "sbd"),
        "sbd_val": (SBDSegmentation(where["sbd"], "val", num_classes=nc, skip_bad=skip_bad), "sbd", "sbd"),
    }
    coco_root, coco_ann = where["coco"]
    coco = COCOSegmentation(coco_root, coco_ann, num_classes=nc, skip_bad=skip_bad)
    opened["coco_train"] = (coco, "coco", "coco")
    reports, good = {}, {}
    for name, (ds, kind, masks) in opened.items():
        note = f"{coco.dropped_empty} image(s) without a VOC-class object left out" if name == "coco_train" else ""
        reports[name], good[name] = decode_set(
            ds, name, label(kind), None if masks is None else prep / "masks" / masks, skip_bad=skip_bad,
            workers=workers, progress=tick(f"prepare {name}", len(ds.samples)), note=note)
    (out / "coco_train.json").write_text(json.dumps({
        "root": relative_path(coco_root, out), "annotations": relative_path(coco_ann, out),
        "image_ids": [int(s.id) for s in coco.samples],
    }))

    # the index: one row per good sample of every source, each set as row numbers
    roots: dict[str, int] = {}
    rows: list[list] = []
    row_of: dict[str, list[int]] = {}

    def root(folder: Path) -> int:
        return roots.setdefault(relative_path(folder, prep), len(roots))

    for name, items in good.items():
        row_of[name] = []
        for p in items:
            row_of[name].append(len(rows))
            rows.append([p.id, root(p.image.parent), p.image.name, root(p.mask.parent), p.mask.name, p.height, p.width])

    voc_val_ids = {p.id for p in good["voc_val"]}
    keyed = {k: [(p.id, r) for p, r in zip(good[k], row_of[k])] for k in good}
    pool = merge_pool([keyed[k] for k in ("voc_train", "sbd_train", "sbd_val")], exclude_ids=voc_val_ids)
    sbd = merge_pool([keyed[k] for k in ("sbd_train", "sbd_val")], voc_val_ids)
    meta_train, meta_val = meta_split([r for _, r in pool], data.split.val_fraction, data.split.seed)
    sets = {"coco_train": row_of["coco_train"], "voc_train": row_of["voc_train"], "voc_val": row_of["voc_val"],
            "sbd": [r for _, r in sbd], "trainaug": [r for _, r in pool], "meta_train": meta_train,
            "meta_val": meta_val}
    assert set(sets) <= set(SETS)
    write_index(index_path(data), list(roots), rows, sets, nc)
    by_row = [p for items in good.values() for p in items]
    for name, members in sets.items():
        write_list(out / f"{name}.lst", [by_row[r].sample() for r in members])
    write_manifest(manifest, prep / MANIFEST)

    for name in ("sbd", "trainaug", "meta_train", "meta_val"):
        reports[name] = SetReport(name, "derived", len(sets[name]))
    order = ("coco_train", "voc_train", "voc_val", "sbd_train", "sbd_val", "sbd", "trainaug", "meta_train", "meta_val")
    return [reports[k] for k in order]


def write_summary(data: DataParams, reports: list[SetReport]) -> Path:
    """``<data.root>/lists/summary.json``: each set's source, size, skipped samples and class pixels."""
    summary = {
        "num_classes": data.num_classes,
        "prepared": {"index": str(index_path(data)), "manifest": str(prepared_dir(data) / MANIFEST),
                     "decoded_masks": {r.name: r.images for r in reports if r.name in ("sbd_train", "sbd_val", "coco_train")}},
        "sets": {r.name: {"source": r.source, "images": r.images, "skipped": len(r.skipped), "note": r.note}
                 for r in reports},
        **report_details(reports),
    }
    path = lists_dir(data) / "summary.json"
    write_json(summary, path)
    return path
