"""`nasseg prepare`: the segmentation sets (VOC/SBD/COCO formats) on disk, decoded once, and the index every later stage reads."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.data.prepare import build_lists, generate_embedded, write_summary
from nasseg.progress import console, progress_bars, table


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; this stage reads its `data` section."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad",
        help="Drop samples whose files are missing, unreadable, of the wrong size or with out-of-range labels, "
        "and report how many; without it the first bad sample stops the stage with its file named."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=0,
        help="processes that read and decode the samples (default: the CPU cores); the outputs do not depend on it"),
) -> None:
    """Render the embedded datasets (unless params point at real ones) and write the lists.

    Reads: params.yaml `data` (sizes of the embedded VOC/SBD/COCO-format sets, or
    `data.sources.{voc,sbd,coco}` paths to real datasets on disk).
    Every sample is read once; SBD .mat masks are decoded and COCO polygons/RLE rasterised
    here, once, to class-index PNGs, so that no training step does it again.

    Writes: <data.root>/embedded/ (VOCdevkit/VOC2012, benchmark_RELEASE/dataset, coco/);
    <data.prepared> (default <data.root>/prepared): masks/sbd/*.png, masks/coco/*.png,
    index.json (every set's images, mask PNGs and sizes: what the loops open) and
    manifest.json (the real source files read, with size + mtime or SHA-1, see
    data.fingerprint); <data.root>/lists/*.lst (the same sets as image<TAB>mask lists:
    coco_train, voc_train, voc_val, sbd, trainaug, meta_train, meta_val),
    lists/coco_train.json and lists/summary.json.
    The transfer and street sets are `nasseg prepare-transfer` and `nasseg prepare-street`.
    """
    p = load_params(params).data
    with progress_bars() as task:
        generate_embedded(p, task)
        reports = build_lists(p, skip_bad=skip_bad, progress=task,
                              workers=(os.cpu_count() or 1) if workers is None else workers)
    summary = write_summary(p, reports)
    rows = []
    for r in reports:
        present = "" if r.class_pixels is None else f"{int((r.class_pixels[1:] > 0).sum())}/{p.num_classes - 1}"
        rows.append([r.name, r.source, r.images, len(r.skipped), present, r.note])
    console.print(table("prepare: datasets", ["set", "source", "images", "skipped", "classes seen", "note"], rows))
    skipped = sum(len(r.skipped) for r in reports)
    if skipped:
        shown = 10
        for r in reports:
            for sid, why in r.skipped[:shown]:
                console.print(f"[yellow]skipped[/] {r.name} '{sid}': {why}", highlight=False, soft_wrap=True)
            if len(r.skipped) > shown:
                console.print(f"[yellow]skipped[/] {r.name}: … and {len(r.skipped) - shown} more", highlight=False)
        console.print(f"[yellow]{skipped} bad sample(s) skipped (--skip-bad); every reason in {summary}[/]")
