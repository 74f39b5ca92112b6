"""``train``: Sect. 4.4 / Table 1, full training of the best architectures."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt, field_validator

from .base import Section
from .schedule import LatencyParams, PhaseParams, ScheduleParams


class TrainParams(Section):
    """Sect. 4.4 / Table 1: full training of the best ablation architectures (aux-cell variant)."""

    later_keys = ("baselines",)  # added after cards were fingerprinted: at its default, it leaves params_sha1 as was
    archs: StrictInt = Field(default=3, ge=1)
    width: StrictInt = Field(default=64, ge=4)
    repeats: StrictInt = Field(default=2, ge=1)
    schedule: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="coco_train+trainaug", epochs=30, aux_weight=0.3),
                PhaseParams(sets="trainaug", epochs=50, aux_weight=0.25),
                PhaseParams(sets="voc_train", epochs=100, aux_weight=0.2)],
        freeze_bn_halfway=True, frozen_aux_weight=0.15))
    # zoo names trained after the found ones with the same schedule, encoder and seed rule (published
    # architectures with the aux cell at width/repeats, baselines with their own decoder). They are checked
    # against the zoo by the train stage (nasseg.experiments.final.check_baselines): the config imports no
    # model code, so that every stage's import closure stays its own.
    baselines: list[str] = ["refinenet_lw_mbv2", "arch0"]
    latency: LatencyParams = LatencyParams()
    out: Path = Path("models/train")  # <name>/model.pt, card.md, card.json, history.tsv
    resume: Path = Path("models/train_resume")  # epoch checkpoints of unfinished runs
    report: Path = Path("results/train")  # cards.md (beside the paper's Table 1), metrics.json

    @field_validator("baselines")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        twice = sorted({n for n in v if v.count(n) > 1})
        if twice:
            raise ValueError(f"names given more than once: {twice}; each model trains once")
        return v
