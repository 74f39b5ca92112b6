"""Wiring of the `search` stage: params -> strategy, trainer, executor, store, outputs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from ..config import Params, identity_dump
from ..outputs import write_json, write_tsv
from ..runtime import Runtime
from ..spaces import get_space
from .executor import make_executor
from .inner import EarlyTermination
from .loop import Budget, run_search
from .store import SearchLock, TrialStore, environmental_failures
from .strategy import make_strategy
from .trainer import CacheTrainer


def search_dir(p: Params, strategy: str) -> Path:
    return Path(p.search.out) / strategy


def run_strategy(p: Params, params_path: str, strategy_name: str, *, system: str = "cells", trainer=None,
                 runtime: Optional[Runtime] = None, on_trial: Optional[Callable[[dict], None]] = None,
                 retry_failed: bool = False, log=print) -> dict:
    """``runtime``: where the trials train (None: params.yaml's ``runtime``); its device is
    handed to the trainer as text, resolved again in each worker process. One search writes an
    out folder at a time (a lock). ``retry_failed``: run every failed trial again; failed trials
    whose recorded error is the environment's (an old store's) are run again in any case."""
    runtime = runtime or Runtime.of(p)
    out = search_dir(p, strategy_name)
    out.mkdir(parents=True, exist_ok=True)
    with SearchLock(out):  # before Ray starts or the cache loads: a second search refuses at once
        return _locked(p, params_path, out, strategy_name, system, trainer, runtime, on_trial, retry_failed, log)


def _locked(p, params_path, out, strategy_name, system, trainer, runtime, on_trial, retry_failed, log) -> dict:
    s = p.search
    space = get_space(s.search_space)
    if s.cell_positions != "nasseg":  # the authors' 1/4/7 cell positions (cells only: the config checks)
        space = space.with_positions(s.cell_positions)
    space.check_aux(s.aux)
    strategy = make_strategy(strategy_name, s.seed, s.ppo, space=space)
    executor = make_executor(s.executor, s.ray)
    trainer = trainer or make_trainer(p, str(params_path), system, runtime, executor)
    _check_same_search(p, out, log, runtime.precision)
    store = TrialStore(out / "trials.db")
    try:
        rows = store.rows(strategy_name, ("failed",))
        again = [r["id"] for r in rows] if retry_failed else environmental_failures(rows)
        if again:
            store.retry(strategy_name, again)
            log(f"{len(again)} failed trial(s) will run again ("
                + ("--retry-failed" if retry_failed else "their errors were the inputs' or the machine's, not the "
                   "architectures'") + "); finished trials are kept")
        run_search(strategy, trainer, store, out / "state.pt", budget=Budget(s.max_trials, s.max_seconds),
                   batch_size=s.batch_size, executor=executor,
                   termination=EarlyTermination(s.termination, s.seed), hardware=s.hardware, seed=s.seed,
                   two_stage=s.stage2.enabled, on_trial=on_trial, log=log)
        rows = store.rows(strategy_name)
    finally:
        store.close()
        executor.close()
    return write_outputs(rows, out, strategy_name)


def make_trainer(p: Params, params_path: str, system: str, runtime: Runtime, executor) -> CacheTrainer:
    """The real trainer. In-process: on the runtime's device. On Ray: on the GPU share Ray gives
    each trial (``search.ray.num_gpus`` > 0) or its CPUs, ``num_cpus`` torch threads, stage-2
    input decoded inline (a trial's CPUs are its own), and the feature cache loaded once here and
    put into Ray's object store (``search.ray.shared_cache``): one copy per node, read zero-copy
    by every trial on it."""
    s = p.search
    if executor.name != "ray":
        return CacheTrainer(params_path, s, p.data.num_classes, system=system, device=str(runtime.device),
                            precision=runtime.precision, workers=runtime.workers)
    shared = None
    if s.ray.shared_cache:
        from ..cache import FeatureCache
        from ..cache.precompute import cache_fingerprint

        out = Path(p.precompute.out)
        shared = tuple(executor.ray.put(FeatureCache(out / f"{split}.h5", cache_fingerprint(p, split),
                                                     in_memory=True).export()) for split in ("train", "val"))
    return CacheTrainer(params_path, s, p.data.num_classes, system=system,
                        device="cuda" if s.ray.num_gpus > 0 else "cpu", precision=runtime.precision,
                        threads=s.threads or max(1, int(s.ray.num_cpus)), workers=max(0, int(s.ray.num_cpus) - 1),
                        shared=shared)


_LATER_KEYS = (("search", "search_space", "cells"), ("search", "exclude_background", True),
               ("precompute", "teacher", True))


def _check_same_search(p: Params, out: Path, log=print, precision: str = "fp32") -> None:
    """A store continues only the search that made it: every search param but the budget,
    executor and threads, the precompute params, the cache's inputs and the precision (when
    not fp32; the device never) must match (raising the budget continues a finished search). Otherwise the old store, state and tag move to
    <out>/archive/<time>/ (kept, never mixed with the new search) and a new search starts."""
    import hashlib
    import shutil
    import time

    from ..cache.precompute import cache_fingerprint
    from ..errors import NassegError

    keep = identity_dump(p.search)
    for k in ("max_trials", "max_seconds", "executor", "ray", "threads", "out"):
        keep.pop(k)
    keep["precompute"] = identity_dump(p.precompute)
    # keys added after searches were made: at their defaults they leave the identity as it was
    for section, key, default in _LATER_KEYS:
        d = keep if section == "search" else keep[section]
        if d.get(key) == default:
            d.pop(key)
    try:
        keep["cache_inputs"] = cache_fingerprint(p, "train")
    except NassegError:
        keep["cache_inputs"] = None
    if precision != "fp32":  # fp32 searches keep the identities they had before precision existed
        keep["precision"] = precision
    digest = hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()
    tag = out / "search.json"
    if (out / "trials.db").exists() and tag.exists():
        old = json.loads(tag.read_text())
        if old.get("sha1") != digest:
            changed = sorted(k for k in set(old["params"]) | set(keep) if old["params"].get(k) != keep.get(k))
            dest = out / "archive" / time.strftime("%Y%m%d-%H%M%S")
            dest.mkdir(parents=True, exist_ok=True)
            for f in out.iterdir():
                if f.name.startswith(("trials.db", "state.pt", "search.json")):
                    shutil.move(str(f), dest / f.name)
            log(f"{out}: the existing search was made with other inputs ({', '.join(changed)} differ); "
                f"it was moved to {dest} and a new search starts. Only search.max_trials / max_seconds may "
                "change to continue a search.")
    write_json({"sha1": digest, "params": keep}, tag)


def write_outputs(rows: list[dict], out: Path, strategy: str, top_k: int = 10) -> dict:
    cols = ["id", "step", "slot", "status", "stage1_reward", "stage2_reward", "reward", "objective", "ran_stage2",
            "params", "madds", "stage1_seconds", "stage2_seconds", "failure", "hash", "genotype"]
    write_tsv(out / "trials.tsv", rows, cols)
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    best = {}
    for r in sorted(done, key=lambda r: -r["reward"]):
        best.setdefault(r["hash"], r)
    top = list(best.values())[:top_k]
    keys = ("genotype", "hash", "reward", "stage1_reward", "stage2_reward", "params", "madds")
    write_json([{k: r[k] for k in keys} for r in top], out / "topk.json")
    rewards = [r["reward"] for r in done]
    q = len(rewards) // 4
    metrics = {
        "strategy": strategy, "sampled": len(rows), "done": len(done), "failed": len(failed),
        "reached_stage2": sum(1 for r in done if r["ran_stage2"]),
        "distinct": len(best),
        "best_reward": max(rewards) if rewards else None,
        "mean_reward": sum(rewards) / len(rewards) if rewards else None,
        "mean_reward_last_quarter": sum(rewards[-q:]) / q if q else None,
        "stage1_seconds_mean": _mean([r["stage1_seconds"] for r in done]),
        "stage2_seconds_mean": _mean([r["stage2_seconds"] for r in done if r["ran_stage2"]]),
        "failures": {k: sum(1 for r in failed if r["failure"] == k) for k in {r["failure"] for r in failed}},
    }
    write_json(metrics, out / "metrics.json")
    return metrics


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None
