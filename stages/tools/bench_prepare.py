"""`nasseg bench-prepare`: prepare on a 10,000-image real-format set, and the training loader before vs after."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.data.bench_real import run_bench_prepare
from nasseg.outputs import write_json
from nasseg.progress import console, table
from nasseg.runtime import Runtime

from ..common import DEVICE, log


def show(r: dict) -> None:
    p, s = r["prepare"], r["set"]
    console.print(f"set: {s['settings']['images']} images {s['settings']['counts']} under {s['root']} "
                  f"({'reused' if s['reused'] else 'rendered'}; rendering took {s['render_s']} s)", highlight=False)
    console.print(table(
        "bench-prepare: prepare (read + check every sample, decode SBD .mat and COCO polygons/RLE to PNG, index, manifest)",
        ["images", "processes", "seconds", "images/s", "index MB", "decoded masks MB"],
        [[sum(v for k, v in p["sets"].items() if k in ("coco_train", "voc_train", "voc_val", "sbd_train", "sbd_val")),
          p["workers"], f"{p['seconds']:.1f}", f"{p['images_per_s']:.1f}", f"{p['index_bytes'] / 1e6:.2f}",
          f"{p['masks_bytes'] / 1e6:.1f}"]]))
    console.print(table("manifest of the real files, by fingerprint (the prepare-scan stage runs it at every dvc repro)",
                        ["fingerprint", "files", "GB read", "seconds", "manifest MB"],
                        [[fp, m["files"], f"{m['bytes'] / 1e9 if fp == 'sha1' else 0:.2f}", f"{m['seconds']:.2f}",
                          f"{m['manifest_bytes'] / 1e6:.2f}"] for fp, m in r["manifest_cost"].items()]))
    rows = [[name, f["what"], f["dataset_images"], f"{f['open']['before_s']:.2f}", f"{f['open']['after_s']:.3f}",
             f"{f['before']['images_per_s']:.1f}", f"{f['after']['images_per_s']:.1f}", f"×{f['speedup']:.2f}",
             "yes" if f["same_pixels"] else "NO"] for name, f in r["loader"].items()]
    console.print(table(f"training loader, before vs after: {r['crop']}² crops, batch {r['batch_size']}, "
                        f"{r['timed_batches']} timed batches, {r['loader_workers']} DataLoader worker(s), quietest of "
                        f"{r['rounds']} rounds, device {r['device']}",
                        ["path", "what", "images", "open s before", "open s after", "img/s before", "img/s after",
                         "after ÷ before", "same pixels"], rows))


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file (data.augment: scale, min_side, flip; data.num_classes)"),
    images: int = typer.Option(10_000, help="images rendered in all: 10% VOC, 40% SBD, 50% COCO"),
    root: Path = typer.Option(Path("cache/bench_real"), help="where the set is rendered (reused while its "
                              "manifest matches) and prepared (under work/)"),
    batch_size: int = typer.Option(8, help="images per batch"),
    batches: int = typer.Option(12, help="timed batches per run (after one warm-up batch)"),
    crop: int = typer.Option(512, help="training crop side in pixels"),
    workers: int = typer.Option(1, help="DataLoader workers of the timed loader"),
    prepare_workers: Optional[int] = typer.Option(None, help="processes prepare reads and decodes with "
                                                  "(default: the CPU cores)"),
    rounds: int = typer.Option(3, help="interleaved rounds of before/after; the one with the least CPU used by "
                               "other programs is reported"),
    min_size: int = typer.Option(375, help="shortest image side drawn when rendering"),
    max_size: int = typer.Option(500, help="longest image side drawn when rendering (VOC: ~500×375)"),
    out: Path = typer.Option(Path("results/bench_prepare.json"), help="write the figures to this JSON file"),
    device: Optional[str] = DEVICE,
) -> None:
    """What `prepare` decoding the masks once buys the training loops, measured on a
    real-size set in the real formats.

    Renders (once; minutes) --images VOC-sized images (sides 375-500 px) under --root:
    VOC 2012 (JPEG + palette PNG), SBD (JPEG + cls/*.mat) and COCO (JPEG + polygons/RLE
    JSON). Runs `prepare` on them as on real sources and prints its time, then the cost of
    the manifest of the real files with each fingerprint (stat: size + mtime; sha1: content).

    Then, side by side in interleaved rounds, the training loader (KeyedLoader, random
    scale / --crop crop / flip, collate, copy to --device) on the same samples: before
    (SBD .mat decoded and COCO polygons rasterised at every step, COCO JSON loaded and
    every file checked when a set is opened) and after (prepare's PNGs, listed by one
    index file). Both must give the same pixels. Writes --out (JSON).
    """
    p = load_params(params)
    runtime = Runtime.of(p, device=device)
    log(f"runtime: device {runtime.device}")
    r = run_bench_prepare(p, root=root, images=images, batch_size=batch_size, batches=batches, crop=crop,
                          workers=workers, rounds=rounds, prepare_workers=prepare_workers, runtime=runtime,
                          min_size=min_size, max_size=max_size, log=log)
    show(r)
    write_json(r, out)
    log(f"wrote {out}")
