"""The input pipeline of every loop: keyed samples through a persistent ``DataLoader``.

A sample is asked for by its key ``(seed, epoch, index)``: the dataset's item ``index`` with
its augmentation drawn from that key alone (torch's RNG is forked and seeded from it). The
order of an epoch comes from ``(seed, epoch)`` (:func:`epoch_order`). So what a loop sees
depends on neither the number of workers, nor the process that decodes it, nor where a
run was resumed, nor how a batch is split over ranks.

:class:`KeyedLoader` wraps one ``torch.utils.data.DataLoader`` per dataset: worker processes
(``runtime.workers``; persistent, so they start once per loop, not per epoch), pinned memory
on CUDA, prefetching; its batches are set per epoch (:meth:`KeyedLoader.epoch`), from the
main process, by the loop. :func:`timed` yields the batches with the seconds the loop spent
waiting for each.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate


def sample_seed(*parts) -> int:
    """A 63-bit seed from integers (a ``SeedSequence``: nearby keys give unrelated seeds)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] % (2 ** 63))


def epoch_order(n: int, seed: int, epoch: int, images: Optional[int] = None) -> list[int]:
    """The sample order of one epoch from ``(seed, epoch)``; the first ``images`` of it when given."""
    g = torch.Generator().manual_seed(sample_seed(seed, epoch, 1))
    order = torch.randperm(n, generator=g).tolist()
    return order[:images] if images else order


def load_sample(dataset: Dataset, index: int, seed: int, epoch: int):
    """``dataset[index]`` with its augmentation drawn from ``(seed, epoch, index)`` only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample_seed(seed, epoch, index, 2))
        return dataset[index]


def batches_of(order: Sequence[int], batch_size: int, *, drop_last: bool, rank: int = 0, world: int = 1,
               limit: Optional[int] = None) -> list[list[int]]:
    """``order`` cut into global batches of ``batch_size`` (the last one dropped when short and
    ``drop_last``), at most ``limit`` of them, each reduced to this rank's share: every
    ``world``-th sample from ``rank`` (``batch_size / world`` of them)."""
    out = []
    for s in range(0, len(order), batch_size):
        b = list(order[s:s + batch_size])
        if drop_last and len(b) < batch_size:
            break
        out.append(b[rank::world][:max(1, batch_size // world)])
        if limit is not None and len(out) == limit:
            break
    return out


class _Keyed(Dataset):
    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, key):
        seed, epoch, index = key
        return load_sample(self.base, index, seed, epoch)


class _Batches(Sampler):
    """The batch sampler a :class:`KeyedLoader` iterates: the keys of the current epoch."""

    def __init__(self):
        self.keys: list[list[tuple]] = []

    def __iter__(self):
        return iter(self.keys)

    def __len__(self):
        return len(self.keys)


class KeyedLoader:
    """A ``DataLoader`` over ``dataset`` with ``workers`` processes (default: the runtime's),
    persistent across epochs, pinned memory when the runtime's device is CUDA. Each call of
    :meth:`epoch` sets the batches (lists of indices) and returns an iterator of collated batches."""

    def __init__(self, dataset: Dataset, runtime, *, collate_fn: Optional[Callable] = None,
                 workers: Optional[int] = None, prefetch: int = 4):
        n = runtime.workers if workers is None else workers
        self.workers = n
        self.dataset = dataset
        self._sampler = _Batches()
        # a generator of its own: each iteration draws the workers' base seed from it, not from
        # torch's global RNG, whose stream (dropout, model building) stays that of a loop without workers
        self.loader = DataLoader(_Keyed(dataset), batch_sampler=self._sampler, num_workers=n,
                                 persistent_workers=n > 0, pin_memory=runtime.pin_memory,
                                 generator=torch.Generator().manual_seed(0),
                                 collate_fn=collate_fn or default_collate, prefetch_factor=prefetch if n else None)

    def __len__(self):
        return len(self.dataset)

    def epoch(self, seed: int, epoch: int, batches: Iterable[Sequence[int]]) -> Iterator:
        self._sampler.keys = [[(seed, epoch, int(i)) for i in b] for b in batches]
        return iter(self.loader)


def timed(batches: Iterable) -> Iterator[tuple[float, object]]:
    """``(seconds waited for it, batch)`` for each batch: the loop's time spent on input."""
    it = iter(batches)
    while True:
        t0 = time.perf_counter()
        try:
            b = next(it)
        except StopIteration:
            return
        yield time.perf_counter() - t0, b


__all__ = ["KeyedLoader", "batches_of", "epoch_order", "load_sample", "sample_seed", "timed"]
