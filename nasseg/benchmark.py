"""Table-1 measurements: parameters, MAdds, output resolution and latency.

Conventions (stated in the output):

* parameters of the inference model (auxiliary heads removed);
* MAdds = FLOPs / 2 as torch's own ``torch.utils.flop_counter.FlopCounterMode`` counts them on
  one input (:func:`count_madds`: the same count from forward hooks), convolutions and matrix
  products only (not BN, ReLU, pooling, interpolation, additions): the paper's counter also
  counted other layers, so its figures are somewhat higher;
* latency: eval mode, no autograd, denormal floats flushed to zero, ``warmup`` passes then ``runs`` timed forward passes
  of one image, mean ± std in milliseconds, with the device and thread count recorded.

Variants change how the same model runs, never its result (each variant's output is
compared with plain eager's): ``eager`` (``torch.no_grad``), ``inference_mode``,
``channels_last`` (NHWC memory layout, inference mode), ``compile`` (``torch.compile``,
inference mode) and ``onnxruntime`` (the model exported to ONNX at the benchmark size by
:mod:`nasseg.models.export` and run by an ONNX Runtime CPU session with as many intra-op threads as
torch uses and denormals flushed to zero; CPU only: on other devices the variant is skipped
and gives no row). A precision other than fp32 runs the forward passes under autocast
(:class:`~nasseg.runtime.Runtime`), names itself in the ``device`` column ("cpu (bf16)") and
skips the ONNX Runtime variant, which runs in fp32 whatever is asked.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn
from torch.func import functional_call

from .errors import ConfigError
from .models.zoo import build_model, count_params, list_archs, strip_aux, without_aux
from .runtime import Runtime
from .seeding import seeded

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


def check_models(models: Sequence[str], key: str) -> None:
    """Every model is a registered name or a genotype (text starting with ``[``); else a
    ConfigError naming ``key`` and the registered names."""
    unknown = [m for m in models if m not in list_archs() and not str(m).lstrip().startswith("[")]
    if unknown:
        raise ConfigError(f"{key}: unknown model(s) {unknown}; registered: {', '.join(list_archs())}")


# From this many input pixels on, MAdds are counted on the meta device (shapes only, no
# arithmetic; its first use in a process costs ~1.3 s, each count then ~0.2 s); below it a real
# pass on the CPU is quicker (arch0 at 512²: 0.3 s; a WACV model at 1024x2048: 1.5 s real, 0.2
# meta). The same count either way.
META_PIXELS = 1024 * 1024


def _madds_hook(total: list):
    """A forward hook adding a layer's multiply-adds to ``total[0]``, as torch's FlopCounterMode
    counts them (half its FLOPs): a conv, output (input, if transposed) positions x weight
    elements; a linear layer, output elements x input features. Biases are not counted."""
    def hook(module, inputs, output):
        if isinstance(module, nn.Linear):
            total[0] += output.numel() * module.in_features
        else:
            where = inputs[0] if module.transposed else output
            total[0] += where.shape[0] * math.prod(where.shape[2:]) * module.weight.numel()
    return hook


@contextmanager
def counting_madds(model: nn.Module):
    """Within the block, every forward pass of ``model``'s convolution and linear layers adds
    their multiply-adds to ``total[0]`` (``with counting_madds(m) as total: m(x)``)."""
    total = [0]
    hook = _madds_hook(total)
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]
    try:
        yield total
    finally:
        for handle in handles:
            handle.remove()


def count_madds(model: nn.Module, size, device: str | None = None) -> tuple[int, tuple]:
    """Multiply-adds of one forward pass of the inference model (no auxiliary heads) at ``size``
    x ``size`` (or ``(height, width)``) and the output resolution: every convolution and linear
    layer, counted by forward hooks (tests/test_benchmark.py checks the count against torch's
    FlopCounterMode, which would import torch._dynamo, ~1.4 s, in every process, and slows each
    op). ``device``: "meta" (shapes only) or "cpu" (a real pass, on the model's own device);
    None picks by size (:data:`META_PIXELS`). The model is used in place, in eval mode, and left
    as it was."""
    h, w = (size, size) if isinstance(size, int) else size
    device = device or ("meta" if h * w >= META_PIXELS else "cpu")
    was_training = [m.training for m in model.modules()]
    try:
        with without_aux(model), torch.no_grad(), counting_madds(model) as total:
            model.eval()
            if device == "meta":
                swap = {k: torch.empty_like(t, device="meta")
                        for k, t in (*model.named_parameters(), *model.named_buffers())}
                try:
                    y = functional_call(model, swap, (torch.zeros(1, 3, h, w, device="meta"),))
                except (RuntimeError, NotImplementedError):  # an op without a meta kernel
                    total[0], device = 0, "cpu"
            if device != "meta":
                y = model(torch.zeros(1, 3, h, w, device=_device_of(model)))
    finally:
        for m, t in zip(model.modules(), was_training):
            m.training = t
    return total[0], tuple(y.shape[2:])


def _device_of(model: nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so that a timer reads its end."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_forward(fn: Callable[[], torch.Tensor], device: torch.device, runs: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    mean = sum(times) / len(times)
    std = math.sqrt(sum((t - mean) ** 2 for t in times) / max(1, len(times) - 1))
    return mean, std


def _onnxruntime_runner(model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    import tempfile

    from .models.export import export_onnx, ort_session

    with tempfile.TemporaryDirectory(prefix="nasseg-ort-") as tmp:
        path = export_onnx(model, f"{tmp}/model.onnx", input_hw=tuple(x.shape[2:]), dynamic=False)
        sess = ort_session(path, torch.get_num_threads(), denormal_as_zero=True)
    feed = {sess.get_inputs()[0].name: x.cpu().numpy()}

    def run():
        return torch.from_numpy(sess.run(None, feed)[0])
    return run


def _under(runtime: Runtime, fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """``fn`` run under the runtime's autocast (itself in fp32)."""
    if runtime.precision == "fp32":
        return fn

    def run():
        with runtime.autocast():
            return fn()
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
                    progress: Optional[Callable[[], None]] = None, precision: str = "fp32") -> list[BenchRow]:
    """Rows of one model on ``device`` (``cpu``, ``cuda``, ``cuda:N``) in ``precision``."""
    # Randomly initialised models can drift into denormal floats, which x86 CPUs process
    # 10-100x slower (seen here: Light-Weight RefineNet's residual pooling chain); trained
    # weights do not. Flushing them to zero measures the architecture, not the accident.
    torch.set_flush_denormal(True)
    with seeded(0):  # the random weights of today's tables, in any process (nasseg.seeding)
        model = strip_aux(build_model(name, num_classes=num_classes)).eval()
    params = count_params(model)
    madds, out_hw = count_madds(model, size)
    runtime = Runtime.of(None, device=device, precision=precision, workers=0)
    dev = runtime.device
    label = "cpu" if dev.type == "cpu" else torch.cuda.get_device_name(dev)
    label += "" if precision == "fp32" else f" ({precision})"
    h, w = (size, size) if isinstance(size, int) else tuple(size)  # a side, or (height, width)
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0)).to(dev)
    reference = None
    rows = []
    for variant in variants:
        if variant in CPU_ONLY and (dev.type != "cpu" or precision != "fp32"):
            if progress:
                progress()
            continue
        m = build_model(name, num_classes=num_classes)  # fresh copy: variants may change memory layout
        m.load_state_dict(model.state_dict())
        m = strip_aux(m).eval().to(dev)
        fn = _under(runtime, _runner(m, x, variant))
        out = fn().float()
        if reference is None:
            reference = out.clone()
        diff = float((out - reference).abs().max())
        mean, std = time_forward(fn, dev, runs, warmup)
        rows.append(BenchRow(name, variant, label, torch.get_num_threads(), (h, w), params, madds, out_hw, mean, std, runs, diff))
        if progress:
            progress()
    return rows


def with_reference_ratio(records: list[dict], reference: str) -> list[dict]:
    """Each record with ``ratio_to_reference``: its latency over the reference model's on the
    same device and variant (None where the reference has no such record)."""
    ref = {(r["device"], r["variant"]): r["mean_ms"] for r in records if r["model"] == reference}
    return [{**r, "ratio_to_reference": r["mean_ms"] / ref[(r["device"], r["variant"])]
             if (r["device"], r["variant"]) in ref else None} for r in records]


def latency_table(records: list[dict], models: Sequence[str], variants: Sequence[str],
                  reference: str) -> tuple[list[str], list[list]]:
    """(header, rows) in Table 1's layout: one row per model and device, a latency column per
    variant (a CPU-only variant's cell on CUDA reads "n/a"), the ratio to ``reference`` under
    the first variant and the largest output difference to eager."""
    base = variants[0]
    header = ["model", "device", "threads", "params", "MAdds (B)", "output"] + \
             [f"{v} ms" for v in variants] + [f"÷ {reference} ({base})", "max abs diff vs eager"]
    body = []
    for device in dict.fromkeys(d["device"] for d in records):
        for name in models:
            recs = {d["variant"]: d for d in records if d["model"] == name and d["device"] == device}
            if not recs:
                continue
            first = next(recs[v] for v in variants if v in recs)
            ratio = recs[base]["ratio_to_reference"] if base in recs else None
            body.append([name, device, first["threads"], f"{first['params']:,}", f"{first['madds'] / 1e9:.2f}",
                         "×".join(map(str, first["output_hw"]))]
                        + [f"{recs[v]['mean_ms']:.1f} ± {recs[v]['std_ms']:.1f}" if v in recs else "n/a"
                           for v in variants]
                        + ["" if ratio is None else f"{ratio:.2f}",
                           f"{max(r['max_abs_diff'] for r in recs.values()):.1e}"])
    return header, body


def sizes_table(records: list[dict], models: Sequence[str], sizes: Sequence[Sequence[int]],
                variants: Sequence[str]) -> tuple[list[str], list[list]]:
    """(header, rows) of the template system's benchmark: one row per model, device and input
    size (H, W), sizes written W×H as the WACV paper does."""
    header = ["model", "device", "threads", "params", "input (W×H)", "MAdds (B)", "output (W×H)"] + \
             [f"{v} ms" for v in variants]
    body = []
    for device in dict.fromkeys(r["device"] for r in records):
        for name in models:
            for hw in sizes:
                recs = {r["variant"]: r for r in records if r["model"] == name and r["device"] == device and
                        tuple(r["input_hw"]) == tuple(hw)}
                if not recs:
                    continue
                first = next(iter(recs.values()))
                body.append([name, device, first["threads"], f"{first['params']:,}", f"{hw[1]}×{hw[0]}",
                             f"{first['madds'] / 1e9:.2f}", f"{first['output_hw'][1]}×{first['output_hw'][0]}"]
                            + [f"{recs[v]['mean_ms']:.1f} ± {recs[v]['std_ms']:.1f}" if v in recs else "n/a"
                               for v in variants])
    return header, body

