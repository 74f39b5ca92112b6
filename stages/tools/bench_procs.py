"""`nasseg bench-procs`: what runtime.procs buys here, the same jobs in turn and side by side."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.outputs import write_json
from nasseg.progress import console, table


def main(
    procs: int = typer.Option(2, help="processes side by side (runtime.procs)"),
    jobs: int = typer.Option(4, help="training jobs per kind (seeded random cell architectures)"),
    steps: int = typer.Option(25, help="timed optimiser steps per job (after one warm-up step)"),
    kinds: str = typer.Option("decoder,model", help="decoder (stage 1: searches, tricks) and/or model (stage 2, "
                              "ablate, correlate)"),
    out: Path = typer.Option(Path("results/bench_procs.json"), help="the figures, as JSON"),
) -> None:
    """The same training jobs, first one after the other in this process on all cores, then side
    by side in --procs processes of cores/procs threads each (nasseg.parallel, as the stages run
    them with runtime.procs), timed in one run: wall seconds each way (process start included),
    the speed-up, how much slower each step is on fewer threads, and the speed-up once the
    processes are started (procs / step slowdown: what a stage's minutes-long jobs get). Synthetic inputs at batch 16
    and 96²: no data or earlier stage needed. Run it on an otherwise idle machine."""
    from nasseg.bench_procs import bench_procs, check, summary_rows

    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    check(procs, jobs, steps, wanted)
    r = bench_procs(procs, jobs, steps, kinds=wanted, log=lambda s: console.print(s, highlight=False))
    write_json(r, out)
    console.print(table(f"bench-procs: {jobs} jobs x {steps} steps, {r['threads_alone']} threads in turn vs {procs} "
                        f"processes x {r['threads_side_by_side']} thread(s)",
                        ["job", "in turn (s)", "side by side (s)", "speed-up", "step slowdown", "speed-up, started"], summary_rows(r)))
    console.print(f"wrote {out}")
