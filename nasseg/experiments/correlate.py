"""Sect. 4.3, Fig. 5: do search rewards predict the mIoU of longer training?

Architectures drawn from the search stores, ``correlate.per_bucket`` from each reward bucket
(``< low``, ``low..high``, ``> high``; the paper: 0.4 / 0.6), seeded; a short bucket is
reported, not padded. Each is trained as in the ablation (aux-cell variant). Spearman rank
correlations (with p-values) between the stage-1 reward, the final search reward and the
mIoU. Writes ``correlate.tsv``, ``metrics.json`` and ``fig5_correlation.png``. A run that ran
out of memory (see runner) has no mIoU (``failed`` in the tsv; left out of the correlations) and
is listed under ``failed`` in metrics.json (present only then); the next invocation retries it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..config import Params
from ..errors import NassegError
from ..outputs import write_json, write_tsv
from ..runtime import Runtime
from ..search.store import TrialStore
from ..training.distributed import Dist
from .runner import failed, train_arch, train_side_by_side


def bucket_names(bounds: Sequence[float]) -> list[str]:
    lo, hi = bounds
    return [f"< {lo:g}", f"{lo:g}-{hi:g}", f"> {hi:g}"]


def bucket_of(reward: float, bounds: Sequence[float]) -> int:
    lo, hi = bounds
    return 0 if reward < lo else (2 if reward > hi else 1)


def pool(p: Params, strategies: Sequence[str]) -> list[dict]:
    """Finished, distinct architectures of the named search stores (first occurrence kept)."""
    seen, rows = set(), []
    for s in strategies:
        path = Path(p.search.out) / s / "trials.db"
        if not path.is_file():
            raise NassegError(f"{path}: missing. Run `nasseg search --strategy {s}` first, or drop '{s}' from "
                              "correlate.strategies.")
        store = TrialStore(path)
        try:
            for r in store.rows(s, ("done",)):
                if r["hash"] in seen or r["reward"] is None or not math.isfinite(r["reward"]):
                    continue
                seen.add(r["hash"])
                rows.append({k: r[k] for k in ("id", "hash", "genotype", "stage1_reward", "stage2_reward", "reward")}
                            | {"strategy": s})
        finally:
            store.close()
    return rows


def select(rows: list[dict], bounds: Sequence[float], per_bucket: int, seed: int) -> tuple[list[dict], list[str]]:
    """Up to ``per_bucket`` architectures per bucket, drawn at random (seeded); notes for short buckets."""
    rng = np.random.default_rng(seed)
    names = bucket_names(bounds)
    chosen, notes = [], []
    for b, name in enumerate(names):
        members = [r for r in rows if bucket_of(r["reward"], bounds) == b]
        k = min(per_bucket, len(members))
        if k < per_bucket:
            notes.append(f"bucket reward {name}: {len(members)} architecture(s) in the stores, fewer than "
                         f"per_bucket={per_bucket}")
        for i in sorted(rng.choice(len(members), size=k, replace=False).tolist()):
            chosen.append({**members[i], "bucket": name})
    return chosen, notes


def spearman(x: Sequence[float], y: Sequence[float]) -> dict:
    from scipy.stats import spearmanr

    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if len(pairs) < 3:
        return {"n": len(pairs), "rho": None, "p": None}
    res = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    rho, pv = float(res.statistic), float(res.pvalue)
    return {"n": len(pairs), "rho": None if math.isnan(rho) else rho, "p": None if math.isnan(pv) else pv}


def run_correlate(p: Params, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
                  runtime: Optional[Runtime] = None) -> dict:
    """Every chosen architecture trained on ``runtime``; under torchrun (``d``) each run is
    data-parallel over the ranks and only the main process logs and writes."""
    c, a = p.correlate, p.ablate
    main = d is None or d.main
    log = log if main else (lambda _s: None)
    out = Path(c.out)
    chosen, notes = select(pool(p, c.strategies), c.bounds, c.per_bucket, c.seed)
    for n in notes:
        log(f"note: {n}")
    if not chosen:
        raise NassegError("no finished architectures in the search stores to correlate; run the search first.")
    tick = task("correlate", len(chosen)) if task else None
    failures = []
    runs = [dict(genotype=r["genotype"], variant="cell", width=a.width, repeats=a.repeats, schedule=a.schedule,
                 run_dir=out / "runs" / r["hash"]) for r in chosen]
    done = train_side_by_side(p, runs, runtime=runtime, tick=tick, log=log)
    for i, (r, kw) in enumerate(zip(chosen, runs)):
        res = done.get(str(kw["run_dir"])) or train_arch(p, **kw, d=d, log=log, runtime=runtime)[0]
        if failed(res):  # recorded by the runner; retried on the next invocation
            r["mean_iou"], r["seconds"] = None, 0.0
            failures.append({"run": r["hash"], "failure": res["failure"], "error": res["error"]})
            log(f"{i + 1}/{len(chosen)} {r['hash']} (reward {r['reward']:.3f}, {r['bucket']}): failed "
                f"({res['failure']})")
        else:
            r["mean_iou"], r["seconds"] = res["mean_iou"], res["seconds"]
            log(f"{i + 1}/{len(chosen)} {r['hash']} (reward {r['reward']:.3f}, {r['bucket']}): mIoU "
                f"{r['mean_iou']:.4f}")
        if tick and not done:
            tick()
    col = lambda k: [r[k] for r in chosen]  # noqa: E731
    metrics = {
        "strategies": list(c.strategies), "bounds": list(c.bounds), "per_bucket": c.per_bucket,
        "archs": len(chosen), "per_bucket_trained": {b: sum(r["bucket"] == b for r in chosen)
                                                     for b in bucket_names(c.bounds)},
        "notes": notes,
        "spearman": {"stage1_vs_stage2_reward": spearman(col("stage1_reward"), col("stage2_reward")),
                     "final_reward_vs_miou": spearman(col("reward"), col("mean_iou")),
                     "stage1_reward_vs_miou": spearman(col("stage1_reward"), col("mean_iou"))},
        # within one bucket: does the reward still rank architectures of similar quality?
        "within_bucket_final_reward_vs_miou": {
            b: spearman([r["reward"] for r in chosen if r["bucket"] == b],
                        [r["mean_iou"] for r in chosen if r["bucket"] == b]) for b in bucket_names(c.bounds)},
        "seconds": round(sum(col("seconds")), 1),
    }
    if failures:  # only then, so the metrics of a stage where nothing failed keep their bytes
        metrics["failed"] = failures
    if main:
        write_correlate(chosen, metrics, out)
    return metrics


def write_correlate(rows: list[dict], metrics: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cols = ["strategy", "id", "hash", "bucket", "stage1_reward", "stage2_reward", "reward", "mean_iou", "genotype"]
    write_tsv(out / "correlate.tsv", [{k: f"{v:.4f}" if isinstance(v, float) else v for k, v in r.items()}
                                      | ({"mean_iou": "failed"} if r["mean_iou"] is None else {}) for r in rows],
              cols)
    write_json(metrics, out / "metrics.json")
    plot_fig5(rows, metrics, out / "fig5_correlation.png")


def _fmt(s: dict) -> str:
    if s["rho"] is None:
        return f"n={s['n']}: too few"
    return f"ρ={s['rho']:.2f}, p={s['p']:.2g}, n={s['n']}"


def plot_fig5(rows: list[dict], metrics: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=120)
    colours = dict(zip(bucket_names(metrics["bounds"]), ("tab:red", "tab:orange", "tab:green")))
    sp = metrics["spearman"]
    for ax, (xk, yk, key, title) in zip(axes, (
            ("stage1_reward", "stage2_reward", "stage1_vs_stage2_reward", "(a) rewards: stage 1 vs stage 2"),
            ("reward", "mean_iou", "final_reward_vs_miou", "(b) final reward vs mIoU after training"))):
        for b, colour in colours.items():
            pts = [(r[xk], r[yk]) for r in rows if r["bucket"] == b and r[xk] is not None and r[yk] is not None]
            if pts:
                ax.scatter(*zip(*pts), color=colour, label=f"reward {b}", s=25)
        ax.set_xlabel(xk.replace("_", " "))
        ax.set_ylabel(yk.replace("_", " ").replace("mean iou", "mean IoU"))
        ax.set_title(f"{title}\n{_fmt(sp[key])}", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
