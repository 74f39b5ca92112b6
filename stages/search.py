"""`nasseg search`: the architecture search (RL controller with PPO, or random search)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from nasseg.config import load_params
from nasseg.parallel import as_child, report, side_by_side, usable_procs
from nasseg.progress import console, progress_bars, table
from nasseg.search.run import run_strategy

from .common import DEVICE, PRECISION, log, runtime_of


def main(
    strategy: List[str] = typer.Option(["ppo"], "--strategy", "-s", help="ppo (the paper's), reinforce, or random (the "
                                       "paper's random-search baseline); repeat it to run several searches (side by side "
                                       "in runtime.procs processes on a CPU)"),
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search`, and "
                                "`precompute`/`pretrain` for the cache and encoder."),
    max_trials: Optional[int] = typer.Option(None, help="override search.max_trials"),
    executor: Optional[str] = typer.Option(None, help="override search.executor (local | ray)"),
    workers: Optional[int] = typer.Option(None, help="override search.ray.workers (local Ray instance)"),
    threads: Optional[int] = typer.Option(None, help="override search.threads (torch threads per trial)"),
    out: Optional[Path] = typer.Option(None, help="override search.out (e.g. a scratch folder for timing runs)"),
    system: str = typer.Option("cells", "--system", help="cells: the CVPR 2019 system (top-level sections); wacv: "
                               "the WACV 2020 template system (the `wacv` section's data, precompute and search)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run the failed trials again (same architecture, "
                                      "step and seed; finished trials kept, the budget not used again), e.g. after "
                                      "fixing what made them fail. Trials whose error was the inputs' or the "
                                      "machine's are run again without it."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Sample architectures, train each (stage 1 from the cache, stage 2 end to end when
    the termination rule lets it), and update the controller on their rewards.

    Writes <search.out>/<strategy>/: trials.db (SQLite, one row per architecture),
    state.pt (controller, optimiser, baseline, termination rule, RNG: the run resumes from
    it after any interruption), trials.tsv, topk.json and metrics.json. The budget is
    search.max_trials and/or search.max_seconds, whichever comes first.

    The search space is search.search_space: cells (CVPR 2019) or templates (WACV 2020); the
    same controller, PPO, store and inner training serve both. --system wacv reads the `wacv`
    section (templates on CamVid, cache wacv.precompute.out, results in wacv.search.out).

    Both stages and the reward run on --device in --precision (with Ray, each worker resolves
    the device again). The device never enters the search's identity; a precision other than
    fp32 does (a store is continued only in the precision that made it).
    """
    p = load_params(params).for_system(system)
    upd = {k: v for k, v in {"max_trials": max_trials, "executor": executor, "threads": threads, "out": out}.items()
           if v is not None}
    if workers is not None:
        upd["ray"] = p.search.ray.model_copy(update={"workers": workers})
    if upd:
        p = p.model_copy(update={"search": p.search.model_copy(update=upd)})
    runtime = runtime_of(p, device, precision)
    strategies = list(dict.fromkeys(strategy))
    procs = usable_procs(p.runtime.procs, runtime.device) if p.search.executor == "local" else 1
    total = p.search.max_trials or 0
    if len(strategies) > 1 and procs > 1:
        log(f"{len(strategies)} searches side by side in {min(procs, len(strategies))} processes (runtime.procs)")
    with progress_bars() as task:
        ticks = [task(f"search {s}", total) if total else None for s in strategies]
        results = side_by_side(_one_search, [(p, str(params), s, system, runtime, retry_failed)
                                             for s in strategies], procs if len(strategies) > 1 else 1,
                               labels=[f"search {s}" for s in strategies],
                               on_progress=lambda i, n: [ticks[i]() for _ in range(n)] if ticks[i] else None)
    for s, m in zip(strategies, results):
        rows = [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in m.items()]
        console.print(table(f"search: {s}", ["", "value"], rows))


def _one_search(job: int, p, params_path: str, strategy: str, system: str, runtime, retry_failed: bool) -> dict:
    """One strategy's search (a job of :func:`~nasseg.parallel.side_by_side`): progress goes back to
    the main process's bars; in a child process the log lines carry the strategy's name. A child
    reads its input in the process (no DataLoader workers: its cores are the other searches')."""
    runtime, say = as_child(runtime, strategy)
    return run_strategy(p, params_path, strategy, system=system, runtime=runtime,
                        on_trial=lambda _r: report(job), retry_failed=retry_failed, log=say or log)
