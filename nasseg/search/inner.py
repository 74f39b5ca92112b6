"""Inner training of one sampled architecture (SPEC §5): stage 1 from the feature cache,
the early-termination rule, stage 2 end to end; reward on meta-val.

Stage 1: the decoder alone on cached encoder taps (Adam, gradient-norm clip, CE + KD +
aux, Polyak averaging applied before validation). Stage 2: encoder (SGD) and decoder
(Adam) end to end on meta-train images, Polyak, aux, no distillation. The reward is the
geometric mean of mean IoU, frequency-weighted IoU and mean accuracy on meta-val,
background excluded; an architecture's reward is its last stage's.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..benchmark import count_madds
from ..metrics import ConfusionMatrix
from ..models.zoo import SegmentationModel, count_params
from ..spaces import CELLS, SearchSpace
from ..training.evaluate import upsample_to
from ..training.fit import seed_everything
from ..training.stage1 import Polyak, Stage1Config, stage1_loss, train_decoder_epoch, validate_decoder


@dataclass
class Stage2Config:
    epochs: int = 1
    batch_size: int = 16
    encoder_lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-5
    decoder_lr: float = 3e-3
    grad_clip: float = 3.0
    aux_weight: float = 0.15
    polyak: Optional[float] = 0.99
    max_images: Optional[int] = None  # cap on meta-train images per epoch (None: all)


@dataclass
class InnerConfig:
    width: int = 48
    repeats: int = 1
    aux: str = "cell"  # cell | clf | none
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)
    exclude_background: bool = True


@dataclass
class TrialResult:
    stage1_reward: float
    stage2_reward: Optional[float] = None
    metrics: dict = field(default_factory=dict)
    params: int = 0
    madds: int = 0
    stage1_seconds: float = 0.0
    stage2_seconds: float = 0.0

    @property
    def reward(self) -> float:
        return self.stage2_reward if self.stage2_reward is not None else self.stage1_reward

    @property
    def ran_stage2(self) -> bool:
        return self.stage2_reward is not None


class EarlyTermination:
    """Stage 1 above the running mean of stage-1 rewards: go on to stage 2. Below it: stop
    with probability 1 - p; p starts at ``p0`` and decays by ``decay`` per architecture
    (annealed during the search), never below ``p_min``."""

    def __init__(self, p0: float = 0.9, decay: float = 0.99, p_min: float = 0.0, seed: int = 0):
        self.p, self.decay, self.p_min = p0, decay, p_min
        self.mean, self.count = 0.0, 0
        self.rng = np.random.default_rng(seed)

    def decide(self, stage1_reward: float) -> bool:
        """True: continue to stage 2. Updates the running mean and anneals p."""
        above = self.count == 0 or stage1_reward > self.mean
        go = above or bool(self.rng.random() < self.p)
        self.count += 1
        self.mean += (stage1_reward - self.mean) / self.count
        self.p = max(self.p_min, self.p * self.decay)
        return go

    def state_dict(self) -> dict:
        return {"p": self.p, "mean": self.mean, "count": self.count, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, s: dict) -> None:
        self.p, self.mean, self.count = s["p"], s["mean"], s["count"]
        self.rng.bit_generator.state = s["rng"]


def _scores_dict(scores, prefix: str) -> dict:
    return {f"{prefix}_{k}": float(v) for k, v in scores.as_dict().items()}


def run_stage1(genotype, train_cache, val_cache, cfg: InnerConfig, num_classes: int, seed: int,
               space: SearchSpace = CELLS):
    """Returns (decoder after Polyak, stage-1 scores, seconds). The decoder reads the cache's
    taps in order (the template decoder the first two: strides 4 and 8)."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s1 = cfg.stage1
    decoder = space.build_decoder(genotype, num_classes=num_classes, width=cfg.width, repeats=cfg.repeats, aux=cfg.aux)
    opt = torch.optim.Adam(decoder.parameters(), lr=s1.lr)
    ema = Polyak(decoder, s1.polyak) if s1.polyak else None
    rng = np.random.default_rng(seed)
    n_batches = None if not s1.samples_per_epoch else max(1, s1.samples_per_epoch // s1.batch_size)
    for _ in range(s1.epochs):
        batches = train_cache.batches(s1.batch_size, rng=rng, drop_last=True)
        if n_batches is not None:
            batches = (b for _, b in zip(range(n_batches), batches))
        train_decoder_epoch(decoder, batches, opt, s1, ema)
    if ema is not None:
        ema.apply_to(decoder)
    exclude = (0,) if cfg.exclude_background else ()
    scores = validate_decoder(decoder, val_cache.batches(64, shuffle=False), num_classes, exclude)
    return decoder, scores, time.perf_counter() - t0


def run_stage2(decoder: nn.Module, encoder: nn.Module, train_set, val_set, cfg: InnerConfig, num_classes: int,
               seed: int):
    """End-to-end training of encoder + stage-1 decoder; returns (scores, seconds)."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s2 = cfg.stage2
    model = SegmentationModel(copy.deepcopy(encoder), decoder)
    model.train()
    opt_enc = torch.optim.SGD(model.encoder.parameters(), lr=s2.encoder_lr, momentum=s2.momentum,
                              weight_decay=s2.weight_decay)
    opt_dec = torch.optim.Adam(model.decoder.parameters(), lr=s2.decoder_lr)
    ema = Polyak(model, s2.polyak) if s2.polyak else None
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(train_set, batch_size=s2.batch_size, shuffle=True, generator=gen, drop_last=True)
    s1cfg = Stage1Config(kd_weight=0.0, aux_weight=s2.aux_weight)
    for _ in range(s2.epochs):
        seen = 0
        for image, mask in loader:
            logits, aux = model(image, return_aux=True)
            loss = stage1_loss(logits, aux, mask, None, s1cfg)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"stage-2 loss became {loss.item()}")
            opt_enc.zero_grad(set_to_none=True)
            opt_dec.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.decoder.parameters(), s2.grad_clip)
            opt_enc.step()
            opt_dec.step()
            if ema is not None:
                ema.update(model)
            seen += len(image)
            if s2.max_images and seen >= s2.max_images:
                break
    if ema is not None:
        ema.apply_to(model)
    model.eval()
    cm = ConfusionMatrix(num_classes)
    with torch.no_grad():
        for image, mask in DataLoader(val_set, batch_size=16, shuffle=False):
            cm.update(upsample_to(model(image), mask.shape[1:]).argmax(1), mask)
    scores = cm.scores((0,) if cfg.exclude_background else ())
    return scores, time.perf_counter() - t0


def architecture_cost(genotype, cfg: InnerConfig, num_classes: int, size: int = 512,
                      space: SearchSpace = CELLS) -> tuple[int, int]:
    """Inference parameters and MAdds of the architecture at its search width (with the
    encoder blocks its space reads)."""
    from ..models.encoder import MobileNetV2Encoder

    model = SegmentationModel(MobileNetV2Encoder(taps=space.encoder_taps),
                              space.build_decoder(genotype, num_classes=num_classes, width=cfg.width,
                                                  repeats=cfg.repeats))
    madds, _ = count_madds(model, size)
    return count_params(model), madds


def check_finite(x: float, what: str) -> float:
    if x is None or not math.isfinite(x):
        raise FloatingPointError(f"{what} is {x}")
    return x
