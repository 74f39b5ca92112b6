"""``pretrain`` and ``teacher``: single-phase supervised training recipes."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, field_validator

from .base import Section, check_sets


class TrainRecipe(Section):
    """Single-phase supervised training (pretrain and teacher stages): cosine decay of both
    learning rates over the epochs, a resume checkpoint after every epoch."""

    later_keys = ("momentum", "aux_weight", "grad_clip", "eval_every", "channels_last")

    sets: str  # '+'-joined set names written by prepare, e.g. coco_train+trainaug
    val_set: str = "voc_val"
    epochs: StrictInt = Field(default=5, ge=1)
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    decoder_lr: float = Field(default=1e-3, gt=0)
    encoder_optim: Literal["adam", "sgd"] = "adam"
    decoder_optim: Literal["adam", "sgd"] = "adam"
    momentum: float = Field(default=0.9, ge=0, lt=1)  # of SGD, when an optimiser is sgd
    weight_decay: float = Field(default=1e-5, ge=0)
    aux_weight: float = Field(default=0.0, ge=0)  # the aux heads' loss weight (the recipes' models have none)
    grad_clip: Optional[float] = Field(default=None, gt=0)  # gradient-norm clip (null: none)
    eval_every: StrictInt = Field(default=1, ge=1)  # validate every this many epochs (and after the last)
    channels_last: StrictBool = True  # train in channels-last memory format
    decoder_width: StrictInt = Field(default=256, ge=8)
    seed: StrictInt = 0

    _known_sets = field_validator("sets", "val_set")(check_sets)


class PretrainParams(TrainRecipe):
    """MobileNet-v2 encoder trained for segmentation with a Light-Weight RefineNet decoder,
    or imported from ``weights`` (a torchvision mobilenet_v2 state dict or a checkpoint)."""

    weights: Optional[Path] = None
    sets: str = "coco_train"
    out: Path = Path("models/pretrain")


class TeacherParams(TrainRecipe):
    """Light-Weight RefineNet on a ResNet, trained or imported from ``weights``."""

    weights: Optional[Path] = None
    depth: Literal[18, 34, 50, 101, 152] = 50
    sets: str = "coco_train+trainaug"
    out: Path = Path("models/teacher")
