"""After the searches: the paper's Fig. 2 (reward distributions per stage, RL vs random
search), reward over time, and the RL-vs-RS comparison with a bootstrap confidence interval."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..outputs import write_json
from .store import TrialStore


def last_quarter(rewards: Sequence[float]) -> np.ndarray:
    r = np.asarray([x for x in rewards if x is not None], dtype=float)
    q = max(1, len(r) // 4)
    return r[-q:]


def bootstrap_diff(a: Sequence[float], b: Sequence[float], n: int = 10_000, seed: int = 0,
                   level: float = 0.95) -> dict:
    """Mean(a) - mean(b) with a percentile bootstrap interval (resampling each group)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    rng = np.random.default_rng(seed)
    da = rng.choice(a, (n, len(a))).mean(1)
    db = rng.choice(b, (n, len(b))).mean(1)
    d = da - db
    lo, hi = np.quantile(d, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"diff": float(a.mean() - b.mean()), "ci_low": float(lo), "ci_high": float(hi), "level": level,
            "resamples": n, "p_diff_le_0": float((d <= 0).mean())}


def load_rows(search_out: Path, strategies: Sequence[str]) -> dict:
    out = {}
    for s in strategies:
        db = Path(search_out) / s / "trials.db"
        if db.is_file():
            store = TrialStore(db)
            out[s] = [r for r in store.rows(s, ("done",))]
            store.close()
    return out


def compare(rows: dict, rl: str = "ppo", rs: str = "random") -> dict:
    res = {}
    for s, rs_rows in rows.items():
        r = [x["reward"] for x in rs_rows]
        res[s] = {"n": len(r), "mean": float(np.mean(r)) if r else None,
                  "mean_last_quarter": float(last_quarter(r).mean()) if r else None,
                  "best": float(np.max(r)) if r else None}
    if rl in rows and rs in rows and rows[rl] and rows[rs]:
        res["rl_minus_rs_last_quarter"] = bootstrap_diff(last_quarter([x["reward"] for x in rows[rl]]),
                                                         last_quarter([x["reward"] for x in rows[rs]]))
    return res


def plot_fig2(rows: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"ppo": "#d62728", "reinforce": "#ff7f0e", "random": "#1f77b4"}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (stage, key) in zip(axes[:2], (("stage 1", "stage1_reward"), ("stage 2", "stage2_reward"))):
        data, labels = [], []
        for s, rs in rows.items():
            vals = [r[key] for r in rs if r[key] is not None]
            if vals:
                data.append(vals)
                labels.append(f"{s} (n={len(vals)})")
        if data:
            parts = ax.violinplot(data, showmeans=True)
            for body, s in zip(parts["bodies"], [l.split(" ")[0] for l in labels]):
                body.set_facecolor(colours.get(s, "#888"))
            ax.set_xticks(range(1, len(labels) + 1), labels)
        ax.set_title(f"rewards after {stage}")
        ax.set_ylabel("reward")
    ax = axes[2]
    for s, rs in rows.items():
        r = np.array([x["reward"] for x in rs], float)
        if len(r):
            ax.plot(np.arange(1, len(r) + 1), r, ".", alpha=0.35, color=colours.get(s, "#888"))
            w = max(1, len(r) // 8)
            ax.plot(np.arange(w, len(r) + 1), np.convolve(r, np.ones(w) / w, "valid"), color=colours.get(s, "#888"),
                    label=f"{s} (running mean of {w})")
    ax.set_xlabel("architecture")
    ax.set_ylabel("reward")
    ax.set_title("reward over the search")
    ax.legend(fontsize=8)
    fig.suptitle("Fig. 2: reward distributions per stage, RL controller vs random search")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_search_report(search_out: Path, strategies: Sequence[str] = ("ppo", "random")) -> dict:
    rows = load_rows(search_out, strategies)
    res = compare(rows)
    out = Path(search_out)
    write_json(res, out / "comparison.json")
    plot_fig2(rows, out / "fig2_rewards.png")
    return res
