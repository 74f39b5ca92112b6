"""The inference model as ONNX and TorchScript files, each checked against eager PyTorch
(``nasseg export`` and the benchmark's ``onnxruntime`` variant).

What is exported is always the inference model (auxiliary heads removed, eval mode, on the
CPU): ``forward(image) -> logits`` at the decoder's resolution (stride 4 or 8, no final
upsampling), input ``image`` ``N x 3 x H x W``, output ``logits`` ``N x C x H' x W'``.

ONNX exporter. Both of torch's exporters were tried on every zoo model (the found
architectures ``arch0-2``, whose cells hold global-average-pooling ops and bilinear
upsampling to another tensor's size, and the four baselines) with torch 2.15, exporting at
64x64 and running ONNX Runtime at 64x64, 96x80 and batch 2 at 70x50: both give the eager
output to within 1e-7. The default is the legacy TorchScript-based exporter
(``dynamo=False``) because

* it writes the requested opset: the ``torch.export``-based (dynamo) exporter has no
  implementations below opset 18, and its down-conversion of a model to opset 17 fails
  (``axes_input_to_attribute`` on ReduceMean/Squeeze) and leaves the file at opset 18;
* it takes 0.3-1.5 s per model where the dynamo exporter takes 12-20 s on two CPU cores,
  which matters to the ``onnxruntime`` benchmark variant that exports every model it times;
* batch, height and width become symbolic axes (``dynamic_axes``) and the output size
  follows the input; the dynamo exporter, given a batch-1 example, specialises the batch
  unless told otherwise and adds minimum-size guards (H, W >= 33) that ONNX cannot enforce.

Tracing records one branch of the decoder's "same size, skip the upsampling" test and of
the "larger of two feature maps" choice. Both depend only on which encoder strides meet,
never on the input size, as long as the four strides give four sizes: hence the export size
must be at least 32 pixels a side, and :func:`check_onnx` runs a second, odd size (and batch
2) whenever the axes are dynamic, which would reveal a wrong branch. The legacy exporter is
deprecated upstream; ``exporter="dynamo"`` selects the other path (opset raised to 18) for
the day it goes. The exporters' deprecation notices and tracer warnings about those shape
tests are silenced: they are expected and say nothing a user can act on.

TorchScript: ``torch.jit.trace`` (``torch.jit.script`` rejects the decoder's Python control
flow); the trace keeps shapes symbolic, so the file runs at any input size. torch 2.15 marks
``torch.jit.trace``/``torch.jit.load`` deprecated (FutureWarning); those notices are
suppressed as well (only those: by message, not by category).
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch
import torch.nn as nn

from ..errors import NassegError
from ..runtime import Runtime, to_cpu
from .zoo import strip_aux

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".ts.pt"}
EXPORTERS = ("legacy", "dynamo")
MIN_SIDE = 32  # below this two encoder strides give the same map size and the trace would bake that in

_DEPRECATED = (r"(?s).*(`torch\.jit\.\w+` is deprecated|legacy TorchScript-based ONNX export|"
               r"The feature will be removed)")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' deprecation notices, tracer warnings and progress prints."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        for cat in (FutureWarning, DeprecationWarning, UserWarning):
            warnings.filterwarnings("ignore", message=_DEPRECATED, category=cat)
        warnings.filterwarnings("ignore", message=r".*dynamic_axes.*not recommended")
        try:
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        finally:
            for lg, lv in zip(loggers, levels):
                lg.setLevel(lv)


# --------------------------------------------------------------------------- the model


def _inference(model: nn.Module) -> nn.Module:
    return strip_aux(model).eval().cpu()


def _example(input_hw: Sequence[int], batch: int = 1, seed: int = 0) -> torch.Tensor:
    h, w = (int(v) for v in input_hw)
    return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


def check_hw(input_hw: Sequence[int]) -> tuple[int, int]:
    if len(input_hw) != 2 or min(int(v) for v in input_hw) < MIN_SIDE:
        raise NassegError(f"input size {tuple(input_hw)}: give height and width of at least {MIN_SIDE} pixels "
                          "(smaller inputs make two encoder strides meet at one size and the exported graph "
                          "would not generalise to other sizes).")
    return int(input_hw[0]), int(input_hw[1])


# --------------------------------------------------------------------------- exporting


def export_onnx(model: nn.Module, path: str | Path, *, input_hw: Sequence[int] = (512, 512), opset: int = 17,
                dynamic: bool = True, exporter: str = "legacy") -> Path:
    """Write the inference model as ONNX: input ``image``, output ``logits``; with ``dynamic``
    the batch, height and width axes are symbolic. ``exporter``: ``legacy`` (the TorchScript-based
    exporter, see the module docstring) or ``dynamo`` (``torch.export``-based, opset >= 18)."""
    if exporter not in EXPORTERS:
        raise NassegError(f"ONNX exporter {exporter!r} unknown; choose from {', '.join(EXPORTERS)}.")
    h, w = check_hw(input_hw)
    model = _inference(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = _example((h, w))
    with _quiet(), torch.no_grad():
        if exporter == "legacy":
            axes = {"image": {0: "batch", 2: "height", 3: "width"},
                    "logits": {0: "batch", 2: "out_height", 3: "out_width"}} if dynamic else None
            torch.onnx.export(model, (x,), str(path), input_names=["image"], output_names=["logits"],
                              dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)
        else:
            dim = torch.export.Dim.DYNAMIC
            shapes = {"x": {0: dim, 2: dim, 3: dim}} if dynamic else None
            prog = torch.onnx.export(model, (x,), input_names=["image"], output_names=["logits"],
                                     dynamic_shapes=shapes, opset_version=max(opset, 18), dynamo=True,
                                     verbose=False)
            prog.save(str(path))
    return path


def export_torchscript(model: nn.Module, path: str | Path, *, input_hw: Sequence[int] = (512, 512)) -> Path:
    """Write the inference model as a traced TorchScript module (``torch.jit.load`` reads it;
    any input size runs)."""
    h, w = check_hw(input_hw)
    model = _inference(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(model, (_example((h, w)),))
        traced.save(str(path))
    return path


# --------------------------------------------------------------------------- checking


def check_sizes(input_hw: Sequence[int], dynamic: bool = True) -> list[tuple[int, int, int, int]]:
    """The inputs an export is checked at: one image at the export size and, when the axes are
    dynamic, a batch of two at an odd size (not a multiple of the encoder's stride)."""
    h, w = (int(v) for v in input_hw)
    sizes = [(1, 3, h, w)]
    if dynamic:
        sizes.append((2, 3, max(h * 3 // 4 + 5, MIN_SIDE + 1), w * 5 // 4 + 3))
    return sizes


def _compare(run, model: nn.Module, fmt: str, sizes, seed: int, rtol: float, atol: float,
             runtime: Optional[Runtime]) -> dict:
    """``run`` (the file, on the CPU) against eager PyTorch: ``model`` on ``runtime``'s device in
    its precision (None: the CPU in fp32)."""
    runtime = runtime or Runtime(torch.device("cpu"))
    model = runtime.prepare(copy.deepcopy(_inference(model)))
    results = []
    for i, shape in enumerate(sizes):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed + i))
        with torch.no_grad(), runtime.autocast():
            ref = to_cpu(model(runtime.batch(x))).float()
        entry = {"input": list(shape), "output": list(ref.shape)}
        try:
            out = run(x).float()
        except Exception as err:  # a runtime failing at a size is a failed check, reported, not raised
            entry.update(max_abs_diff=None, max_abs_ref=float(ref.abs().max()), ok=False,
                         error=f"{type(err).__name__}: {str(err).strip().splitlines()[0][:300]}")
            results.append(entry)
            continue
        if tuple(out.shape) != tuple(ref.shape):
            entry.update(max_abs_diff=None, max_abs_ref=float(ref.abs().max()), ok=False,
                         error=f"output shape {tuple(out.shape)}, eager gives {tuple(ref.shape)}")
        else:
            diff, scale = float((out - ref).abs().max()), float(ref.abs().max())
            entry.update(max_abs_diff=diff, max_abs_ref=scale, max_rel_diff=diff / scale if scale > 0 else 0.0,
                         ok=diff <= atol + rtol * scale)
        results.append(entry)
    diffs = [r["max_abs_diff"] for r in results]
    return {"format": fmt, "ok": all(r["ok"] for r in results),
            "max_abs_diff": None if any(d is None for d in diffs) else max(diffs),
            "rtol": rtol, "atol": atol, "sizes": results}


def ort_session(path: str | Path, threads: Optional[int] = None, denormal_as_zero: bool = False):
    """An ONNX Runtime CPU session of the file: errors-only logging, ``threads`` intra-op
    threads (one inter-op), denormals flushed to zero if asked (the benchmark's setting)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    if denormal_as_zero:
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_onnx(model: nn.Module, onnx_path: str | Path, *, input_hw: Sequence[int] = (512, 512), seed: int = 0,
               rtol: float = 1e-3, atol: float = 1e-4, runtime: Optional[Runtime] = None) -> dict:
    """ONNX Runtime (CPU) against eager PyTorch on seeded random inputs: at the export size and,
    if the file's spatial axes are symbolic, at a second size with batch 2 (:func:`check_sizes`).
    Passes where ``max |ort - eager| <= atol + rtol * max |eager|``: the tolerance scales with the
    logits' range, since an elementwise relative test fails on float32 rounding wherever a logit
    crosses zero (seen: 3e-4 absolute on logits of range 25 after BN folding), while a wrong
    graph moves outputs by a good part of that range. Returns ``{"format", "ok", "max_abs_diff",
    "rtol", "atol", "sizes": [{"input", "output", "max_abs_diff", "max_abs_ref", "max_rel_diff",
    "ok"[, "error"]}]}``; never raises on a mismatch. The eager reference runs on ``runtime``
    (device and precision; None: the CPU in fp32), the file on the CPU."""
    sess = ort_session(onnx_path, torch.get_num_threads())
    dims = sess.get_inputs()[0].shape
    dynamic = not all(isinstance(d, int) for d in dims[2:])
    name = sess.get_inputs()[0].name

    def run(x):
        return torch.from_numpy(sess.run(None, {name: x.numpy()})[0])

    return _compare(run, model, "onnx", check_sizes(input_hw, dynamic), seed, rtol, atol, runtime)


def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    with _quiet():
        return torch.jit.load(str(path), map_location="cpu")


def check_torchscript(model: nn.Module, ts_path: str | Path, *, input_hw: Sequence[int] = (512, 512), seed: int = 0,
                      rtol: float = 1e-3, atol: float = 1e-4, runtime: Optional[Runtime] = None) -> dict:
    """The TorchScript file (on the CPU) against eager PyTorch on ``runtime``, as
    :func:`check_onnx` (always at both sizes: a traced module has no fixed input size)."""
    ts = load_torchscript(ts_path)

    def run(x):
        with torch.no_grad():
            return ts(x)

    return _compare(run, model, "torchscript", check_sizes(input_hw, True), seed, rtol, atol, runtime)
