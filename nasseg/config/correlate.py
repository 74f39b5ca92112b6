"""``correlate``: Sect. 4.3 / Fig. 5."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt, field_validator

from .base import Section


class CorrelateParams(Section):
    """Sect. 4.3 / Fig. 5: architectures from the search stores, per reward bucket, trained as in
    the ablation (aux-cell variant); Spearman correlations of rewards and mIoU."""

    strategies: list[str] = ["ppo"]  # search stores to draw from
    bounds: tuple[float, float] = (0.4, 0.6)  # reward buckets: < low, low..high, > high
    per_bucket: StrictInt = Field(default=10, ge=1)
    seed: StrictInt = 0
    out: Path = Path("results/correlate")

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, v):
        if not v[0] < v[1]:
            raise ValueError(f"bounds must be [low, high] with low < high, got {list(v)}")
        return v
