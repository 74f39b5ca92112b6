"""Pixel-wise losses computed without keeping full-resolution logits.

A head's logits (at stride 4, 8, ...) are upsampled to the label size and scored by
cross-entropy (void = 255 ignored). Done naively, autograd keeps the upsampled fp32 logits of
every head (main and auxiliary) until the backward pass: at 512², batch 16 and 21 classes that
is 350 MB per head, several heads at once. Here each head's upsample + cross-entropy runs under
activation checkpointing: its forward keeps only the low-resolution logits, and the backward
recomputes one head's full-resolution logits at a time. The values and gradients are the same
operations in the same order (bit-identical on the CPU).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from .evaluate import upsample_to


def _ce(logits, target, reduction):
    return F.cross_entropy(upsample_to(logits, target.shape[-2:]), target, ignore_index=255, reduction=reduction)


def pixel_ce(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of ``logits`` (N,C,h,w) upsampled to ``target`` (N,H,W), void ignored;
    checkpointed when gradients flow and the logits are smaller than the target."""
    if torch.is_grad_enabled() and logits.requires_grad and logits.shape[2:] != target.shape[-2:]:
        return checkpoint(_ce, logits, target, reduction, use_reentrant=False)
    return _ce(logits, target, reduction)


def segmentation_loss(logits, target, aux=(), aux_weight: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of the main head plus ``aux_weight`` x each auxiliary head's."""
    loss = pixel_ce(logits, target)
    for a in aux:
        loss = loss + aux_weight * pixel_ce(a, target)
    return loss


def stage1_loss(logits, aux, labels, teacher, kd_weight: float, aux_weight: float) -> torch.Tensor:
    """Stage 1 of the search (SPEC §5): cross-entropy + ``kd_weight`` x L2 to the teacher's
    logits (at the teacher's size) + ``aux_weight`` x the auxiliary heads' cross-entropy."""
    loss = pixel_ce(logits, labels)
    if teacher is not None and kd_weight > 0:
        loss = loss + kd_weight * F.mse_loss(upsample_to(logits, teacher.shape[2:]), teacher)
    for a in aux:
        loss = loss + aux_weight * pixel_ce(a, labels)
    return loss


def global_batch_loss(logits, aux, target, aux_weight: float, d) -> torch.Tensor:
    """Cross-entropy (void ignored) of the main and aux outputs, summed over this rank's pixels
    and divided by the global batch's count of labelled pixels (times the world size, as DDP
    averages gradients): the mean over the global batch, whatever the split. The count is
    all-reduced on the device: no host synchronisation."""
    valid = (target != 255).sum().to(torch.float64)
    total = d.all_sum(valid).clamp_min(1)
    loss = pixel_ce(logits, target, "sum")
    for a in aux:
        loss = loss + aux_weight * pixel_ce(a, target, "sum")
    return loss * (d.world / total).to(loss.dtype)


__all__ = ["global_batch_loss", "pixel_ce", "segmentation_loss", "stage1_loss"]
