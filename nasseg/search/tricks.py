"""The paper's Fig. 3: random architectures trained with and without each speed-up trick
(Polyak averaging, auxiliary cells, knowledge distillation), rewards per stage."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..config import Params, SearchParams
from ..outputs import write_json, write_tsv
from ..parallel import side_by_side, usable_procs
from ..runtime import Runtime
from .strategy import RandomStrategy
from .trainer import CacheTrainer

SETUPS = ("baseline", "polyak", "aux", "kd", "all")


def setup_config(base: SearchParams, setup: str) -> SearchParams:
    """baseline: none of the three; polyak / aux / kd: that one alone; all: the three."""
    on = {"baseline": set(), "polyak": {"polyak"}, "aux": {"aux"}, "kd": {"kd"},
          "all": {"polyak", "aux", "kd"}}[setup]
    stage1 = base.stage1.model_copy(update={"polyak": base.stage1.polyak if "polyak" in on else None,
                                            "kd_weight": base.stage1.kd_weight if "kd" in on else 0.0})
    stage2 = base.stage2.model_copy(update={"polyak": base.stage2.polyak if "polyak" in on else None})
    return base.model_copy(update={"aux": base.aux if "aux" in on else "none", "stage1": stage1, "stage2": stage2})


def run_tricks(p: Params, params_path: str, base: SearchParams, n_archs: int, setups: Sequence[str] = SETUPS,
               seed: int = 0, out: Optional[Path] = None, tick: Optional[Callable[[], None]] = None,
               runtime: Optional[Runtime] = None, d=None) -> list[dict]:
    """``base``: the search section whose inner training each setup varies (``p.search``);
    ``runtime``: where they train (None: params.yaml's ``runtime``). Under ``torchrun`` (``d`` a
    :class:`~nasseg.training.distributed.Dist` of several processes) the (architecture, setup)
    runs are dealt over the ranks, each on its own device; every rank gets all rows, and only
    the main process writes ``out``. ``tick`` after each of this process's runs."""
    runtime = runtime or Runtime.of(p)
    rank, world = (d.rank, d.world) if d is not None else (0, 1)
    props = RandomStrategy(seed=seed).propose(n_archs)
    runs = [(k, setup) for k in range(len(props)) for setup in setups]
    jobs = [(p, params_path, base, props[k].genotype.to_text(), k, setup, seed, runtime) for k, setup in runs]
    if world == 1:  # alone: the runs side by side in runtime.procs processes (a CPU), or in turn here
        procs = usable_procs(p.runtime.procs, runtime.device)
        rows = side_by_side(_one_run, jobs, procs, labels=[f"tricks {k} {setup}" for k, setup in runs],
                            on_done=(lambda _i, _r: tick()) if tick else None)
    else:
        mine = []
        for job in jobs[rank::world]:
            mine.append(_one_run(0, *job))
            if tick:
                tick()
        shares = d.gather(mine)
        # rank r ran runs r, r + world, ...: interleave the shares back into the runs' order
        rows = [shares[i % world][i // world] for i in range(len(runs))]
    if out is not None and rank == 0:
        write_tricks(rows, out)
    return rows


def _one_run(_job: int, p: Params, params_path: str, base: SearchParams, text: str, k: int, setup: str, seed: int,
             runtime: Runtime) -> dict:
    """Architecture ``k`` (``text``) through stage 1 and stage 2 with one setup; a failure is recorded
    in the row. In a child process of :func:`~nasseg.parallel.side_by_side` its input is read
    inline (the other cores are the other runs')."""
    from ..parallel import as_child

    runtime, _ = as_child(runtime, f"tricks {k} {setup}")
    trainer = CacheTrainer(params_path, setup_config(base, setup), p.data.num_classes, device=str(runtime.device),
                           precision=runtime.precision, workers=runtime.workers)
    row = {"arch": k, "setup": setup, "genotype": text, "stage1_reward": None, "stage2_reward": None, "failure": ""}
    try:
        s1 = trainer.stage1(text, seed + k)
        row["stage1_reward"] = s1["reward"]
        s2 = trainer.stage2(text, s1, seed + k)
        row["stage2_reward"] = s2["reward"]
    except Exception as err:  # noqa: BLE001 - recorded, the study goes on
        row["failure"] = f"{type(err).__name__}: {err}"
    return row


def write_tricks(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    write_tsv(out / "tricks.tsv", rows, list(rows[0]))
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
    write_json(summary, out / "metrics.json")
