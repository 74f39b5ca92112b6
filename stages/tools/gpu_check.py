"""`nasseg gpu-check` (`make gpu-check`): every computing stage for a few steps on the GPU."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer

from nasseg.tools.gpu_check import gpu_check
from stages.common import log


def main(
    out: Path = typer.Option(Path("results/gpu_check.json"), "--out", help="the JSON record: per precision and "
                             "stage, seconds and peak GPU memory (MiB), and the torchrun/NCCL run"),
    timeout: float = typer.Option(240, "--timeout", help="seconds one stage may take before it counts as failed"),
) -> None:
    """Run every computing stage on the tiny profile (profiles/tiny.yaml) with --device cuda,
    once in fp16 and once in bf16, then `nasseg train` under torchrun with NCCL on the GPUs
    present; write one JSON of timings and peak memory. Without CUDA: says so, exits 0.
    Exits 1 when a stage failed (its error is in the JSON)."""
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="nasseg-gpu-check-") as scratch:
        result = gpu_check(root, out, Path(scratch), timeout=timeout, log=log)
    log(f"wrote {out}")
    if result.get("failed"):
        log(f"failed: {', '.join(result['failed'])}")
        sys.exit(1)
