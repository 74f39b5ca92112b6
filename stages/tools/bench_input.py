"""`nasseg bench-input`: images per second of the training input pipeline alone, 0, 1, 2 workers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.data.bench_input import run_bench_input
from nasseg.errors import ConfigError
from nasseg.outputs import write_json
from nasseg.progress import console, table
from nasseg.runtime import Runtime

from ..common import DEVICE, log


def parse_workers(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; anything else is a ConfigError naming the option."""
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        counts = None
    if not counts or any(c < 0 for c in counts):
        raise ConfigError(f"--workers must be comma-separated worker counts >= 0, such as 0,1,2; got {text!r}")
    return counts


def _rate(f: dict, w: int) -> str:
    r = f["images_per_s"][str(w)]
    others = f["cores_used_by_others"][str(w)]
    return f"{r:.1f}" + (f" (others used {others:.1f} cores)" if others is not None and others >= 0.25 else "")


def _ratio(f: dict, key: str, target: Optional[float] = None) -> str:
    if key not in f:
        return "–"
    return f"×{f[key]:.2f}" + ("" if target is None else (" ✓" if f[key] >= target else f" (target ≥ ×{target:g})"))


def show(r: dict) -> None:
    """The figures as two tables: throughput per format and worker count, then beside one GPU."""
    ws = r["workers"]
    cols = ["format", "files"] + [f"{w} worker{'s' if w != 1 else ''} img/s" for w in ws] + \
        ["2 ÷ 1 workers", "1 ÷ 0 workers", "start-up s (" + ", ".join(str(w) for w in ws) + " workers)"]
    rows = [[name, f["what"]] + [_rate(f, w) for w in ws]
            + [_ratio(f, "two_over_one", r["target_two_over_one"]), _ratio(f, "one_over_zero"),
               ", ".join(f"{f['startup_s'][str(w)]:.2f}" for w in ws)] for name, f in r["formats"].items()]
    copy = "pinned, non-blocking copy to " + r["device"] if r["pin_memory"] else f"copy to {r['device']} (no pinning)"
    console.print(table(f"bench-input: {r['crop']}² crops, batch {r['batch_size']}, {r['timed_batches']} timed batches "
                        f"per run, quietest of {r['rounds']} rounds; decode + augment + collate + {copy}; "
                        f"main process {r['main_threads']} torch threads, workers 1 each, {r['cpu_count']} CPU cores",
                        cols, rows))
    g = r["gpu"]
    if 1 in ws:
        rows = [[name, f"{f['images_per_s']['1']:.1f}", f"{g['images_per_s']:.1f}", f"×{f['one_worker_over_gpu']:.2f}",
                 f["workers_to_feed_gpu"]] for name, f in r["formats"].items()]
        console.print(table(f"one worker beside one GPU ({g['gpu']}): {g['basis']}",
                            ["format", "one worker img/s", "one GPU consumes img/s", "worker ÷ GPU",
                             "workers to feed one GPU"], rows))


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file (data.augment: scale, min_side, flip; data.num_classes)"),
    images: int = typer.Option(48, help="images rendered per format"),
    batch_size: int = typer.Option(8, help="images per batch"),
    batches: int = typer.Option(12, help="timed batches per run (after one warm-up batch); even, so that 2 "
                                "workers share them equally"),
    crop: int = typer.Option(512, help="training crop side in pixels"),
    workers: str = typer.Option("0,1,2", help="DataLoader worker counts to time, comma-separated"),
    rounds: int = typer.Option(3, help="interleaved rounds of every run; the one with the least CPU used by "
                               "other programs is reported"),
    root: Path = typer.Option(Path("cache/bench_input"), help="where the bench set is rendered (reused when "
                              "its manifest matches)"),
    min_size: int = typer.Option(375, help="shortest image side drawn when rendering"),
    max_size: int = typer.Option(500, help="longest image side drawn when rendering (VOC: ~500×375)"),
    out: Path = typer.Option(Path("results/bench_input.json"), help="write the figures to this JSON file"),
    gpu_step_ms: Optional[float] = typer.Option(None, help="training-step time of one GPU per image, in ms, "
                                                "e.g. measured by `make gpu-check` (default: 3 × the paper's "
                                                "14.86 ms arch0 forward pass on a 1080Ti)"),
    device: Optional[str] = DEVICE,
) -> None:
    """Images per second of the training input pipeline alone: the KeyedLoader every training
    loop uses (JPEG decode, mask decode, random scale / 512² crop / flip from params.yaml's
    data.augment, normalise, collate) and the copy of image and mask to --device (pinned and
    non-blocking on CUDA), with 0, 1 and 2 DataLoader workers. No model runs.

    The data is rendered once in the real formats at VOC's sizes (sides
    375-500 px) under --root: VOC (JPEG + palette PNG), SBD (JPEG + .mat
    GTcls), COCO (JPEG + polygons JSON). Each run starts a fresh loader, takes
    one warm-up batch (the worker start-up, reported apart), then times
    --batches batches of a new epoch; the CPU other programs used meanwhile
    is recorded, and the quietest of --rounds rounds is shown.

    One worker's rate is set beside what one GPU consumes in training
    (--gpu-step-ms; default 3 × arch0's 14.86 ms forward pass on a 1080Ti,
    paper Table 1). Writes --out (JSON).
    """
    counts = parse_workers(workers)
    p = load_params(params)
    runtime = Runtime.of(p, device=device)
    log(f"runtime: device {runtime.device}, worker counts {', '.join(map(str, counts))}")
    r = run_bench_input(p, root=root, images=images, batch_size=batch_size, batches=batches, crop=crop,
                        workers=counts, rounds=rounds, gpu_step_ms=gpu_step_ms, runtime=runtime,
                        min_size=min_size, max_size=max_size, log=log)
    show(r)
    write_json(r, out)
    log(f"wrote {out}")
