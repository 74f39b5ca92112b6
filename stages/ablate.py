"""`nasseg ablate`: Fig. 4, the best architectures without aux, with an aux classifier, with an aux cell."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.experiments.ablate import LABELS, run_ablate
from nasseg.progress import console, table

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed


def main(params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file"),
         device: Optional[str] = DEVICE, precision: Optional[str] = PRECISION) -> None:
    """Fig. 4: the best RL architectures trained without aux, with an aux classifier, with an aux cell.

    Reads <search.out>/<ablate.strategy>/topk.json; trains the first `ablate.archs` with
    `ablate.schedule` (the paper: 20 epochs SBD+VOC then 30 VOC, no Polyak, no distillation)
    once per `ablate.variants`. Writes <ablate.out>/ablation.tsv, table.md, metrics.json (wins per
    variant) and fig4_ablation.png. Finished runs are kept in <ablate.out>/runs/ and an
    interrupted run resumes from its last epoch. Data-parallel with `torchrun --nproc_per_node N
    -m stages ablate` (every run split over the processes; the main process writes).
    """
    p = load_params(params)
    main_process, m = run_distributed(run_ablate, p, runtime_of(p, device, precision))
    if not main_process:
        return
    rows = [[LABELS[v], f"{m['mean_iou_mean'][v]:.4f}", m["wins"][v]] for v in m["variants"]]
    console.print(table(f"ablate: {m['archs']} architectures of the {m['strategy']} search", ["aux", "mean mIoU", "wins"],
                        rows))
