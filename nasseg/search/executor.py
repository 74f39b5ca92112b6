"""Where trials run: ``local`` (in-process, the default) or ``ray`` (each trial a Ray task).

An executor maps a picklable task function over argument tuples and returns, per item,
either the task's result or the exception it raised (a trial's failure is data for the
trial store, not a crash of the search). Ray retries a task whose worker died.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..config import RayParams


@dataclass
class Failure:
    kind: str  # oom | nan | error | worker
    message: str
    traceback: str


def classify(err: BaseException) -> Failure:
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    summary = "\n".join(text.strip().splitlines()[-8:])
    msg = f"{type(err).__name__}: {err}"
    if isinstance(err, FloatingPointError):
        kind = "nan"
    elif isinstance(err, MemoryError) or "out of memory" in str(err).lower():
        kind = "oom"
    else:
        kind = "error"
    return Failure(kind, msg, summary)


def _guarded(fn: Callable, args: tuple):
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - every failure becomes a record
        return classify(err)


class LocalExecutor:
    name = "local"

    def map(self, fn: Callable, items: Sequence[tuple]) -> list[Any]:
        return [_guarded(fn, args) for args in items]

    def close(self) -> None:
        pass


class RayExecutor:
    """Trials as Ray tasks (``pip install 'nasseg[ray]'``): ``num_cpus``/``num_gpus`` per trial,
    ``max_retries`` when a worker dies; the controller stays in the driver."""

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
            kw = {"address": cfg.address} if cfg.address else {"num_cpus": cfg.workers, "include_dashboard": False}
            ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
        self.remote = ray.remote(num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, max_retries=cfg.max_retries)(_guarded)

    def map(self, fn: Callable, items: Sequence[tuple]) -> list[Any]:
        refs = [self.remote.remote(fn, args) for args in items]
        out = []
        for ref in refs:
            try:
                out.append(self.ray.get(ref))
            except Exception as err:  # the worker died beyond its retries
                f = classify(err)
                out.append(Failure("worker", f.message, f.traceback))
        return out

    def close(self) -> None:
        pass


def make_executor(name: str, ray: RayParams = RayParams()):
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(ray)
    raise ValueError(f"unknown executor {name!r}; choose local or ray")
