"""`nasseg transfer`: the found architectures on pose estimation and depth prediction (Tables 2, 3)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import console, table
from nasseg.transfer.run import run_transfer

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed

_PARAMS = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; this stage reads `transfer`.")


def main(
    params: Path = _PARAMS,
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="only these tasks (mpii, coco, nyu); "
                                             "default: transfer.tasks. The tables also keep every other finished run of params."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="only these models (found<k>, a zoo "
                                              "name or a genotype); default: transfer.models."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Tables 2 and 3: train each of `transfer.models` on each of `transfer.tasks` with one protocol.

    Pose (mpii, coco): Simple Baselines (Xiao et al., 2018) - person crops from ground-truth
    boxes, random scale/rotation/flip, Gaussian heatmaps at the model's output stride, MSE,
    Adam with the lr x0.1 steps; scored with the flip test: PCKh@0.5/0.1 (MPII) and OKS AP/AR
    through COCOeval (COCO). Depth (nyu): one output channel, berHu or log-L1 loss on valid
    pixels; RMSE (lin, log), abs rel, sqr rel, delta < 1.25^k with zero depth masked.

    found<k> is the genotype of the train stage's models/train/found<k>/model.pt; the encoder
    starts from the pretrain stage's weights. Writes <transfer.out>/runs/<task>/<model>/result.json,
    table2.md, table3.md, metrics.json and models/transfer/<task>/<model>/model.pt. Finished
    runs are reused; an interrupted run resumes from its last epoch (<transfer.resume>).
    Data-parallel with `torchrun --nproc_per_node N -m stages transfer`.
    """
    p = load_params(params)
    if task or model:
        # named tasks / models outside params join the lists (and the tables); the tables also
        # keep every other finished run of params
        t = p.transfer
        over = {"tasks": t.tasks + [x for x in (task or []) if x not in t.tasks],
                "models": t.models + [x for x in (model or []) if x not in t.models]}
        p = p.model_copy(update={"transfer": type(t).model_validate({**t.model_dump(), **over})})
    main_process, results = run_distributed(
        lambda p, d, bars, log, runtime: run_transfer(p, d=d, progress=bars, log=log, only_tasks=task or None,
                                                      only_models=model or None, runtime=runtime),
        p, runtime_of(p, device, precision))
    if not main_process:
        return
    rows = []
    for t, per in results.items():
        for m, r in per.items():
            f = r["final"]
            score = (f"PCKh@0.5 {f['pckh@0.5']:.1f}, @0.1 {f['pckh@0.1']:.1f}" if t == "mpii" else
                     f"AP {f['coco_ap']:.3f}, AR {f['coco_ar']:.3f}" if t == "coco" else
                     f"RMSE {f['rmse']:.3f}, absrel {f['abs_rel']:.3f}, d1 {f['delta1']:.3f}")
            rows.append([t, m, score, f"{r['params']:,}", r["stride"], f"{r['seconds']:.0f}"])
    console.print(table("transfer", ["task", "model", "scores", "params", "stride", "train s"], rows))
