"""Metrics of the transfer tasks (paper Tables 2 and 3).

* **PCKh** (MPII): a joint is correct when its distance to the ground truth is at most
  ``threshold`` x the head size, the head size being 0.6 x the diagonal of the annotated
  head box (the MPII benchmark's ``SC_BIAS``). Only joints present in the ground truth count.
  Per joint, per body part (the mean of the left and right joint) and ``mean``: the mean over
  joints weighted by how many of each are present, pelvis and thorax left out (the
  convention of the MPII evaluation code that Simple Baselines and HRNet report).
* **OKS AP / AR** (COCO): pycocotools' COCOeval with ``iouType="keypoints"``.
* **Depth** (NYUv2): RMSE (lin), RMSE (log), abs rel, sqr rel, δ < 1.25^k over the pixels with
  valid ground truth (depth > 0 and <= max depth); predictions clamped to [min, max] depth.
  Each image's figures are computed over its valid pixels, then averaged over images
  (Eigen et al.'s protocol).
"""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..errors import NassegError

SC_BIAS = 0.6
MPII_PARTS = {"head": (9,), "shoulder": (12, 13), "elbow": (11, 14), "wrist": (10, 15), "hip": (2, 3),
              "knee": (1, 4), "ankle": (0, 5)}
MPII_NOT_IN_MEAN = (6, 7)  # pelvis, thorax


def head_sizes(headboxes: np.ndarray) -> np.ndarray:
    """(N,2,2) head boxes [[x1,y1],[x2,y2]] -> (N,) head sizes (0.6 x the box diagonal)."""
    hb = np.asarray(headboxes, dtype=np.float64)
    return np.linalg.norm(hb[:, 1] - hb[:, 0], axis=1) * SC_BIAS


def pckh(pred: np.ndarray, gt: np.ndarray, missing: np.ndarray, headboxes: np.ndarray,
         thresholds: Sequence[float] = (0.5, 0.1)) -> dict:
    """PCKh in percent. ``pred``, ``gt``: (N,K,2) pixels; ``missing``: (N,K) True where the
    joint is not annotated; ``headboxes``: (N,2,2). Returns ``{"mean@t": ..., "joints@t": [K],
    "parts@t": {part: value}, "count": [K]}`` for each threshold ``t``."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    missing = np.asarray(missing, bool)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 2 or missing.shape != pred.shape[:2]:
        raise ValueError(f"pckh: shapes differ: pred {pred.shape}, gt {gt.shape}, missing {missing.shape}")
    size = head_sizes(headboxes)
    if len(size) != len(gt):
        raise ValueError(f"pckh: {len(size)} head boxes for {len(gt)} people")
    if np.any(size <= 0):
        raise ValueError(f"pckh: {int((size <= 0).sum())} head box(es) of zero size; each person needs a head box")
    visible = ~missing
    err = np.linalg.norm(pred - gt, axis=2) / size[:, None]
    count = visible.sum(0)
    out: dict = {"count": count.tolist()}
    in_mean = np.ones(gt.shape[1], bool)
    if gt.shape[1] == 16:
        in_mean[list(MPII_NOT_IN_MEAN)] = False
    weights = np.where(in_mean, count, 0).astype(np.float64)
    for t in thresholds:
        hit = ((err <= t) & visible).sum(0)
        per_joint = np.where(count > 0, 100.0 * hit / np.maximum(count, 1), np.nan)
        out[f"joints@{t}"] = per_joint.tolist()
        out[f"mean@{t}"] = float(np.nansum(per_joint * weights) / max(weights.sum(), 1))
        if gt.shape[1] == 16:
            out[f"parts@{t}"] = {k: float(np.nanmean(per_joint[list(v)])) for k, v in MPII_PARTS.items()}
    return out


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


COCO_STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def coco_keypoint_eval(ground_truth: Path | dict, results: list[dict]) -> dict:
    """OKS AP/AR with pycocotools. ``ground_truth``: a person_keypoints JSON (path or dict);
    ``results``: ``[{"image_id", "category_id": 1, "keypoints": [x, y, score] x K, "score"}]``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        raise NassegError("coco_keypoint_eval: no predictions to score")
    gt_dict = json.loads(Path(ground_truth).read_text()) if not isinstance(ground_truth, dict) else ground_truth
    with _quiet():
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.imgIds = sorted({r["image_id"] for r in results})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(COCO_STATS, ev.stats)}


DEPTH_KEYS = ("rmse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3")


class DepthMeter:
    """Accumulates the depth metrics image by image (per-image figures, averaged)."""

    def __init__(self, min_depth: float = 1e-3, max_depth: float = 10.0):
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        self.rows: list[list[float]] = []
        self.skipped = 0  # images without a valid pixel

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray,
               region: np.ndarray | torch.Tensor | None = None) -> None:
        """One image: ``pred`` and ``gt`` of the same shape (metres; gt 0 = invalid);
        ``region``: optional boolean mask of the pixels to score (e.g. the Eigen crop)."""
        p = torch.as_tensor(pred, dtype=torch.float64).flatten()
        g = torch.as_tensor(gt, dtype=torch.float64).flatten()
        if p.shape != g.shape:
            raise ValueError(f"depth metrics: prediction {tuple(torch.as_tensor(pred).shape)} and ground truth "
                             f"{tuple(torch.as_tensor(gt).shape)} differ in size")
        valid = (g > 0) & (g <= self.max_depth) & torch.isfinite(g)
        if region is not None:
            valid &= torch.as_tensor(region, dtype=torch.bool).flatten()
        if not bool(valid.any()):
            self.skipped += 1
            return
        g, p = g[valid], p[valid].clamp(self.min_depth, self.max_depth)
        ratio = torch.maximum(g / p, p / g)
        diff = g - p
        self.rows.append([float(diff.pow(2).mean().sqrt()), float((g.log() - p.log()).pow(2).mean().sqrt()),
                          float((diff.abs() / g).mean()), float((diff.pow(2) / g).mean()),
                          *(float((ratio < 1.25 ** k).double().mean()) for k in (1, 2, 3))])

    def compute(self) -> dict:
        if not self.rows:
            raise NassegError("depth metrics: no image with valid ground-truth depth to score")
        mean = np.mean(np.asarray(self.rows), axis=0)
        return {**{k: float(v) for k, v in zip(DEPTH_KEYS, mean)}, "images": len(self.rows),
                "skipped": self.skipped}


def depth_metrics(preds: Iterable, gts: Iterable, **kw) -> dict:
    m = DepthMeter(**kw)
    for p, g in zip(preds, gts):
        m.update(p, g)
    return m.compute()
