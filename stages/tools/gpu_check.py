"""`nasseg gpu-check` (`make gpu-check`): every computing stage for a few steps on the GPU."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from nasseg.tools.gpu_check import PRECISIONS, gpu_check, stages_until
from nasseg.errors import ConfigError
from stages.common import log


def main(
    out: Path = typer.Option(Path("results/gpu_check.json"), "--out", help="the JSON record: per precision and "
                             "stage, seconds, peak GPU memory (MiB), peak RSS and input-wait share, and the "
                             "torchrun run"),
    timeout: float = typer.Option(240, "--timeout", help="seconds one stage may take before it counts as failed"),
    rehearse: bool = typer.Option(False, "--rehearse", help="run the same check on the CPU (--device cpu, fp16 "
                                  "with its GradScaler and bf16, torchrun with gloo on 2 processes): everything "
                                  "but the CUDA kernels, before a GPU session's minutes are spent"),
    until: Optional[str] = typer.Option(None, "--until", help="stop after this computing stage (e.g. pretrain); "
                                        "the stages before it run too, each needs the ones before"),
    precision: list[str] = typer.Option(list(PRECISIONS), "--precision", help="the precisions to check "
                                        "(repeat the option; default fp16 and bf16)"),
) -> None:
    """Run every computing stage on the tiny profile (profiles/tiny.yaml) with --device cuda,
    once in fp16 and once in bf16, then `nasseg train` under torchrun with NCCL on the GPUs
    present; write one JSON of timings and peak memory. Without CUDA: says so, exits 0
    (or, with --rehearse, runs it all on the CPU). Exits 1 when a stage failed (its error is
    in the JSON)."""
    try:
        stages_until(until)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if bad := [p for p in precision if p not in PRECISIONS]:
        raise ConfigError(f"--precision {bad[0]!r}: the check runs {' and '.join(PRECISIONS)} (fp32 is what every test runs)")
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="nasseg-gpu-check-") as scratch:
        result = gpu_check(root, out, Path(scratch), timeout=timeout, rehearse=rehearse, until=until,
                           precisions=tuple(precision), log=log)
    log(f"wrote {out}")
    if result.get("failed"):
        log(f"failed: {', '.join(result['failed'])}")
        sys.exit(1)
