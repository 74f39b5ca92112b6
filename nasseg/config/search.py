"""``search``: the architecture search (strategy, budget, executor, the inner training's two
stages, early termination, PPO, the optional hardware penalty)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, model_validator

from .base import Section


class Stage1Params(Section):
    """Stage 1 of the inner training: the decoder alone, Adam, from the feature cache."""

    epochs: StrictInt = Field(default=5, ge=1)
    batch_size: StrictInt = Field(default=32, ge=2)
    lr: float = Field(default=3e-3, gt=0)
    grad_clip: float = Field(default=3.0, gt=0)
    kd_weight: float = Field(default=0.3, ge=0)  # 0 switches distillation off
    aux_weight: float = Field(default=0.15, ge=0)
    polyak: Optional[float] = Field(default=0.9, ge=0, lt=1)  # null switches Polyak averaging off
    samples_per_epoch: Optional[StrictInt] = Field(default=None, ge=1)  # null: the whole cache


class Stage2Params(Section):
    """Stage 2: encoder (SGD with momentum) and decoder (Adam) end to end on meta-train images."""

    later_keys = ("momentum", "weight_decay", "grad_clip", "crop")

    enabled: StrictBool = True  # false: one-stage search (stage-1 reward only)
    epochs: StrictInt = Field(default=1, ge=1)
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)  # the encoder's SGD
    weight_decay: float = Field(default=1e-5, ge=0)  # the encoder's SGD
    decoder_lr: float = Field(default=3e-3, gt=0)
    grad_clip: float = Field(default=3.0, gt=0)  # gradient-norm clip of the decoder
    aux_weight: float = Field(default=0.15, ge=0)
    polyak: Optional[float] = Field(default=0.99, ge=0, lt=1)
    max_images: Optional[StrictInt] = Field(default=None, ge=1)  # meta-train images per epoch (null: all)
    # stage 2's training crop (SPEC §5: 350, the cache's 256); null: precompute.augment.crop
    crop: Optional[StrictInt] = Field(default=None, ge=8)


class TerminationParams(Section):
    p0: float = Field(default=0.9, ge=0, le=1)
    decay: float = Field(default=0.99, gt=0, le=1)  # p *= decay after every architecture
    p_min: float = Field(default=0.0, ge=0, le=1)


class PPOParams(Section):
    """The controller and its PPO updates."""

    later_keys = ("hidden",)

    lr: float = Field(default=1e-4, gt=0)
    clip: float = Field(default=0.1, gt=0)
    grad_clip: float = Field(default=2.0, gt=0)
    baseline_decay: float = Field(default=0.95, ge=0, lt=1)
    buffer: StrictInt = Field(default=100, ge=1)
    epochs: StrictInt = Field(default=4, ge=1)  # optimisation passes over the buffer per update
    entropy_weight: float = Field(default=0.0, ge=0)
    hidden: StrictInt = Field(default=100, ge=1)  # the LSTM controller's hidden units


class RayParams(Section):
    later_keys = ("shared_cache",)

    address: Optional[str] = None  # null: start a local Ray instance
    workers: StrictInt = Field(default=2, ge=1)
    num_cpus: float = Field(default=1, gt=0)
    num_gpus: float = Field(default=0, ge=0)  # GPUs per trial; 0.5: two trials share a GPU
    max_retries: StrictInt = Field(default=2, ge=0)
    # the feature cache loaded once by the driver and put into Ray's object store: one copy per
    # node, shared zero-copy by every trial there (false: each worker process loads its own)
    shared_cache: StrictBool = True


class HardwareParams(Section):
    metric: Literal["none", "madds", "params"] = "none"
    target: float = Field(default=0.0, ge=0)
    weight: float = Field(default=0.07, ge=0)


class SearchParams(Section):
    later_keys = ("cell_positions",)

    search_space: Literal["cells", "templates"] = "cells"  # CVPR 2019 cells or WACV 2020 templates (nasseg.spaces)
    # input positions the controller offers cell layers 1-3: nasseg 2/5/8 (every node, as the paper
    # and the published arch1), authors 1/4/7 (the authors' refactored controller; docs/profiles.md)
    cell_positions: Literal["nasseg", "authors"] = "nasseg"
    max_trials: Optional[StrictInt] = Field(default=60, ge=1)
    max_seconds: Optional[float] = Field(default=None, gt=0)
    batch_size: StrictInt = Field(default=4, ge=1)  # architectures per controller update
    seed: StrictInt = 0
    executor: Literal["local", "ray"] = "local"
    ray: RayParams = RayParams()
    width: StrictInt = Field(default=48, ge=4)
    repeats: StrictInt = Field(default=1, ge=1)
    aux: Literal["cell", "clf", "none"] = "cell"
    stage1: Stage1Params = Stage1Params()
    stage2: Stage2Params = Stage2Params()
    termination: TerminationParams = TerminationParams()
    ppo: PPOParams = PPOParams()
    hardware: HardwareParams = HardwareParams()
    threads: Optional[StrictInt] = None
    exclude_background: StrictBool = True  # leave class 0 out of the reward (VOC background; not CamVid's sky)
    out: Path = Path("results/search")

    @model_validator(mode="after")
    def _aux_exists(self):
        if self.search_space == "templates" and self.aux == "cell":
            raise ValueError("aux 'cell' exists only in the cells space; the templates space has aux 'none' or 'clf'")
        if self.search_space == "templates" and self.cell_positions != "nasseg":
            raise ValueError("cell_positions applies to the cells space only; leave it at 'nasseg' (or out) for "
                             "the templates space")
        return self
