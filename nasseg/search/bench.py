"""What the search's executors deliver (``nasseg bench-search``): trials per hour of the same
architectures with the local executor, 1 Ray worker and 2 Ray workers, and each worker's
memory with the feature cache shared through Ray's object store or loaded per worker.

Every configuration trains the same architectures (a random strategy with one seed) through
stage 1 and stage 2 (the termination rule set to always continue, so each does the same
work), on the CPU, into a scratch store. Trials per hour count from the first trial's start to
the last one's end (the search's own time); the wall time with start-up is kept beside it.
Memory is read from ``/proc/<pid>/status`` of each process that ran a trial, after each
trial: ``VmHWM`` (peak resident set, which counts the shared pages a process touched),
``RssAnon`` (its private memory) and ``RssShmem`` (shared memory, e.g. Ray's object store).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..config import RayParams, TerminationParams
from ..runtime import Runtime
from .executor import LocalExecutor, RayExecutor
from .inner import EarlyTermination
from .loop import Budget, run_search
from .run import make_trainer
from .store import TrialStore
from .strategy import RandomStrategy

STATUS_KEYS = {"VmHWM": "peak_rss_mb", "RssAnon": "private_mb", "RssShmem": "shared_mb", "RssFile": "file_mb"}


def memory_now() -> dict:
    """This process's memory from /proc/self/status, in MiB (empty where /proc is absent)."""
    out = {"pid": os.getpid()}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in STATUS_KEYS:
                out[STATUS_KEYS[key]] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


@dataclass
class ProbedTrainer:
    """A trainer whose every stage appends the process's memory to a JSON-lines file."""

    inner: object
    log_path: str

    def _note(self) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps(memory_now()) + "\n")

    def stage1(self, text: str, seed: int) -> dict:
        out = self.inner.stage1(text, seed)
        self._note()
        return out

    def stage2(self, text: str, s1: dict, seed: int) -> dict:
        out = self.inner.stage2(text, s1, seed)
        self._note()
        return out


def cpu_seconds() -> dict:
    """CPU seconds (user + system) used so far by every process on this machine, by pid, with
    its command line; empty where /proc is absent."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    out = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        out[int(d.name)] = ((int(fields[11]) + int(fields[12])) / tick, cmd)
    return out


def cpu_shares(before: dict, after: dict, trial_pids: set, span: float) -> dict:
    """Where the machine's cores went between two ``cpu_seconds`` snapshots, as shares of
    (cores x span): the trials' processes, this driver, Ray's own daemons, everything else."""
    me, cores = os.getpid(), os.cpu_count() or 1
    used = {"trials": 0.0, "driver": 0.0, "ray_daemons": 0.0, "other": 0.0}
    for pid, (sec, cmd) in after.items():
        sec -= before.get(pid, (0.0, ""))[0] if before.get(pid, (0.0, cmd))[1] == cmd else 0.0
        kind = ("trials" if pid in trial_pids else "driver" if pid == me
                else "ray_daemons" if "ray" in cmd.lower() else "other")
        used[kind] += max(0.0, sec)
    return {k: round(v / (cores * span), 3) for k, v in used.items()} if span > 0 else {}


def _executor(kind: str, shared: bool):
    if kind == "local":
        return LocalExecutor(), None
    cfg = RayParams(workers=int(kind.removeprefix("ray")), num_cpus=1, shared_cache=shared)
    return RayExecutor(cfg), cfg


def run_config(p, params_path: str, kind: str, archs: int, *, shared: bool = True, seed: int = 0,
               log: Callable[[str], None] = print) -> dict:
    """One configuration (``local``, ``ray1``, ``ray2``, ...): the ``archs`` architectures of a
    seeded random search, each through both stages; returns its figures."""
    scratch = Path(tempfile.mkdtemp(prefix="nasseg-bench-search-"))
    t0 = time.perf_counter()
    executor, ray_params = _executor(kind, shared)
    try:
        search = p.search.model_copy(update={"ray": ray_params} if ray_params else {})
        pp = p.model_copy(update={"search": search})
        runtime = Runtime.of(p, device="cpu")
        trainer = ProbedTrainer(make_trainer(pp, params_path, "cells", runtime, executor), str(scratch / "mem.jsonl"))
        store = TrialStore(scratch / "t.db")
        never_stop = EarlyTermination(TerminationParams(p0=1.0, decay=1.0, p_min=1.0), seed)
        cpu0 = cpu_seconds()
        run_search(RandomStrategy(seed=seed), trainer, store, scratch / "s.pt", budget=Budget(max_trials=archs),
                   batch_size=p.search.batch_size, termination=never_stop, executor=executor, seed=seed,
                   log=lambda s: None)
        rows = store.rows("random")
        store.close()
        idle = executor.idle_share() if hasattr(executor, "idle_share") else None
        cpu1 = cpu_seconds()
    finally:
        if ray_params is not None:
            executor.ray.shutdown()
    wall = time.perf_counter() - t0
    span = max(r["finished"] for r in rows) - min(r["started"] for r in rows)
    mem: dict = {}
    for line in (scratch / "mem.jsonl").read_text().splitlines():
        m = json.loads(line)
        worst = mem.setdefault(m["pid"], {})
        for k, v in m.items():
            if k != "pid":
                worst[k] = max(worst.get(k, 0.0), v)
    shutil.rmtree(scratch, ignore_errors=True)
    took = [r["finished"] - r["started"] for r in rows]
    # worker-seconds idle at the end, when no trial was left to start: each of the other slots
    # from its last trial's end to the run's end
    ends = sorted((r["finished"] for r in rows), reverse=True)
    slots = getattr(executor, "slots", 1)
    tail = sum(ends[0] - e for e in ends[1:slots])
    out = {"config": kind, "shared_cache": shared if ray_params else None, "trials": len(rows),
           "failed": sum(r["status"] == "failed" for r in rows), "span_s": round(span, 1), "wall_s": round(wall, 1),
           "trials_per_hour": round(3600 * len(rows) / span, 1), "idle_share": None if idle is None else round(idle, 3),
           "trial_s_mean": round(sum(took) / len(took), 1),
           "tail_share": round(tail / (slots * span), 3) if span > 0 else None,
           "cpu_share": cpu_shares(cpu0, cpu1, set(mem) - {os.getpid()} if ray_params else set(mem), span),
           "processes": list(mem.values()),
           "rewards": [r["reward"] for r in rows]}
    log(f"{kind}{'' if ray_params is None else (' shared' if shared else ' copied')}: {len(rows)} trials in "
        f"{span:.0f} s ({out['trials_per_hour']} trials/h), wall {wall:.0f} s")
    return out


def bigger_cache(p, params_path: str, factor: int, where: Path, log=print):
    """Params whose feature cache holds ``factor`` x ``precompute.n`` training samples, written
    under ``where`` (precomputed once; meta-val's cache does not depend on n and is linked), and
    a params file saying so (Ray workers rebuild their context from a file): (params, its path)."""
    import yaml

    from ..cache.precompute import precompute

    out = where / f"cache_x{factor}"
    pc = p.precompute.model_copy(update={"n": p.precompute.n * factor, "out": str(out)})
    pp = p.model_copy(update={"precompute": pc})
    if not (out / "train.h5").is_file():
        out.mkdir(parents=True, exist_ok=True)
        log(f"precomputing a cache of {pc.n} samples into {out}")
        precompute(pp, "train", runtime=Runtime.of(p, device="cpu"))
    val = out / "val.h5"
    if not val.exists():
        os.symlink(Path(p.precompute.out).resolve() / "val.h5", val)
    raw = yaml.safe_load(Path(params_path).read_text())
    raw["precompute"].update(n=pc.n, out=str(out))
    path = where / f"params_x{factor}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return pp, str(path)


def summarise(results: list[dict]) -> dict:
    """Ratios the issue's targets read: 2 Ray workers vs 1, and per-worker private memory with the
    cache shared vs copied (per cache size)."""
    # throughput runs have no cache_factor (None); memory runs have one
    by = {(r["config"], r.get("shared_cache"), r.get("cache_factor")): r for r in results}
    out: dict = {}
    one, two = by.get(("ray1", True, None)), by.get(("ray2", True, None))
    if one and two:
        out["ray2_over_ray1"] = round(two["trials_per_hour"] / one["trials_per_hour"], 2)
        # the ratio's two parts: 2 x (share of time both workers were busy) x (one trial's speed
        # with the machine to itself / with two trials at once)
        if one.get("trial_s_mean") and two.get("trial_s_mean") and two.get("idle_share") is not None:
            out["ray2_busy_share"] = round(1 - two["idle_share"], 3)
            out["ray2_trial_speed"] = round(one["trial_s_mean"] / two["trial_s_mean"], 3)
            if two.get("tail_share") is not None:  # of the idle time, the end's: no trial left to start
                out["ray2_tail_share"] = two["tail_share"]
    for (kind, shared, factor), r in by.items():
        if kind.startswith("ray") and shared is False and factor is not None and (kind, True, factor) in by:
            priv = lambda x: max(q.get("private_mb", 0) for q in x["processes"])  # noqa: E731
            out[f"private_shared_over_copied_x{factor}"] = round(priv(by[(kind, True, factor)]) / priv(r), 2)
    return out


def cache_mb(p) -> Optional[float]:
    path = Path(p.precompute.out) / "train.h5"
    return round(path.stat().st_size / 2**20, 1) if path.is_file() else None


__all__ = ["ProbedTrainer", "bigger_cache", "cache_mb", "cpu_seconds", "cpu_shares", "memory_now", "run_config",
           "summarise"]
