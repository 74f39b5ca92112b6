"""`nasseg tricks`: Fig. 3, the search's training tricks one at a time."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import console, table
from nasseg.search.tricks import SETUPS, run_tricks

from .common import DEVICE, PRECISION, runtime_of
from .torchrun import run_distributed


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search` and `tricks`."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Fig. 3: `tricks.archs` random architectures, each trained (stage 1 then stage 2) five ways:
    baseline, Polyak only, aux cells only, distillation only, all three. Writes
    <tricks.out>/tricks.tsv, fig3_tricks.png and metrics.json (mean rewards per setup).
    Every run trains on --device in --precision. With `torchrun --nproc_per_node N -m stages
    tricks` the runs are dealt over the N processes (each on its own GPU); the main process
    writes."""
    p = load_params(params)
    t = p.tricks

    def run(p, d, task, _log, runtime):
        tick = task("tricks", len(range(d.rank, t.archs * len(SETUPS), d.world))) if task else None
        return run_tricks(p, str(params), p.search, t.archs, SETUPS, t.seed, Path(t.out), tick, runtime=runtime, d=d)

    main_process, rows = run_distributed(run, p, runtime_of(p, device, precision))
    if not main_process:
        return
    summary = {}
    for r in rows:
        for k in ("stage1_reward", "stage2_reward"):
            if r[k] is not None:
                summary.setdefault(r["setup"], {}).setdefault(k, []).append(r[k])
    body = [[s, f"{sum(v['stage1_reward']) / len(v['stage1_reward']):.4f}",
             f"{sum(v.get('stage2_reward', [0])) / max(1, len(v.get('stage2_reward', []))):.4f}"]
            for s, v in summary.items()]
    console.print(table("Fig. 3: mean rewards", ["setup", "stage 1", "stage 2"], body))
