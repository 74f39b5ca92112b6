"""``nasseg bench-prepare``: what preparing the real datasets once buys the training loops.

A real-size set in the real formats is rendered once with the embedded writers
(:mod:`nasseg.synthetic.segmentation`) at VOC's image sizes (sides in [375, 500]) under
``cache/bench_real`` (reused while its manifest matches): by default 10,000 images, a tenth
VOC 2012 (JPEG + palette PNG), four tenths SBD (JPEG + MATLAB ``cls/*.mat``) and half COCO
(JPEG + polygons / RLE in an instances JSON). Then, in one run:

* ``prepare`` on it as on real sources (:func:`nasseg.data.prepare.build_lists`): its time,
  and the manifest's cost with each fingerprint (``stat`` and ``sha1``);
* opening the sets: before, the COCO JSON loaded (pycocotools) and every file checked; after,
  the one index file;
* the training loader's images/s (:func:`nasseg.data.bench_input.time_run`: KeyedLoader,
  random scale / crop / flip, collate, copy to the device) on the same samples, before (masks
  from ``.mat`` files and polygons decoded at each step) and after (the PNGs prepare wrote,
  listed by the index), in interleaved rounds, the quietest round reported. Both paths must
  deliver the same pixels (the first batch's digest is compared).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from ..config import CocoSource, DataParams, SourcesParams
from ..errors import ConfigError
from ..outputs import write_json
from ..runtime import Runtime
from ..synthetic.segmentation import EmbeddedSpec, embedded_layout, write_coco, write_sbd, write_voc
from .bench_input import cpu_ticks, pick_round, reusable, set_paths, time_run
from .catalog import clear_index_cache, open_set
from .datasets import COCOSegmentation, Sample, SegmentationDataset
from .manifest import scan_sources
from .prepare import build_lists
from .transforms import SegmentationTransform

MANIFEST = "manifest.json"
SET_VERSION = 1  # bump when the way the set is rendered changes
PATHS = {"voc": "VOC: JPEG + palette PNG (unchanged: the control)",
         "sbd": "SBD: JPEG + .mat GTcls before, + decoded PNG after",
         "coco": "COCO: JPEG + polygons/RLE JSON before, + rasterised PNG after"}


@dataclass(frozen=True)
class RealSet:
    """What the rendered set is made of (the manifest records it)."""

    images: int = 10_000  # in all: 10% VOC (half train, half val), 40% SBD (90% train), 50% COCO
    min_size: int = 375
    max_size: int = 500
    seed: int = 0
    jpeg_quality: int = 92
    max_objects: int = 6

    def counts(self) -> dict:
        voc = self.images // 10
        sbd = 4 * self.images // 10
        voc_val, sbd_val = max(1, voc // 2), max(1, sbd // 10)  # every split holds an image
        return {"voc_train": voc - voc_val, "voc_val": voc_val, "sbd_train": sbd - sbd_val, "sbd_val": sbd_val,
                "coco": self.images - voc - sbd}

    def spec(self) -> EmbeddedSpec:
        return EmbeddedSpec(seed=self.seed, min_size=self.min_size, max_size=self.max_size,
                            jpeg_quality=self.jpeg_quality, max_objects=self.max_objects)


def _render_part(args) -> float:
    part, root, spec = args
    t0 = time.perf_counter()
    root, es, c = Path(root), spec.spec(), spec.counts()
    if part == "pascal":
        lay = embedded_layout(c["sbd_train"], c["sbd_val"], c["voc_train"], c["voc_val"])
        write_voc(root, {"train": lay["voc_train"], "val": lay["voc_val"]}, es)
        write_sbd(root, {"train": lay["sbd_train"], "val": lay["sbd_val"]}, es)
    else:
        write_coco(root, "train", c["coco"], es)
    return time.perf_counter() - t0


def _complete(root: Path, spec: RealSet) -> bool:
    p, c = set_paths(root), spec.counts()
    n_voc, n_sbd = c["voc_train"] + c["voc_val"], c["sbd_train"] + c["sbd_val"]
    counts = [(p["voc"] / "JPEGImages", n_voc), (p["voc"] / "SegmentationClass", n_voc),
              (p["sbd"] / "img", n_sbd), (p["sbd"] / "cls", n_sbd), (p["coco"][0], c["coco"])]
    return p["coco"][1].is_file() and all(d.is_dir() and sum(1 for _ in os.scandir(d)) == n for d, n in counts)


def render_real(root: Path, spec: RealSet, log: Callable[[str], None] = print) -> dict:
    """The set under ``root``, rendered (VOC + SBD in one process, COCO in another) unless the
    manifest says the same set is there. Returns the manifest (``reused``: already there)."""
    root = Path(root)
    want = {"version": SET_VERSION, **asdict(spec), "counts": spec.counts()}
    manifest = root / MANIFEST
    old = reusable(manifest, want, lambda: _complete(root, spec))
    if old is not None:
        return old
    manifest.unlink(missing_ok=True)
    for sub in ("VOCdevkit", "benchmark_RELEASE", "coco", "work"):  # only what this module writes
        shutil.rmtree(root / sub, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    log(f"rendering the real-size set: {spec.images} images ({spec.counts()}), sides {spec.min_size}-"
        f"{spec.max_size} px, under {root} (minutes)")
    t0 = time.perf_counter()
    jobs = [("pascal", str(root), spec), ("coco", str(root), spec)]
    if "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            parts = pool.map(_render_part, jobs)
    else:
        parts = [_render_part(j) for j in jobs]
    out = {"settings": want, "render_s": round(time.perf_counter() - t0, 1),
           "render_part_s": {"voc+sbd": round(parts[0], 1), "coco": round(parts[1], 1)}}
    write_json(out, manifest)
    (root / ".gitignore").write_text("# rendered by nasseg bench-prepare; not for git\n*\n")
    return {**out, "reused": False}


def real_params(root: Path, num_classes: int = 21, fingerprint: str = "stat") -> DataParams:
    """``data`` params naming the rendered set as the real sources; prepare writes under ``root/work``."""
    p = set_paths(root)
    return DataParams(root=Path(root) / "work", num_classes=num_classes, fingerprint=fingerprint,
                      sources=SourcesParams(voc=p["voc"], sbd=p["sbd"],
                                            coco=CocoSource(root=p["coco"][0], annotations=p["coco"][1])))


def old_and_new(data: DataParams, root: Path, transform) -> tuple[dict, dict, dict]:
    """Per path (voc, sbd, coco): the dataset as the loops read it before this change and as
    they read it now (``data`` prepared from the set under ``root``), on the same samples in the
    same order, and the seconds each took to open."""
    p = set_paths(root)
    old, new, open_s = {}, {}, {}
    for name, set_name in (("voc", "voc_val"), ("sbd", "sbd"), ("coco", "coco_train")):
        clear_index_cache()
        t0 = time.perf_counter()
        new[name] = open_set(set_name, data, transform)
        t_new = time.perf_counter() - t0
        samples = list(new[name].samples)
        t0 = time.perf_counter()
        if name == "coco":  # what open_set did: load the JSON, keep the ids prepare kept, check every file
            old[name] = COCOSegmentation(*p["coco"], transform, num_classes=data.num_classes,
                                         image_ids=[int(s.id) for s in samples])
        elif name == "sbd":  # the list file named the .mat masks; every file checked when opened
            old[name] = SegmentationDataset([Sample(s.id, s.image, p["sbd"] / "cls" / f"{s.id}.mat") for s in samples],
                                            transforms=transform, num_classes=data.num_classes, source="SBD .mat")
        else:
            old[name] = SegmentationDataset(samples, transforms=transform, num_classes=data.num_classes,
                                            source="VOC list")
        open_s[name] = {"before_s": time.perf_counter() - t0, "after_s": t_new}
        if [s.id for s in old[name].samples] != [s.id for s in samples]:
            raise ConfigError(f"bench-prepare: the {name} sets before and after differ; the set under "
                              f"{root} is inconsistent. Delete it and run again.")
    return old, new, open_s


def run_bench_prepare(params, *, root: Path = Path("cache/bench_real"), images: int = 10_000, batch_size: int = 8,
                      batches: int = 12, crop: int = 512, workers: int = 1, rounds: int = 3,
                      prepare_workers: Optional[int] = None, runtime: Optional[Runtime] = None,
                      min_size: int = 375, max_size: int = 500, log: Callable[[str], None] = print) -> dict:
    """See the module doc. ``params``: a ``Params`` (``data.augment``'s scale, min_side, flip;
    ``data.num_classes``). ``workers``: the loader's DataLoader workers; ``prepare_workers``:
    prepare's processes (default: the CPU cores)."""
    bad = [(images < 20, f"--images must be >= 20 (every split needs an image), got {images}"),
           (batch_size < 1, f"--batch-size must be >= 1, got {batch_size}"),
           (batches < 1, f"--batches must be >= 1, got {batches}"), (crop < 16, f"--crop must be >= 16, got {crop}"),
           (workers < 0, f"--workers must be >= 0, got {workers}"), (rounds < 1, f"--rounds must be >= 1, got {rounds}"),
           (prepare_workers is not None and prepare_workers < 0, f"--prepare-workers must be >= 0, got {prepare_workers}"),
           (not 16 <= min_size <= max_size, f"image sides must satisfy 16 <= min <= max, got {min_size}, {max_size}")]
    for is_bad, msg in bad:
        if is_bad:
            raise ConfigError(msg)
    root = Path(root)
    runtime = runtime or Runtime.of(params)
    nc = params.data.num_classes
    spec = RealSet(images=images, min_size=min_size, max_size=max_size)
    manifest = render_real(root, spec, log)
    data = real_params(root, nc)
    pw = (os.cpu_count() or 1) if prepare_workers is None else prepare_workers

    log(f"prepare on {images} images with {pw} process(es)")
    ticks = cpu_ticks()
    t0 = time.perf_counter()
    reports = build_lists(data, workers=pw)
    prepare_s = time.perf_counter() - t0
    prepared = {"seconds": prepare_s, "workers": pw, "images_per_s": sum(
        r.images for r in reports if r.source != "derived") / prepare_s,
        "sets": {r.name: r.images for r in reports}, "skipped": sum(len(r.skipped) for r in reports)}
    end = cpu_ticks()
    if ticks and end:
        hz = os.sysconf("SC_CLK_TCK") * prepare_s
        prepared["cores_used_by_others"] = round(max(0.0, (end[0] - ticks[0]) / hz - (end[1] - ticks[1]) / hz), 2)
    idx = Path(data.root) / "prepared"
    prepared["index_bytes"] = (idx / "index.json").stat().st_size
    prepared["masks_bytes"] = sum(e.stat().st_size for d in ("sbd", "coco") for e in os.scandir(idx / "masks" / d))
    log(f"prepare: {prepare_s:.1f} s")

    scans = {}
    for fp in ("stat", "sha1"):
        t0 = time.perf_counter()
        m = scan_sources(real_params(root, nc, fp))
        scans[fp] = {"seconds": time.perf_counter() - t0,
                     "files": sum(v["files"] for v in m["sources"].values()),
                     "bytes": sum(v["bytes"] for v in m["sources"].values()),
                     "manifest_bytes": len(json.dumps(m, indent=1))}
        log(f"manifest ({fp}): {scans[fp]['seconds']:.2f} s for {scans[fp]['files']} files")

    aug = params.data.augment
    transform = SegmentationTransform(crop=crop, scale=tuple(aug.scale), min_side=aug.min_side, flip=aug.flip)
    old, new, open_s = old_and_new(data, root, transform)
    raw = {(f, k): [] for f in PATHS for k in ("before", "after")}
    for r in range(rounds):
        for f in PATHS:
            for k, ds in (("before", old[f]), ("after", new[f])):
                raw[f, k].append(time_run(ds, runtime, workers, batch_size=batch_size, batches=batches))
                log(f"round {r + 1}/{rounds} {f} {k}: {raw[f, k][-1]['images_per_s']:.1f} images/s")
    loader = {}
    for f in PATHS:
        b, a = pick_round(raw[f, "before"]), pick_round(raw[f, "after"])
        loader[f] = {"what": PATHS[f], "dataset_images": len(new[f]), "before": b, "after": a,
                     "speedup": a["images_per_s"] / b["images_per_s"],
                     "same_pixels": b["digest"] == a["digest"], "open": open_s[f]}
    return {"command": "bench-prepare", "device": str(runtime.device), "cpu_count": os.cpu_count(),
            "main_threads": torch.get_num_threads(), "set": {"root": str(root), **manifest},
            "prepare": prepared, "manifest_cost": scans, "crop": crop,
            "augment": {"scale": list(aug.scale), "min_side": aug.min_side, "flip": aug.flip},
            "batch_size": batch_size, "timed_batches": batches, "loader_workers": workers, "rounds": rounds,
            "loader": loader}


__all__ = ["RealSet", "old_and_new", "real_params", "render_real", "run_bench_prepare"]
