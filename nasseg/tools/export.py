"""`nasseg export`: a model named as :mod:`nasseg.models.resolve` takes it, written as ONNX and
TorchScript (:mod:`nasseg.models.export`), each file checked against eager PyTorch, with a
record of what was exported."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import torch

from ..errors import NassegError
from ..models.export import (FORMATS, SUFFIX, check_hw, check_onnx, check_torchscript, export_onnx,
                             export_torchscript)
from ..models.resolve import load_model, resolve
from ..models.zoo import count_params, strip_aux
from ..outputs import write_json
from ..runtime import Runtime


def _versions() -> dict:
    out = {"torch": torch.__version__}
    for mod in ("onnx", "onnxruntime", "onnxscript"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = None
    return out


def _onnx_opset(path: Path) -> Optional[int]:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)


def export(spec: str, out_dir: str | Path, *, formats: Sequence[str] = FORMATS, input_hw: Sequence[int] = (512, 512),
           opset: int = 17, dynamic: bool = True, check: bool = True, rtol: float = 1e-3, atol: float = 1e-4,
           num_classes: int = 21, width: int = 64, repeats: int = 2, exporter: str = "legacy",
           runtime: Optional[Runtime] = None) -> dict:
    """Export ``spec`` (what :func:`nasseg.models.resolve.resolve` takes; a zoo name or genotype
    gets random weights, seed 0, and ``num_classes``/``width``/``repeats``) to ``<out_dir>/<name>.onnx`` and
    ``<name>.ts.pt`` and check each against eager PyTorch; ``<name>.export.json`` records what
    was exported (architecture, parameters, input size, opset, library versions, checks).
    Returns that record; a failed check is recorded (``"ok": false``), not raised. ``runtime``:
    where the checks' eager reference runs, and in what precision (None: the CPU in fp32); the
    files are traced on the CPU in fp32 and run there."""
    formats = list(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise NassegError(f"export formats {bad or formats} unknown; choose from {', '.join(FORMATS)}.")
    h, w = check_hw(input_hw)
    ref = resolve(spec)
    model, info = load_model(ref, allow_untrained=True, num_classes=num_classes, width=width, repeats=repeats)
    model = strip_aux(model).eval()
    name = ref.name.replace("/", "_")  # a trained name: nyu/found0 -> nyu_found0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files, checks = {}, {}
    record = {"name": name, "model": str(spec), "arch": info["arch"],
              "untrained": bool(info["meta"].get("untrained", False)),
              "params": count_params(model), "input": {"name": "image", "hw": [h, w], "dynamic": dynamic},
              "output": {"name": "logits"}}
    for fmt in formats:
        path = out_dir / f"{name}{SUFFIX[fmt]}"
        if fmt == "onnx":
            export_onnx(model, path, input_hw=(h, w), opset=opset, dynamic=dynamic, exporter=exporter)
            record["opset"] = _onnx_opset(path)
            record["exporter"] = exporter
            if check:
                checks[fmt] = check_onnx(model, path, input_hw=(h, w), rtol=rtol, atol=atol, runtime=runtime)
        else:
            export_torchscript(model, path, input_hw=(h, w))
            if check:
                checks[fmt] = check_torchscript(model, path, input_hw=(h, w), rtol=rtol, atol=atol, runtime=runtime)
        files[fmt] = {"path": str(path), "bytes": path.stat().st_size}
    if runtime is not None and check:
        record["check_runtime"] = {"device": str(runtime.device), "precision": runtime.precision}
    record.update(files=files, versions=_versions(), checked=check, checks=checks,
                  ok=all(c["ok"] for c in checks.values()))
    meta_path = out_dir / f"{name}.export.json"
    write_json(record, meta_path)
    record["record"] = str(meta_path)
    return record


def check_failure(record: dict) -> Optional[str]:
    """What failed in an export's checks, in words (None when every check passed)."""
    checks = record["checks"]
    failed = [fmt for fmt, c in checks.items() if not c["ok"]]
    if not failed:
        return None
    runtime = {"onnx": "ONNX Runtime", "torchscript": "TorchScript"}
    c = checks[failed[0]]
    return (f"{record['name']}: " + "; ".join(
        f"the {runtime[fmt]} output differs from eager PyTorch's "
        + ("(it failed to run at some size)" if checks[fmt]["max_abs_diff"] is None
           else f"by {checks[fmt]['max_abs_diff']:.2e}") for fmt in failed)
        + f", beyond atol {c['atol']:g} + rtol {c['rtol']:g} × max |eager|.")
