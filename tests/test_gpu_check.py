"""`make gpu-check` on a machine without CUDA, its rehearsal on the CPU, and the machinery it
runs each stage with."""
from __future__ import annotations

import json
import os

import pytest
import torch

from conftest import run_cli
from stages.cli import entry
from nasseg.tools.gpu_check import _pythonpath, prepare_for, project_files, run_child, stages_until


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: `make gpu-check` runs for real")
def test_without_cuda_it_says_so_and_exits_0(tmp_path):
    out = tmp_path / "gpu_check.json"
    done = run_cli(["gpu-check", "--out", str(out)], tmp_path)
    assert done.returncode == 0 and "no CUDA device" in done.stdout + done.stderr
    assert json.loads(out.read_text()) == {"cuda": False}


def test_a_tree_without_git_copies_its_own_files_and_children_keep_pythonpath(tmp_path, monkeypatch):
    """A lent GPU machine gets a copy of the working tree (maybe without .git) and installs the
    missing packages beside its Python (PYTHONPATH): the check copies the project's files, not
    environments, wheels or tests, and its children still see those packages."""
    tree = tmp_path / "tree"
    for f in ("nasseg/a.py", "params.yaml", "data/x/y.txt", ".venv/lib/t.py", ".whl/p.whl", "tests/test_a.py",
              "nasseg/__pycache__/a.pyc"):
        (tree / f).parent.mkdir(parents=True, exist_ok=True)
        (tree / f).write_text("x")
    assert project_files(tree) == ["data/x/y.txt", "nasseg/a.py", "params.yaml"]
    monkeypatch.setenv("PYTHONPATH", "/tmp/site")  # where `make gpu-check-device` installs them
    assert _pythonpath(tree).split(os.pathsep) == [str(tree), "/tmp/site"]
    monkeypatch.delenv("PYTHONPATH")
    assert _pythonpath(tree) == str(tree)


def test_a_child_records_its_error(tmp_path):
    """(A child that succeeds: every row of the rehearsal test below.)"""
    record = tmp_path / "rec.jsonl"
    bad = run_child(["search", "--params", "missing.yaml"], tmp_path, record, timeout=120)
    assert bad["command"] == "search --params missing.yaml" and "missing.yaml" in bad["error"]
    assert len(record.read_text().splitlines()) == 1


def test_the_rehearsal_runs_the_checks_steps_on_the_cpu_in_fp16(tmp_path):
    """`gpu-check --rehearse`: the project copied, the tiny profile applied, the prepare command
    and (here, up to) pretrain in a child process each with --device cpu --precision fp16."""
    out = tmp_path / "rehearsal.json"
    done = run_cli(["gpu-check", "--rehearse", "--until", "pretrain", "--precision", "fp16", "--out", str(out)],
                   tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    rec = json.loads(out.read_text())
    assert rec["rehearsal"] is True and rec["cuda"] is False and rec["procs"] == 2 and rec["failed"] == []
    assert "partial" not in rec  # the final record replaced the one written after each stage
    rows = rec["stages"]["fp16"]
    assert [r["command"].split()[0] for r in rows] == ["prepare", "pretrain"]  # only the prepare pretrain needs
    assert rows[-1]["command"] == "pretrain --device cpu --precision fp16 --params params.yaml"
    assert rows[-1]["peak_gpu_mib"] is None and rows[-1]["peak_rss_mib"] > 0
    assert 0 <= rows[-1]["data_wait_share"] <= 1  # the training loop ran in that child
    assert 0 <= rows[-1]["data_wait_share_after_first_batch"] <= 1
    assert "torchrun" not in rec["stages"]  # train was not reached
    assert rows[0]["error"] is None and rows[0]["seconds"] >= 0 and rows[0]["data_wait_share"] is None  # no loop


def test_a_bad_until_or_precision_is_one_line_naming_the_choices(tmp_path, capsys):
    with pytest.raises(ValueError, match="'pretrian' is not a computing stage; pick one of pretrain, teacher"):
        stages_until("pretrian")
    assert [c[0] for c in stages_until("precompute")] == ["pretrain", "teacher", "precompute"]
    assert prepare_for(stages_until("train")) == [["prepare"]]
    assert prepare_for(stages_until("transfer")) == [["prepare"], ["prepare-transfer"]]
    assert prepare_for(stages_until(None)) == [["prepare"], ["prepare-transfer"], ["prepare-street"]]
    with pytest.raises(SystemExit) as done:  # the console entry, in this process
        entry(["gpu-check", "--rehearse", "--precision", "fp32", "--out", str(tmp_path / "x.json")])
    assert done.value.code == 2 and "fp16 and bf16" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
