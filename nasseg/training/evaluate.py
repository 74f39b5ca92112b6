"""Evaluation at full image size: logits upsampled to the label, confusion matrix, scores
(on a runtime's device, under its autocast precision)."""
from __future__ import annotations

from typing import Iterable, Optional

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..data.loader import KeyedLoader
from ..metrics import ConfusionMatrix, Scores
from ..runtime import CPU_FP32, Runtime

# What a loop runs on when it is given no runtime: the CPU in fp32 (the loops' behaviour before runtimes).


def upsample_to(logits: torch.Tensor, size) -> torch.Tensor:
    if logits.shape[2:] == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)


@torch.no_grad()
def predict_logits(model: torch.nn.Module, image: torch.Tensor, *, flip: bool = False,
                   scales: Iterable[float] = (1.0,)) -> torch.Tensor:
    """Logits at the image's size for a normalised batch (N,3,H,W); optional flip and
    multi-scale testing average the softmax-free logits (in fp32, whatever the autocast)."""
    h, w = image.shape[2:]
    total, n = 0.0, 0
    for s in scales:
        x = image if s == 1.0 else F.interpolate(image, scale_factor=s, mode="bilinear", align_corners=False)
        total = total + upsample_to(model(x).float(), (h, w))
        n += 1
        if flip:
            total = total + upsample_to(model(x.flip(3)).float(), (h, w)).flip(3)
            n += 1
    return total / n


def _collate_one(batch):
    return batch[0][0].unsqueeze(0), batch[0][1].unsqueeze(0)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: Dataset, num_classes: int, *, exclude: Iterable[int] = (),
             runtime: Optional[Runtime] = None, flip: bool = False, scales: Iterable[float] = (1.0,),
             progress: Optional[callable] = None, d=None) -> tuple[Scores, ConfusionMatrix]:
    """Score ``model`` (on the ``runtime``'s device; default CPU, fp32) on a dataset of
    ``(normalised image, mask)`` pairs of any size, one image at a time (decoded by the runtime's
    input workers), logits upsampled to the full label size (no crop), the confusion matrix
    accumulated on the device. Under ``torchrun`` (``d`` a :class:`~nasseg.training.distributed.Dist`
    of several processes) each rank scores every ``world``-th image and the matrices are summed
    over ranks: every rank returns the scores of the whole set."""
    rt = runtime or CPU_FP32
    was_training = model.training
    model.eval()
    cm = ConfusionMatrix(num_classes, device=rt.device)
    rank, world = (d.rank, d.world) if d is not None else (0, 1)
    mine = [[i] for i in range(rank, len(dataset), world)]
    loader = KeyedLoader(dataset, rt, collate_fn=_collate_one, workers=min(rt.workers, len(mine)))
    with rt.varying_shapes():  # images of any size: no cuDNN autotuning per new size
        for image, mask in loader.epoch(0, 0, mine):
            image, mask = rt.batch(image), rt.batch(mask)
            with rt.autocast():
                logits = predict_logits(model, image, flip=flip, scales=tuple(scales))
            cm.update(logits.argmax(1), mask)
            if progress:
                progress()
    cm.all_reduce(d)
    model.train(was_training)
    return cm.scores(exclude), cm
