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

from ..benchmark import count_madds
from ..config import SearchParams, TerminationParams
from ..data.loader import KeyedLoader, batches_of, epoch_order
from ..metrics import ConfusionMatrix
from ..models.zoo import SegmentationModel, count_params
from ..runtime import Runtime
from ..spaces import CELLS, SearchSpace
from ..training.evaluate import upsample_to
from ..training.fit import seed_everything
from ..training.losses import stage1_loss
from ..training.loop import Updater, run_epoch
from ..training.stage1 import Polyak, train_decoder_epoch, validate_decoder


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
    """Returns (decoder after Polyak, on ``runtime.device``; stage-1 scores; seconds; seconds of
    them spent waiting for input). The
    decoder reads the cache's taps in order (the template decoder the first two: strides 4 and
    8). ``cfg``: the search section (decoder width, repeats, aux, ``stage1``, exclude_background)."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s1 = cfg.stage1
    decoder = runtime.prepare(space.build_decoder(genotype, num_classes=num_classes, width=cfg.width,
                                                  repeats=cfg.repeats, aux=cfg.aux))
    opt = torch.optim.Adam(decoder.parameters(), lr=s1.lr)
    ema = Polyak(decoder, s1.polyak) if s1.polyak else None
    updater = Updater((opt,), decoder.parameters(), s1.grad_clip, runtime, 1)
    rng = np.random.default_rng(seed)
    n_batches = None if not s1.samples_per_epoch else max(1, s1.samples_per_epoch // s1.batch_size)
    wait = 0.0
    for _ in range(s1.epochs):
        batches = train_cache.batches(s1.batch_size, rng=rng, drop_last=True)
        if n_batches is not None:
            batches = (b for _, b in zip(range(n_batches), batches))
        wait += train_decoder_epoch(decoder, batches, opt, s1, ema, runtime=runtime, updater=updater).data_seconds
    if ema is not None:
        ema.apply_to(decoder)
    exclude = (0,) if cfg.exclude_background else ()
    scores = validate_decoder(decoder, val_cache.batches(64, shuffle=False), num_classes, exclude, runtime=runtime)
    return decoder, scores, time.perf_counter() - t0, wait


def run_stage2(decoder: nn.Module, encoder: nn.Module, train_set, val_set, cfg: SearchParams, num_classes: int,
               seed: int, *, runtime: Runtime):
    """End-to-end training of encoder + stage-1 decoder (``cfg.stage2``) on ``runtime``;
    returns (scores, seconds, seconds of them spent waiting for training input). ``train_set`` / ``val_set``: datasets or (to keep their input
    workers across architectures) :class:`~nasseg.data.loader.KeyedLoader` s over them. The
    sample order of an epoch comes from ``(seed, epoch)``, each sample's augmentation from
    ``(seed, epoch, index)``."""
    seed_everything(seed)
    t0 = time.perf_counter()
    s2 = cfg.stage2
    train = train_set if isinstance(train_set, KeyedLoader) else KeyedLoader(train_set, runtime)
    val = val_set if isinstance(val_set, KeyedLoader) else KeyedLoader(val_set, runtime)
    model = runtime.prepare(SegmentationModel(copy.deepcopy(encoder), decoder))
    model.train()
    opt_enc = torch.optim.SGD(model.encoder.parameters(), lr=s2.encoder_lr, momentum=s2.momentum,
                              weight_decay=s2.weight_decay)
    opt_dec = torch.optim.Adam(model.decoder.parameters(), lr=s2.decoder_lr)
    ema = Polyak(model, s2.polyak) if s2.polyak else None
    updater = Updater((opt_enc, opt_dec), model.decoder.parameters(), s2.grad_clip, runtime, 1)
    limit = -(-s2.max_images // s2.batch_size) if s2.max_images else None

    def loss_fn(batch):
        image, mask = batch
        logits, aux = model(image, return_aux=True)
        return stage1_loss(logits, aux, mask, None, kd_weight=0.0, aux_weight=s2.aux_weight), 1

    wait = 0.0
    for epoch in range(s2.epochs):
        batches = batches_of(epoch_order(len(train), seed, epoch), s2.batch_size, drop_last=True, limit=limit)
        wait += run_epoch(train.epoch(seed, epoch, batches), loss_fn, updater, runtime, where="stage 2",
                          after_step=(lambda: ema.update(model)) if ema is not None else None).data_seconds
    if ema is not None:
        ema.apply_to(model)
    model.eval()
    cm = ConfusionMatrix(num_classes, device=runtime.device)
    with torch.no_grad():
        for image, mask in val.epoch(seed, 0, batches_of(range(len(val)), 16, drop_last=False)):
            with runtime.autocast():
                logits = model(runtime.batch(image))
            cm.update(upsample_to(logits, mask.shape[1:]).argmax(1), runtime.batch(mask))
    scores = cm.scores((0,) if cfg.exclude_background else ())
    return scores, time.perf_counter() - t0, wait


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

