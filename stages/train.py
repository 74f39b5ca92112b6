"""`nasseg train`: Table 1, full training of the best ablation architectures."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.experiments.final import run_train
from nasseg.progress import console, table

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed


def main(params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file"),
         device: Optional[str] = DEVICE, precision: Optional[str] = PRECISION) -> None:
    """Table 1: full training of the best ablation architectures (aux-cell variant).

    The `train.archs` best by aux-cell mIoU in <ablate.out>/ablation.tsv, at `train.width`
    and `train.repeats`, through `train.schedule` (the paper: COCO+SBD+VOC 30 -> SBD+VOC 50 ->
    VOC 100 epochs; lr halved after each phase; BN frozen and lr halved halfway through the
    last; aux weights 0.3/0.25/0.2/0.15). Writes <train.out>/found<k>/model.pt, card.md,
    card.json, history.tsv and <train.out>/cards.md (beside the paper's Table 1).

    Data-parallel: `torchrun --nproc_per_node N -m stages train` splits every batch over N
    processes (gloo on CPU, NCCL on GPUs) with the weights of a single process. The WACV
    system's training is `nasseg train-wacv` (`nasseg train --system wacv` runs it too).
    """
    p = load_params(params)
    main_process, cards = run_distributed(run_train, p, runtime_of(p, device, precision))
    if main_process:
        rows = [[c["name"], f"{c['mean_iou']:.4f}", f"{c['params']:,}", f"{c['madds'] / 1e9:.2f}",
                 c["output_stride"], f"{c['latency_ms']:.1f}"] for c in cards]
        console.print(table("train: fully trained architectures", ["name", "mIoU", "params", "MAdds (B)", "stride",
                                                                  "latency ms"], rows))
