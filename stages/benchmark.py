"""`nasseg benchmark`: the paper's Table 1 columns for the found architectures and baselines."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
import typer

from nasseg.benchmark import VARIANTS, benchmark_model, check_models, latency_table, sizes_table, with_reference_ratio
from nasseg.config import load_params
from nasseg.errors import ConfigError
from nasseg.markdown import markdown_table
from nasseg.outputs import write_json
from nasseg.models.zoo import PUBLISHED
from nasseg.progress import console, progress_bars, table
from nasseg.runtime import Runtime
from nasseg.spaces.cells import Genotype
from nasseg.spaces.cells.draw import draw_genotype

from .common import log


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; this stage reads `benchmark`."),
    models: Optional[list[str]] = typer.Option(None, "--model", "-m", help="benchmark only these (repeatable); "
                                               "default: benchmark.models"),
    variants: Optional[list[str]] = typer.Option(None, "--variant", "-v",
                                                 help=f"run variants ({', '.join(VARIANTS)}); default: benchmark.variants"),
    runs: Optional[int] = typer.Option(None, help="timed forward passes per model (default: benchmark.runs)"),
    out: Optional[Path] = typer.Option(None, help="output folder (default: benchmark.out)"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda | cuda:N | auto: time on this device "
                                         "only (default: every device of benchmark.devices present here)"),
    precision: str = typer.Option("fp32", "--precision", help="fp32 | fp16 (CUDA) | bf16: forward passes under "
                                  "autocast; the device column then reads e.g. \"cpu (bf16)\" and the ONNX Runtime "
                                  "variant is skipped"),
) -> None:
    """Parameters, MAdds, output resolution and latency of every model, as in Table 1.

    Reads: params.yaml `benchmark` (models, input size, runs, warm-up, variants, devices,
    threads). Writes: <out>/metrics.json (one record per model, variant and device),
    <out>/table.md and <out>/arch*.png|svg (the found architectures, drawn as in Fig. 6); for the
    second system (`benchmark.wacv`) <out>/wacv_table.md and wacv_metrics.json at 2048x1024 and
    480x360. Latency is measured in eval mode without autograd over `runs` forward
    passes of one image after `warmup` passes; on each device of `benchmark.devices` present
    here (CPU and, when present, CUDA), or on --device alone. The latency table is fp32 unless
    --precision says otherwise (params.yaml's runtime.precision does not apply here).
    """
    full = load_params(params)
    p = full.benchmark
    models_given = bool(models)
    models = models or list(p.models)
    check_models(models, "benchmark.models" if not models_given else "--models")
    variants = variants or list(p.variants)
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise ConfigError(f"benchmark variants {bad} unknown; choose from {', '.join(VARIANTS)}")
    runs = runs or p.runs
    out = out or Path(p.out)
    if p.threads:
        torch.set_num_threads(p.threads)
    if device is not None:
        devices = [str(Runtime.of(full, device=device, precision=precision).device)]
    else:
        devices = [d for d in p.devices if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
        for d in devices:
            Runtime.of(full, device=d, precision=precision)  # fp16 on the CPU: a ConfigError before any timing
    log(f"benchmark on {', '.join(devices)} in {precision}")
    rows = []
    with progress_bars() as task:
        tick = task("benchmark", len(models) * len(variants) * len(devices))
        for device in devices:
            for name in models:
                rows += benchmark_model(name, size=p.size, runs=runs, warmup=p.warmup, variants=variants,
                                        device=device, num_classes=p.num_classes, progress=tick, precision=precision)
    records = with_reference_ratio([r.as_dict() for r in rows], p.reference)
    write_json({"reference": p.reference, "input": p.size, "madds_convention": "FLOPs/2 from torch.utils.flop_counter "
                "(convolutions and matrix products only)", "rows": records}, out / "metrics.json")
    header, body = latency_table(records, models, variants, p.reference)
    (out / "table.md").write_text(markdown_table(header, body))
    for name in models:  # the found architectures drawn as in the paper's Fig. 6
        if name in PUBLISHED:
            draw_genotype(Genotype.from_text(PUBLISHED[name]), out / name, f"{name}: {PUBLISHED[name]}")
    console.print(table(f"benchmark: {p.size}×{p.size} input, {runs} runs after {p.warmup} warm-up", header, body))
    if p.wacv is not None and not models_given:
        _wacv_rows(p, devices, out, precision)


def _wacv_rows(p, devices: list[str], out: Path, precision: str) -> None:
    """The second system (SPEC §9): parameters, MAdds and latency at 2048x1024 and 480x360."""
    w = p.wacv
    rows = []
    with progress_bars() as task:
        tick = task("benchmark (templates)", len(w.models) * len(w.sizes) * len(w.variants) * len(devices))
        for device in devices:
            for name in w.models:
                for hw in w.sizes:
                    rows += benchmark_model(name, size=tuple(hw), runs=w.runs, warmup=w.warmup, variants=w.variants,
                                            device=device, num_classes=w.num_classes, progress=tick,
                                            precision=precision)
    records = [r.as_dict() for r in rows]
    write_json({"num_classes": w.num_classes, "runs": w.runs, "rows": records}, out / "wacv_metrics.json")
    header, body = sizes_table(records, w.models, w.sizes, w.variants)
    (out / "wacv_table.md").write_text(markdown_table(header, body))
    console.print(table(f"benchmark: template architectures, {w.num_classes} classes, {w.runs} runs", header, body))
