"""`make gpu-check` on a machine without CUDA, and the machinery it runs each stage with."""
from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from nasseg.tools.gpu_check import run_child


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: `make gpu-check` runs for real")
def test_without_cuda_it_says_so_and_exits_0(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = run_cli(["gpu-check", "--out", str(out)], tmp_path)
    assert done.returncode == 0 and "no CUDA device" in done.stdout + done.stderr
    assert json.loads(out.read_text()) == {"cuda": False}


def test_a_child_records_its_command_time_and_error(tmp_path):
    record = tmp_path / "rec.jsonl"
    ok = run_child(["arch", "list"], tmp_path, record, timeout=120)
    assert ok["command"] == "arch list" and ok["error"] is None and ok["seconds"] >= 0
    assert ok["data_wait_share"] is None  # no training loop ran in that process
    bad = run_child(["search", "--params", "missing.yaml"], tmp_path, record, timeout=120)
    assert bad["error"] and len(record.read_text().splitlines()) == 2
