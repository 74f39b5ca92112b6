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
from typing import Iterable, Optional

import torch
import torch.nn as nn

from ..config import Stage1Params
from ..metrics import ConfusionMatrix, Scores
from ..runtime import Runtime
from .evaluate import upsample_to
from .loop import EpochStats, Updater, on_device, run_epoch
from .losses import stage1_loss


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


def train_decoder_epoch(decoder: nn.Module, batches: Iterable[dict], optimizer: torch.optim.Optimizer,
                        cfg: Stage1Params, ema: Optional[Polyak] = None, tick=None, *, runtime: Runtime,
                        updater: Optional[Updater] = None) -> EpochStats:
    """One pass over ``batches`` (dicts with tap0..3, labels and optionally teacher) on the step
    engine (:func:`~nasseg.training.loop.run_epoch`); ``cfg`` gives the loss weights and the
    gradient clip. Pass the same ``updater`` to every epoch of a run (fp16's loss scale goes on
    from one epoch to the next); without one the epoch makes its own. ``decoder`` is on ``runtime.device``; the loss (its mean over samples in
    ``.loss``) is summed there and read once."""
    decoder.train()

    def loss_fn(b):
        logits, aux = decoder([b[f"tap{i}"] for i in range(4)], return_aux=True)
        return stage1_loss(logits, aux, b["labels"], b.get("teacher"), cfg.kd_weight, cfg.aux_weight), len(b["labels"])

    updater = updater or Updater((optimizer,), decoder.parameters(), cfg.grad_clip, runtime, 1)
    return run_epoch(batches, loss_fn, updater,
                     runtime, where="stage 1", after_step=(lambda: ema.update(decoder)) if ema is not None else None,
                     tick=tick)


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
