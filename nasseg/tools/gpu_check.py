"""`make gpu-check`: every computing stage for a few steps on the GPU, in fp16 and bf16.

On a machine with CUDA it copies the project (its git files) to a scratch folder, applies the
tiny profile (profiles/tiny.yaml) and runs each computing command there in a child process
with ``--device cuda --precision fp16|bf16``; each child records its wall time and the peak
GPU memory torch allocated and the share of its loops' time spent waiting for input
(:func:`probe`). Then one data-parallel run under torchrun with
NCCL on the GPUs present. Everything lands in one JSON file. Without CUDA it says so and
writes ``{"cuda": false}``: a machine without a GPU has nothing to check.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import yaml

from ..config import apply_overrides

# In pipeline order; the prepare commands compute nothing on a device and run once, first.
PREPARE = (["prepare"], ["prepare-transfer"], ["prepare-street"])
COMPUTING = (["pretrain"], ["teacher"], ["precompute"], ["search", "--strategy", "ppo"], ["tricks"], ["ablate"],
             ["correlate"], ["train"], ["transfer"], ["precompute", "--system", "wacv"],
             ["search", "--system", "wacv", "--strategy", "ppo"], ["train-wacv"], ["benchmark"])
PRECISIONS = ("fp16", "bf16")


def copy_project(src: Path, dst: Path) -> None:
    """The project's own files (tracked, or new and not ignored by git), without tests/."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=src,
                           capture_output=True, text=True).stdout.split()
    if not files:
        raise RuntimeError(f"{src} is not a git checkout; cannot tell its files from build outputs")
    for f in files:
        if f.startswith("tests/") or not (src / f).exists():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / f, dst / f)


def probe(args: list[str], record: Path) -> None:
    """Run one `nasseg` command in this process and append its time and peak GPU memory to ``record``."""
    import torch

    from nasseg.training.loop import WAIT_TALLY
    from stages.cli import run

    cuda = torch.cuda.is_available()  # False only when the machinery itself is tested on a CPU
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0, error = time.perf_counter(), None
    try:
        run(args)
    except SystemExit as e:  # typer ends with SystemExit(0) on success
        error = None if not e.code else f"exit {e.code}"
    except Exception as e:  # recorded, not raised: the check goes on with the other stages
        error = f"{type(e).__name__}: {e}"
    row = {"command": " ".join(args), "seconds": round(time.perf_counter() - t0, 2),
           "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None, "error": error,
           # the share of the training/precompute loops' time this process spent waiting for input
           # (None: no loop ran in this process, e.g. the search's trials run in Ray workers)
           "data_wait_share": round(WAIT_TALLY["data_seconds"] / WAIT_TALLY["seconds"], 4)
           if WAIT_TALLY["seconds"] > 0 else None}
    with open(record, "a") as f:
        f.write(json.dumps(row) + "\n")


def run_child(cmd: list[str], cwd: Path, record: Path, timeout: float) -> dict:
    code = f"from nasseg.tools.gpu_check import probe; probe({cmd!r}, __import__('pathlib').Path({str(record)!r}))"
    env = dict(os.environ, NASSEG_NO_PROGRESS="1", PYTHONPATH=str(cwd))
    before = record.read_text().count("\n") if record.exists() else 0
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=timeout)
        tail = (out.stdout + out.stderr)[-800:]
    except subprocess.TimeoutExpired:
        return {"command": " ".join(cmd), "error": f"timed out after {timeout:.0f} s"}
    lines = record.read_text().splitlines() if record.exists() else []
    if len(lines) == before:
        return {"command": " ".join(cmd), "error": f"the child died (exit {out.returncode}): {tail}"}
    return json.loads(lines[-1])


def _torchrun(cwd: Path, gpus: int, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", "-m",
           "stages", "train", "--device", "cuda", "--params", "params.yaml"]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=cwd, env=dict(os.environ, NASSEG_NO_PROGRESS="1", PYTHONPATH=str(cwd)),
                             capture_output=True, text=True, timeout=timeout)
        err = None if out.returncode == 0 else (out.stdout + out.stderr)[-800:]
    except subprocess.TimeoutExpired:
        err = f"timed out after {timeout:.0f} s"
    return {"command": f"torchrun --nproc_per_node={gpus} -m stages train (NCCL)",
            "seconds": round(time.perf_counter() - t0, 2), "error": err}


def gpu_check(root: Path, out: Path, scratch: Path, *, timeout: float = 240,
              log: Callable[[str], None] = print) -> dict:
    """Run the check (see the module docstring); returns and writes the JSON record."""
    import torch

    if not torch.cuda.is_available():
        log("no CUDA device on this machine: nothing to check (on a machine with a GPU, `make gpu-check` "
            "runs every computing stage there in fp16 and bf16)")
        result = {"cuda": False}
    else:
        result = _run_all(root, scratch, torch.cuda.device_count(), timeout, log)
        result.update(cuda=True, device=torch.cuda.get_device_name(0), torch=torch.__version__,
                      cuda_version=torch.version.cuda)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return result


def _run_all(root: Path, scratch: Path, gpus: int, timeout: float, log) -> dict:
    rows: dict[str, list] = {}
    for precision in PRECISIONS:
        proj = scratch / precision
        shutil.rmtree(proj, ignore_errors=True)
        proj.mkdir(parents=True)
        copy_project(root, proj)
        raw = apply_overrides(yaml.safe_load((proj / "params.yaml").read_text()),
                              yaml.safe_load((proj / "profiles" / "tiny.yaml").read_text()))
        raw["runtime"] = dict(raw.get("runtime", {}), device="cuda", precision=precision)
        (proj / "params.yaml").write_text(yaml.safe_dump(raw))
        record = proj / "gpu_check.jsonl"
        rows[precision] = []
        for cmd in [*PREPARE, *COMPUTING]:
            flags = [] if cmd in PREPARE else ["--device", "cuda", "--precision", precision]
            row = run_child([*cmd, *flags, "--params", "params.yaml"], proj, record, timeout)
            log(f"{precision} {row['command']}: " + (row.get("error") or f"{row['seconds']} s, "
                                                       f"peak {row['peak_gpu_mib']} MiB, "
                                                       f"input wait {row.get('data_wait_share')}"))
            rows[precision].append(row)
        if precision == PRECISIONS[-1]:
            rows["torchrun"] = [_torchrun(proj, gpus, timeout)]
    failed = [r["command"] for rs in rows.values() for r in rs if r.get("error")]
    # the target: no loop waits on input for more than 10% of its time
    starved = [f"{p} {r['command']}" for p, rs in rows.items() for r in rs if (r.get("data_wait_share") or 0) > 0.10]
    return {"gpus": gpus, "stages": rows, "failed": failed, "input_wait_over_10pct": starved}
