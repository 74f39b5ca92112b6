"""Sect. 4.2, Fig. 4: do auxiliary cells help when the architectures train for longer?

The ``ablate.archs`` best distinct architectures of a search (its ``topk.json``), each
trained with the ablation schedule (paper: 20 epochs SBD+VOC, then 30 VOC; no Polyak, no
distillation) three ways: no auxiliary supervision, a plain auxiliary classifier, an
auxiliary cell. Writes ``ablation.tsv``, ``table.md``, ``metrics.json`` (wins per variant)
and ``fig4_ablation.png``. A run that ran out of memory (see runner) is left out of the wins
and means, shows as ``failed`` in the tsv and table, and is listed under ``failed`` in
metrics.json (a key present only when a run failed); the next invocation retries it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..config import Params
from ..errors import NassegError
from ..markdown import markdown_table
from ..outputs import write_json, write_tsv
from ..runtime import Runtime
from ..training.distributed import Dist
from .runner import failed, train_arch, train_side_by_side

LABELS = {"none": "none", "clf": "aux classifier", "cell": "aux cell"}


def top_architectures(p: Params, strategy: str, n: int) -> tuple[list[dict], str]:
    path = Path(p.search.out) / strategy / "topk.json"
    if not path.is_file():
        raise NassegError(f"{path}: missing. Run `nasseg search --strategy {strategy}` (or `dvc repro search@{strategy}`) "
                          "first.")
    top = json.loads(path.read_text())
    note = "" if len(top) >= n else f"the search found {len(top)} distinct architectures, fewer than ablate.archs={n}"
    return top[:n], note


def wins(rows: list[dict], variants: list[str]) -> dict:
    """Per variant, the architectures where it scored the highest mIoU (ties count for each);
    a failed run (None) is left out."""
    out = {v: 0 for v in variants}
    for r in rows:
        scores = [r[v] for v in variants if r[v] is not None]
        if not scores:
            continue
        best = max(scores)
        for v in variants:
            out[v] += int(r[v] is not None and r[v] == best)
    return out


def paired_bootstrap(a: list, b: list, n: int = 10_000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean of ``a - b`` over the same architectures, with a percentile bootstrap interval that
    resamples architectures (each pair kept together); wins / losses count the architectures."""
    d = np.asarray(a, float) - np.asarray(b, float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), (n, len(d)))].mean(1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"n": int(len(d)), "mean_diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi),
            "level": level, "resamples": n, "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}


def paired(rows: list[dict], variants: list[str]) -> dict:
    """Each aux variant against no aux head on the architectures where both runs finished:
    ``{"<v>_minus_none": paired_bootstrap(...)}`` (needs ``none`` and two such architectures)."""
    out = {}
    for v in variants:
        both = [r for r in rows if v != "none" and "none" in variants and r[v] is not None and r["none"] is not None]
        if len(both) >= 2:
            out[f"{v}_minus_none"] = paired_bootstrap([r[v] for r in both], [r["none"] for r in both])
    return out


def _mean(values: list) -> Optional[float]:
    kept = [x for x in values if x is not None]
    return float(np.mean(kept)) if kept else None


def run_ablate(p: Params, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
               runtime: Optional[Runtime] = None) -> dict:
    """Every (architecture, variant) run on ``runtime``; under torchrun (``d``) each run is
    data-parallel over the ranks and only the main process logs and writes."""
    a = p.ablate
    main = d is None or d.main
    out = Path(a.out)
    log = log if main else (lambda _s: None)
    top, note = top_architectures(p, a.strategy, a.archs)
    if note:
        log(f"note: {note}")
    tick = task("ablate", len(top) * len(a.variants)) if task else None
    runs = {(i, v): dict(genotype=arch["genotype"], variant=v, width=a.width, repeats=a.repeats, schedule=a.schedule,
                         run_dir=out / "runs" / f"{arch['hash']}_{v}") for i, arch in enumerate(top) for v in a.variants}
    done = train_side_by_side(p, list(runs.values()), runtime=runtime, tick=tick, log=log)
    rows, failures = [], []
    for i, arch in enumerate(top):
        row = {"rank": i + 1, "hash": arch["hash"], "reward": arch["reward"], "genotype": arch["genotype"]}
        for v in a.variants:
            kw = runs[i, v]
            res = done.get(str(kw["run_dir"])) or train_arch(p, **kw, d=d, log=log, runtime=runtime)[0]
            if failed(res):  # recorded by the runner; retried on the next invocation
                row[v], row[f"{v}_seconds"] = None, 0.0
                failures.append({"run": f"{arch['hash']}_{v}", "failure": res["failure"], "error": res["error"]})
                log(f"arch {i + 1}/{len(top)} {arch['hash']} {v}: failed ({res['failure']})")
            else:
                row[v] = res["mean_iou"]
                row[f"{v}_seconds"] = res["seconds"]
                log(f"arch {i + 1}/{len(top)} {arch['hash']} {v}: mIoU {res['mean_iou']:.4f} ({res['seconds']:.0f} s)")
            if tick and not done:
                tick()
        rows.append(row)
    w = wins(rows, a.variants)
    metrics = {"strategy": a.strategy, "archs": len(rows), "variants": a.variants, "wins": w,
               "paired": paired(rows, a.variants),
               "mean_iou_mean": {v: _mean([r[v] for r in rows]) for v in a.variants},
               "schedule": [f"{ph.sets} x {ph.epochs}" + (f" ({ph.images_per_epoch} img/epoch)"
                                                          if ph.images_per_epoch else "") for ph in a.schedule.phases],
               "seconds": round(sum(r[f"{v}_seconds"] for r in rows for v in a.variants), 1), "note": note}
    if failures:  # only then, so the metrics of a stage where nothing failed keep their bytes
        metrics["failed"] = failures
    if main:
        write_ablation(rows, a.variants, metrics, out)
    return metrics


def write_ablation(rows: list[dict], variants: list[str], metrics: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cols = ["rank", "hash", "reward", *variants, "best", "genotype"]
    def best_of(r: dict) -> Optional[str]:  # a failed run (None) never is
        done = [v for v in variants if r[v] is not None]
        return max(done, key=lambda v: r[v]) if done else None

    write_tsv(out / "ablation.tsv", [{"rank": r["rank"], "hash": r["hash"], "reward": f"{r['reward']:.4f}",
                                      **{v: "failed" if r[v] is None else f"{r[v]:.4f}" for v in variants},
                                      "best": best_of(r), "genotype": r["genotype"]}
                                     for r in rows], cols)
    body = []
    for r in rows:
        best = r[best_of(r)] if best_of(r) else None
        body.append([f"{r['rank']} `{r['hash']}`", f"{r['reward']:.3f}",
                     *["failed" if r[v] is None else f"**{r[v]:.3f}**" if r[v] == best else f"{r[v]:.3f}"
                       for v in variants]])
    mean = metrics["mean_iou_mean"]
    body.append(["mean", "", *["–" if mean[v] is None else f"{mean[v]:.3f}" for v in variants]])
    body.append(["wins", "", *[metrics["wins"][v] for v in variants]])
    text = markdown_table(["arch", "search reward", *[f"mIoU {LABELS[v]}" for v in variants]], body)
    for key, pb in metrics.get("paired", {}).items():  # each aux variant against none, same architectures
        text += (f"\n{LABELS[key.split('_minus_')[0]]} minus {LABELS['none']}: mean {pb['mean_diff']:+.4f}, "
                 f"{100 * pb['level']:.0f}% paired bootstrap interval [{pb['ci_low']:+.4f}, {pb['ci_high']:+.4f}] "
                 f"over {pb['n']} architectures ({pb['wins']} better, {pb['losses']} worse)\n")
    if metrics.get("failed"):  # only then, so a table where nothing failed keeps its bytes
        text += ("\n" if text.endswith("\n") else "\n\n") + \
            "Failed runs (left out of means and wins; retried by the next `nasseg ablate`): " + \
            ", ".join(f"`{f['run']}` ({f['failure']})" for f in metrics["failed"]) + "\n"
    (out / "table.md").write_text(text)
    write_json(metrics, out / "metrics.json")
    plot_fig4(rows, variants, out / "fig4_ablation.png")


def plot_fig4(rows: list[dict], variants: list[str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    marks = {"none": ("x", "tab:gray"), "clf": ("^", "tab:orange"), "cell": ("o", "tab:blue")}
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 2), 3.2), dpi=120)
    x = np.arange(1, len(rows) + 1)
    for v in variants:
        m, c = marks[v]
        pts = [(k, r[v]) for k, r in zip(x, rows) if r[v] is not None]
        if pts:
            ax.scatter(*zip(*pts), marker=m, color=c, label=LABELS[v], s=40, zorder=3)
    ax.set_xticks(x)
    ax.set_xlabel("architecture (rank in the search)")
    ax.set_ylabel("mean IoU")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Fig. 4: intermediate supervision (none / classifier / cell)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
