"""Training is a function of its params, not of the process (issue 20).

`nasseg train`, `nasseg ablate` and `nasseg transfer` each run twice, in two fresh processes,
on a tiny project; what they write must be equal bit for bit (every tensor ``torch.equal``).
Then a `nasseg train` is killed (SIGKILL) in the middle of its second epoch, after its
first epoch's checkpoint is on disk, and started again: it resumes there and must end with
the weights of the run that was never killed.

The tiny project (embedded sets, a random "pretrained" encoder, a search result and an
ablation table naming one genotype) is prepared once for the module; each run has its own
params file and output folders beside it, so the two fresh runs of a stage go side by side.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, tiny_segmentation_params
from nasseg.config import parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.seeding import derive_seed, seeded
from nasseg.spaces import CELLS
from nasseg.transfer.prepare import generate_transfer_embedded

GENOTYPE = "[[2,[0,0,0,1],[1,2,3,4],[2,0,5,6]],[[0,1],[2,3],[4,5]]]"


def _schedule(sets: str, val_set: str, images: int) -> dict:
    return {"phases": [{"sets": sets, "epochs": 2, "images_per_epoch": images}], "batch_size": 2,
            "val_set": val_set}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The shared inputs: prepared data, an encoder.pt, a topk.json; returns (root, base params)."""
    root = tmp_path_factory.mktemp("xproc")
    tdata = {"root": str(root / "tdata"), "embedded": {"coco": {"train": 2, "val": 2}, "mpii": {"train": 2, "val": 2},
                                                       "nyu_labeled": 4, "nyu_test": 2, "nyu_raw_train": 4}}
    raw = {**tiny_segmentation_params(root), "runtime": {"workers": 0},
           "transfer": {"data": tdata, "tasks": ["nyu"], "models": [GENOTYPE], "encoder": "pretrain",
                        "nyu": {"crop": [32, 32], "schedule": _schedule("nyu_train", "nyu_test", 4)}}}
    p = parse_params(raw)
    generate_embedded(p.data)
    build_lists(p.data)
    generate_transfer_embedded(p.transfer.data)
    (root / "pre").mkdir()
    with seeded(0):
        torch.save({"encoder": MobileNetV2Encoder().state_dict()}, root / "pre" / "encoder.pt")
    (root / "search" / "ppo").mkdir(parents=True)
    (root / "search" / "ppo" / "topk.json").write_text(json.dumps([{"genotype": GENOTYPE, "hash": "g0", "reward": 0.5}]))
    return root, raw


def _run_dir(project, name: str) -> Path:
    """A run's folder with its params.yaml: the shared inputs, its own outputs."""
    root, raw = project
    d = root / name
    d.mkdir()
    params = {**raw,
              "ablate": {"archs": 1, "variants": ["cell"], "width": 8, "repeats": 1, "out": str(d / "ablate"),
                         "schedule": _schedule("voc_train", "meta_val", 4)},
              "train": {"archs": 1, "width": 8, "repeats": 1, "latency": {"size": 32, "runs": 1, "warmup": 0},
                        "baselines": [],  # found0 stands for every run here (test_baselines.py trains them)
                        "schedule": _schedule("voc_train", "meta_val", 8), "out": str(d / "models"),
                        "resume": str(d / "resume"), "report": str(d / "report")},
              "transfer": {**raw["transfer"], "out": str(d / "transfer"), "resume": str(d / "transfer_resume"),
                           "models_out": str(d / "transfer_models")}}
    (d / "params.yaml").write_text(yaml.safe_dump(params))
    # what `nasseg train` reads: the ablation's table (a run of `ablate` in this folder rewrites it)
    (d / "ablate").mkdir()
    (d / "ablate" / "ablation.tsv").write_text(f"rank\thash\tgenotype\tcell\n1\tg0\t{GENOTYPE}\t0.5\n")
    return d


def _start(stage: str, d: Path) -> subprocess.Popen:
    """`nasseg <stage> -p params.yaml` in a fresh process, on one thread (two go side by side)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), NASSEG_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "stages", stage, "-p", "params.yaml"], cwd=d, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"{proc.args} failed:\n{out}"
    return out


def _twice(project, stage: str, also=None) -> tuple[Path, Path]:
    """Two fresh processes of ``stage``, side by side (with ``also()`` run meanwhile); their folders."""
    a, b = _run_dir(project, f"{stage}_a"), _run_dir(project, f"{stage}_b")
    procs = [_start(stage, a), _start(stage, b)]
    if also is not None:
        also()
    for p in procs:
        _finish(p)
    return a, b


def _kill_in_epoch_2(d: Path) -> None:
    """`nasseg train` in ``d``, killed (SIGKILL) as soon as its first epoch's checkpoint is on disk."""
    ckpt = d / "resume/found0/last.pt"
    proc = _start("train", d)
    deadline = time.monotonic() + 240
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it was killed:\n{out}"
    assert torch.load(ckpt, map_location="cpu", weights_only=True)["epoch"] == 1, "killed after epoch 2, not in it"
    assert not (d / "models/found0/model.pt").exists()


def _assert_same_tensors(x, y, where: str) -> int:
    """Every tensor of two nested structures equal bit for bit (other leaves equal); the tensor count."""
    if isinstance(x, torch.Tensor):
        assert isinstance(y, torch.Tensor) and x.dtype == y.dtype and torch.equal(x, y), f"{where}: tensors differ"
        return 1
    if isinstance(x, dict):
        assert set(x) == set(y), f"{where}: keys differ"
        return sum(_assert_same_tensors(x[k], y[k], f"{where}.{k}") for k in x)
    if isinstance(x, (list, tuple)):
        assert len(x) == len(y), f"{where}: lengths differ"
        return sum(_assert_same_tensors(u, v, f"{where}[{i}]") for i, (u, v) in enumerate(zip(x, y)))
    assert x == y, f"{where}: {x!r} != {y!r}"
    return 0


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _losses(result: Path) -> list:
    return [h["train_loss"] for h in json.loads(result.read_text())["history"]]


def test_seeded_builds_do_not_depend_on_what_ran_before():
    def build():
        return CELLS.build_decoder(GENOTYPE, num_classes=3, width=8, repeats=1, aux="cell").state_dict()

    with seeded(7, "x"):
        first = build()
    torch.rand(100)  # the global RNG moved on, as other builds would move it
    state = torch.get_rng_state()
    with seeded(7, "x"):
        again = build()
    assert torch.equal(torch.get_rng_state(), state), "seeded() must give the RNG state back"
    assert _assert_same_tensors(first, again, "decoder") > 10
    with seeded(7, "y"):
        other = build()
    assert not all(torch.equal(first[k], other[k]) for k in first if first[k].is_floating_point())
    assert derive_seed(7) == 7 and len({derive_seed(7, "y"), derive_seed(8, "y"), derive_seed(7, "x")}) == 3
    with pytest.raises(TypeError, match="seed tag"):
        derive_seed(7, 1.5)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals (SIGKILL)")
def test_train_in_two_processes_and_after_a_kill_gives_the_same_weights(project):
    # a third fresh run, killed in the middle of epoch 2 (epoch 1's checkpoint on disk), goes meanwhile
    c = _run_dir(project, "train_killed")
    a, b = _twice(project, "train", also=lambda: _kill_in_epoch_2(c))
    n = _assert_same_tensors(_weights(a / "models/found0/model.pt"), _weights(b / "models/found0/model.pt"), "model")
    assert n > 100
    # the last epoch checkpoint (kept by train): aux heads, optimiser states and history too
    ck_a, ck_b = (torch.load(d / "resume/found0/last.pt", map_location="cpu", weights_only=True) for d in (a, b))
    assert ck_a["epoch"] == 2
    for key in ("model", "opt_enc", "opt_dec"):
        _assert_same_tensors(ck_a[key], ck_b[key], key)
    assert [h["train_loss"] for h in ck_a["history"]] == [h["train_loss"] for h in ck_b["history"]]

    # run again, the killed run resumes from epoch 1's checkpoint and ends where the others did
    resumed = _finish(_start("train", c))
    assert "resumed from" in resumed and "after epoch 1/2" in resumed
    _assert_same_tensors(_weights(a / "models/found0/model.pt"), _weights(c / "models/found0/model.pt"), "resumed")
    ck_c = torch.load(c / "resume/found0/last.pt", map_location="cpu", weights_only=True)
    for key in ("model", "opt_enc", "opt_dec"):
        _assert_same_tensors(ck_a[key], ck_c[key], f"resumed {key}")
    assert [h["train_loss"] for h in ck_a["history"]] == [h["train_loss"] for h in ck_c["history"]]


def test_ablate_in_two_processes_gives_the_same_losses_and_scores(project):
    # ablate keeps no weights: its runs' losses and scores (floats, written exactly) stand for them
    a, b = _twice(project, "ablate")
    ra, rb = (sorted((d / "ablate").rglob("result.json")) for d in (a, b))
    assert len(ra) == 1 and [p.relative_to(a) for p in ra] == [p.relative_to(b) for p in rb]
    ja, jb = json.loads(ra[0].read_text()), json.loads(rb[0].read_text())
    assert len(_losses(ra[0])) == 2 and _losses(ra[0]) == _losses(rb[0])
    assert (ja["mean_iou"], ja["iou"]) == (jb["mean_iou"], jb["iou"])


def test_transfer_in_two_processes_gives_the_same_weights(project):
    a, b = _twice(project, "transfer")
    wa = sorted((a / "transfer_models").rglob("model.pt"))
    assert len(wa) == 1
    wb = b / wa[0].relative_to(a)
    assert _assert_same_tensors(_weights(wa[0]), _weights(wb), "transfer model") > 100
    ra, rb = (sorted((d / "transfer").rglob("result.json"))[0] for d in (a, b))
    assert len(_losses(ra)) == 2 and _losses(ra) == _losses(rb)


def test_runs_side_by_side_in_runtime_procs_match_runs_here(project):
    """runtime.procs 2 (the end-to-end test runs with 1): two runs in spawned processes hand their
    results and weights back (keep: through run_dir/kept.pt, removed after) equal bit for bit to the
    same runs trained here on the thread count a child gets. ablate, correlate, train and train-wacv
    train their runs through this call."""
    from nasseg.config import ScheduleParams
    from nasseg.experiments.runner import train_arch, train_side_by_side
    from nasseg.parallel import threads_per_proc

    root, raw = project
    p = parse_params({**raw, "runtime": {"workers": 0, "procs": 2}})
    sched = ScheduleParams(**_schedule("voc_train", "meta_val", 4))
    runs = [{"genotype": GENOTYPE, "variant": v, "width": 8, "repeats": 1, "schedule": sched,
             "run_dir": root / "side" / v} for v in ("cell", "none")]
    ticks = []
    there = train_side_by_side(p, runs, runtime=None, keep=True, tick=lambda: ticks.append(1), log=lambda s: None)
    assert list(there) == [str(kw["run_dir"]) for kw in runs] and len(ticks) == 2
    before = torch.get_num_threads()
    torch.set_num_threads(threads_per_proc(2))
    try:
        for kw in runs:
            res, model = there[str(kw["run_dir"])]
            assert not (kw["run_dir"] / "kept.pt").exists() and model is not None
            here, here_model = train_arch(p, **{**kw, "run_dir": root / "here" / kw["variant"]}, keep=True,
                                          log=lambda s: None)
            assert [h["train_loss"] for h in res["history"]] == [h["train_loss"] for h in here["history"]]
            assert (res["mean_iou"], res["iou"]) == (here["mean_iou"], here["iou"])
            assert _assert_same_tensors(model.state_dict(), here_model.state_dict(), kw["variant"]) > 50
    finally:
        torch.set_num_threads(before)
    # one process (procs 1, or one run): the caller trains them itself
    assert train_side_by_side(parse_params(raw), runs, runtime=None, keep=True) == {}
