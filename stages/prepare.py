"""`nasseg prepare`: the segmentation sets (VOC/SBD/COCO formats) on disk and the list files every later stage reads."""
from __future__ import annotations

from pathlib import Path

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
) -> None:
    """Render the embedded datasets (unless params point at real ones) and write the lists.

    Reads: params.yaml `data` (sizes of the embedded VOC/SBD/COCO-format sets, or
    `data.sources.{voc,sbd,coco}` paths to real datasets on disk).
    Writes: <data.root>/embedded/ (VOCdevkit/VOC2012, benchmark_RELEASE/dataset, coco/),
    <data.root>/lists/*.lst (image<TAB>mask lists: voc_train, voc_val, sbd, trainaug,
    meta_train, meta_val), lists/coco_train.json and lists/summary.json.
    The transfer and street sets are `nasseg prepare-transfer` and `nasseg prepare-street`.
    """
    p = load_params(params).data
    with progress_bars() as task:
        generate_embedded(p, task)
        reports = build_lists(p, skip_bad=skip_bad, progress=task)
    summary = write_summary(p, reports)
    rows = []
    for r in reports:
        present = "" if r.class_pixels is None else f"{int((r.class_pixels[1:] > 0).sum())}/{p.num_classes - 1}"
        rows.append([r.name, r.source, r.images, len(r.skipped), present, r.note])
    console.print(table("prepare: datasets", ["set", "source", "images", "skipped", "classes seen", "note"], rows))
    skipped = sum(len(r.skipped) for r in reports)
    if skipped:
        console.print(f"[yellow]{skipped} bad sample(s) skipped (--skip-bad); reasons in {summary}[/]")
