"""The one seeding rule of every embedded generator.

A rendered image (scene, figure, frame) is a pure function of ``(seed, scope, key)``: the
params' seed, a scope naming the set and split (``"pascal"``, ``"coco-train"``,
``"street-camvid-val"``, ``"nyu-labeled"``) and the image's key in it, so that any image
can be rendered alone, in any order, and the same arguments give byte-identical files.
"""
from __future__ import annotations

import zlib

import numpy as np


def scene_rng(seed: int, scope: str, key: int | str) -> np.random.Generator:
    """``np.random.default_rng([seed, crc32(scope), k])``: ``k`` is the key itself when it is
    an integer (a frame index), its crc32 when it is text (an image id)."""
    k = zlib.crc32(key.encode()) if isinstance(key, str) else int(key)
    return np.random.default_rng([int(seed), zlib.crc32(scope.encode()), k])
