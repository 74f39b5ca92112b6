"""The one seeding rule of the computing stages: every module is built under a known seed.

A model's initial weights must be a function of the run's params, not of the process: a fresh
Python process starts torch's global RNG from an unpredictable seed, and every module built
before (another architecture of the same stage, a skipped finished run, a cost estimate)
moves it on. So every stage builds its models, decoders, heads and controllers under
:func:`seeded`: the global RNGs (``random``, NumPy's, torch's) seeded from
``derive_seed(seed, *tags)`` for the duration of the build, and given back afterwards as
they were, so what follows the build is not moved either.

``seed`` is the stage's params seed (a schedule's or recipe's ``seed``); ``tags`` name what is
built (an architecture's genotype, its aux variant, a task), so two models of one stage start
from unrelated draws while the same model, built again in any process, gets the same weights.
Without tags the seed is used as is: ``seeded(s)`` is ``seed_everything(s)`` confined to the
block.

Data are seeded by their own keyed rules: the embedded generators by
:func:`nasseg.synthetic.seeding.scene_rng`, each training sample by ``(seed, epoch, index)``
(:mod:`nasseg.data.loader`).
"""
from __future__ import annotations

import contextlib
import random
import zlib
from typing import Iterator, Union

import numpy as np
import torch

Tag = Union[int, str]


def _tag_int(tag: Tag) -> int:
    if isinstance(tag, bool) or not isinstance(tag, (int, str)):
        raise TypeError(f"a seed tag is an int or a str, got {type(tag).__name__} ({tag!r})")
    return zlib.crc32(tag.encode()) if isinstance(tag, str) else int(tag)


def derive_seed(seed: int, *tags: Tag) -> int:
    """``seed`` itself without tags; else a 63-bit seed from ``(seed, *tags)`` through NumPy's
    ``SeedSequence`` (text tags enter as their crc32, negative integers as their value mod 2**64),
    so nearby seeds and tags give unrelated streams."""
    if not tags:
        return int(seed)
    words = [int(seed) % 2 ** 64, *(_tag_int(t) % 2 ** 64 for t in tags)]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] % (2 ** 63))


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch's (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int, *tags: Tag) -> Iterator[int]:
    """Run the block with every global RNG seeded from ``derive_seed(seed, *tags)`` (yielded),
    then put the RNG states back as they were before it."""
    s = derive_seed(seed, *tags)
    py_state, np_state = random.getstate(), np.random.get_state()
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=cuda):
            seed_everything(s)
            yield s
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


__all__ = ["derive_seed", "seed_everything", "seeded"]
