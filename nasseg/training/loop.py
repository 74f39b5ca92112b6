"""The one training step engine every loop runs on (fit, the multi-phase engine, stage 1,
stage 2; precompute and evaluation use its input timing).

:func:`run_epoch` takes batches (a :class:`~nasseg.data.loader.KeyedLoader` epoch, or cached
feature batches), moves each to the runtime's device (non-blocking from pinned memory),
runs ``loss_fn`` under the runtime's autocast, and backpropagates through an
:class:`Updater` (GradScaler in fp16, ``accumulate`` batches per optimiser step, gradient
clip on unscaled gradients). It does not talk to the host per step: the loss is summed on
the device and read once at the end; a non-finite loss is noted on the device (the first
such batch) and raised there as ``FloatingPointError`` naming it. It times the wait for
each batch, so every loop can log the share of its time spent waiting for input.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch

from ..data.loader import timed


class Updater:
    """Backward passes and optimiser steps under a runtime: the loss scaled by its GradScaler
    (fp16; a no-op otherwise), gradients summed over ``accumulate`` batches (each loss divided
    by that count; default the runtime's), unscaled before the gradient-norm clip of
    ``parameters``."""

    def __init__(self, optimizers, parameters, grad_clip: Optional[float], runtime, accumulate: Optional[int] = None):
        self.optimizers, self.parameters, self.grad_clip = tuple(optimizers), list(parameters), grad_clip
        self.scaler = runtime.grad_scaler()
        self.accumulate = runtime.accumulate if accumulate is None else accumulate

    def backward(self, loss: torch.Tensor, first: bool) -> None:
        """Add ``loss``'s gradients (``first``: the first batch of a step, gradients cleared before)."""
        if first:
            for opt in self.optimizers:
                opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss / self.accumulate if self.accumulate > 1 else loss).backward()

    def step(self) -> None:
        if self.grad_clip:
            for opt in self.optimizers:
                self.scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(self.parameters, self.grad_clip)
        for opt in self.optimizers:
            self.scaler.step(opt)
        self.scaler.update()


# What this process's loops spent waiting for input, over all their epochs: seconds waited,
# seconds in all, and of the wait, the seconds spent on each epoch's first batch (the workers
# start or refill their prefetch then: in a few-step run that dominates). Read by
# `make gpu-check` after each stage; a tally, not a result.
WAIT_TALLY = {"data_seconds": 0.0, "seconds": 0.0, "first_batch_seconds": 0.0}


def tally_wait(data_seconds: float, seconds: float, first_batch_seconds: float = 0.0) -> None:
    WAIT_TALLY["data_seconds"] += data_seconds
    WAIT_TALLY["seconds"] += seconds
    WAIT_TALLY["first_batch_seconds"] += first_batch_seconds


def wait_shares(tally: dict) -> dict:
    """The share of the loops' time spent waiting for input, in all and after each epoch's
    first batch (the steady state a long run lives in); None where no loop ran."""
    if tally["seconds"] <= 0:
        return {"data_wait_share": None, "data_wait_share_after_first_batch": None}
    rest = tally["seconds"] - tally["first_batch_seconds"]
    return {"data_wait_share": round(tally["data_seconds"] / tally["seconds"], 4),
            "data_wait_share_after_first_batch":
                round((tally["data_seconds"] - tally["first_batch_seconds"]) / rest, 4) if rest > 0 else None}


@dataclass
class EpochStats:
    loss: float  # the loss summed over batches (each times its weight) / the weights' sum
    batches: int
    seconds: float
    data_seconds: float  # waiting for the next batch (decode, augment, collate, copy not overlapped)

    @property
    def data_share(self) -> float:
        """The share of the epoch's time spent waiting for input."""
        return self.data_seconds / self.seconds if self.seconds > 0 else 0.0


def on_device(batch, runtime):
    """A batch (tensor, tuple/list or dict of tensors) on the runtime's device."""
    if isinstance(batch, torch.Tensor):
        return runtime.batch(batch)
    if isinstance(batch, dict):
        return {k: on_device(v, runtime) for k, v in batch.items()}
    return type(batch)(on_device(v, runtime) for v in batch)


def run_epoch(batches: Iterable, loss_fn: Callable, updater: Updater, runtime, *, where: str,
              before_step: Optional[Callable[[int], None]] = None, after_step: Optional[Callable[[], None]] = None,
              no_sync: Optional[Callable[[], object]] = None, tick: Optional[Callable[[], None]] = None,
              n_batches: Optional[int] = None,
              reduce: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> EpochStats:
    """One pass over ``batches``. ``loss_fn(batch on the device) -> (loss, weight)`` runs under
    autocast; ``before_step(step)`` runs before the first batch of each optimiser step (learning
    rates), ``after_step()`` after each step (Polyak averaging); ``no_sync()`` is the context
    for the batches before the last of a step (DDP's gradient all-reduce on the last only);
    ``tick()`` after each optimiser step (progress).
    ``n_batches`` (default ``len(batches)``) tells the last batch, which always ends a step
    (with ``accumulate`` > 1 the batches must have a length or ``n_batches`` be given).
    ``where`` names the loop in a non-finite-loss error; ``reduce`` (e.g. the mean over ranks)
    is applied to the summed loss before it is read."""
    acc = updater.accumulate
    if acc > 1 and n_batches is None and not hasattr(batches, "__len__"):
        raise ValueError("run_epoch: with accumulation, give n_batches for batches without a length")
    n = n_batches if n_batches is not None else (len(batches) if hasattr(batches, "__len__") else None)
    dev = runtime.device
    total = torch.zeros((), dtype=torch.float64, device=dev)
    bad = torch.full((), -1, dtype=torch.int64, device=dev)  # the first batch with a non-finite loss
    weight, wait, count, first_wait = 0.0, 0.0, 0, 0.0
    t0 = time.perf_counter()
    for b, (waited, batch) in enumerate(timed(batches)):
        wait += waited
        first_wait = waited if b == 0 else first_wait
        first, last = b % acc == 0, (b + 1) % acc == 0 or b + 1 == n  # n None: acc is 1
        if first and before_step is not None:
            before_step(b // acc)
        batch = on_device(batch, runtime)
        with no_sync() if (no_sync is not None and not last) else contextlib.nullcontext():
            with runtime.autocast():
                loss, w = loss_fn(batch)
            updater.backward(loss, first)
        if last:
            updater.step()
            if after_step is not None:
                after_step()
            if tick:
                tick()
        loss = loss.detach()
        bad = torch.where((bad < 0) & ~torch.isfinite(loss), torch.full_like(bad, b), bad)
        total += loss.double() * w
        weight += w
        count += 1
    if reduce is not None:
        total = reduce(total)
    first_bad = int(bad)
    if first_bad >= 0:
        raise FloatingPointError(f"{where}: the loss became non-finite at batch {first_bad + 1} "
                                 f"(step {first_bad // acc + 1}); lower the learning rate or check the data")
    stats = EpochStats(float(total) / max(weight, 1e-12), count, time.perf_counter() - t0, wait)
    tally_wait(stats.data_seconds, stats.seconds, first_wait)
    return stats


__all__ = ["EpochStats", "Updater", "WAIT_TALLY", "on_device", "run_epoch", "tally_wait", "wait_shares"]
