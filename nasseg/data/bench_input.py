"""What the training input pipeline alone delivers (``nasseg bench-input``): images per second
through :class:`~nasseg.data.loader.KeyedLoader` (decode, augment, collate, and the copy to the
device, pinned and non-blocking on CUDA), with 0, 1, 2, ... DataLoader workers, on data in the
real formats at the real datasets' sizes.

A bench set is rendered once with the embedded writers (:mod:`nasseg.synthetic.segmentation`)
at VOC's image sizes (sides in [375, 500]): VOC (JPEG + palette PNG), SBD (JPEG + MATLAB .mat
GTcls) and COCO (JPEG + polygons / RLE in an instances JSON); a manifest beside it lets the
next run with the same settings reuse it. Each (format, workers) run builds a fresh loader,
takes one warm-up batch (the worker start-up, reported apart), then times ``batches`` batches
of a new epoch (empty prefetch queues, warm workers) until the last one is on the device.
Runs are repeated in interleaved rounds; each run also records the CPU cores it used and the
cores other programs used meanwhile (from /proc), and the round with the least other load is
the one reported (this machine may be shared), every round kept beside it.

The throughput is set beside what one GPU consumes when training at the paper's settings:
arch0's 512×512 forward pass takes 14.86 ms on a GTX 1080Ti (paper Table 1, SPEC §6), and a
training step (forward + backward) is taken as about 3 forward passes, so ≈ 22.4 images/s.
"""
from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from ..errors import ConfigError
from ..outputs import write_json
from ..runtime import Runtime
from ..synthetic.segmentation import EmbeddedSpec, voc_id, write_coco, write_sbd, write_voc
from .datasets import COCOSegmentation, SBDSegmentation, SegmentationDataset, VOCSegmentation
from .loader import KeyedLoader, batches_of, epoch_order
from .transforms import SegmentationTransform

FORMATS = {
    "voc": "JPEG + palette PNG (VOC 2012)",
    "sbd": "JPEG + .mat GTcls (SBD)",
    "coco": "JPEG + polygons/RLE JSON (COCO)",
}
PAPER_FORWARD_MS = 14.86  # arch0, one 512x512 image, GTX 1080Ti: paper Table 1 (../shared/SPEC.md §6)
STEP_OVER_FORWARD = 3.0  # a training step (forward + backward) taken as ~3 forward passes
TARGET_TWO_OVER_ONE = 1.6
MANIFEST = "manifest.json"
SET_VERSION = 1  # bump when the way the bench set is rendered changes


@dataclass(frozen=True)
class BenchSet:
    """What the rendered bench set is made of (the manifest records it)."""

    images: int = 48  # per format
    min_size: int = 375  # image sides drawn in [min_size, max_size]: VOC's ~500x375
    max_size: int = 500
    seed: int = 0
    jpeg_quality: int = 92
    max_objects: int = 6


def gpu_assumption(step_ms: Optional[float] = None) -> dict:
    """What one GPU consumes in training, in images/s, and where the figure comes from.
    ``step_ms``: a measured training-step time per image instead (e.g. from ``nasseg gpu-check``)."""
    if step_ms is not None and not step_ms > 0:
        raise ConfigError(f"--gpu-step-ms must be > 0 (milliseconds per image), got {step_ms}")
    if step_ms is None:
        ms = STEP_OVER_FORWARD * PAPER_FORWARD_MS
        basis = (f"paper Table 1 (../shared/SPEC.md §6): arch0, one 512x512 forward pass on a GTX 1080Ti in "
                 f"{PAPER_FORWARD_MS} ms; a training step (forward + backward) assumed ≈ {STEP_OVER_FORWARD:g}× a "
                 f"forward pass: {ms:.2f} ms per image")
        gpu = "GTX 1080Ti (paper)"
    else:
        ms, basis, gpu = float(step_ms), f"given with --gpu-step-ms: {float(step_ms):g} ms per image", "as given"
    return {"gpu": gpu, "forward_ms": PAPER_FORWARD_MS if step_ms is None else None,
            "step_over_forward": STEP_OVER_FORWARD if step_ms is None else None,
            "step_ms_per_image": ms, "images_per_s": 1000.0 / ms, "basis": basis}


def set_paths(root: Path) -> dict:
    root = Path(root)
    coco = root / "coco"
    return {"voc": root / "VOCdevkit" / "VOC2012", "sbd": root / "benchmark_RELEASE" / "dataset",
            "coco": (coco / "images" / "train2017", coco / "annotations" / "instances_train2017.json")}


def _complete(root: Path, n: int) -> bool:
    p = set_paths(root)
    counts = [(p["voc"] / "JPEGImages", "*.jpg"), (p["voc"] / "SegmentationClass", "*.png"),
              (p["sbd"] / "img", "*.jpg"), (p["sbd"] / "cls", "*.mat"), (p["coco"][0], "*.jpg")]
    return p["coco"][1].is_file() and all(len(list(d.glob(g))) == n for d, g in counts)


def reusable(manifest: Path, want: dict, complete: Callable[[], bool]) -> Optional[dict]:
    """A rendered bench set's manifest, marked ``reused``, when it was made with the ``want``
    settings and its files are all there (``complete()``); else None (render it again)."""
    if not manifest.is_file():
        return None
    try:
        old = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return None
    return {**old, "reused": True} if old.get("settings") == want and complete() else None


def render_set(root: Path, spec: BenchSet, log: Callable[[str], None] = print) -> dict:
    """The bench set under ``root``, rendered unless the manifest says the same set is there.
    Returns the manifest (``reused``: whether it was already there)."""
    root = Path(root)
    want = {"version": SET_VERSION, **asdict(spec)}
    manifest = root / MANIFEST
    old = reusable(manifest, want, lambda: _complete(root, spec.images))
    if old is not None:
        return old
    manifest.unlink(missing_ok=True)
    for sub in ("VOCdevkit", "benchmark_RELEASE", "coco"):  # only what this module writes
        shutil.rmtree(root / sub, ignore_errors=True)
    log(f"rendering the bench set: {spec.images} images per format, sides {spec.min_size}-{spec.max_size} px, "
        f"under {root}")
    t0 = time.perf_counter()
    es = EmbeddedSpec(seed=spec.seed, min_size=spec.min_size, max_size=spec.max_size,
                      jpeg_quality=spec.jpeg_quality, max_objects=spec.max_objects)
    write_voc(root, {"train": [voc_id(i) for i in range(spec.images)]}, es)
    write_sbd(root, {"train": [voc_id(spec.images + i) for i in range(spec.images)]}, es)
    write_coco(root, "train", spec.images, es)
    out = {"settings": want, "render_s": round(time.perf_counter() - t0, 2),
           "formats": dict(FORMATS)}
    write_json(out, manifest)
    (root / ".gitignore").write_text("# rendered by nasseg bench-input; not for git\n*\n")
    return {**out, "reused": False}


def open_sets(root: Path, transform, num_classes: int = 21) -> dict[str, SegmentationDataset]:
    """The bench set's three datasets, each through ``transform``, opened as training opens them
    (COCO drops images without a VOC-class object; a run cycles through a set smaller than it needs)."""
    p = set_paths(root)
    return {"voc": VOCSegmentation(p["voc"], "train", transform, num_classes=num_classes),
            "sbd": SBDSegmentation(p["sbd"], "train", transform, num_classes=num_classes),
            "coco": COCOSegmentation(*p["coco"], transform, num_classes=num_classes)}


def _digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha1()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cpu_ticks() -> Optional[tuple[int, int]]:
    """(busy ticks of the whole machine, ticks of this process and its children: the workers)
    from /proc (Linux); None elsewhere. Their difference over a run is other programs' load."""
    try:
        busy = sum(int(x) for i, x in enumerate(Path("/proc/stat").read_text().split("\n")[0].split()[1:9])
                   if i not in (3, 4))  # all but idle and iowait
        me, own = os.getpid(), 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                f = stat.read_text().rsplit(")", 1)[1].split()  # fields after the command name
            except OSError:
                continue
            if int(stat.parent.name) == me or int(f[1]) == me:
                own += int(f[11]) + int(f[12])  # utime + stime
        return busy, own
    except (OSError, ValueError, IndexError):
        return None


def _cores(start, end, seconds: float) -> dict:
    if start is None or end is None or seconds <= 0:
        return {"cores_used": None, "cores_used_by_others": None}
    hz = os.sysconf("SC_CLK_TCK") * seconds
    own = (end[1] - start[1]) / hz
    return {"cores_used": round(own, 2), "cores_used_by_others": round(max(0.0, (end[0] - start[0]) / hz - own), 2)}


def _sync(runtime: Runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)


def time_run(dataset, runtime: Runtime, workers: int, *, batch_size: int, batches: int, seed: int = 0) -> dict:
    """One run: a fresh loader with ``workers`` workers, one warm-up batch (start-up), then
    ``batches`` batches of a new epoch timed until the last one is on the device."""
    n = batch_size * batches
    order: list[int] = []
    while len(order) < n + batch_size:  # a small set is cycled
        order += epoch_order(len(dataset), seed, len(order) // max(1, len(dataset)))
    timed = batches_of(order[batch_size:batch_size + n], batch_size, drop_last=True)
    t0 = time.perf_counter()
    loader = KeyedLoader(dataset, runtime, workers=workers)
    for image, mask in loader.epoch(seed, 0, [order[:batch_size]]):
        runtime.batch(image), runtime.batch(mask)
    _sync(runtime)
    startup = time.perf_counter() - t0
    delivered, first = 0, None
    ticks = cpu_ticks()
    t1 = time.perf_counter()
    for image, mask in loader.epoch(seed, 1, timed):
        image, mask = runtime.batch(image), runtime.batch(mask)
        delivered += int(image.shape[0])
        first = (image, mask) if first is None else first
    _sync(runtime)
    seconds = time.perf_counter() - t1
    out = {"workers": workers, "images": delivered, "asked": n, "seconds": seconds,
           "images_per_s": delivered / seconds, "startup_s": startup, **_cores(ticks, cpu_ticks(), seconds),
           "digest": _digest(*first)}
    del loader, first
    gc.collect()  # the persistent workers end here, not during the next run
    return out


def pick_round(runs: list[dict]) -> dict:
    """The round that had the machine most to itself (least CPU used by other programs; the
    faster on a tie; the median round where /proc cannot tell), with every round's figures."""
    if all(r["cores_used_by_others"] is not None for r in runs):
        best = min(runs, key=lambda r: (round(r["cores_used_by_others"], 1), -r["images_per_s"]))
    else:
        best = sorted(runs, key=lambda r: r["images_per_s"])[len(runs) // 2]
    return {**best, "images_per_s_median": statistics.median(r["images_per_s"] for r in runs),
            "rounds": [{k: r[k] for k in ("images_per_s", "startup_s", "cores_used", "cores_used_by_others")}
                       for r in runs],
            "same_pixels_every_round": len({r["digest"] for r in runs}) == 1}


def _summary(runs: list[dict], gpu_rate: float) -> dict:
    rate = {r["workers"]: r["images_per_s"] for r in runs}
    out = {"images_per_s": {str(w): v for w, v in rate.items()},
           "startup_s": {str(r["workers"]): r["startup_s"] for r in runs},
           "cores_used": {str(r["workers"]): r["cores_used"] for r in runs},
           "cores_used_by_others": {str(r["workers"]): r["cores_used_by_others"] for r in runs},
           "same_pixels": len({r["digest"] for r in runs}) == 1}
    if 1 in rate and 2 in rate:
        out["two_over_one"] = rate[2] / rate[1]
        out["meets_target"] = out["two_over_one"] >= TARGET_TWO_OVER_ONE
    if 0 in rate and 1 in rate:
        out["one_over_zero"] = rate[1] / rate[0]
    if 1 in rate:
        out["one_worker_over_gpu"] = rate[1] / gpu_rate
        out["workers_to_feed_gpu"] = math.ceil(gpu_rate / rate[1])
    return out


def check_settings(*, images: int, batch_size: int, batches: int, crop: int, workers: Sequence[int],
                   rounds: int, min_size: int, max_size: int) -> None:
    """A :class:`ConfigError` naming the option for any setting out of range."""
    bad = [(images < 1, f"--images must be >= 1, got {images}"),
           (batch_size < 1, f"--batch-size must be >= 1, got {batch_size}"),
           (batches < 1, f"--batches must be >= 1, got {batches}"),
           (crop < 16, f"--crop must be >= 16 pixels, got {crop}"),
           (rounds < 1, f"--rounds must be >= 1, got {rounds}"),
           (not workers, "--workers needs at least one worker count, e.g. 0,1,2"),
           (any(w < 0 for w in workers), f"--workers must be counts >= 0, got {list(workers)}"),
           (not 16 <= min_size <= max_size, f"image sides must satisfy 16 <= min <= max, got {min_size}, {max_size}")]
    for is_bad, msg in bad:
        if is_bad:
            raise ConfigError(msg)


def run_bench_input(params, *, root: Path = Path("cache/bench_input"), images: int = 48, batch_size: int = 8,
                    batches: int = 12, crop: int = 512, workers: Sequence[int] = (0, 1, 2), rounds: int = 3,
                    gpu_step_ms: Optional[float] = None, runtime: Optional[Runtime] = None,
                    min_size: int = 375, max_size: int = 500, log: Callable[[str], None] = print) -> dict:
    """Every format with every worker count, ``rounds`` interleaved rounds; see the module doc.
    ``params``: a ``Params`` (its ``data.augment`` scale, min_side and flip are used; the crop is ``crop``)."""
    workers = [int(w) for w in dict.fromkeys(workers)]
    check_settings(images=images, batch_size=batch_size, batches=batches, crop=crop, workers=workers,
                   rounds=rounds, min_size=min_size, max_size=max_size)
    runtime = runtime or Runtime.of(params)
    gpu = gpu_assumption(gpu_step_ms)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    aug = params.data.augment
    manifest = render_set(Path(root), BenchSet(images=images, min_size=min_size, max_size=max_size), log)
    transform = SegmentationTransform(crop=crop, scale=tuple(aug.scale), min_side=aug.min_side, flip=aug.flip)
    sets = open_sets(Path(root), transform, params.data.num_classes)
    raw: dict = {(f, w): [] for f in sets for w in workers}
    for r in range(rounds):
        for f, ds in sets.items():
            for w in workers:
                raw[f, w].append(time_run(ds, runtime, w, batch_size=batch_size, batches=batches))
                log(f"round {r + 1}/{rounds} {f} {w} worker(s): {raw[f, w][-1]['images_per_s']:.1f} images/s, "
                    f"start-up {raw[f, w][-1]['startup_s']:.2f} s")
    runs = [{"format": f, **pick_round(raw[f, w])} for f in sets for w in workers]
    formats = {f: {"what": FORMATS[f], "dataset_images": len(ds),
                   **_summary([r for r in runs if r["format"] == f], gpu["images_per_s"])} for f, ds in sets.items()}
    return {"command": "bench-input", "device": str(runtime.device), "pin_memory": runtime.pin_memory,
            "main_threads": torch.get_num_threads(), "worker_threads": 1, "cpu_count": os.cpu_count(),
            "load_avg_1min_before": load, "set": {"root": str(root), **manifest}, "crop": crop,
            "augment": {"scale": list(aug.scale), "min_side": aug.min_side, "flip": aug.flip},
            "batch_size": batch_size, "timed_batches": batches, "images_per_run": batch_size * batches,
            "rounds": rounds, "workers": workers, "runs": runs, "formats": formats, "gpu": gpu,
            "target_two_over_one": TARGET_TWO_OVER_ONE}


__all__ = ["BenchSet", "FORMATS", "check_settings", "cpu_ticks", "gpu_assumption", "open_sets", "pick_round",
           "render_set", "run_bench_input", "set_paths", "time_run"]
