"""`nasseg bench-cache`: what the HDF5 feature cache buys, measured side by side."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.cache.bench import run_bench_cache
from nasseg.config import load_params
from nasseg.outputs import write_json
from nasseg.progress import console, table

from ..common import DEVICE, PRECISION, runtime_of


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file (data, pretrain, teacher, precompute)."),
    arch: str = typer.Option("arch0", help="decoder genotype or published name"),
    samples: Optional[int] = typer.Option(None, help="samples per epoch (default: the whole cache)"),
    out: Optional[Path] = typer.Option(None, help="also write the figures to this JSON file"),
    paper_teacher: Optional[int] = typer.Option(None, help="also time the on-the-fly epoch with a RefineNet of this "
                                                "ResNet depth as teacher (152 = the paper's; random weights)"),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """One stage-1 epoch of one decoder (search width 48, repeats 1, aux cell) from the cache
    versus computing the frozen encoder and the teacher on the fly, and the cache file's
    read throughput versus the same batches from RAM, the epochs on --device in --precision.
    Needs `nasseg precompute` first."""
    p = load_params(params)
    r = run_bench_cache(p, arch=arch, samples=samples, teacher_depth=paper_teacher, runtime=runtime_of(p, device, precision),
                        log=lambda s: console.print(s, highlight=False))
    rows = [["stage-1 epoch from the cache", f"{r['epoch_cache_s']:.1f} s"],
            ["same epoch, encoder + teacher on the fly", f"{r['epoch_fly_s']:.1f} s"],
            ["speed-up", f"×{r['speedup']:.1f} (target ≥ ×5)"]]
    if "speedup_paper_teacher" in r:
        rows += [[f"same epoch, encoder + RefineNet-{r['teacher_depth_timed']} teacher on the fly",
                  f"{r['epoch_fly_paper_teacher_s']:.1f} s"],
                 ["speed-up with the paper's teacher", f"×{r['speedup_paper_teacher']:.1f}"]]
    rows += [
        ["cache read, HDF5 file", f"{r['read_file_MBps']:.0f} MB/s"],
            ["same batches from RAM", f"{r['read_ram_MBps']:.0f} MB/s"],
            ["file / RAM", f"{100 * r['read_ratio']:.0f}% (target ≥ 50%)"]]
    rows += [[f"{k}: file size, one shuffled read / whole load into RAM",
              f"{v['file_MB']:.0f} MB, {v['epoch_read_s']:.2f} s / {v['load_s']:.2f} s"]
             for k, v in r["compression"].items()]
    console.print(table(f"bench-cache: {r['arch']}, {r['samples']} samples, batch {r['batch_size']}, "
                        f"{r['threads']} threads, cache {r['cache_MB']:.0f} MB", ["", ""], rows))
    if out:
        write_json(r, out)
