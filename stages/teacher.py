"""`nasseg teacher`: the distillation teacher the paper downloaded, trained or imported."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import progress_bars
from nasseg.training.recipes import run_teacher

from .common import DEVICE, PRECISION, log, runtime_of, show_recipe


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `data` and `teacher`."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Train the distillation teacher (Light-Weight RefineNet on ResNet), or import it.

    The paper used Light-Weight RefineNet-152; `teacher.depth` picks the ResNet. Trains on
    `teacher.sets` and scores on `teacher.val_set` at full size; or imports
    `teacher.weights` (a state dict or {"model": ...} checkpoint of the same architecture)
    and scores it. Writes <out>/teacher.pt, <out>/metrics.json and <out>/history.tsv.
    """
    p = load_params(params)
    rt = runtime_of(p, device, precision)
    with progress_bars() as task:
        meta = run_teacher(p, task, log=log, runtime=rt)
    show_recipe(f"teacher: {meta['model']}", meta)
