"""Table-1 measurements: parameters, MAdds, output resolution and latency.

Conventions (stated in the output):

* parameters of the inference model (auxiliary heads removed);
* MAdds = FLOPs / 2 from torch's own ``torch.utils.flop_counter.FlopCounterMode`` on one
  input, which counts convolutions and matrix products only (not BN, ReLU, pooling,
  interpolation, additions): the paper's counter also counted other layers, so its
  figures are somewhat higher;
* latency: eval mode, no autograd, denormal floats flushed to zero, ``warmup`` passes then ``runs`` timed forward passes
  of one image, mean ± std in milliseconds, with the device and thread count recorded.

Variants change how the same model runs, never its result (each variant's output is
compared with plain eager's): ``eager`` (``torch.no_grad``), ``inference_mode``,
``channels_last`` (NHWC memory layout, inference mode), ``compile`` (``torch.compile``,
inference mode) and ``onnxruntime`` (the model exported to ONNX at the benchmark size by
:mod:`nasseg.export` and run by an ONNX Runtime CPU session with as many intra-op threads as
torch uses and denormals flushed to zero; CPU only: on other devices the variant is skipped
and gives no row).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from .models.zoo import build_model, count_params, strip_aux

VARIANTS = ("eager", "inference_mode", "channels_last", "compile", "onnxruntime")
CPU_ONLY = ("onnxruntime",)


@dataclass
class BenchRow:
    model: str
    variant: str
    device: str
    threads: int
    input_hw: tuple
    params: int
    madds: int
    output_hw: tuple
    mean_ms: float
    std_ms: float
    runs: int
    max_abs_diff: float  # against eager's output: how far the variant changes the result

    def as_dict(self) -> dict:
        return asdict(self)


def count_madds(model: nn.Module, size) -> tuple[int, tuple]:
    """Multiply-adds of one forward pass at ``size`` x ``size`` (or ``(height, width)``) and the
    output resolution."""
    model = strip_aux(model).eval().cpu()
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(1, 3, h, w)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        y = model(x)
    return fc.get_total_flops() // 2, tuple(y.shape[2:])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(fn: Callable[[], torch.Tensor], device: torch.device, runs: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    mean = sum(times) / len(times)
    std = math.sqrt(sum((t - mean) ** 2 for t in times) / max(1, len(times) - 1))
    return mean, std


def _onnxruntime_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    import tempfile

    import onnxruntime as ort

    from .export import export_onnx

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    with tempfile.TemporaryDirectory(prefix="nasseg-ort-") as tmp:
        path = export_onnx(model, f"{tmp}/model.onnx", input_hw=tuple(x.shape[2:]), dynamic=False)
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x.cpu().numpy()}

    def run():
        return torch.from_numpy(sess.run(None, feed)[0])
    return run


def _runner(model: nn.Module, x: torch.Tensor, variant: str) -> Callable[[], torch.Tensor]:
    if variant == "onnxruntime":
        return _onnxruntime_runner(model, x)
    if variant == "eager":
        def run():
            with torch.no_grad():
                return model(x)
        return run
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    elif variant == "compile":
        model = torch.compile(model)
    elif variant != "inference_mode":
        raise ValueError(f"unknown benchmark variant {variant!r}; choose from {', '.join(VARIANTS)}")

    def run():
        with torch.inference_mode():
            return model(x)
    return run


def benchmark_model(name: str, *, size=512, runs: int = 100, warmup: int = 5,
                    variants: Sequence[str] = ("eager",), device: str = "cpu", num_classes: int = 21,
                    progress: Optional[Callable[[], None]] = None) -> list[BenchRow]:
    # Randomly initialised models can drift into denormal floats, which x86 CPUs process
    # 10-100x slower (seen here: Light-Weight RefineNet's residual pooling chain); trained
    # weights do not. Flushing them to zero measures the architecture, not the accident.
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model = strip_aux(build_model(name, num_classes=num_classes)).eval()
    params = count_params(model)
    madds, out_hw = count_madds(model, size)
    dev = torch.device(device)
    h, w = (size, size) if isinstance(size, int) else tuple(size)  # a side, or (height, width)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(dev)
    reference = None
    rows = []
    for variant in variants:
        if variant in CPU_ONLY and dev.type != "cpu":
            if progress:
                progress()
            continue
        m = build_model(name, num_classes=num_classes)  # fresh copy: variants may change memory layout
        m.load_state_dict(model.state_dict())
        m = strip_aux(m).eval().to(dev)
        fn = _runner(m, x, variant)
        out = fn().float()
        if reference is None:
            reference = out.clone()
        diff = float((out - reference).abs().max())
        mean, std = time_forward(fn, dev, runs, warmup)
        rows.append(BenchRow(name, variant, device if dev.type == "cpu" else torch.cuda.get_device_name(dev),
                             torch.get_num_threads(), (h, w), params, madds, out_hw, mean, std, runs, diff))
        if progress:
            progress()
    return rows
