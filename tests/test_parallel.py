"""nasseg.parallel: independent jobs side by side in spawned processes, results in job order."""
from __future__ import annotations

import os

import pytest
import torch

from nasseg.errors import NassegError
from nasseg.parallel import in_child, report, side_by_side, threads_per_proc, usable_procs


def _job(i: int, x: int, fail: bool = False) -> dict:
    """A job: reports two units of progress, says where it ran."""
    report(i)
    report(i)
    if fail:
        raise NassegError(f"job {x} was told to fail")
    return {"i": i, "square": x * x, "child": in_child(), "pid": os.getpid(), "threads": torch.get_num_threads()}


def test_jobs_side_by_side_return_in_job_order_with_progress():
    progress, done = {}, []
    out = side_by_side(_job, [(3,), (4,), (5,)], 2, on_progress=lambda i, n: progress.__setitem__(i, progress.get(i, 0) + n),
                       on_done=lambda i, r: done.append(i))
    assert [r["square"] for r in out] == [9, 16, 25] and [r["i"] for r in out] == [0, 1, 2]
    assert all(r["child"] for r in out) and all(r["pid"] != os.getpid() for r in out)
    assert all(r["threads"] == threads_per_proc(2) for r in out)
    assert progress == {0: 2, 1: 2, 2: 2} and sorted(done) == [0, 1, 2]


def _chatty(i: int, n: int) -> int:
    for _ in range(n):
        report(i)
    return i


def test_no_report_is_lost_when_jobs_end_fast():
    """A child's reports go through a feeder thread: those still in flight when its result arrives
    (or more than a pipe holds) must reach on_progress all the same (once lost one in CI)."""
    progress = {}
    side_by_side(_chatty, [(1500,)] * 4, 2, on_progress=lambda i, n: progress.__setitem__(i, progress.get(i, 0) + n))
    assert progress == {i: 1500 for i in range(4)}


def test_one_process_runs_here_with_the_same_calls():
    progress = {}
    out = side_by_side(_job, [(3,), (4,)], 1, on_progress=lambda i, n: progress.__setitem__(i, progress.get(i, 0) + n))
    assert [r["square"] for r in out] == [9, 16] and not any(r["child"] for r in out)
    assert all(r["pid"] == os.getpid() for r in out) and progress == {0: 2, 1: 2}


def test_a_failing_job_names_itself_and_the_others_finish():
    done = []
    with pytest.raises(NassegError, match=r"second: job 4 was told to fail"):
        side_by_side(_job, [(3,), (4, True), (5,)], 2, labels=["first", "second", "third"],
                     on_done=lambda i, r: done.append(i))
    assert sorted(done) == [0, 2]


def test_procs_only_on_a_cpu_outside_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert usable_procs(2, torch.device("cpu")) == 2
    assert usable_procs(2, torch.device("cuda", 0)) == 1
    assert usable_procs(1, torch.device("cpu")) == 1
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert usable_procs(2, torch.device("cpu")) == 1


def test_bench_procs_times_both_ways(tmp_path):
    from nasseg.bench_procs import bench_procs, summary_rows

    r = bench_procs(procs=2, jobs=2, steps=1, side=64, batch=2, kinds=("decoder",), log=lambda s: None)
    k = r["kinds"]["decoder"]
    assert k["in_turn_s"] > 0 and k["side_by_side_s"] > 0 and len(k["job_s_side_by_side"]) == 2
    # the figures are rounded (seconds to 0.01, ratios to 0.001): compare at that precision
    assert k["speedup"] == pytest.approx(k["in_turn_s"] / k["side_by_side_s"], rel=0.05, abs=0.002)
    assert summary_rows(r)[0][0] == "decoder"


def test_bench_procs_refuses_bad_options(tmp_path):
    from conftest import run_cli

    done = run_cli(["bench-procs", "--procs", "1"], tmp_path)
    assert done.returncode == 2 and "--procs" in done.stdout + done.stderr and "Traceback" not in done.stderr
    done = run_cli(["bench-procs", "--kinds", "gpu"], tmp_path)
    assert done.returncode == 2 and "--kinds" in done.stdout + done.stderr and "Traceback" not in done.stderr
