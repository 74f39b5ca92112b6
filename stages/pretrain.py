"""`nasseg pretrain` and `nasseg teacher`: the two models the paper downloaded."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.progress import console, progress_bars, table
from nasseg.training.recipes import run_pretrain, run_teacher

_SHOW = ("source", "model", "sets", "epochs", "train_images", "seconds", "mean_iou", "fw_iou", "mean_acc", "file")


def _summary(title: str, meta: dict) -> None:
    rows = [[k, f"{meta[k]:.4f}" if isinstance(meta[k], float) and k != "seconds" else meta[k]]
            for k in _SHOW if k in meta]
    console.print(table(title, ["", "value"], rows))


def pretrain(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `data` and `pretrain`."),
) -> None:
    """Train the MobileNet-v2 encoder for segmentation, or import given weights.

    Trains MobileNet-v2 + Light-Weight RefineNet on `pretrain.sets` (COCO in the paper; the
    embedded COCO-format set by default) and scores it on `pretrain.val_set` at full size;
    or, when `pretrain.weights` names a file (torchvision's mobilenet_v2 state dict or a
    nasseg checkpoint), checks and imports it. Writes <out>/encoder.pt
    ({"encoder": state dict, "meta": {...}}), <out>/metrics.json and <out>/history.tsv.
    An interrupted run resumes from <out>/resume/last.pt.
    """
    p = load_params(params)
    with progress_bars() as task:
        meta = run_pretrain(p, task, log=lambda s: console.print(s, highlight=False))
    _summary("pretrain: MobileNet-v2 encoder", meta)


def teacher(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `data` and `teacher`."),
) -> None:
    """Train the distillation teacher (Light-Weight RefineNet on ResNet), or import it.

    The paper used Light-Weight RefineNet-152; `teacher.depth` picks the ResNet. Trains on
    `teacher.sets` and scores on `teacher.val_set` at full size; or imports
    `teacher.weights` (a state dict or {"model": ...} checkpoint of the same architecture)
    and scores it. Writes <out>/teacher.pt, <out>/metrics.json and <out>/history.tsv.
    """
    p = load_params(params)
    with progress_bars() as task:
        meta = run_teacher(p, task, log=lambda s: console.print(s, highlight=False))
    _summary(f"teacher: {meta['model']}", meta)
