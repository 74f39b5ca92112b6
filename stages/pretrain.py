"""`nasseg pretrain`: the MobileNet-v2 encoder the paper downloaded, trained for segmentation or imported."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import progress_bars
from nasseg.training.recipes import run_pretrain

from .common import DEVICE, PRECISION, log, runtime_of, show_recipe


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `data` and `pretrain`."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
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
    rt = runtime_of(p, device, precision)
    with progress_bars() as task:
        meta = run_pretrain(p, task, log=log, runtime=rt)
    show_recipe("pretrain: MobileNet-v2 encoder", meta)
