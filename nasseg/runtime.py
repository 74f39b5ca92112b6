"""Where and how a computing stage runs: the device, the autocast precision, the input workers.

``Runtime.of(params, device=..., precision=...)`` resolves params.yaml's ``runtime`` section
with a command's ``--device`` / ``--precision`` overrides into one object every loop takes:

* ``device``: ``auto`` is CUDA when present, else the CPU; asking for CUDA where there is none
  is a :class:`~nasseg.errors.ConfigError` naming the fix, not a crash inside a loop;
* ``autocast()``: a context for the forward pass and the loss (fp32: nothing; bf16: autocast
  on the device, CPU included; fp16: autocast with a :meth:`grad_scaler`, on CUDA and, slowly,
  on the CPU too, so its code paths can be rehearsed and tested without a GPU);
* ``workers``: DataLoader workers (null: :func:`default_workers`), ``pin_memory`` on CUDA only.

Whatever a loop writes to disk or sends to another process is moved to the CPU first
(:func:`to_cpu`).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

from .errors import ConfigError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(spec: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a device that exists on this machine."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if not spec.startswith("cuda"):
        raise ConfigError(f"runtime.device must be auto, cpu, cuda or cuda:N, got {spec!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"runtime.device is {spec!r} but this machine has no CUDA device; "
                          "use --device cpu (or runtime.device: auto)")
    device = torch.device(spec)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"runtime.device is {spec!r} but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s) (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    return device


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity: a batch scheduler's share of a node),
    else all of the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def default_workers(local_world: Optional[int] = None) -> int:
    """DataLoader workers per process when ``runtime.workers`` is null: this process's share of the
    cores, less one for the process itself (it collates and feeds the device). Under torchrun the
    node's cores are shared by its ``LOCAL_WORLD_SIZE`` processes (one per GPU), so each takes
    cores / processes - 1, not cores - 1 each (which would start processes x cores workers)."""
    n = local_world if local_world is not None else int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(0, usable_cores() // max(1, n) - 1)


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    precision: str = "fp32"
    workers: int = 0
    channels_last: bool = False
    cudnn_benchmark: bool = True
    accumulate: int = 1

    @classmethod
    def of(cls, params: Any = None, *, device: Optional[str] = None, precision: Optional[str] = None,
           workers: Optional[int] = None) -> "Runtime":
        """From a ``Params`` (its ``runtime`` section) or a ``RuntimeParams``, with overrides."""
        from .config import RuntimeParams

        r = getattr(params, "runtime", params) if params is not None else RuntimeParams()
        prec = precision or r.precision
        if prec not in DTYPES:
            raise ConfigError(f"--precision must be one of {', '.join(DTYPES)}, got {prec!r}")
        dev = resolve_device(device or r.device)
        n = workers if workers is not None else (r.workers if r.workers is not None else default_workers())
        return cls(dev, prec, n, r.channels_last, r.cudnn_benchmark, r.accumulate)

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.precision]

    @property
    def pin_memory(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        """The forward pass and the loss under this precision (a no-op context in fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> "torch.amp.GradScaler":
        """A loss scaler, enabled in fp16 only (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model on the device (and in channels-last memory format when asked)."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        return model

    @contextlib.contextmanager
    def varying_shapes(self):
        """A block whose inputs change size (full-size evaluation, prediction): cuDNN's benchmark
        mode would time every convolution's algorithms again for each new image size, so it is
        off inside (restored after)."""
        before = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = False
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = before

    def batch(self, t: torch.Tensor) -> torch.Tensor:
        """A batch on the device (non-blocking from pinned memory)."""
        t = t.to(self.device, non_blocking=self.pin_memory)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last and t.dim() == 4 else t

    def describe(self) -> str:
        return (f"device {self.device}, precision {self.precision}, {self.workers} input worker(s)"
                + (", channels_last" if self.channels_last else "")
                + (f", {self.accumulate} batches per step" if self.accumulate > 1 else ""))


CPU_FP32 = Runtime(torch.device("cpu"))  # what a library call runs on when given no runtime


def to_cpu(obj):
    """Tensors (in dicts, lists, tuples) moved to the CPU: what goes to disk or to another process."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_cpu(v) for v in obj)
    return obj
