"""Multi-phase training schedules (ablate, correlate, train, transfer, wacv.train) and the
latency measurement of a trained model's card."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, field_validator

from .base import Section, check_sets


class PhaseParams(Section):
    """One phase of a multi-phase schedule: which sets, how long, the aux-head weight."""

    sets: str  # '+'-joined set names written by prepare (the paper: COCO+SBD+VOC, SBD+VOC, VOC)
    epochs: StrictInt = Field(ge=1)
    images_per_epoch: Optional[StrictInt] = Field(default=None, ge=1)  # null: the whole set each epoch
    aux_weight: float = Field(default=0.15, ge=0)

    _known_sets = field_validator("sets")(check_sets)


class EvalParams(Section):
    flip: StrictBool = False  # average with the horizontally flipped image
    scales: list[float] = [1.0]  # multi-scale testing, e.g. [0.75, 1.0, 1.25]


class ScheduleParams(Section):
    """Multi-phase training (SPEC 6): learning rates halved after each phase; optionally,
    halfway through the last phase, BN statistics frozen and the rates halved again, with
    ``frozen_aux_weight`` from then on."""

    phases: list[PhaseParams] = Field(min_length=1)
    val_set: str = "voc_val"
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    decoder_lr: float = Field(default=3e-3, gt=0)
    encoder_optim: Literal["adam", "sgd"] = "sgd"  # the paper: SGD with momentum for the encoder
    decoder_optim: Literal["adam", "sgd"] = "adam"  # and Adam for the decoder
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=1e-5, ge=0)
    grad_clip: Optional[float] = Field(default=None, gt=0)
    lr_halving: StrictBool = True
    lr_decay: float = Field(default=0.5, gt=0, le=1)  # the factor per phase when lr_halving (Simple Baselines: 0.1)
    freeze_bn_halfway: StrictBool = False
    frozen_aux_weight: Optional[float] = Field(default=None, ge=0)  # null: keep the last phase's weight
    eval: EvalParams = EvalParams()
    seed: StrictInt = 0

    _known_sets = field_validator("val_set")(check_sets)


class LatencyParams(Section):
    size: StrictInt = Field(default=512, ge=32)
    runs: StrictInt = Field(default=100, ge=1)
    warmup: StrictInt = Field(default=5, ge=0)
