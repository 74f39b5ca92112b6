"""A plain, seeded, resumable supervised training loop for segmentation models.

Used by ``pretrain`` and ``teacher`` (and the base of the multi-phase engine): cross-entropy
on logits upsampled to the label size (void ignored), optional auxiliary heads, encoder
and decoder with their own optimiser and learning rate, cosine decay over the epochs, a
checkpoint after every epoch that :func:`fit` resumes from, and evaluation at full image
size after every ``eval_every`` epochs. The model, batches and loss live on the
:class:`~nasseg.runtime.Runtime`'s device under its autocast precision; checkpoints hold CPU tensors.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from ..config import TrainRecipe
from ..data.loader import KeyedLoader, batches_of, epoch_order
from ..runtime import CPU_FP32, Runtime, to_cpu
from ..seeding import seed_everything  # noqa: F401 - re-exported: the loops import it from here
from .evaluate import evaluate
from .losses import segmentation_loss
from .loop import EpochStats, Updater, run_epoch

# The recipe keys that define the training loop: a resume checkpoint records them and is
# taken up only by a run with the same values (the data and the rest go in ``identity``).
LOOP_KEYS = ("epochs", "batch_size", "encoder_lr", "decoder_lr", "encoder_optim", "decoder_optim", "momentum",
             "weight_decay", "aux_weight", "grad_clip", "eval_every", "seed", "channels_last")


def make_optimizer(kind: str, params, lr: float, momentum: float, weight_decay: float) -> torch.optim.Optimizer:
    """``sgd`` (with momentum) or ``adam``, both with weight decay."""
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimiser must be 'adam' or 'sgd', got {kind!r}")


def runtime_identity(runtime: Runtime) -> dict:
    """The runtime's part of a run identity: what changes results (precision, accumulation),
    only when away from fp32 / one batch per step, so the identities of fp32 runs stay as
    they were. The device and the input workers change nothing and are not in it."""
    return {**({"precision": runtime.precision} if runtime.precision != "fp32" else {}),
            **({"accumulate": runtime.accumulate} if runtime.accumulate > 1 else {})}


def cpu_state(module: nn.Module) -> dict:
    """``module.state_dict()`` (its type and metadata kept) with every tensor on the CPU: what goes to disk."""
    state = module.state_dict()
    for k, v in state.items():
        state[k] = v.cpu()
    return state


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
        log: Callable[[str], None] = print, runtime: Optional[Runtime] = None) -> FitResult:
    """Train ``model`` (which has ``.encoder`` and ``.decoder``) on ``train_set``, on the
    ``runtime``'s device and precision (default: CPU, fp32) with its input workers; resumes from
    ``checkpoint`` when it exists and was written with the same loop keys (:data:`LOOP_KEYS` of
    ``cfg``) and ``identity`` (a dict naming whatever else defines the run: data, params hash).
    The sample order of an epoch comes from ``(seed, epoch)`` and each sample's augmentation from
    ``(seed, epoch, index)``, so neither the worker count nor a resume changes the weights. The
    model stays on the runtime's device."""
    rt = runtime or CPU_FP32
    loop = {k: getattr(cfg, k) for k in LOOP_KEYS}
    identity = {**(identity or {}), **runtime_identity(rt)}
    seed_everything(cfg.seed)
    model = rt.prepare(model)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opts = (make_optimizer(cfg.encoder_optim, model.encoder.parameters(), cfg.encoder_lr, cfg.momentum,
                           cfg.weight_decay),
            make_optimizer(cfg.decoder_optim, model.decoder.parameters(), cfg.decoder_lr, cfg.momentum,
                           cfg.weight_decay))
    result, start_epoch = FitResult(), 0
    updater = Updater(opts, model.parameters(), cfg.grad_clip, rt)
    if checkpoint is not None and Path(checkpoint).is_file():
        ck = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if ck.get("config") == loop and ck.get("identity") == identity:
            model.load_state_dict(ck["model"])
            opts[0].load_state_dict(ck["opt_enc"])
            opts[1].load_state_dict(ck["opt_dec"])
            if ck.get("scaler"):  # fp16's loss scale goes on where it was (empty, or absent: none in use)
                updater.scaler.load_state_dict(ck["scaler"])
            result = FitResult(ck["history"], ck["best"], ck["seconds"])
            start_epoch = ck["epoch"]
            log(f"resumed from {checkpoint} after epoch {start_epoch}")
    loader = KeyedLoader(train_set, rt)
    for epoch in range(start_epoch, cfg.epochs):
        stats = _fit_epoch(model, loader, updater, cfg, epoch, rt, task)
        record = {"epoch": epoch + 1, "train_loss": stats.loss, "seconds": stats.seconds,
                  "data_wait": round(stats.data_share, 4)}
        if val_set is not None and ((epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs):
            scores, _ = evaluate(model, val_set, num_classes, exclude=exclude, runtime=rt,
                                 progress=task("validate", len(val_set)) if task else None)
            record.update({k: float(v) for k, v in scores.as_dict().items()})
            if not result.best or record["mean_iou"] > result.best.get("mean_iou", -1):
                result.best = dict(record)
        result.history.append(record)
        result.seconds += record["seconds"]
        log(json.dumps(record))
        if checkpoint is not None:
            save_atomic({"config": loop, "identity": identity, "epoch": epoch + 1, "model": cpu_state(model),
                         "opt_enc": to_cpu(opts[0].state_dict()), "opt_dec": to_cpu(opts[1].state_dict()),
                         "scaler": updater.scaler.state_dict(),
                         "history": result.history, "best": result.best, "seconds": result.seconds},
                        Path(checkpoint))
    return result


def _fit_epoch(model: nn.Module, loader: KeyedLoader, updater: Updater, cfg: TrainRecipe, epoch: int, rt: Runtime,
               task) -> EpochStats:
    """One epoch of :func:`fit`: cosine learning rates per optimiser step (``rt.accumulate``
    batches each), forward and loss under autocast."""
    n = len(loader)
    # a last batch of one image would break BatchNorm in training mode: drop it (only then)
    batches = batches_of(epoch_order(n, cfg.seed, epoch), cfg.batch_size, drop_last=n % cfg.batch_size == 1)
    steps = math.ceil(len(batches) / rt.accumulate)
    total = cfg.epochs * steps
    model.train()

    def lrs(step):
        scale = 0.5 * (1 + math.cos(math.pi * (epoch * steps + step) / total))
        for opt, base in zip(updater.optimizers, (cfg.encoder_lr, cfg.decoder_lr)):
            for g in opt.param_groups:
                g["lr"] = base * scale

    def loss_fn(batch):
        image, target = batch
        if cfg.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        logits, aux = model(image, return_aux=True)
        return segmentation_loss(logits, target, aux, cfg.aux_weight), 1

    return run_epoch(loader.epoch(cfg.seed, epoch, batches), loss_fn, updater, rt, where=f"epoch {epoch + 1}",
                     before_step=lrs, n_batches=len(batches),
                     tick=task(f"epoch {epoch + 1}/{cfg.epochs}", steps) if task else None)
