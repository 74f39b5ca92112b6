"""A plain, seeded, resumable supervised training loop for segmentation models.

Used by ``pretrain`` and ``teacher`` (and the base of the multi-phase engine): cross-entropy
on logits upsampled to the label size (void ignored), optional auxiliary heads, encoder
and decoder with their own optimiser and learning rate, cosine decay over the epochs, a
checkpoint after every epoch that :func:`fit` resumes from, and evaluation at full image
size after every ``eval_every`` epochs.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..config import TrainRecipe
from .evaluate import evaluate, upsample_to

# The recipe keys that define the training loop: a resume checkpoint records them and is
# taken up only by a run with the same values (the data and the rest go in ``identity``).
LOOP_KEYS = ("epochs", "batch_size", "encoder_lr", "decoder_lr", "encoder_optim", "decoder_optim", "momentum",
             "weight_decay", "aux_weight", "grad_clip", "eval_every", "seed", "num_workers", "channels_last")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(kind: str, params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """``sgd`` (with momentum) or ``adam``, both with weight decay."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimiser must be 'adam' or 'sgd', got {kind!r}")


def segmentation_loss(logits, target, aux=(), aux_weight: float = 0.0) -> torch.Tensor:
    loss = F.cross_entropy(upsample_to(logits, target.shape[1:]), target, ignore_index=255)
    for a in aux:
        loss = loss + aux_weight * F.cross_entropy(upsample_to(a, target.shape[1:]), target, ignore_index=255)
    return loss


def optimizer_step(loss: torch.Tensor, optimizers, parameters, grad_clip: Optional[float], where: str) -> None:
    """One update of every optimiser on ``loss`` (gradient-norm clip when set); a non-finite
    loss stops the run with where it happened instead of spreading NaN into the weights."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss became {loss.item()} at {where}")
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    for opt in optimizers:
        opt.step()


def save_atomic(obj, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class FitResult:
    history: list = field(default_factory=list)  # one dict per epoch
    best: dict = field(default_factory=dict)
    seconds: float = 0.0


def fit(model: nn.Module, train_set: Dataset, cfg: TrainRecipe, *, num_classes: int,
        val_set: Optional[Dataset] = None, exclude: tuple = (), checkpoint: Optional[Path] = None,
        identity: Optional[dict] = None, task: Optional[Callable[[str, int], Callable[[], None]]] = None,
        log: Callable[[str], None] = print) -> FitResult:
    """Train ``model`` (which has ``.encoder`` and ``.decoder``) on ``train_set``; resumes from
    ``checkpoint`` when it exists and was written with the same loop keys (:data:`LOOP_KEYS`
    of ``cfg``) and ``identity`` (a dict naming whatever else defines the run: data, params hash)."""
    loop = {k: getattr(cfg, k) for k in LOOP_KEYS}
    seed_everything(cfg.seed)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt_enc = make_optimizer(cfg.encoder_optim, model.encoder.parameters(), cfg.encoder_lr, cfg.momentum,
                             cfg.weight_decay)
    opt_dec = make_optimizer(cfg.decoder_optim, model.decoder.parameters(), cfg.decoder_lr, cfg.momentum,
                             cfg.weight_decay)
    steps_per_epoch = len(train_set) // cfg.batch_size if len(train_set) % cfg.batch_size == 1 \
        else math.ceil(len(train_set) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    lr0 = (cfg.encoder_lr, cfg.decoder_lr)
    result, start_epoch = FitResult(), 0
    gen = torch.Generator().manual_seed(cfg.seed)
    if checkpoint is not None and Path(checkpoint).is_file():
        ck = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if ck.get("config") == loop and ck.get("identity") == (identity or {}):
            model.load_state_dict(ck["model"])
            opt_enc.load_state_dict(ck["opt_enc"])
            opt_dec.load_state_dict(ck["opt_dec"])
            torch.set_rng_state(ck["rng"])
            gen.set_state(ck["gen"])
            result = FitResult(ck["history"], ck["best"], ck["seconds"])
            start_epoch = ck["epoch"]
            log(f"resumed from {checkpoint} after epoch {start_epoch}")
    # a last batch of one image would break BatchNorm in training mode: drop it (only then)
    drop_last = len(train_set) % cfg.batch_size == 1
    loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=drop_last, generator=gen,
                        num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0)
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        model.train()
        tick = task(f"epoch {epoch + 1}/{cfg.epochs}", steps_per_epoch) if task else None
        losses = []
        for step, (image, target) in enumerate(loader):
            it = epoch * steps_per_epoch + step
            scale = 0.5 * (1 + math.cos(math.pi * it / total))
            for opt, base in ((opt_enc, lr0[0]), (opt_dec, lr0[1])):
                for g in opt.param_groups:
                    g["lr"] = base * scale
            if cfg.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            logits, aux = model(image, return_aux=True)
            loss = segmentation_loss(logits, target, aux, cfg.aux_weight)
            optimizer_step(loss, (opt_enc, opt_dec), model.parameters(), cfg.grad_clip,
                           f"epoch {epoch + 1}, step {step + 1}")
            losses.append(loss.item())
            if tick:
                tick()
        record = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "seconds": time.perf_counter() - t0}
        if val_set is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            scores, _ = evaluate(model, val_set, num_classes, exclude=exclude,
                                 progress=task("validate", len(val_set)) if task else None)
            record.update({k: float(v) for k, v in scores.as_dict().items()})
            if not result.best or record["mean_iou"] > result.best.get("mean_iou", -1):
                result.best = dict(record)
        result.history.append(record)
        result.seconds += record["seconds"]
        log(json.dumps(record))
        if checkpoint is not None:
            save_atomic({"config": loop, "identity": identity or {}, "epoch": epoch + 1, "model": model.state_dict(),
                         "opt_enc": opt_enc.state_dict(), "opt_dec": opt_dec.state_dict(),
                         "rng": torch.get_rng_state(), "gen": gen.get_state(), "history": result.history,
                         "best": result.best, "seconds": result.seconds}, Path(checkpoint))
    return result
