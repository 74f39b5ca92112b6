"""`nasseg search`: the architecture search (RL controller with PPO, or random search)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import console, progress_bars, table
from nasseg.search.run import run_strategy


def main(
    strategy: str = typer.Option("ppo", "--strategy", "-s", help="ppo (the paper's), reinforce, or random (the "
                                 "paper's random-search baseline)"),
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search`, and "
                                "`precompute`/`pretrain` for the cache and encoder."),
    max_trials: Optional[int] = typer.Option(None, help="override search.max_trials"),
    executor: Optional[str] = typer.Option(None, help="override search.executor (local | ray)"),
    workers: Optional[int] = typer.Option(None, help="override search.ray.workers (local Ray instance)"),
    threads: Optional[int] = typer.Option(None, help="override search.threads (torch threads per trial)"),
    out: Optional[Path] = typer.Option(None, help="override search.out (e.g. a scratch folder for timing runs)"),
    system: str = typer.Option("cells", "--system", help="cells: the CVPR 2019 system (top-level sections); wacv: "
                               "the WACV 2020 template system (the `wacv` section's data, precompute and search)."),
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
    """
    p = load_params(params).for_system(system)
    upd = {k: v for k, v in {"max_trials": max_trials, "executor": executor, "threads": threads, "out": out}.items()
           if v is not None}
    if workers is not None:
        upd["ray"] = p.search.ray.model_copy(update={"workers": workers})
    if upd:
        p = p.model_copy(update={"search": p.search.model_copy(update=upd)})
    total = p.search.max_trials or 0
    with progress_bars() as task:
        tick = task(f"search {strategy}", total) if total else None
        m = run_strategy(p, str(params), strategy, system=system, on_trial=(lambda _r: tick()) if tick else None,
                         log=lambda s: console.print(s, highlight=False))
    rows = [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in m.items()]
    console.print(table(f"search: {strategy}", ["", "value"], rows))


def report(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search.out`."),
) -> None:
    """Fig. 2 (reward distributions per stage, RL vs random search, and reward over time) and
    the RL-vs-RS comparison: mean reward over the last quarter of each search, with a
    bootstrap 95% confidence interval of the difference. Writes <search.out>/fig2_rewards.png
    and <search.out>/comparison.json."""
    from nasseg.search.report import write_search_report

    p = load_params(params)
    res = write_search_report(Path(p.search.out), ("ppo", "random"))
    rows = [[s, v["n"], f"{v['mean']:.4f}", f"{v['mean_last_quarter']:.4f}", f"{v['best']:.4f}"]
            for s, v in res.items() if isinstance(v, dict) and "n" in v and v["n"]]
    console.print(table("search: rewards", ["strategy", "architectures", "mean", "mean (last quarter)", "best"], rows))
    d = res.get("rl_minus_rs_last_quarter")
    if d:
        console.print(f"RL − RS, last quarter: {d['diff']:+.4f} (95% bootstrap CI {d['ci_low']:+.4f} … "
                      f"{d['ci_high']:+.4f})", highlight=False)


def tricks(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search` and `tricks`."),
) -> None:
    """Fig. 3: `tricks.archs` random architectures, each trained (stage 1 then stage 2) five ways:
    baseline, Polyak only, aux cells only, distillation only, all three. Writes
    <tricks.out>/tricks.tsv, fig3_tricks.png and metrics.json (mean rewards per setup)."""
    from nasseg.search.run import inner_config
    from nasseg.search.tricks import SETUPS, run_tricks

    p = load_params(params)
    t = p.tricks
    with progress_bars() as task:
        tick = task("tricks", t.archs * len(SETUPS))
        rows = run_tricks(p, str(params), inner_config(p), t.archs, SETUPS, t.seed, Path(t.out), tick)
    summary = {}
    for r in rows:
        for k in ("stage1_reward", "stage2_reward"):
            if r[k] is not None:
                summary.setdefault(r["setup"], {}).setdefault(k, []).append(r[k])
    body = [[s, f"{sum(v['stage1_reward']) / len(v['stage1_reward']):.4f}",
             f"{sum(v.get('stage2_reward', [0])) / max(1, len(v.get('stage2_reward', []))):.4f}"]
            for s, v in summary.items()]
    console.print(table("Fig. 3: mean rewards", ["setup", "stage 1", "stage 2"], body))
