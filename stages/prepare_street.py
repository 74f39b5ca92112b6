"""`nasseg prepare-street`: CamVid and Cityscapes on disk and their list files, for the WACV system."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.data.prepare_street import prepare_street
from nasseg.progress import console, progress_bars, table


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file; this stage reads its `wacv.data` section."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad",
        help="Drop samples whose files are missing, unreadable, of the wrong size or with out-of-range labels, "
        "and report how many; without it the first bad sample stops the stage with its file named."),
) -> None:
    """Render the embedded street sets (unless params point at real ones) and write the lists.

    Reads: params.yaml `wacv.data` (sizes of the embedded sets, or `wacv.data.sources.{camvid,cityscapes}`).
    Writes: <wacv.data.root>/embedded/CamVid (SegNet layout and lists) and cityscapes (leftImg8bit/,
    gtFine/ labelIds); <wacv.data.root>/lists: camvid_{train,val,test}, cityscapes_{train,val},
    meta_train / meta_val (= CamVid train / val, the search's split) and summary.json.
    """
    w = load_params(params).wacv.data
    with progress_bars() as task:
        reports = prepare_street(w, skip_bad=skip_bad, progress=task)
    rows = []
    for r in reports:
        seen = "" if r.class_pixels is None else f"{int((r.class_pixels > 0).sum())}/{len(r.class_pixels)}"
        source = "real" if getattr(w.sources, r.source, None) else "embedded"
        rows.append([r.name, source, r.images, len(r.skipped), seen])
    console.print(table("prepare: street sets (WACV system)", ["set", "source", "images", "skipped", "classes seen"],
                        rows))
    skipped = sum(len(r.skipped) for r in reports)
    if skipped:
        console.print(f"[yellow]{skipped} bad sample(s) skipped (--skip-bad); "
                      f"reasons in {Path(w.root) / 'lists' / 'summary.json'}[/]")
