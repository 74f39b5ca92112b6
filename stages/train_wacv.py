"""`nasseg train-wacv`: the WACV 2020 template architectures trained on CamVid and Cityscapes."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.experiments.wacv import run_wacv_train
from nasseg.progress import console, table

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed


def main(params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file"),
         device: Optional[str] = DEVICE, precision: Optional[str] = PRECISION) -> None:
    """WACV 2020: the search's best template architectures and the published ones, trained on
    every dataset of wacv.train.datasets (CamVid, Cityscapes).

    Writes <wacv.train.out>/<dataset>/<name>/model.pt, card.json, history.tsv and
    <wacv.train.report>/table.md (beside the paper's numbers), metrics.json. Data-parallel
    with `torchrun --nproc_per_node N -m stages train-wacv`.
    """
    p = load_params(params)
    main_process, cards = run_distributed(run_wacv_train, p, runtime_of(p, device, precision))
    if main_process:
        rows = [[c["dataset"], c["name"], f"{c['mean_iou']:.4f}", f"{c['params']:,}", f"{c['madds'] / 1e9:.2f}",
                 f"{c['latency_ms']:.1f}"] for c in cards]
        console.print(table("train-wacv: template architectures", ["dataset", "name", "mIoU", "params",
                                                                   "MAdds (B)", "latency ms"], rows))
