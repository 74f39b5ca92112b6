"""``precompute``: the stage-1 feature cache."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, StrictBool, StrictInt

from .base import Section
from .data import AugmentParams

# The cache's crops are the search's own, apart from data.augment (the final training's). The
# default is what data.augment held in params.yaml when this key was added: at it, the key stays
# out of run identities (later_keys) and the cache's fingerprint is the one recorded before.
CACHE_AUGMENT = AugmentParams(scale=(0.7, 1.4), min_side=96, crop=128)


class PrecomputeParams(Section):
    """The stage-1 feature cache (SPEC §5: 4,000 samples, 256x256 crops, stride-4 labels)."""

    later_keys = ("augment",)

    n: StrictInt = Field(default=1000, ge=1)  # training samples, each augmented once
    label_stride: Literal[1, 2, 4] = 4
    val_size: StrictInt = Field(default=144, ge=16)  # meta-val images centre-padded/cropped to this
    dtype: Literal["float16", "float32"] = "float16"
    chunk: StrictInt = Field(default=32, ge=1)  # samples per HDF5 chunk (one contiguous read)
    compression: Literal["none", "lzf", "gzip"] = "none"
    seed: StrictInt = 0
    teacher: StrictBool = True  # store the teacher's logits (distillation); false: no teacher needed
    out: Path = Path("cache")
    # the training crops' augmentation (random scale, crop, flip): stage 1's, and stage 2's
    # (with search.stage2.crop when set); data.augment is the final training's
    augment: AugmentParams = CACHE_AUGMENT
