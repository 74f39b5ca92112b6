"""The torchrun-aware run of the data-parallel stages (train, train-wacv, transfer)."""
from __future__ import annotations

from typing import Callable

from nasseg.progress import progress_bars
from nasseg.training.distributed import init_from_env, shutdown

from .common import log


def run_distributed(run: Callable, p):
    """Run ``run(p, dist, task, log)`` in this process's share of a torchrun group (or alone: a
    group of one); returns (is the main process, its result). Only the main process draws
    progress bars (``task`` is None elsewhere)."""
    d = init_from_env()
    try:
        with progress_bars() as task:
            return d.main, run(p, d, task if d.main else None, log)
    finally:
        shutdown(d)
