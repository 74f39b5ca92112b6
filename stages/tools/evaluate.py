"""`nasseg evaluate`: score any checkpoint on any split at full size, per-class IoU in a table."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.outputs import write_json
from nasseg.progress import console, progress_bars, table

from ..common import DEVICE, PRECISION, runtime_of
from . import options

_PARAMS = typer.Option(Path("params.yaml"), "--params", "-p", help="params file (reads `data`)")


def main(
    checkpoint: Path = typer.Argument(..., help="model.pt of `nasseg train`, or teacher.pt of `nasseg teacher`"),
    split: str = typer.Option("voc_val", "--set", "-s", help="a set written by prepare (voc_val, meta_val, ... "
                              "join with '+')"),
    flip: bool = typer.Option(False, "--flip", help="average with the flipped image"),
    scales: Optional[str] = typer.Option(None, "--scales", help="multi-scale testing, e.g. 0.75,1,1.25"),
    params: Path = _PARAMS,
    json_out: Optional[Path] = typer.Option(None, "--json", help="also write the scores to this JSON file"),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Score a checkpoint on a split at full image size, with per-class IoU in a table."""
    import math

    from nasseg.data.catalog import open_set
    from nasseg.data.labels import VOC_CLASSES
    from nasseg.data.transforms import SegmentationTransform
    from nasseg.errors import NassegError
    from nasseg.models.checkpoint import load_checkpoint
    from nasseg.training.evaluate import evaluate as run_eval

    p = load_params(params)
    sc = options.scales(scales)
    model, info = load_checkpoint(checkpoint)
    n = info["arch"]["num_classes"]
    if n != p.data.num_classes:
        raise NassegError(f"{checkpoint}: predicts {n} classes, data.num_classes is {p.data.num_classes}.")
    ds = open_set(split, p.data, SegmentationTransform.eval())
    rt = runtime_of(p, device, precision)
    with progress_bars() as task:
        scores, _ = run_eval(rt.prepare(model), ds, n, runtime=rt, flip=flip, scales=sc,
                             progress=task("evaluate", len(ds)))
    names = VOC_CLASSES if n == len(VOC_CLASSES) else [f"class {i}" for i in range(n)]
    iou = scores.iou.tolist()
    rows = [[i, names[i], "absent" if math.isnan(v) else f"{v:.4f}"] for i, v in enumerate(iou)]
    console.print(f"{checkpoint} on {split}: {len(ds)} images at full size, flip={flip}, scales={list(sc)}",
                  highlight=False)
    console.print(table("per-class IoU", ["id", "class", "IoU"], rows))
    summary = {k: float(v) for k, v in scores.as_dict().items() if k != "reward"}
    console.print(table("summary", ["", "value"], [[k, f"{v:.4f}"] for k, v in summary.items()]))
    if json_out:
        write_json({"checkpoint": str(checkpoint), "set": split, "images": len(ds), "flip": flip, "scales": list(sc),
                    **summary, "iou": {names[i]: (None if math.isnan(v) else v) for i, v in enumerate(iou)}}, json_out)
