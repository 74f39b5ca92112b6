"""Data-parallel training across processes started by ``torchrun``.

``torchrun --nproc_per_node N -m stages train ...`` sets RANK/WORLD_SIZE/MASTER_ADDR; the
engine then joins the process group (NCCL on GPUs, each rank on ``cuda:LOCAL_RANK``; gloo
when the runtime device is the CPU or no GPU is there for the rank), wraps the model in
DistributedDataParallel and gives each rank an equal share of every global batch.

To give the same result as one process on the same global batch, BatchNorm statistics are
computed over the whole global batch: torch's SyncBatchNorm on GPUs, and on CPU (where
SyncBatchNorm refuses to run) :class:`GlobalBatchNorm2d`, which all-reduces the per-channel
sums with a differentiable collective on a process group of its own.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.distributed.nn import functional as dist_fn

from ..errors import ConfigError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    bn_group: Optional[object] = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def all_sum(self, x: torch.Tensor) -> torch.Tensor:
        """Sum of a (non-differentiable) tensor over ranks, reduced on this process's device
        (NCCL reduces CUDA tensors only)."""
        if self.active:
            x = x.to(self.device, copy=True)
            dist.all_reduce(x)
        return x

    def all_max(self, x: torch.Tensor) -> torch.Tensor:
        """Maximum of a (non-differentiable) tensor over ranks, reduced on this process's device."""
        if self.active:
            x = x.to(self.device, copy=True)
            dist.all_reduce(x, op=dist.ReduceOp.MAX)
        return x

    def gather(self, obj) -> list:
        """``obj`` (picklable) of every rank, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def from_main(self, obj):
        """``obj`` (picklable) as the main process holds it, on every rank."""
        if self.active:
            box = [obj]
            dist.broadcast_object_list(box, src=0)
            obj = box[0]
        return obj


def init_from_env(device: Optional[torch.device] = None) -> Dist:
    """Join the process group when launched by torchrun with WORLD_SIZE > 1; one process otherwise.
    ``device`` (the runtime's; default: CUDA when present) on one process; under torchrun a CUDA
    device means this rank's ``cuda:LOCAL_RANK`` with NCCL, the CPU means gloo."""
    want = device if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=want)
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if want.type == "cuda" and torch.cuda.is_available() and torch.cuda.device_count() < per_node:
        # every rank sees the same counts, so every rank stops here: otherwise the ranks with a GPU
        # would join with NCCL and the others with gloo, and wait for each other for ever
        raise ConfigError(f"torchrun started {per_node} processes on this node but it has "
                          f"{torch.cuda.device_count()} CUDA device(s): each process needs its own GPU. Use "
                          f"--nproc_per_node {torch.cuda.device_count()}, or --device cpu (gloo).")
    cuda = want.type == "cuda" and torch.cuda.is_available() and torch.cuda.device_count() > local
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    # BN collectives run during forward/backward beside DDP's gradient buckets: a group of
    # their own keeps the two streams of collectives from interleaving differently per rank.
    return Dist(rank, world, device, None if cuda else dist.new_group(backend="gloo"))


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batch on every rank (CPU-capable)."""

    group = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        # two passes (mean, then squared deviations) as torch's BatchNorm does: the one-pass
        # E[x^2] - E[x]^2 loses the variance to cancellation where it is small against the mean
        with warnings.catch_warnings():  # the differentiable all_reduce is public but marked for renaming
            warnings.simplefilter("ignore", FutureWarning)
            first = dist_fn.all_reduce(torch.cat([x.sum((0, 2, 3)), x.new_full((1,), x.numel() // c)]),
                                       group=self.group)
            n = first[-1]
            mean = first[:c] / n
            var = dist_fn.all_reduce(((x - mean[None, :, None, None]) ** 2).sum((0, 2, 3)), group=self.group) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_var.mul_(1 - m).add_(m * var.detach() * (n / (n - 1)))
        y = (x - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def convert_batchnorm(module: nn.Module, d: Dist) -> nn.Module:
    """Swap BatchNorm2d for the global-batch version that fits the device."""
    if not d.active:
        return module
    if d.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in list(module.named_children()):
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.group = d.bn_group
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_batchnorm(child, d)
    return module


def revert_batchnorm(module: nn.Module) -> nn.Module:
    """Plain BatchNorm2d again (the trained model is then copied, saved and run like any other)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (GlobalBatchNorm2d, nn.SyncBatchNorm)):
            new = nn.BatchNorm2d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new.to(child.weight.device if child.affine else "cpu"))
        else:
            revert_batchnorm(child)
    return module


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["Dist", "init_from_env", "GlobalBatchNorm2d", "convert_batchnorm", "revert_batchnorm", "shutdown"]
