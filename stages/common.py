"""What several stage commands share: a log line on the console, a recipe's summary table, the
--device / --precision options."""
from __future__ import annotations

from typing import Optional

import typer

from nasseg.progress import console, table
from nasseg.runtime import Runtime

RECIPE_SHOWN = ("source", "model", "sets", "epochs", "train_images", "seconds", "mean_iou", "fw_iou", "mean_acc", "file")


def log(s: str) -> None:
    """One line of a stage's progress log (on stderr, beside the progress bars)."""
    console.print(s, highlight=False)


def show_recipe(title: str, meta: dict) -> None:
    """The summary of `nasseg pretrain` / `nasseg teacher`: what was trained (or imported) and its scores."""
    rows = [[k, f"{meta[k]:.4f}" if isinstance(meta[k], float) and k != "seconds" else meta[k]]
            for k in RECIPE_SHOWN if k in meta]
    console.print(table(title, ["", "value"], rows))


# The options every computing command takes (params.yaml `runtime` gives the defaults).
DEVICE = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N (default: params.yaml runtime.device)")
PRECISION = typer.Option(None, "--precision", help="fp32 | fp16 (CUDA) | bf16 (default: params.yaml "
                         "runtime.precision)")


def runtime_of(p, device: Optional[str], precision: Optional[str]) -> Runtime:
    """The stage's Runtime: params.yaml's `runtime` with the command's overrides, logged once."""
    r = Runtime.of(p, device=device, precision=precision)
    log(f"runtime: {r.describe()}")
    return r
