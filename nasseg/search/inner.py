"""Inner training of one sampled architecture (SPEC §5): stage 1 from the feature cache,
the early-termination rule, stage 2 end to end; reward on meta-val.

Stage 1: the decoder alone on cached encoder taps (Adam, gradient-norm clip, CE + KD +
aux, Polyak averaging applied before validation). Stage 2: encoder (SGD) and decoder
(Adam) end to end on meta-train images, Polyak, aux, no distillation. The reward is the
geometric mean of mean IoU, frequency-weighted IoU and mean accuracy on meta-val,
background excluded; an architecture's reward is its last stage's.

Both stages run on a :class:`~nasseg.runtime.Runtime` (device, autocast precision); what they
return to the caller (scores, the decoder's weights via the trainer) is read back on the CPU.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..benchmark import count_madds
from ..config import SearchParams, TerminationParams
from ..metrics import ConfusionMatrix
from ..models.zoo import SegmentationModel, count_params
from ..runtime import Runtime
from ..spaces import CELLS, SearchSpace
from ..training.evaluate import upsample_to
from ..training.fit import seed_everything
from ..training.stage1 import Polyak, scaled_step, stage1_loss, train_decoder_epoch, validate_decoder


class EarlyTermination:
    """Stage 1 above the running mean of stage-1 rewards: go on to stage 2. Below it: stop
    with probability 1 - p; p starts at ``p0`` and decays by ``decay`` per architecture
    (annealed during the search), never below ``p_min``."""

    def __init__(self, cfg: TerminationParams = TerminationParams(), seed: int = 0):
        self.p, self.decay, self.p_min = cfg.p0, cfg.decay, cfg.p_min
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


def run_stage1(genotype, train_cache, val_cache, cfg: SearchParams, num_classes: int, seed: int,
               space: SearchSpace = CELLS, *, runtime: Runtime):
    """Returns (decoder after Polyak, on ``runtime.device``; stage-1 scores; seconds). The
    decoder reads the cache's taps in order (the template decoder the first two: strides 4 and
    8). ``cfg``: the search section (decoder width, repeats, aux, ``stage1``, exclude_background)."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s1 = cfg.stage1
    decoder = runtime.prepare(space.build_decoder(genotype, num_classes=num_classes, width=cfg.width,
                                                  repeats=cfg.repeats, aux=cfg.aux))
    opt = torch.optim.Adam(decoder.parameters(), lr=s1.lr)
    ema = Polyak(decoder, s1.polyak) if s1.polyak else None
    rng = np.random.default_rng(seed)
    n_batches = None if not s1.samples_per_epoch else max(1, s1.samples_per_epoch // s1.batch_size)
    for _ in range(s1.epochs):
        batches = train_cache.batches(s1.batch_size, rng=rng, drop_last=True)
        if n_batches is not None:
            batches = (b for _, b in zip(range(n_batches), batches))
        train_decoder_epoch(decoder, batches, opt, s1, ema, runtime=runtime)
    if ema is not None:
        ema.apply_to(decoder)
    exclude = (0,) if cfg.exclude_background else ()
    scores = validate_decoder(decoder, val_cache.batches(64, shuffle=False), num_classes, exclude, runtime=runtime)
    return decoder, scores, time.perf_counter() - t0


def run_stage2(decoder: nn.Module, encoder: nn.Module, train_set, val_set, cfg: SearchParams, num_classes: int,
               seed: int, *, runtime: Runtime):
    """End-to-end training of encoder + stage-1 decoder (``cfg.stage2``) on ``runtime``;
    returns (scores, seconds)."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s2 = cfg.stage2
    model = runtime.prepare(SegmentationModel(copy.deepcopy(encoder), decoder))
    model.train()
    opt_enc = torch.optim.SGD(model.encoder.parameters(), lr=s2.encoder_lr, momentum=s2.momentum,
                              weight_decay=s2.weight_decay)
    opt_dec = torch.optim.Adam(model.decoder.parameters(), lr=s2.decoder_lr)
    ema = Polyak(model, s2.polyak) if s2.polyak else None
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(train_set, batch_size=s2.batch_size, shuffle=True, generator=gen, drop_last=True,
                        pin_memory=runtime.pin_memory)
    scaler = runtime.grad_scaler()
    for _ in range(s2.epochs):
        seen = 0
        for image, mask in loader:
            with runtime.autocast():
                logits, aux = model(runtime.batch(image), return_aux=True)
                loss = stage1_loss(logits, aux, runtime.batch(mask), None, kd_weight=0.0, aux_weight=s2.aux_weight)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"stage-2 loss became {loss.item()}")
            scaled_step(loss, (opt_enc, opt_dec), scaler, model.decoder.parameters(), s2.grad_clip)
            if ema is not None:
                ema.update(model)
            seen += len(image)
            if s2.max_images and seen >= s2.max_images:
                break
    if ema is not None:
        ema.apply_to(model)
    model.eval()
    cm = ConfusionMatrix(num_classes, device=runtime.device)
    with torch.no_grad():
        for image, mask in DataLoader(val_set, batch_size=16, shuffle=False, pin_memory=runtime.pin_memory):
            with runtime.autocast():
                logits = model(runtime.batch(image))
            cm.update(upsample_to(logits, mask.shape[1:]).argmax(1), runtime.batch(mask))
    scores = cm.scores((0,) if cfg.exclude_background else ())
    return scores, time.perf_counter() - t0


def architecture_cost(genotype, cfg: SearchParams, num_classes: int, size: int = 512,
                      space: SearchSpace = CELLS) -> tuple[int, int]:
    """Inference parameters and MAdds of the architecture at its search width (with the
    encoder blocks its space reads)."""
    from ..models.encoder import MobileNetV2Encoder

    model = SegmentationModel(MobileNetV2Encoder(taps=space.encoder_taps),
                              space.build_decoder(genotype, num_classes=num_classes, width=cfg.width,
                                                  repeats=cfg.repeats))
    madds, _ = count_madds(model, size)
    return count_params(model), madds

