"""The paper's meta-train / meta-val split, and the SBD+VOC training pool."""
from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def meta_split(items: Sequence[T], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[T], list[T]]:
    """Seeded random split into (meta-train, meta-val); meta-val holds ``round(n * val_fraction)``
    items, at least one and at most n - 1. The order inside each part follows the permutation."""
    n = len(items)
    if n < 2:
        raise ValueError(f"cannot split {n} item(s) into meta-train and meta-val; need at least 2")
    n_val = min(max(1, int(round(n * val_fraction))), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    return [items[i] for i in train_idx], [items[i] for i in val_idx]


def merge_pool(sources: Sequence[Sequence[tuple[str, T]]], exclude_ids: set[str]) -> list[tuple[str, T]]:
    """Concatenate ``(id, item)`` lists, dropping ids in ``exclude_ids`` (the VOC val images
    that SBD also holds) and duplicate ids; an earlier source wins a duplicate."""
    seen, out = set(exclude_ids), []
    for src in sources:
        for sid, item in src:
            if sid in seen:
                continue
            seen.add(sid)
            out.append((sid, item))
    return out
