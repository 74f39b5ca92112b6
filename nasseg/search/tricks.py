"""The paper's Fig. 3: random architectures trained with and without each speed-up trick
(Polyak averaging, auxiliary cells, knowledge distillation), rewards per stage."""
from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..config import Params
from .executor import Failure
from .inner import InnerConfig
from .strategy import RandomStrategy
from .trainer import CacheTrainer

SETUPS = ("baseline", "polyak", "aux", "kd", "all")


def setup_config(base: InnerConfig, setup: str) -> InnerConfig:
    """baseline: none of the three; polyak / aux / kd: that one alone; all: the three."""
    on = {"baseline": set(), "polyak": {"polyak"}, "aux": {"aux"}, "kd": {"kd"},
          "all": {"polyak", "aux", "kd"}}[setup]
    cfg = copy.deepcopy(base)
    cfg.aux = base.aux if "aux" in on else "none"
    cfg.stage1 = replace(cfg.stage1, polyak=base.stage1.polyak if "polyak" in on else None,
                         kd_weight=base.stage1.kd_weight if "kd" in on else 0.0)
    cfg.stage2 = replace(cfg.stage2, polyak=base.stage2.polyak if "polyak" in on else None)
    return cfg


def run_tricks(p: Params, params_path: str, base: InnerConfig, n_archs: int, setups: Sequence[str] = SETUPS,
               seed: int = 0, out: Optional[Path] = None, tick: Optional[Callable[[], None]] = None) -> list[dict]:
    props = RandomStrategy(seed=seed).propose(n_archs)
    rows = []
    for k, prop in enumerate(props):
        for setup in setups:
            trainer = CacheTrainer(params_path, setup_config(base, setup), p.data.num_classes, threads=p.search.threads)
            text = prop.genotype.to_text()
            row = {"arch": k, "setup": setup, "genotype": text, "stage1_reward": None, "stage2_reward": None,
                   "failure": ""}
            try:
                s1 = trainer.stage1(text, seed + k)
                row["stage1_reward"] = s1["reward"]
                s2 = trainer.stage2(text, s1, seed + k)
                row["stage2_reward"] = s2["reward"]
            except Exception as err:  # noqa: BLE001 - recorded, the study goes on
                row["failure"] = f"{type(err).__name__}: {err}"
            rows.append(row)
            if tick:
                tick()
    if out is not None:
        write_tricks(rows, out)
    return rows


def write_tricks(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "tricks.tsv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    summary = {}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, key in zip(axes, ("stage1_reward", "stage2_reward")):
        data = [[r[key] for r in rows if r["setup"] == s and r[key] is not None] for s in setups]
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(setups) + 1), setups)
        ax.set_title(f"rewards after {'stage 1' if key.startswith('stage1') else 'stage 2'}")
        for s, d in zip(setups, data):
            summary.setdefault(s, {})[f"{key}_mean"] = float(np.mean(d)) if d else None
    axes[0].set_ylabel("reward")
    fig.suptitle(f"Fig. 3: {len({r['arch'] for r in rows})} random architectures with and without Polyak "
                 "averaging, auxiliary cells (aux) and distillation (kd)")
    fig.tight_layout()
    fig.savefig(out / "fig3_tricks.png", dpi=110)
    plt.close(fig)
    (out / "metrics.json").write_text(json.dumps(summary, indent=1))
