"""The torchrun-aware run of the data-parallel stages (ablate, correlate, train, train-wacv, transfer)."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from nasseg.progress import progress_bars
from nasseg.runtime import Runtime
from nasseg.training.distributed import init_from_env, shutdown

from .common import log


def run_distributed(run: Callable, p, runtime: Runtime):
    """Run ``run(p, dist, task, log, runtime=...)`` in this process's share of a torchrun group
    (or alone: a group of one) on ``runtime`` (under torchrun a CUDA runtime means this rank's
    GPU); returns (is the main process, its result). Only the main process draws progress bars
    (``task`` is None elsewhere)."""
    d = init_from_env(runtime.device)
    try:
        with progress_bars() as task:
            return d.main, run(p, d, task if d.main else None, log, runtime=replace(runtime, device=d.device))
    finally:
        shutdown(d)
