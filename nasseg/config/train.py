"""``train``: Sect. 4.4 / Table 1, full training of the best architectures."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt

from .base import Section
from .schedule import LatencyParams, PhaseParams, ScheduleParams


class TrainParams(Section):
    """Sect. 4.4 / Table 1: full training of the best ablation architectures (aux-cell variant)."""

    archs: StrictInt = Field(default=3, ge=1)
    width: StrictInt = Field(default=64, ge=4)
    repeats: StrictInt = Field(default=2, ge=1)
    schedule: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="coco_train+trainaug", epochs=30, aux_weight=0.3),
                PhaseParams(sets="trainaug", epochs=50, aux_weight=0.25),
                PhaseParams(sets="voc_train", epochs=100, aux_weight=0.2)],
        freeze_bn_halfway=True, frozen_aux_weight=0.15))
    latency: LatencyParams = LatencyParams()
    out: Path = Path("models/train")  # <name>/model.pt, card.md, card.json, history.tsv
    resume: Path = Path("models/train_resume")  # epoch checkpoints of unfinished runs
    report: Path = Path("results/train")  # cards.md (beside the paper's Table 1), metrics.json
