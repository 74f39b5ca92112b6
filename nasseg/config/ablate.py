"""``ablate``: Sect. 4.2 / Fig. 4."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, StrictInt

from .base import Section
from .schedule import PhaseParams, ScheduleParams


class AblateParams(Section):
    """Sect. 4.2 / Fig. 4: the best searched architectures trained with no aux / aux classifier / aux cell."""

    strategy: str = "ppo"  # whose topk.json (results of `nasseg search --strategy ...`)
    archs: StrictInt = Field(default=10, ge=1)
    variants: list[Literal["none", "clf", "cell"]] = ["none", "clf", "cell"]
    width: StrictInt = Field(default=48, ge=4)
    repeats: StrictInt = Field(default=1, ge=1)
    schedule: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="trainaug", epochs=20), PhaseParams(sets="voc_train", epochs=30)]))
    out: Path = Path("results/ablate")
