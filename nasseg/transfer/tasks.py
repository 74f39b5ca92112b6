"""The transfer tasks as objectives of the training engine: loss and scores.

* Pose (Simple Baselines): half the mean squared error between predicted and Gaussian target
  heatmaps, joints weighted by their visibility; scored with the flip test (the flipped
  crop's heatmaps flipped back with the left/right joints swapped, then averaged),
  arg-max decoding with the quarter-pixel shift, mapped back to the image through the
  crop's inverse affine; then PCKh (MPII) or OKS AP/AR through COCOeval (COCO).
* Depth: one output channel read as metres; reverse Huber (berHu, Laina et al. 2016:
  L1 below c, scaled L2 above, c = 0.2 x the batch's largest residual) or log-L1 (the
  channel is then log-depth), over pixels with valid ground truth only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..training.distributed import Dist
from ..training.engine import Objective
from ..training.evaluate import predict_logits, upsample_to
from .metrics import DepthMeter, coco_keypoint_eval, pckh
from .pose_geometry import decode_heatmaps, flip_back, heatmap_to_image


def _global_mean(total: torch.Tensor, count: torch.Tensor, d: Dist) -> torch.Tensor:
    """``total`` (this rank's sum) over the global ``count``, times the world size because DDP
    averages gradients over ranks: the mean over the global batch, whatever the split."""
    n = float(d.all_sum(count.detach().to(torch.float64)).clamp_min(1))
    return total * (d.world / n)


def heatmap_loss(out, aux, targets, aux_weight: float, d: Dist) -> torch.Tensor:
    target, weight = targets[0], targets[1]
    w = weight[:, :, None, None]

    def sq(pred):
        pred = upsample_to(pred, target.shape[2:])
        return 0.5 * ((pred - target) * w).pow(2).sum()

    total = sq(out)
    for a in aux:
        total = total + aux_weight * sq(a)
    return _global_mean(total, torch.tensor(target.numel(), device=target.device), d)


def predict_heatmaps(model, image: torch.Tensor, flip_pairs: Sequence[tuple[int, int]], flip: bool) -> torch.Tensor:
    """Heatmaps (fp32, whatever the autocast) of a batch of crops; with ``flip``, averaged with
    the flipped crop's heatmaps flipped back and their left/right channels swapped."""
    with torch.no_grad():
        heat = model(image).float()
        if flip:
            heat = 0.5 * (heat + flip_back(model(image.flip(3)).float(), flip_pairs))
    return heat


@dataclass
class PoseObjective(Objective):
    """Heatmap regression; ``kind`` "mpii" scores PCKh against ``gt`` (load_mpii_gt's dict),
    "coco" scores OKS AP/AR against ``gt`` (the person_keypoints JSON path)."""

    kind: str
    flip_pairs: Sequence[tuple[int, int]]
    gt: object
    batch_size: int = 32
    last_predictions: list = field(default_factory=list, repr=False)

    def loss(self, out, aux, targets, aux_weight, d):
        return heatmap_loss(out, aux, targets, aux_weight, d)

    def predict(self, model, val_set, *, runtime, flip: bool, task=None) -> tuple[np.ndarray, np.ndarray]:
        """(N,K,2) joint positions in image pixels and (N,K) heatmap maxima, in val_set order
        (the model on the runtime's device, under its autocast)."""
        was = model.training
        model.eval()
        loader = DataLoader(val_set, batch_size=self.batch_size, shuffle=False, pin_memory=runtime.pin_memory)
        tick = task("validate", len(loader)) if task else None
        coords, maxvals = [], []
        for batch in loader:
            with runtime.autocast():
                heat = predict_heatmaps(model, runtime.batch(batch[0]), self.flip_pairs, flip).cpu()
            xy, mv = decode_heatmaps(heat)
            coords.append(np.asarray(xy, np.float64))
            maxvals.append(np.asarray(mv))
            if tick:
                tick()
        model.train(was)
        metas = [val_set.meta(i) for i in range(len(val_set))]
        xy = heatmap_to_image(np.concatenate(coords), np.stack([m["center"] for m in metas]),
                              np.stack([m["scale"] for m in metas]), val_set.input_wh, val_set.stride)
        return xy, np.concatenate(maxvals)

    def evaluate(self, model, val_set, *, runtime, eval, task):
        xy, maxv = self.predict(model, val_set, runtime=runtime, flip=eval.flip, task=task)
        if self.kind == "mpii":
            return self.score_mpii(val_set, xy)
        return self.score_coco(val_set, xy, maxv)

    def score_mpii(self, val_set, xy):
        gt = self.gt
        rows = np.array([val_set.meta(i)["index"] for i in range(len(val_set))])
        r = pckh(xy, gt["pos_gt"][rows], gt["jnt_missing"][rows], gt["headboxes"][rows])
        scalars = {"pckh@0.5": r["mean@0.5"], "pckh@0.1": r["mean@0.1"]}
        return scalars, {**scalars, "parts@0.5": r["parts@0.5"], "parts@0.1": r["parts@0.1"], "people": len(rows)}

    def score_coco(self, val_set, xy, maxv, threshold: float = 0.2):
        results = []
        for i in range(len(val_set)):
            m = val_set.meta(i)
            kp = np.concatenate([xy[i], maxv[i][:, None]], 1)
            sure = maxv[i] > threshold
            score = float(maxv[i][sure].mean()) if sure.any() else 0.0  # Simple Baselines' rescoring, box score 1
            results.append({"image_id": int(m["image_id"]), "category_id": 1,
                            "keypoints": [float(v) for v in kp.reshape(-1)], "score": score})
        stats = coco_keypoint_eval(self.gt, results)
        scalars = {"coco_ap": stats["AP"], "coco_ar": stats["AR"]}
        return scalars, {**scalars, "stats": stats, "people": len(results)}


def berhu(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, d: Dist) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of berHu over valid pixels, their count); c from the global batch's largest residual."""
    r = (pred - gt).abs()[valid]
    big = r.detach().max() if r.numel() else torch.zeros((), dtype=pred.dtype, device=pred.device)
    c = (0.2 * d.all_max(big)).clamp_min(1e-6)
    loss = torch.where(r <= c, r, (r * r + c * c) / (2 * c))
    return loss.sum(), valid.sum()


@dataclass
class DepthObjective(Objective):
    """Depth regression from one channel (metres for berHu, log-metres for log-L1)."""

    loss_kind: str = "berhu"
    min_depth: float = 1e-3
    max_depth: float = 10.0
    eval_region: Optional[callable] = None  # (h, w) -> boolean mask of scored pixels, or None

    def to_depth(self, out: torch.Tensor) -> torch.Tensor:
        return out.exp() if self.loss_kind == "log_l1" else out

    def _one(self, out, gt, d):
        out = upsample_to(out, gt.shape[2:])
        valid = (gt > 0) & (gt <= self.max_depth)
        if self.loss_kind == "berhu":
            return berhu(out, gt, valid, d)
        r = (out - gt.clamp_min(self.min_depth).log()).abs()[valid]
        return r.sum(), valid.sum()

    def loss(self, out, aux, targets, aux_weight, d):
        gt = targets[0]
        total, count = self._one(out, gt, d)
        for a in aux:
            total = total + aux_weight * self._one(a, gt, d)[0]
        return _global_mean(total, count, d)

    def evaluate(self, model, val_set, *, runtime, eval, task):
        was = model.training
        model.eval()
        meter = DepthMeter(self.min_depth, self.max_depth)
        tick = task("validate", len(val_set)) if task else None
        for i in range(len(val_set)):
            image, gt = val_set[i][:2]
            with runtime.autocast():
                out = predict_logits(model, runtime.batch(image[None]), flip=eval.flip, scales=tuple(eval.scales))
            pred = self.to_depth(out)[0, 0].cpu()
            h, w = gt.shape[-2:]
            meter.update(pred, gt[0], self.eval_region(h, w) if self.eval_region else None)
            if tick:
                tick()
        model.train(was)
        m = meter.compute()
        return {k: m[k] for k in ("rmse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3")}, m
