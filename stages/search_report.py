"""`nasseg search-report`: Fig. 2 and the RL-vs-random-search comparison."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.progress import console, table
from nasseg.search.report import write_search_report


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; reads `search.out`."),
) -> None:
    """Fig. 2 (reward distributions per stage, RL vs random search, and reward over time) and
    the RL-vs-RS comparison: mean reward over the last quarter of each search, with a
    bootstrap 95% confidence interval of the difference. Writes <search.out>/fig2_rewards.png
    and <search.out>/comparison.json."""
    p = load_params(params)
    res = write_search_report(Path(p.search.out), ("ppo", "random"))
    rows = [[s, v["n"], f"{v['mean']:.4f}", f"{v['mean_last_quarter']:.4f}", f"{v['best']:.4f}"]
            for s, v in res.items() if isinstance(v, dict) and "n" in v and v["n"]]
    console.print(table("search: rewards", ["strategy", "architectures", "mean", "mean (last quarter)", "best"], rows))
    d = res.get("rl_minus_rs_last_quarter")
    if d:
        console.print(f"RL − RS, last quarter: {d['diff']:+.4f} (95% bootstrap CI {d['ci_low']:+.4f} … "
                      f"{d['ci_high']:+.4f})", highlight=False)
