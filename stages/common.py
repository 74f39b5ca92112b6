"""What several stage commands share: a log line on the console, a recipe's summary table."""
from __future__ import annotations

from nasseg.progress import console, table

RECIPE_SHOWN = ("source", "model", "sets", "epochs", "train_images", "seconds", "mean_iou", "fw_iou", "mean_acc", "file")


def log(s: str) -> None:
    """One line of a stage's progress log (on stderr, beside the progress bars)."""
    console.print(s, highlight=False)


def show_recipe(title: str, meta: dict) -> None:
    """The summary of `nasseg pretrain` / `nasseg teacher`: what was trained (or imported) and its scores."""
    rows = [[k, f"{meta[k]:.4f}" if isinstance(meta[k], float) and k != "seconds" else meta[k]]
            for k in RECIPE_SHOWN if k in meta]
    console.print(table(title, ["", "value"], rows))
