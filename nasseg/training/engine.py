"""The multi-phase training engine of SPEC 6 (ablation, correlation and full training).

A schedule is a list of phases (datasets, epochs, aux-head weight). Learning rates are
constant within an epoch; they are halved (or multiplied by ``lr_decay``) after every phase (``lr_halving``) and, with
``freeze_bn_halfway``, halved once more halfway through the last phase, where BatchNorm
statistics freeze (BN layers run in eval mode) and the aux weight becomes
``frozen_aux_weight``. :func:`plan` spells out every epoch, so the arithmetic is testable.

Reproducibility is by construction rather than by RNG state: the sample order of an epoch
comes from ``(seed, epoch)`` and each sample's augmentation from ``(seed, epoch, index)``.
So a run resumed from any epoch checkpoint, and a run split over N processes by
``torchrun`` (each rank takes every N-th sample of each global batch, BN statistics and
the loss normaliser are global), give the weights of one uninterrupted process. A process
killed in the middle of an epoch resumes from the checkpoint of the epoch before and trains
that epoch again from its first batch (nothing in a step draws from a global RNG), so it
ends with the weights of the run that was never killed, provided the model was built under
the same seed (the callers build under :func:`~nasseg.seeding.seeded`).

The model, batches and losses live on the process's device (the runtime's, or under
``torchrun`` its rank's GPU) with the forward pass and the loss under the runtime's autocast
precision; with ``runtime.accumulate`` = k an optimiser step takes k batches of
``batch_size``. Checkpoints hold CPU tensors.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import Dataset

from ..config import ScheduleParams, identity_dump
from ..errors import NassegError
from ..runtime import CPU_FP32, Runtime, to_cpu
from ..data.loader import KeyedLoader, batches_of, epoch_order, load_sample
from .distributed import Dist, convert_batchnorm, revert_batchnorm
from .evaluate import evaluate
from .fit import cpu_state, make_optimizer, runtime_identity, save_atomic, seed_everything
from .losses import global_batch_loss
from .loop import Updater, run_epoch


@dataclass(frozen=True)
class EpochPlan:
    index: int  # 0-based over the whole schedule
    phase: int  # 0-based
    epoch_in_phase: int  # 0-based
    sets: str
    images: Optional[int]  # images per epoch (None: the whole set)
    encoder_lr: float
    decoder_lr: float
    aux_weight: float
    freeze_bn: bool


def plan(s: ScheduleParams) -> list[EpochPlan]:
    """Every epoch of the schedule with its learning rates, aux weight and BN mode."""
    out = []
    last = len(s.phases) - 1
    for k, ph in enumerate(s.phases):
        factor = s.lr_decay ** k if s.lr_halving else 1.0
        freeze_from = (ph.epochs + 1) // 2 if (s.freeze_bn_halfway and k == last) else None
        for e in range(ph.epochs):
            frozen = freeze_from is not None and e >= freeze_from
            f = factor * (0.5 if frozen else 1.0)
            aux = s.frozen_aux_weight if (frozen and s.frozen_aux_weight is not None) else ph.aux_weight
            out.append(EpochPlan(len(out), k, e, ph.sets, ph.images_per_epoch, s.encoder_lr * f, s.decoder_lr * f,
                                 aux, frozen))
    return out


def batch_loss(logits, aux, target, aux_weight: float, d: Dist) -> torch.Tensor:
    """The segmentation loss of a global batch (:func:`~nasseg.training.losses.global_batch_loss`)."""
    return global_batch_loss(logits, aux, target, aux_weight, d)


def set_bn_frozen(model: nn.Module, frozen: bool) -> None:
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.train(not frozen)


@dataclass
class TrainResult:
    history: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from: int = 0


# Keys added to ScheduleParams after the engine's runs were recorded (before params_sha1's
# cards, which hash them): hashed here only when set away from their default, so the
# identities of earlier runs (and their reuse) stay valid.
_LATER_KEYS = {"lr_decay": 0.5}


def schedule_signature(s: ScheduleParams) -> str:
    """The schedule's part of a run identity."""
    dump = identity_dump(s)
    for k, default in _LATER_KEYS.items():
        if dump.get(k) == default:
            dump.pop(k)
    return hashlib.sha1(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]


class Objective:
    """What the engine optimises and how it scores: ``loss(out, aux, targets, aux_weight, d)``
    (targets: the sample's fields after the image, batched) and ``evaluate(model, val_set,
    runtime, eval, task) -> (scalars for the history, the final record)`` (the model on the
    runtime's device). A ``sharded`` objective's ``evaluate`` also takes ``d`` and runs on every
    rank, each scoring its share of the set; the others run on the main process only."""

    sharded = False

    def loss(self, out, aux, targets, aux_weight: float, d: Dist) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, model, val_set, *, runtime: Runtime, eval, task) -> tuple[dict, dict]:
        raise NotImplementedError


@dataclass
class SegmentationObjective(Objective):
    """Cross-entropy with void ignored; mIoU and friends at full size."""

    num_classes: int
    sharded = True

    def loss(self, out, aux, targets, aux_weight, d):
        return batch_loss(out, aux, targets[0], aux_weight, d)

    def evaluate(self, model, val_set, *, runtime, eval, task, d: Optional[Dist] = None):
        scores, _ = evaluate(model, val_set, self.num_classes, runtime=runtime, flip=eval.flip, d=d,
                             scales=tuple(eval.scales), progress=task("validate", len(val_set)) if task else None)
        scalars = {k: float(v) for k, v in scores.as_dict().items() if k != "reward"}
        final = {**{k: scalars[k] for k in ("mean_iou", "fw_iou", "mean_acc", "pixel_acc")},
                 "iou": [None if math.isnan(v) else float(v) for v in scores.iou.tolist()]}
        return scalars, final


def train_schedule(model: nn.Module, schedule: ScheduleParams, open_set: Callable[[str], Dataset], *,
                   num_classes: Optional[int] = None, objective: Optional[Objective] = None,
                   val_set: Optional[Dataset] = None, checkpoint: Optional[Path] = None,
                   identity: Optional[dict] = None, d: Optional[Dist] = None,
                   task: Optional[Callable[[str, int], Callable[[], None]]] = None,
                   log: Callable[[str], None] = print, on_epoch_end: Optional[Callable[[int], None]] = None,
                   eval_every_phase: bool = False, runtime: Optional[Runtime] = None) -> TrainResult:
    """Train ``model`` (``.encoder`` + ``.decoder``, ``forward(x, return_aux=True)``) through the
    schedule; ``open_set(name)`` gives a training dataset of equal-size crops. Checkpoints
    after every epoch to ``checkpoint`` and resumes from it when it belongs to the same run
    (same schedule and ``identity``). Scores ``val_set`` at full size at the end (and after
    each phase with ``eval_every_phase``). Returns the history and final scores.
    ``objective`` sets the loss and the scores (default: segmentation with ``num_classes``).
    ``runtime`` sets the precision and accumulation (default: fp32, one batch per step) and,
    without ``d``, the device; the trained model stays on the device (the final scores on
    every rank)."""
    d = d or Dist(device=(runtime or CPU_FP32).device)
    rt = replace(runtime or CPU_FP32, device=d.device)
    if objective is None:
        if num_classes is None:
            raise ValueError("train_schedule needs num_classes (segmentation) or an objective")
        objective = SegmentationObjective(num_classes)
    s = schedule
    epochs = plan(s)
    if s.batch_size % d.world:
        raise NassegError(f"batch_size {s.batch_size} does not split over {d.world} processes; "
                          "pick a multiple of the process count (nproc_per_node x nodes).")
    ident = {"schedule": schedule_signature(s), **runtime_identity(rt), **(identity or {})}
    seed_everything(s.seed)
    model = rt.prepare(convert_batchnorm(model, d))
    core = model
    opts = (make_optimizer(s.encoder_optim, core.encoder.parameters(), s.encoder_lr, s.momentum, s.weight_decay),
            make_optimizer(s.decoder_optim, core.decoder.parameters(), s.decoder_lr, s.momentum, s.weight_decay))
    # one updater for the run: fp16's loss scale carries over from epoch to epoch (and, in the
    # checkpoint, over a resume) instead of starting again at 2**16 every epoch
    updater = Updater(opts, core.parameters(), s.grad_clip, rt)
    result = _resume(core, opts, updater, checkpoint, ident, len(epochs), d, log)
    if d.active:
        # find_unused_parameters: a genotype may leave a layer of the encoder or decoder unused
        model = nn.parallel.DistributedDataParallel(core, device_ids=[d.device.index] if d.device.type == "cuda"
                                                    else None, find_unused_parameters=True)
    sets: dict[str, KeyedLoader] = {}
    for ep in epochs[result.resumed_from:]:
        if ep.sets not in sets:
            sets[ep.sets] = KeyedLoader(open_set(ep.sets), rt)
        rec = _train_epoch(model, opts, updater, s, ep, sets[ep.sets], objective, d, rt, task)
        phase_end = ep.epoch_in_phase + 1 == s.phases[ep.phase].epochs
        last = ep.index + 1 == len(epochs)
        if val_set is not None and (last or (eval_every_phase and phase_end)):
            if objective.sharded or d.main:  # sharded: every rank scores its share
                scalars, final = objective.evaluate(core, val_set, runtime=rt, eval=s.eval,
                                                    task=task if d.main else None,
                                                    **({"d": d} if objective.sharded else {}))
                rec.update(scalars)
                if last:
                    result.final = final
            d.barrier()
        result.history.append(rec)
        result.seconds += rec["seconds"]
        if d.main:
            log(json.dumps(rec))
            if checkpoint is not None:
                save_atomic({"identity": ident, "epoch": ep.index + 1, "model": cpu_state(core),
                             "opt_enc": to_cpu(opts[0].state_dict()), "opt_dec": to_cpu(opts[1].state_dict()),
                             "history": result.history, "final": result.final, "seconds": result.seconds,
                             **({"scaler": updater.scaler.state_dict()} if updater.scaler.is_enabled() else {})},
                            Path(checkpoint))
        d.barrier()
        if on_epoch_end:
            on_epoch_end(ep.index + 1)
    if d.active:
        revert_batchnorm(core)
        if val_set is not None:
            result.final = d.from_main(result.final)
    core.eval()
    return result


def _resume(core: nn.Module, opts, updater: Updater, checkpoint: Optional[Path], ident: dict, n_epochs: int,
            d: Dist, log) -> TrainResult:
    """The run so far from ``checkpoint`` when it was written by the same run (``ident``), the
    weights, optimiser states and fp16 loss scale loaded; otherwise a fresh result."""
    if checkpoint is None or not Path(checkpoint).is_file():
        return TrainResult()
    ck = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if ck.get("identity") != ident:
        if d.main:
            log(f"{checkpoint}: written by another run (schedule or inputs differ); starting afresh")
        return TrainResult()
    core.load_state_dict(ck["model"])
    opts[0].load_state_dict(ck["opt_enc"])
    opts[1].load_state_dict(ck["opt_dec"])
    if ck.get("scaler"):  # fp16 (same identity: same precision); absent in other precisions
        updater.scaler.load_state_dict(ck["scaler"])
    if d.main:
        log(f"resumed from {checkpoint} after epoch {ck['epoch']}/{n_epochs}")
    return TrainResult(ck["history"], ck.get("final", {}), ck["seconds"], ck["epoch"])


def _train_epoch(model: nn.Module, opts, updater: Updater, s: ScheduleParams, ep: EpochPlan, data: KeyedLoader,
                 objective: Objective, d: Dist, rt: Runtime, task) -> dict:
    """One epoch of the plan (its learning rates, BN mode, aux weight), ``rt.accumulate``
    batches per optimiser step; returns its history record (with the share of time spent
    waiting for input)."""
    order = epoch_order(len(data), s.seed, ep.index, ep.images)
    acc = rt.accumulate
    steps = len(order) // (s.batch_size * acc)
    if steps == 0:
        raise NassegError(f"phase {ep.phase + 1} ({ep.sets}): {len(order)} image(s) per epoch is less than one "
                          f"batch of {s.batch_size}" + (f" x {acc} accumulated" if acc > 1 else "")
                          + "; lower schedule.batch_size (or runtime.accumulate) or raise images_per_epoch.")
    for opt, lr in zip(opts, (ep.encoder_lr, ep.decoder_lr)):
        for g in opt.param_groups:
            g["lr"] = lr
    model.train()
    set_bn_frozen(model, ep.freeze_bn)
    tick = task(f"phase {ep.phase + 1} epoch {ep.epoch_in_phase + 1}/{s.phases[ep.phase].epochs}", steps) \
        if (task and d.main) else None
    batches = batches_of(order, s.batch_size, drop_last=True, rank=d.rank, world=d.world, limit=steps * acc)

    def loss_fn(batch):
        image, *targets = batch
        out, aux = model(image, return_aux=True)
        return objective.loss(out, aux, targets, ep.aux_weight, d), 1

    stats = run_epoch(data.epoch(s.seed, ep.index, batches), loss_fn, updater,
                      rt, where=f"phase {ep.phase + 1}, epoch {ep.epoch_in_phase + 1}", tick=tick,
                      n_batches=len(batches), no_sync=model.no_sync if d.active else None,
                      reduce=lambda t: d.all_sum(t) / d.world)
    return {"epoch": ep.index + 1, "phase": ep.phase + 1, "sets": ep.sets, "encoder_lr": ep.encoder_lr,
            "decoder_lr": ep.decoder_lr, "aux_weight": ep.aux_weight, "bn_frozen": ep.freeze_bn,
            "images": steps * s.batch_size * acc, "train_loss": stats.loss, "seconds": round(stats.seconds, 2),
            "data_wait": round(stats.data_share, 4)}


__all__ = ["EpochPlan", "plan", "train_schedule", "TrainResult", "batch_loss", "Objective", "SegmentationObjective", "epoch_order", "load_sample",
           "set_bn_frozen", "schedule_signature"]
