"""``tricks``: Fig. 3, the speed-up tricks of the inner training."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt

from .base import Section


class TricksParams(Section):
    """Fig. 3: random architectures trained with and without Polyak / aux cells / distillation."""

    archs: StrictInt = Field(default=6, ge=1)
    seed: StrictInt = 1
    out: Path = Path("results/tricks")
