"""Where trials run: ``local`` (in-process, the default) or ``ray`` (each trial a Ray task).

An executor maps a picklable task function over argument tuples and returns, per item,
either the task's result or the exception it raised (a trial's failure is data for the
trial store, not a crash of the search). Ray retries a task whose worker died.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..config import RayParams
from ..errors import GenotypeError, NassegError


@dataclass
class Failure:
    kind: str  # oom | nan | error | worker: the architecture's; environment: the inputs' or the machine's
    message: str
    traceback: str


def is_environmental(err: BaseException) -> bool:
    """An error of the inputs or the machine, not of the architecture: a user-facing input error
    (an unreadable, corrupt or foreign cache, missing data, a bad weights file), a file-system
    error (permissions, disk full, a missing folder), a missing dependency. A malformed genotype
    is the architecture's."""
    if isinstance(err, GenotypeError):
        return False
    return isinstance(err, (NassegError, OSError, ImportError))


def classify(err: BaseException) -> Failure:
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    summary = "\n".join(text.strip().splitlines()[-8:])
    msg = f"{type(err).__name__}: {err}"
    if isinstance(err, FloatingPointError):
        kind = "nan"
    elif isinstance(err, MemoryError) or "out of memory" in str(err).lower():
        kind = "oom"
    elif is_environmental(err):
        kind = "environment"
        msg = str(err) if isinstance(err, NassegError) else msg  # its message names the thing and the fix
    else:
        kind = "error"
    return Failure(kind, msg, summary)


def _guarded(fn: Callable, args: tuple):
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - every failure becomes a record
        return classify(err)


class LocalExecutor:
    """Trials in this process, one at a time, in the order they were submitted."""

    name = "local"
    slots = 1

    def __init__(self):
        self._queue: list = []

    def submit(self, key, fn: Callable, args: tuple) -> None:
        self._queue.append((key, fn, args))

    def pending(self) -> int:
        return len(self._queue)

    def wait(self):
        """Run the oldest submitted task; returns (its key, its result or Failure)."""
        key, fn, args = self._queue.pop(0)
        return key, _guarded(fn, args)

    def map(self, fn: Callable, items: Sequence[tuple]) -> list[Any]:
        return [_guarded(fn, args) for args in items]

    def close(self) -> None:
        pass


class RayExecutor:
    """Trials as Ray tasks (``pip install 'nasseg[ray]'``): ``num_cpus``/``num_gpus`` per trial
    (a fraction of a GPU shares it: 0.5 = two trials per GPU), ``max_retries`` when a worker
    dies; the controller, the store and the state stay in the driver. ``slots``: how many
    trials run at once (``workers``), each started as soon as one ends (:meth:`wait` returns
    whichever finishes first). Busy time per task is kept, so the idle share of the workers
    can be measured (:meth:`idle_share`)."""

    name = "ray"

    def __init__(self, cfg: RayParams = RayParams()):
        try:
            import ray
        except ImportError:
            from ..errors import NassegError

            raise NassegError("search.executor is 'ray' but Ray is not installed: pip install 'nasseg[ray]' "
                              "(or set search.executor: local).") from None
        self.ray = ray
        if not ray.is_initialized():
            # no address: a fresh local instance ("local"), never a cluster some other run started here
            kw = {"address": cfg.address} if cfg.address else {"address": "local", "include_dashboard": False,
                                                                "num_cpus": cfg.workers * cfg.num_cpus}
            ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
        if cfg.num_gpus > 0 and ray.cluster_resources().get("GPU", 0) < cfg.num_gpus:
            from ..errors import ConfigError

            raise ConfigError(f"search.ray.num_gpus is {cfg.num_gpus:g} (GPUs per trial) but the Ray cluster has "
                              f"{ray.cluster_resources().get('GPU', 0):g} GPU(s); set search.ray.num_gpus: 0 to "
                              "train the trials on CPUs, or start Ray on machines with GPUs.")
        self.slots = cfg.workers
        self.remote = ray.remote(num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, max_retries=cfg.max_retries)(_guarded)
        self._refs: dict = {}  # ref -> (key, submitted at)
        self.busy = 0.0
        self.t0 = time.perf_counter()

    def submit(self, key, fn: Callable, args: tuple) -> None:
        self._refs[self.remote.remote(fn, args)] = (key, time.perf_counter())

    def pending(self) -> int:
        return len(self._refs)

    def wait(self):
        """The first task to finish: (its key, its result or Failure)."""
        [ref], _ = self.ray.wait(list(self._refs), num_returns=1)
        key, t = self._refs.pop(ref)
        self.busy += time.perf_counter() - t
        try:
            return key, self.ray.get(ref)
        except Exception as err:  # the worker died beyond its retries
            f = classify(err)
            return key, Failure("worker", f.message, f.traceback)

    def idle_share(self) -> float:
        """1 - (time tasks were running) / (slots x time since start)."""
        wall = (time.perf_counter() - self.t0) * self.slots
        return max(0.0, 1.0 - self.busy / wall) if wall > 0 else 0.0

    def close(self) -> None:
        pass


def make_executor(name: str, ray: RayParams = RayParams()):
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(ray)
    raise ValueError(f"unknown executor {name!r}; choose local or ray")
