"""`nasseg correlate`: Fig. 5, search rewards against mIoU after longer training."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.experiments.correlate import run_correlate
from nasseg.progress import console, table

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed


def _rho_row(name: str, v: dict) -> list:
    return [name, v["n"], "-" if v["rho"] is None else f"{v['rho']:.3f}", "-" if v["p"] is None else f"{v['p']:.3g}"]


def main(params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file"),
         device: Optional[str] = DEVICE, precision: Optional[str] = PRECISION) -> None:
    """Fig. 5: Spearman correlation between search rewards and mIoU after longer training.

    Draws `correlate.per_bucket` architectures per reward bucket (`correlate.bounds`, the paper
    0.4/0.6) from the stores of `correlate.strategies`, trains each as in the ablation
    (aux cell), and writes <correlate.out>/correlate.tsv, metrics.json (rho and p-values) and
    fig5_correlation.png. A short bucket is reported, not padded. Data-parallel with `torchrun
    --nproc_per_node N -m stages correlate` (the main process writes).
    """
    p = load_params(params)
    main_process, m = run_distributed(run_correlate, p, runtime_of(p, device, precision))
    if not main_process:
        return
    rows = [_rho_row(k.replace("_", " "), v) for k, v in m["spearman"].items()]
    rows += [_rho_row(f"final reward vs mIoU, bucket {b}", v) for b, v in m["within_bucket_final_reward_vs_miou"].items()]
    console.print(table(f"correlate: {m['archs']} architectures", ["pair", "n", "Spearman rho", "p"], rows))
    for n in m["notes"]:
        console.print(f"[yellow]note:[/] {n}", highlight=False)
