"""`make gpu-check`: every computing stage for a few steps on the GPU, in fp16 and bf16.

On a machine with CUDA it copies the project (its git files) to a scratch folder, applies the
tiny profile (profiles/tiny.yaml) and runs each computing command there in a child process
with ``--device cuda --precision fp16|bf16``; each child records its wall time and the peak
GPU memory torch allocated and the share of its loops' time spent waiting for input
(:func:`probe`). Then one data-parallel run under torchrun with
NCCL on the GPUs present. Everything lands in one JSON file. Without CUDA it says so and
writes ``{"cuda": false}``: a machine without a GPU has nothing to check.

``rehearse=True`` runs the same script on the CPU (``--device cpu``, fp16 with its GradScaler
and bf16, torchrun with gloo on 2 processes): every step of the check but the CUDA kernels, so
a GPU session's few minutes are not spent on the script's own mistakes. ``until`` stops after
that computing stage (the ones before it run too: each needs its predecessors' outputs).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import yaml

from ..config import apply_overrides

# In pipeline order; the prepare commands compute nothing on a device and run once, first.
PREPARE = (["prepare"], ["prepare-transfer"], ["prepare-street"])
# (dvc.yaml's commands: the search runs both strategies, correlate reads both stores)
COMPUTING = (["pretrain"], ["teacher"], ["precompute"], ["search", "--strategy", "ppo", "--strategy", "random"],
             ["tricks"], ["ablate"],
             ["correlate"], ["train"], ["transfer"], ["precompute", "--system", "wacv"],
             ["search", "--system", "wacv", "--strategy", "ppo"], ["train-wacv"], ["benchmark"])
PRECISIONS = ("fp16", "bf16")


# Not the project's own files, where git cannot tell (a copy of the tree without .git, as a lent
# GPU machine gets): environments, carried wheels, caches, the tests
NOT_PROJECT = {".git", ".venv", ".whl", ".gl", "tests", "__pycache__", ".pytest_cache", ".dvc", ".lock-venv"}


def project_files(src: Path) -> list[str]:
    """The project's own files: tracked, or new and not ignored by git; in a tree without git,
    every file outside :data:`NOT_PROJECT`."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=src,
                             capture_output=True, text=True)
        files = out.stdout.split() if out.returncode == 0 else []
    except OSError:  # no git on this machine
        files = []
    if files:
        return files
    return sorted(str(f.relative_to(src)) for f in src.rglob("*")
                  if f.is_file() and not NOT_PROJECT.intersection(f.relative_to(src).parts[:-1]))


def copy_project(src: Path, dst: Path) -> None:
    """The project's own files (:func:`project_files`), without tests/."""
    for f in project_files(src):
        if f.startswith("tests/") or not (src / f).exists():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / f, dst / f)


def probe(args: list[str], record: Path) -> None:
    """Run one `nasseg` command in this process and append its time and peak GPU memory to ``record``."""
    import torch

    from nasseg.training.loop import WAIT_TALLY, wait_shares
    from stages.cli import run

    import resource

    cuda = torch.cuda.is_available()  # False in a rehearsal on the CPU
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
           "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
           "error": error,
           # the share of the training/precompute loops' time this process spent waiting for input,
           # in all and after each epoch's first batch (None: no loop ran in this process)
           **wait_shares(WAIT_TALLY)}
    with open(record, "a") as f:
        f.write(json.dumps(row) + "\n")


def _pythonpath(cwd: Path) -> str:
    """The copy first, then whatever PYTHONPATH held (packages installed beside the system's
    Python on a lent GPU machine: `make gpu-check-device`)."""
    return os.pathsep.join(p for p in (str(cwd), os.environ.get("PYTHONPATH", "")) if p)


def run_child(cmd: list[str], cwd: Path, record: Path, timeout: float) -> dict:
    code = f"from nasseg.tools.gpu_check import probe; probe({cmd!r}, __import__('pathlib').Path({str(record)!r}))"
    env = dict(os.environ, NASSEG_NO_PROGRESS="1", PYTHONPATH=_pythonpath(cwd))
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


def _torchrun(cwd: Path, procs: int, device: str, timeout: float) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", "-m",
           "stages", "train", "--device", device, "--params", "params.yaml"]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=cwd, env=dict(os.environ, NASSEG_NO_PROGRESS="1", PYTHONPATH=_pythonpath(cwd)),
                             capture_output=True, text=True, timeout=timeout)
        err = None if out.returncode == 0 else (out.stdout + out.stderr)[-800:]
    except subprocess.TimeoutExpired:
        err = f"timed out after {timeout:.0f} s"
    backend = "gloo" if device != "cuda" else "NCCL" if procs > 1 else \
        "1 process: no collective runs, NCCL needs a GPU per process"
    return {"command": f"torchrun --nproc_per_node={procs} -m stages train ({backend})",
            "seconds": round(time.perf_counter() - t0, 2), "error": err}


def stages_until(until: Optional[str]) -> list[list[str]]:
    """The computing commands in pipeline order, up to and including the first one named ``until``."""
    if until is None:
        return list(COMPUTING)
    names = [c[0] for c in COMPUTING]
    if until not in names:
        raise ValueError(f"--until {until!r} is not a computing stage; pick one of {', '.join(dict.fromkeys(names))}")
    return list(COMPUTING[:names.index(until) + 1])


def prepare_for(commands: list) -> list[list[str]]:
    """The prepare commands ``commands`` need: the VOC-format sets always, the transfer tasks'
    sets for transfer, the street scenes for the WACV commands."""
    wacv = any(c[0] == "train-wacv" or "wacv" in c for c in commands)
    need = {"prepare": True, "prepare-transfer": ["transfer"] in commands, "prepare-street": wacv}
    return [c for c in PREPARE if need[c[0]]]


def gpu_check(root: Path, out: Path, scratch: Path, *, timeout: float = 240, rehearse: bool = False,
              until: Optional[str] = None, precisions: tuple = PRECISIONS,
              log: Callable[[str], None] = print) -> dict:
    """Run the check (see the module docstring); returns and writes the JSON record."""
    import torch

    commands = stages_until(until)

    def save(record: dict) -> None:  # after every stage too: a check cut short keeps what it measured
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1))

    if rehearse:
        log("rehearsal on the CPU: the GPU check's every step with --device cpu (fp16 runs slowly here)")
        result = _run_all(root, scratch, "cpu", 2, commands, precisions, timeout, log, save)
        result.update(cuda=False, rehearsal=True, device="cpu", torch=torch.__version__)
    elif not torch.cuda.is_available():
        log("no CUDA device on this machine: nothing to check (on a machine with a GPU, `make gpu-check` "
            "runs every computing stage there in fp16 and bf16; `nasseg gpu-check --rehearse` runs the same "
            "script on the CPU)")
        result = {"cuda": False}
    else:
        result = _run_all(root, scratch, "cuda", torch.cuda.device_count(), commands, precisions, timeout, log,
                          save)
        result.update(cuda=True, device=torch.cuda.get_device_name(0), torch=torch.__version__,
                      cuda_version=torch.version.cuda)
    save(result)
    return result


def _describe(row: dict) -> str:
    peak = f"peak {row['peak_gpu_mib']} MiB" if row["peak_gpu_mib"] else f"peak RSS {row['peak_rss_mib']} MiB"
    return (f"{row['seconds']} s, {peak}, input wait {row['data_wait_share']} "
            f"({row['data_wait_share_after_first_batch']} after each epoch's first batch)")


def _run_all(root: Path, scratch: Path, device: str, procs: int, commands: list, precisions: tuple, timeout: float,
             log, save: Callable[[dict], None]) -> dict:
    rows: dict[str, list] = {}
    t0 = time.perf_counter()
    for precision in precisions:
        proj = scratch / precision
        shutil.rmtree(proj, ignore_errors=True)
        proj.mkdir(parents=True)
        copy_project(root, proj)
        raw = apply_overrides(yaml.safe_load((proj / "params.yaml").read_text()),
                              yaml.safe_load((proj / "profiles" / "tiny.yaml").read_text()))
        # procs 1: runs in turn in the stage's own process, as on a GPU (runtime.procs is for CPUs),
        # so the probe sees every loop's input wait
        raw["runtime"] = dict(raw.get("runtime", {}), device=device, precision=precision, procs=1)
        (proj / "params.yaml").write_text(yaml.safe_dump(raw))
        record = proj / "gpu_check.jsonl"
        rows[precision] = []
        for cmd in [*prepare_for(commands), *commands]:
            flags = [] if cmd in PREPARE else ["--device", device, "--precision", precision]
            row = run_child([*cmd, *flags, "--params", "params.yaml"], proj, record, timeout)
            log(f"{precision} {row['command']}: {row.get('error') or _describe(row)}")
            rows[precision].append(row)
            save({"partial": True, "stages": rows, "seconds": round(time.perf_counter() - t0, 1)})
        if precision == precisions[-1] and ["train"] in commands:
            row = _torchrun(proj, procs, device, timeout)
            rows["torchrun"] = [row]
            log(f"{row['command']}: {row['error'] or str(row['seconds']) + ' s'}")
    failed = [r["command"] for rs in rows.values() for r in rs if r.get("error")]
    # the target: no loop waits on input for more than 10% of its time. A tiny run has a
    # few steps an epoch, so each epoch's first batch (the workers starting, or refilling their
    # prefetch) weighs far more than in a real run: both shares are listed.
    starved = {key: [f"{p} {r['command']}" for p, rs in rows.items() for r in rs if (r.get(key) or 0) > 0.10]
               for key in ("data_wait_share", "data_wait_share_after_first_batch")}
    return {"gpus" if device == "cuda" else "procs": procs, "stages": rows, "failed": failed,
            "input_wait_over_10pct": starved["data_wait_share"],
            "input_wait_over_10pct_after_first_batch": starved["data_wait_share_after_first_batch"],
            "seconds": round(time.perf_counter() - t0, 1)}
