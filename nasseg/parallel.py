"""Independent jobs side by side in a few local processes (``runtime.procs``).

On a CPU, small convolutions use two cores poorly from one process, so two processes of one
thread each get more done than one of two threads (``nasseg bench-procs`` measures it; the
README has the figures). The stages whose work is a list of independent runs (the two search
strategies; the runs of tricks, ablate, correlate, train, transfer, train-wacv) hand them to
:func:`side_by_side`. Each job keeps its own seed rule and writes its own files, so a
job's result does not depend on which process ran it, nor on what ran before it there; the only
difference from one process is the torch thread count (float noise in a convolution's
reductions). Under ``torchrun`` and on CUDA the stages run their jobs as before (one process per
GPU is torchrun's job): :func:`usable_procs` returns 1 there.

Processes are spawned (no forked torch state); each sets ``torch.set_num_threads(cores // procs)``
before its first job. A job that raises does not stop the others: their work is kept, and the
first error is raised in the main process once all have ended, naming its job.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Optional, Sequence

from .errors import NassegError

_REPORT = None  # the child's progress queue (set by the pool's initialiser)
_CHILD = False


def usable_procs(procs: int, device) -> int:
    """``procs`` for a CPU run outside torchrun; 1 on CUDA or under torchrun (``WORLD_SIZE`` > 1)."""
    if procs <= 1 or getattr(device, "type", str(device)) != "cpu" or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return 1
    return procs


def threads_per_proc(procs: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, procs))


def _init(threads: int, report_queue) -> None:
    global _REPORT, _CHILD
    import torch

    torch.set_num_threads(threads)
    _REPORT, _CHILD = report_queue, True


def in_child() -> bool:
    """True inside a process :func:`side_by_side` spawned."""
    return _CHILD


def as_child(runtime, tag: str):
    """(runtime, log) for a job: in a spawned process, no DataLoader workers (the other cores are
    the other jobs') and log lines on stderr prefixed with ``[tag]``; here, None for the log (the
    caller keeps its own)."""
    if not _CHILD:
        return runtime, None
    import sys
    from dataclasses import replace

    return replace(runtime, workers=0), lambda s: print(f"[{tag}] {s}", file=sys.stderr, flush=True)


def report(job: int, n: int = 1) -> None:
    """From inside a job: ``n`` more units of job ``job`` done (the main process's progress)."""
    if _REPORT is not None:
        _REPORT.put((job, n))


def _run(fn: Callable, job: int, args: tuple):
    try:
        return fn(job, *args)
    finally:  # the job's last word on the queue: its reports are all in before this (one feeder, FIFO)
        if _REPORT is not None:
            _REPORT.put((job, None))


def side_by_side(fn: Callable, jobs: Sequence[tuple], procs: int, *, labels: Optional[Sequence[str]] = None,
                 on_progress: Optional[Callable[[int, int], None]] = None,
                 on_done: Optional[Callable[[int, Any], None]] = None) -> list:
    """``fn(i, *jobs[i])`` for every job, ``procs`` at a time in spawned processes (``fn`` a module-level
    function; its arguments and result picklable); the results in job order. ``fn`` may call
    :func:`report` (``on_progress(i, n)`` in this process), ``on_done(i, result)`` when job ``i`` ends.
    With ``procs`` 1 (or one job) the jobs run here, one after the other, with the same calls."""
    labels = list(labels) if labels is not None else [f"job {i}" for i in range(len(jobs))]
    if procs <= 1 or len(jobs) <= 1:
        global _REPORT
        results = []
        for i, args in enumerate(jobs):
            _REPORT = _Direct(on_progress) if on_progress is not None else None
            try:
                results.append(fn(i, *args))
            finally:
                _REPORT = None
            if on_done:
                on_done(i, results[-1])
        return results
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    results: list = [None] * len(jobs)
    errors: list = []
    with ProcessPoolExecutor(max_workers=min(procs, len(jobs)), mp_context=ctx, initializer=_init,
                             initargs=(threads_per_proc(procs), q)) as pool:
        futures = {pool.submit(_run, fn, i, tuple(args)): i for i, args in enumerate(jobs)}
        pending, ended = set(futures), set()
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            _drain(q, on_progress, ended)
            for f in done:
                i = futures[f]
                try:
                    results[i] = f.result()
                except BaseException as err:  # noqa: BLE001 - the others go on; raised below
                    errors.append((i, err))
                    continue
                if on_done:
                    on_done(i, results[i])
        # a child's queue writes go through a feeder thread, so its last reports may still be in
        # flight when its result is in: wait for every job's end marker (a process that died has none)
        _drain(q, on_progress, ended, wait_for=len(jobs), timeout=_LAST_REPORTS_S)
    if errors:
        i, err = min(errors, key=lambda e: e[0])
        if isinstance(err, NassegError):
            raise NassegError(f"{labels[i]}: {err}") from err
        raise RuntimeError(f"{labels[i]} failed in its process ({len(errors)} of {len(jobs)} job(s) failed; the "
                           f"others' work is kept): {type(err).__name__}: {err}") from err
    return results


class _Direct:
    """The progress queue of jobs run in this process: a report goes straight to ``on_progress``."""

    def __init__(self, on_progress):
        self.on_progress = on_progress

    def put(self, item) -> None:
        self.on_progress(*item)


_LAST_REPORTS_S = 30.0


def _drain(q, on_progress, ended: set, wait_for: int = 0, timeout: float = 0.0) -> None:
    """Pass the queued reports to ``on_progress``; with ``wait_for``, block (up to ``timeout`` s in
    all) until that many jobs' end markers are in."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if len(ended) < wait_for:
                item = q.get(timeout=max(0.01, deadline - time.monotonic()))
            else:
                item = q.get_nowait()
        except (queue_mod.Empty, OSError, ValueError):
            return
        job, n = item
        if n is None:
            ended.add(job)
        elif on_progress is not None:
            on_progress(job, n)


__all__ = ["as_child", "in_child", "report", "side_by_side", "threads_per_proc", "usable_procs"]
