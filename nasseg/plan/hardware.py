"""The hardware a plan is for: this machine, or a what-if (``--device``, ``--gpus``, ``--nodes``,
``--gpu-tflops``), and the assumed GPU throughput derived from the paper's Table 1."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..config import Params
from ..errors import ConfigError

PAPER_ARCH0_MS = 14.86  # paper Table 1: arch0's forward pass at 512x512 on a 1080Ti
ARCH0_MADDS_512 = 4_141_080_576  # arch0 at 512x512 by our counter (results/benchmark/metrics.json)
# effective FLOP/s of that GPU on these models: 2 FLOPs per multiply-add over the paper's time
DEFAULT_GPU_TFLOPS = round(2 * ARCH0_MADDS_512 / (PAPER_ARCH0_MS / 1e3) / 1e12, 3)
TRAIN_PASSES = 3  # a training step ~ 3 forward passes (forward + backward of inputs and weights)


@dataclass(frozen=True)
class Hardware:
    device: str  # cpu | cuda
    present: bool  # True: probes run on it; False: a what-if scaled from gpu_tflops
    gpus: int = 1  # per node (cuda)
    nodes: int = 1
    gpu_tflops: float = DEFAULT_GPU_TFLOPS
    name: str = ""
    threads: int = 1

    @property
    def world(self) -> int:
        return self.gpus * self.nodes if self.device == "cuda" else 1

    def describe(self) -> str:
        if self.device == "cpu":
            return f"CPU ({self.name}), {self.threads} torch threads, measured here"
        where = "measured here" if self.present else (
            f"WHAT-IF: no CUDA device here; time = FLOPs / {self.gpu_tflops:g} TFLOP/s effective per GPU "
            f"(--gpu-tflops; default from the paper's Table 1: arch0 {PAPER_ARCH0_MS} ms at 512² on a 1080Ti), "
            f"a training step = {TRAIN_PASSES} forward passes")
        return f"{self.gpus} GPU(s) x {self.nodes} node(s) ({self.name or 'cuda'}); {where}"


def hardware(device: Optional[str] = None, gpus: Optional[int] = None, nodes: Optional[int] = None,
             gpu_tflops: Optional[float] = None, params: Optional[Params] = None) -> Hardware:
    """The hardware to plan for: this machine's, or a what-if. Bad values raise ConfigError naming the option."""
    if device is not None and device not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be cpu or cuda, got {device!r}")
    for name, v in (("--gpus", gpus), ("--nodes", nodes)):
        if v is not None and v < 1:
            raise ConfigError(f"{name} must be at least 1, got {v}")
    if gpu_tflops is not None and not gpu_tflops > 0:
        raise ConfigError(f"--gpu-tflops must be a positive number of TFLOP/s, got {gpu_tflops}")
    cuda_here = torch.cuda.is_available()
    if device is None:
        spec = params.runtime.device if params is not None else "auto"
        device = "cuda" if (gpus or nodes or gpu_tflops or spec.startswith("cuda") or (spec == "auto" and cuda_here)) \
            else "cpu"
    if device == "cpu" and ((gpus or 1) > 1 or (nodes or 1) > 1 or gpu_tflops):
        raise ConfigError("--gpus, --nodes and --gpu-tflops describe CUDA devices; drop them or use --device cuda")
    threads = torch.get_num_threads()
    if device == "cpu":
        import platform

        return Hardware("cpu", True, name=platform.processor() or platform.machine(), threads=threads)
    present = cuda_here and gpu_tflops is None
    name = torch.cuda.get_device_name(0) if cuda_here else ""
    return Hardware("cuda", present, gpus or 1, nodes or 1, gpu_tflops or DEFAULT_GPU_TFLOPS, name, threads)


__all__ = ["ARCH0_MADDS_512", "DEFAULT_GPU_TFLOPS", "Hardware", "PAPER_ARCH0_MS", "TRAIN_PASSES", "hardware"]
