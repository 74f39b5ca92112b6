"""`nasseg export`: the inference model as ONNX and TorchScript, checked against eager PyTorch."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import typer

from nasseg.errors import NassegError
from nasseg.progress import console, table
from nasseg.tools.export import FORMATS, check_failure, export

from ..common import DEVICE, PRECISION, runtime_of


def _size_text(b: int) -> str:
    return f"{b / 2**20:.1f} MB" if b >= 2**20 else f"{b / 2**10:.0f} KB"


def main(
    model: str = typer.Argument(..., help="a checkpoint (models/train/<name>/model.pt of `nasseg train`, "
                                "models/teacher/teacher.pt), a trained name (found<k>, <mpii|coco|nyu>/<model>, "
                                "teacher), a zoo name (arch0, lraspp_mbv3, ...) or a genotype text"),
    out: Path = typer.Option(Path("results/export"), "--out", "-o", help="output folder"),
    formats: Optional[list[str]] = typer.Option(None, "--format", "-f",
                                                help="onnx or torchscript (repeatable); default: both"),
    size: Optional[Tuple[int, int]] = typer.Option(None, "--size", metavar="H W",
                                                   help="input height and width traced at (default 512 512)"),
    height: Optional[int] = typer.Option(None, "--height", help="input height (instead of --size)"),
    width: Optional[int] = typer.Option(None, "--width", help="input width (instead of --size)"),
    opset: int = typer.Option(17, "--opset", help="ONNX operator set"),
    dynamic: bool = typer.Option(True, "--dynamic/--static", help="symbolic batch, height and width in the ONNX "
                                 "file (--static fixes them to the traced size)"),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="output classes of a zoo model or "
                                              "genotype (default 21); a checkpoint knows its own"),
    check: bool = typer.Option(True, "--check/--no-check", help="compare every file's output with eager PyTorch"),
    rtol: float = typer.Option(1e-3, "--rtol", help="check tolerance relative to the logits' largest magnitude"),
    atol: float = typer.Option(1e-4, "--atol", help="check tolerance, absolute part"),
    exporter: str = typer.Option("legacy", "--exporter", help="ONNX exporter: legacy (TorchScript-based, "
                                 "any opset) or dynamo (torch.export-based, opset >= 18)"),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Export the inference model to ONNX and TorchScript and check both against eager PyTorch.

    Reads: MODEL, a checkpoint of `nasseg train`/`nasseg teacher` (rebuilt from the
    architecture it records) or a zoo name / genotype text (randomly initialised, seed 0:
    useful for latency and deployment tests, not for predictions). Writes:
    <out>/<name>.onnx (input `image` N×3×H×W, output `logits` at the decoder's resolution;
    batch, height and width dynamic unless --static), <out>/<name>.ts.pt (traced TorchScript,
    any input size) and <out>/<name>.export.json (architecture, parameters, input size, opset,
    library versions, check results). <name> is the checkpoint's folder (found0 for
    models/train/found0/model.pt), the zoo name, or genotype-<hash>.

    Auxiliary heads are training-only and removed: the files hold encoder, decoder and
    classifier. The check runs each file (ONNX through ONNX Runtime on CPU) on a seeded random
    image at the export size and, for dynamic axes, on a batch of two at another size, and
    fails the command when max |file - eager| exceeds atol + rtol × max |eager|. The eager
    reference runs on --device in --precision (the files are fp32 on the CPU: against a bf16
    reference, loosen --rtol to about 5e-2).
    """
    if size is not None and (height is not None or width is not None):
        raise NassegError("give the input size either as --size H W or as --height/--width, not both.")
    hw = tuple(size) if size is not None else (height or 512, width or 512)
    if num_classes is not None and Path(model).is_file():
        raise NassegError(f"--num-classes applies to zoo names and genotypes; {model} is a checkpoint and "
                          "predicts the classes it was trained for.")
    runtime = runtime_of(None, device, precision)
    rec = export(model, out, formats=formats or list(FORMATS), input_hw=hw, opset=opset, dynamic=dynamic, check=check,
                 rtol=rtol, atol=atol, num_classes=num_classes or 21, exporter=exporter, runtime=runtime)
    arch = rec["arch"].get("genotype") or rec["arch"].get("name")
    note = " [yellow](untrained: random weights)[/]" if rec["untrained"] else ""
    onnx = (f", ONNX opset {rec['opset']} ({rec['exporter']} exporter, {'dynamic' if dynamic else 'static'} axes)"
            if "opset" in rec else "")
    console.print(f"{rec['name']}: " + (f"{arch}, " if arch != rec["name"] else "") +
                  f"{rec['params']:,} parameters (aux heads removed), traced at {hw[0]}×{hw[1]}{onnx}{note}",
                  highlight=False)
    console.print(table("export" + ("" if check else " (not checked)"),
                        ["format", "file", "size", "input", "output", "max |eager|", "max abs diff vs eager",
                         "tolerance", "check"], _rows(rec)))
    console.print(f"wrote {rec['record']}", highlight=False)
    failed = check_failure(rec)
    if failed:
        raise NassegError(f"{failed} The files are kept in {out} for inspection (see the table above); try another "
                          "--opset or --exporter, or loosen --rtol/--atol if the difference is float rounding.")


def _rows(rec: dict) -> list[list]:
    """The table's rows: one per exported file and checked input size."""
    rows = []
    for fmt, f in rec["files"].items():
        c = rec["checks"].get(fmt)
        if c is None:
            rows.append([fmt, f["path"], _size_text(f["bytes"]), "", "", "", "", "", "not checked"])
            continue
        for i, s in enumerate(c["sizes"]):
            diff = "—" if s["max_abs_diff"] is None else f"{s['max_abs_diff']:.1e}"
            result = "pass" if s["ok"] else "[bold red]FAIL[/]" + (f" ({s['error']})" if s.get("error") else "")
            file_cells = [fmt, f["path"], _size_text(f["bytes"])] if i == 0 else ["", "", ""]
            rows.append([*file_cells, "×".join(map(str, s["input"])), "×".join(map(str, s["output"])),
                         f"{s['max_abs_ref']:.2g}", diff, f"{c['atol'] + c['rtol'] * s['max_abs_ref']:.1e}", result])
    return rows
