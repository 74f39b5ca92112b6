"""Stage 1 of the inner training (SPEC §5): the decoder alone, from cached encoder taps.

Loss = cross-entropy + ``kd_weight`` x L2(logits, teacher logits) + ``aux_weight`` x the
auxiliary heads' cross-entropy; Adam, gradient-norm clipping, and Polyak averaging of
the parameters (applied before validation). BN statistics are updated as usual.

Every loop here runs on its :class:`~nasseg.runtime.Runtime`: model and batches on its device,
forward pass and loss under its autocast, backward through its GradScaler (gradients unscaled
before clipping); in fp32 the scaler and autocast are no-ops, so CPU fp32 is today's arithmetic.
"""
from __future__ import annotations

import copy
from typing import Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Stage1Params
from ..metrics import ConfusionMatrix, Scores
from ..runtime import Runtime
from .evaluate import upsample_to


class Polyak:
    """Exponential moving average of parameters (buffers, e.g. BN statistics, are copied)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)
        for s, b in zip(self.shadow.buffers(), model.buffers()):
            s.copy_(b)

    def apply_to(self, model: nn.Module) -> None:
        model.load_state_dict(self.shadow.state_dict())


def stage1_loss(logits, aux, labels, teacher: Optional[torch.Tensor], kd_weight: float,
                aux_weight: float) -> torch.Tensor:
    loss = F.cross_entropy(upsample_to(logits, labels.shape[1:]), labels, ignore_index=255)
    if teacher is not None and kd_weight > 0:
        loss = loss + kd_weight * F.mse_loss(upsample_to(logits, teacher.shape[2:]), teacher)
    for a in aux:
        loss = loss + aux_weight * F.cross_entropy(upsample_to(a, labels.shape[1:]), labels, ignore_index=255)
    return loss


def on_device(batch: dict, runtime: Runtime) -> dict:
    """A cached batch's tensors (taps, labels, teacher) on the runtime's device."""
    return {k: runtime.batch(v) for k, v in batch.items()}


def scaled_step(loss: torch.Tensor, optimizers: Sequence[torch.optim.Optimizer], scaler, clip_params,
                grad_clip: Optional[float]) -> None:
    """zero_grad, backward through ``scaler`` (fp16's loss scaling; a no-op otherwise), the
    gradient-norm clip of ``clip_params`` on unscaled gradients, one step of every optimiser."""
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip:
        for opt in optimizers:
            scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(clip_params, grad_clip)
    for opt in optimizers:
        scaler.step(opt)
    scaler.update()


def train_decoder_epoch(decoder: nn.Module, batches: Iterable[dict], optimizer: torch.optim.Optimizer,
                        cfg: Stage1Params, ema: Optional[Polyak] = None, tick=None, *, runtime: Runtime) -> float:
    """One pass over ``batches`` (dicts with tap0..3, labels and optionally teacher); ``cfg``
    gives the loss weights and the gradient clip. ``decoder`` is on ``runtime.device``; the
    mean loss is accumulated there and read once."""
    decoder.train()
    scaler = runtime.grad_scaler()
    total, count = torch.zeros((), dtype=torch.float64, device=runtime.device), 0
    for b in batches:
        b = on_device(b, runtime)
        with runtime.autocast():
            logits, aux = decoder([b[f"tap{i}"] for i in range(4)], return_aux=True)
            loss = stage1_loss(logits, aux, b["labels"], b.get("teacher"), cfg.kd_weight, cfg.aux_weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"stage-1 loss became {loss.item()}")
        scaled_step(loss, (optimizer,), scaler, decoder.parameters(), cfg.grad_clip)
        if ema is not None:
            ema.update(decoder)
        total += loss.detach().double() * len(b["labels"])
        count += len(b["labels"])
        if tick:
            tick()
    return float(total) / max(1, count)


@torch.no_grad()
def validate_decoder(decoder: nn.Module, batches: Iterable[dict], num_classes: int,
                     exclude: tuple = (0,), *, runtime: Runtime) -> Scores:
    """Scores on cached validation batches, logits upsampled to the (full-resolution) labels;
    the confusion matrix accumulates on the device."""
    was = decoder.training
    decoder.eval()
    cm = ConfusionMatrix(num_classes, device=runtime.device)
    for b in batches:
        b = on_device(b, runtime)
        with runtime.autocast():
            logits = decoder([b[f"tap{i}"] for i in range(4)])
        cm.update(upsample_to(logits, b["labels"].shape[1:]).argmax(1), b["labels"])
    decoder.train(was)
    return cm.scores(exclude)
