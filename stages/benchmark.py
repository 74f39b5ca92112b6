"""`nasseg benchmark`: the paper's Table 1 columns for the found architectures and baselines."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch
import typer

from nasseg.benchmark import VARIANTS, benchmark_model
from nasseg.config import load_params
from nasseg.errors import ConfigError
from nasseg.models.zoo import PUBLISHED
from nasseg.progress import console, progress_bars, table
from nasseg.space import Genotype
from nasseg.space.draw import draw_genotype


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; this stage reads `benchmark`."),
    models: Optional[list[str]] = typer.Option(None, "--model", "-m", help="benchmark only these (repeatable); "
                                               "default: benchmark.models"),
    variants: Optional[list[str]] = typer.Option(None, "--variant", "-v",
                                                 help=f"run variants ({', '.join(VARIANTS)}); default: benchmark.variants"),
    runs: Optional[int] = typer.Option(None, help="timed forward passes per model (default: benchmark.runs)"),
    out: Optional[Path] = typer.Option(None, help="output folder (default: benchmark.out)"),
) -> None:
    """Parameters, MAdds, output resolution and latency of every model, as in Table 1.

    Reads: params.yaml `benchmark` (models, input size, runs, warm-up, variants, devices,
    threads). Writes: <out>/metrics.json (one record per model, variant and device),
    <out>/table.md and <out>/arch*.png|svg (the found architectures, drawn as in Fig. 6); for the
    second system (`benchmark.wacv`) <out>/wacv_table.md and wacv_metrics.json at 2048x1024 and
    480x360. Latency is measured in eval mode without autograd over `runs` forward
    passes of one image after `warmup` passes; on CPU and, when present, on CUDA.
    """
    p = load_params(params).benchmark
    models_given = bool(models)
    models = models or list(p.models)
    variants = variants or list(p.variants)
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise ConfigError(f"benchmark variants {bad} unknown; choose from {', '.join(VARIANTS)}")
    runs = runs or p.runs
    out = out or Path(p.out)
    if p.threads:
        torch.set_num_threads(p.threads)
    devices = [d for d in p.devices if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    rows = []
    with progress_bars() as task:
        tick = task("benchmark", len(models) * len(variants) * len(devices))
        for device in devices:
            for name in models:
                rows += benchmark_model(name, size=p.size, runs=runs, warmup=p.warmup, variants=variants,
                                        device=device, num_classes=p.num_classes, progress=tick)
    out.mkdir(parents=True, exist_ok=True)
    ref_name = p.reference
    ref = {(r.device, r.variant): r.mean_ms for r in rows if r.model == ref_name}
    records = []
    for r in rows:
        d = r.as_dict()
        d["ratio_to_reference"] = r.mean_ms / ref[(r.device, r.variant)] if (r.device, r.variant) in ref else None
        records.append(d)
    (out / "metrics.json").write_text(json.dumps({
        "reference": ref_name, "input": p.size, "madds_convention": "FLOPs/2 from torch.utils.flop_counter "
        "(convolutions and matrix products only)", "rows": records}, indent=1))
    # One row per model and device, a latency column per variant (Table 1's layout).
    base = variants[0]
    header = ["model", "device", "threads", "params", "MAdds (B)", "output"] + \
             [f"{v} ms" for v in variants] + [f"÷ {ref_name} ({base})", "max abs diff vs eager"]
    body = []
    for device in dict.fromkeys(d["device"] for d in records):
        for name in models:
            recs = {d["variant"]: d for d in records if d["model"] == name and d["device"] == device}
            if not recs:
                continue
            # a CPU-only variant (onnxruntime) has no record on CUDA: its cell reads "n/a"
            first = next(recs[v] for v in variants if v in recs)
            ratio = recs[base]["ratio_to_reference"] if base in recs else None
            body.append([name, device, first["threads"], f"{first['params']:,}", f"{first['madds'] / 1e9:.2f}",
                         "×".join(map(str, first["output_hw"]))]
                        + [f"{recs[v]['mean_ms']:.1f} ± {recs[v]['std_ms']:.1f}" if v in recs else "n/a"
                           for v in variants]
                        + ["" if ratio is None else f"{ratio:.2f}",
                           f"{max(r['max_abs_diff'] for r in recs.values()):.1e}"])
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    (out / "table.md").write_text("\n".join(md) + "\n")
    for name in models:  # the found architectures drawn as in the paper's Fig. 6
        if name in PUBLISHED:
            draw_genotype(Genotype.from_text(PUBLISHED[name]), out / name, f"{name}: {PUBLISHED[name]}")
    console.print(table(f"benchmark: {p.size}×{p.size} input, {runs} runs after {p.warmup} warm-up", header, body))
    if p.wacv is not None and not models_given:
        _wacv_rows(p, devices, out)


def _wacv_rows(p, devices: list[str], out: Path) -> None:
    """The second system (SPEC §9): parameters, MAdds and latency at 2048x1024 and 480x360."""
    w = p.wacv
    rows = []
    with progress_bars() as task:
        tick = task("benchmark (templates)", len(w.models) * len(w.sizes) * len(w.variants) * len(devices))
        for device in devices:
            for name in w.models:
                for hw in w.sizes:
                    rows += benchmark_model(name, size=tuple(hw), runs=w.runs, warmup=w.warmup, variants=w.variants,
                                            device=device, num_classes=w.num_classes, progress=tick)
    (out / "wacv_metrics.json").write_text(json.dumps({
        "num_classes": w.num_classes, "runs": w.runs, "rows": [r.as_dict() for r in rows]}, indent=1))
    header = ["model", "device", "threads", "params", "input (W×H)", "MAdds (B)", "output (W×H)"] + \
             [f"{v} ms" for v in w.variants]
    body = []
    for device in dict.fromkeys(r.device for r in rows):
        for name in w.models:
            for hw in w.sizes:
                recs = {r.variant: r for r in rows if r.model == name and r.device == device and
                        tuple(r.input_hw) == tuple(hw)}
                if not recs:
                    continue
                first = next(iter(recs.values()))
                body.append([name, device, first.threads, f"{first.params:,}", f"{hw[1]}×{hw[0]}",
                             f"{first.madds / 1e9:.2f}", f"{first.output_hw[1]}×{first.output_hw[0]}"]
                            + [f"{recs[v].mean_ms:.1f} ± {recs[v].std_ms:.1f}" if v in recs else "n/a"
                               for v in w.variants])
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    (out / "wacv_table.md").write_text("\n".join(md) + "\n")
    console.print(table(f"benchmark: template architectures, {w.num_classes} classes, {w.runs} runs", header, body))
