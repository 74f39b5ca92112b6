"""``nasseg bench-proxy``: how small can the search's proxy be and still rank architectures?

A handful of random cell architectures (seeded) go through the search's proxy, stage 1 from the
feature cache and stage 2 end to end, as a trial does but with no early termination, under
several seeds and several *settings* (overrides of the ``search`` and ``precompute`` sections,
e.g. fewer stage-1 epochs, smaller crops, no stage 2). A setting that changes the cache gets its
own cache, precomputed once under the scratch folder. Each architecture is also trained once
with the ablation's schedule (``ablate.schedule``, aux cell): the reference mIoU the proxy
should predict.

Per setting it reports:

* ``trial_s``: mean seconds of one trial (stage 1 + stage 2, measured inside the trainer);
* ``seed_rho``: Spearman between two seeds' rewards over the architectures (mean over pairs):
  does the proxy rank the same way twice?
* ``noise``: mean within-architecture standard deviation over seeds, divided by the standard
  deviation of the architectures' mean rewards (below 1: architectures differ more than seeds);
* ``rho_one``: Spearman(one seed's reward, reference mIoU), mean over seeds (what one trial of a
  search sees), and ``rho_mean`` the same with the rewards averaged over seeds.

Every trial's result is appended to ``<scratch>/trials.jsonl`` at once, and a rerun skips what
is there: an interrupted study resumes.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import yaml

from ..config import Params, apply_overrides, parse_params
from ..config.params import read_params_yaml
from ..errors import ConfigError

# name -> dotted overrides: the study's default grid, from the params file's proxy ("now") down
# to a fifth of its cost
SETTINGS: dict[str, dict] = {
    "now": {},
    "s1-1ep": {"search.stage1.epochs": 1},
    "crop96": {"precompute.augment.crop": 96},
    "crop96-s1-1ep-s2-80": {"precompute.augment.crop": 96, "search.stage1.epochs": 1,
                            "search.stage2.max_images": 80},
}
# the presets the study runs when none is named (a setting's stage-1-only row comes free: its trials
# record the stage-1 reward, which is what the same setting without stage 2 would give)
DEFAULT_SETTINGS = ("now", "crop96", "crop96-s1-1ep-s2-80")


def parse_setting(text: str) -> tuple[str, dict]:
    """``name:key=value,key=value`` (values read as YAML) or a preset's name."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not rest:
        if name not in SETTINGS:
            raise ConfigError(f"--setting {text!r}: no preset of that name ({', '.join(SETTINGS)}); "
                              "or write name:key=value,key=value (e.g. s1-2:search.stage1.epochs=2)")
        return name, dict(SETTINGS[name])
    over = {}
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--setting {text!r}: {item!r} is not key=value")
        over[key.strip()] = yaml.safe_load(value)
    return name, over


def nested(dotted: dict) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict = {}
    for key, value in dotted.items():
        parts = key.split(".")
        at = out
        for part in parts[:-1]:
            at = at.setdefault(part, {})
        at[parts[-1]] = value
    return out


def setting_params(raw: dict, name: str, over: dict, scratch: Path, log: Callable[[str], None] = print) -> tuple[Params, str]:
    """The setting's params, with its own cache when it changes one (precomputed once under
    ``scratch/<name>``; a cache split it leaves alone is linked), and the params file that says so
    (each trainer rebuilds its context from a file)."""
    from ..cache.precompute import cache_fingerprint, precompute
    from ..runtime import Runtime

    base = parse_params(raw)
    unknown = [k for k in over if k.split(".")[0] not in ("search", "precompute")]
    if unknown:
        raise ConfigError(f"setting {name!r}: only search.* and precompute.* keys vary the proxy, not {unknown}")
    changed = apply_overrides(raw, nested(over))
    where = scratch / name
    where.mkdir(parents=True, exist_ok=True)
    if any(k.startswith("precompute.") for k in over):
        changed["precompute"]["out"] = str(where / "cache")
    try:
        p = parse_params(changed)
    except Exception as err:  # pydantic names the key
        raise ConfigError(f"setting {name!r}: {err}") from None
    out = Path(p.precompute.out)
    if out != Path(base.precompute.out):
        out.mkdir(parents=True, exist_ok=True)
        for split in ("train", "val"):
            target = out / f"{split}.h5"
            if cache_fingerprint(p, split) == cache_fingerprint(base, split):
                if not target.exists():
                    os.symlink(Path(base.precompute.out).resolve() / f"{split}.h5", target)
            elif not target.is_file():
                log(f"{name}: precomputing its {split} cache into {out}")
                precompute(p, split, runtime=Runtime.of(p, device="cpu"))
    path = where / "params.yaml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    return p, str(path)


def _key(*parts) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class Journal:
    """``trials.jsonl``: one JSON object per finished trial or reference run, keyed."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, dict] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row

    def get(self, key: str) -> Optional[dict]:
        return self.rows.get(key)

    def add(self, row: dict) -> None:
        self.rows[row["key"]] = row
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def proxy_trial(p: Params, params_path: str, genotype: str, seed: int) -> dict:
    """One trial of the proxy (stage 1, then stage 2 when enabled): reward and seconds."""
    from .trainer import CacheTrainer

    trainer = CacheTrainer(params_path, p.search, p.data.num_classes, device="cpu", precision="fp32")
    s1 = trainer.stage1(genotype, seed)
    row = {"stage1_reward": s1["reward"], "stage1_s": s1["seconds"], "stage2_reward": None, "stage2_s": 0.0,
           "madds": s1["madds"]}
    if p.search.stage2.enabled:
        s2 = trainer.stage2(genotype, s1, seed)
        row.update(stage2_reward=s2["reward"], stage2_s=s2["seconds"])
    row["reward"] = row["stage2_reward"] if row["stage2_reward"] is not None else row["stage1_reward"]
    row["trial_s"] = row["stage1_s"] + row["stage2_s"]
    return row


def reference_run(p: Params, genotype: str, run_dir: Path) -> dict:
    """The architecture trained with the ablation's schedule and aux cell: its val mIoU."""
    from ..experiments.runner import train_arch

    a = p.ablate
    t0 = time.perf_counter()
    res, _ = train_arch(p, genotype, variant="cell", width=a.width, repeats=a.repeats, schedule=a.schedule,
                        run_dir=run_dir, log=lambda s: None)
    return {"miou": res.get("mean_iou"), "seconds": round(time.perf_counter() - t0, 1)}


def _spearman(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(spearmanr(x, y).statistic)


def summarise(rewards: np.ndarray, ref: np.ndarray, seconds: np.ndarray) -> dict:
    """``rewards``: archs x seeds; ``ref``: the reference mIoU per arch; ``seconds``: trial seconds."""
    n_seeds = rewards.shape[1]
    pairs = [_spearman(rewards[:, i], rewards[:, j]) for i in range(n_seeds) for j in range(i + 1, n_seeds)]
    pairs = [r for r in pairs if r is not None]
    spread = float(np.std(rewards.mean(1)))
    within = float(np.mean(rewards.std(1, ddof=1))) if n_seeds > 1 else None
    ones = [r for r in (_spearman(rewards[:, i], ref) for i in range(n_seeds)) if r is not None]
    return {"trial_s": round(float(seconds.mean()), 2), "mean_reward": round(float(rewards.mean()), 4),
            "seed_rho": round(float(np.mean(pairs)), 3) if pairs else None,
            "noise": round(within / spread, 3) if within is not None and spread > 0 else None,
            "rho_one": round(float(np.mean(ones)), 3) if ones else None,
            "rho_mean": _round(_spearman(rewards.mean(1), ref))}


def _round(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(x, 3)


def run_study(params_path: str, settings: Sequence[tuple[str, dict]], archs: int, seeds: Sequence[int],
              scratch: Path, arch_seed: int = 0, log: Callable[[str], None] = print) -> dict:
    """The whole study (resumable through ``scratch/trials.jsonl``); returns the JSON it reports."""
    from ..spaces import get_space
    from .strategy import RandomStrategy

    if archs < 3 or len(seeds) < 2:
        raise ConfigError("the study needs at least 3 architectures and 2 seeds (rank correlations, seed spread)")
    raw = read_params_yaml(params_path)
    base = parse_params(raw)
    scratch.mkdir(parents=True, exist_ok=True)
    journal = Journal(scratch / "trials.jsonl")
    props = RandomStrategy(get_space("cells"), seed=arch_seed).propose(archs)
    genotypes = [q.genotype.to_text() for q in props]
    refs = []
    for k, g in enumerate(genotypes):
        key = _key("ref", g, base.ablate.schedule.model_dump(mode="json"), base.ablate.width, base.ablate.repeats)
        row = journal.get(key)
        if row is None:
            log(f"reference {k + 1}/{archs}: the ablation's schedule, aux cell")
            row = {"key": key, "kind": "reference", "arch": k, "genotype": g,
                   **reference_run(base, g, scratch / "reference" / f"arch{k}")}
            journal.add(row)
        refs.append(row["miou"])
    out = {"params": params_path, "archs": archs, "seeds": list(seeds), "arch_seed": arch_seed,
           "genotypes": genotypes, "reference_miou": refs, "settings": []}
    for name, over in settings:
        p, path = setting_params(raw, name, over, scratch, log)
        rewards, secs = np.zeros((archs, len(seeds))), np.zeros((archs, len(seeds)))
        for k, g in enumerate(genotypes):
            for j, seed in enumerate(seeds):
                key = _trial_key(over, g, seed, base)
                row = journal.get(key)
                if row is None:
                    log(f"{name}: architecture {k + 1}/{archs}, seed {seed}")
                    row = {"key": key, "kind": "trial", "setting": name, "arch": k, "seed": seed,
                           **proxy_trial(p, path, g, seed)}
                    journal.add(row)
                rewards[k, j], secs[k, j] = row["reward"], row["trial_s"]
        _forget_context(path)
        out["settings"].append({"name": name, "overrides": over, **summarise(rewards, np.array(refs), secs),
                                "rewards": rewards.round(4).tolist()})
        if p.search.stage2.enabled:  # the same trials' stage-1 rewards: this setting without stage 2
            r1, s1 = _stage1_of(journal, over, genotypes, seeds, base)
            out["settings"].append({"name": f"{name} (stage 1 only)", "overrides": {**over,
                                    "search.stage2.enabled": False}, **summarise(r1, np.array(refs), s1),
                                    "rewards": r1.round(4).tolist()})
    return out


def _trial_key(over: dict, genotype: str, seed: int, base: Params) -> str:
    return _key("trial", over, genotype, seed, base.search.model_dump(mode="json"),
                base.precompute.model_dump(mode="json"))


def _stage1_of(journal: Journal, over: dict, genotypes: list, seeds: Sequence[int], base: Params):
    """(stage-1 rewards, stage-1 seconds), archs x seeds, of a setting's journalled trials."""
    rows = [[journal.get(_trial_key(over, g, seed, base)) for seed in seeds] for g in genotypes]
    return (np.array([[r["stage1_reward"] for r in rs] for rs in rows]),
            np.array([[r.get("stage1_s", r["trial_s"]) for r in rs] for rs in rows]))


def _forget_context(params_path: str) -> None:
    """Drop the trainer's per-process context of a finished setting (its cache and input workers)."""
    from . import trainer

    for key in [k for k in trainer._CONTEXTS if k[0] == params_path]:
        trainer._CONTEXTS.pop(key)


__all__ = ["SETTINGS", "Journal", "parse_setting", "proxy_trial", "run_study", "setting_params", "summarise"]
