"""Segmentation metrics from a confusion matrix accumulated on torch tensors.

Conventions (the paper's search reward and the usual VOC scores):

* void pixels (label 255, or any label outside ``[0, num_classes)``) are ignored;
* a class that appears neither in the ground truth nor in the prediction has no IoU
  (NaN) and is left out of every mean: absent classes never count as perfect;
* mean accuracy averages over classes present in the ground truth;
* frequency-weighted IoU weighs each class's IoU by its share of ground-truth pixels;
* ``exclude`` (e.g. ``(0,)`` for background) drops classes from the means; their pixels
  still count as errors for the other classes (a person predicted as background is
  still a missed person);
* the search reward is the geometric mean of mean IoU, frequency-weighted IoU and mean
  pixel accuracy (SPEC §4).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch


class ConfusionMatrix:
    """``mat[t, p]`` counts pixels of true class t predicted as p."""

    def __init__(self, num_classes: int, device: str | torch.device = "cpu"):
        self.num_classes = num_classes
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
        self._bad = torch.zeros((), dtype=torch.bool, device=device)  # a prediction out of range seen

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> "ConfusionMatrix":
        """``pred``: class indices (N,H,W) or logits (N,C,H,W); ``target``: (N,H,W) labels.
        Accumulates on the matrix's device without a host synchronisation (a prediction out of
        range is noted there and raised by :meth:`check` / :meth:`scores`)."""
        if pred.dim() == target.dim() + 1:
            pred = pred.argmax(1)
        if pred.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}")
        n = self.num_classes
        t = target.reshape(-1).to(self.mat.device, torch.int64)
        p = pred.reshape(-1).to(self.mat.device, torch.int64)
        valid = (t >= 0) & (t < n)
        self._bad |= (valid & ((p < 0) | (p >= n))).any()
        idx = torch.where(valid, t * n + p.clamp(0, n - 1), n * n)  # void and out-of-range truth: a spare bin
        flat = torch.zeros(n * n + 1, dtype=torch.int64, device=self.mat.device)
        flat.index_add_(0, idx, torch.ones_like(idx))
        self.mat += flat[:-1].view(n, n)
        return self

    def check(self) -> "ConfusionMatrix":
        if bool(self._bad):
            raise ValueError(f"predicted class indices must lie in [0, {self.num_classes})")
        return self

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        self.mat += other.mat.to(self.mat.device)
        self._bad |= other._bad.to(self.mat.device)
        return self

    def all_reduce(self, d) -> "ConfusionMatrix":
        """The matrix summed over the ranks of ``d`` (a :class:`~nasseg.training.distributed.Dist`)."""
        if d is not None and d.active:
            self.mat = d.all_sum(self.mat)
            self._bad = d.all_max(self._bad.to(torch.int64)).bool()
        return self

    def reset(self) -> None:
        self.mat.zero_()
        self._bad.zero_()

    def scores(self, exclude: Iterable[int] = ()) -> "Scores":
        return scores_from_confusion(self.check().mat, exclude)


@dataclass(frozen=True)
class Scores:
    iou: torch.Tensor  # per class, NaN where the class is absent from truth and prediction
    acc: torch.Tensor  # per class, NaN where the class is absent from the truth
    mean_iou: float
    fw_iou: float
    mean_acc: float
    pixel_acc: float
    reward: float

    def as_dict(self) -> dict:
        return {"mean_iou": self.mean_iou, "fw_iou": self.fw_iou, "mean_acc": self.mean_acc,
                "pixel_acc": self.pixel_acc, "reward": self.reward}


def _nanmean(x: torch.Tensor) -> float:
    x = x[~torch.isnan(x)]
    return float(x.mean()) if x.numel() else float("nan")


def scores_from_confusion(mat: torch.Tensor, exclude: Iterable[int] = ()) -> Scores:
    m = mat.double().cpu()
    tp = m.diag()
    gt = m.sum(1)
    pr = m.sum(0)
    union = gt + pr - tp
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(union > 0, tp / union.clamp(min=1), nan)
    acc = torch.where(gt > 0, tp / gt.clamp(min=1), nan)
    keep = torch.ones(m.shape[0], dtype=torch.bool)
    for c in exclude:
        keep[c] = False
    mean_iou = _nanmean(iou[keep])
    mean_acc = _nanmean(acc[keep])
    freq = gt[keep]
    present = (freq > 0) & ~torch.isnan(iou[keep])
    fw_iou = float((freq[present] * iou[keep][present]).sum() / freq[present].sum()) if present.any() else float("nan")
    total = gt.sum()
    pixel_acc = float(tp.sum() / total) if total > 0 else float("nan")
    return Scores(iou.float(), acc.float(), mean_iou, fw_iou, mean_acc, pixel_acc,
                  search_reward(mean_iou, fw_iou, mean_acc))


def search_reward(mean_iou: float, fw_iou: float, mean_acc: float) -> float:
    """Geometric mean of the three scores; NaN if any is NaN (nothing to score)."""
    vals = torch.tensor([mean_iou, fw_iou, mean_acc], dtype=torch.float64)
    if torch.isnan(vals).any():
        return float("nan")
    return float(vals.clamp(min=0).prod() ** (1.0 / 3.0))


def evaluate_pairs(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], num_classes: int,
                   exclude: Optional[Iterable[int]] = None) -> Scores:
    cm = ConfusionMatrix(num_classes)
    for pred, target in pairs:
        cm.update(pred, target)
    return cm.scores(exclude or ())
