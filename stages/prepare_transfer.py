"""`nasseg prepare-transfer`: the pose (COCO keypoints, MPII) and depth (NYUv2) sets of the transfer stage."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.progress import console, progress_bars, table
from nasseg.transfer.prepare import prepare_transfer


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file; this stage reads its `transfer` section."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad",
        help="Drop persons on missing images and report how many; without it the first missing file stops the stage."),
) -> None:
    """Render the embedded pose and depth sets (unless params point at real ones) and open each once.

    Reads: params.yaml `transfer.data` (sizes of the embedded sets, or `transfer.data.{coco_keypoints,
    mpii,nyu}` paths to real datasets) and each pose task's input size (`transfer.{coco,mpii}.input`).
    Writes: <transfer.data.root>/coco (person_keypoints JSON), mpii (HRNet JSON + gt_valid.mat),
    nyu (labelled .mat, splits.mat, raw RGB/depth pairs), each unless params name the real one.
    """
    p = load_params(params).transfer
    with progress_bars() as task:
        sets = prepare_transfer(p, skip_bad=skip_bad, progress=task)
    rows = [[name, source, images, "-" if people is None else people] for name, source, images, people in sets]
    console.print(table("prepare: transfer sets", ["set", "source", "images", "people"], rows))
