"""`nasseg plan`: every dvc.yaml stage costed, work counts from the params, what-ifs, bad options."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from nasseg.config import load_params, parse_params
from nasseg.errors import ConfigError
from nasseg.plan import Linear, compare, count_sets, dvc_stages, hardware, make_plan, measured

PAPER = ROOT / "profiles" / "paper.yaml"
DDP = ("ablate", "correlate", "train", "train_wacv", "transfer", "tricks")


def _plan_cli(params: Path, tmp_path: Path, *extra: str) -> tuple[dict, str, float]:
    out = tmp_path / "plan.json"
    t0 = time.perf_counter()
    # one torch thread: on a CI machine whose cores other jobs share, two spinning OpenMP threads per
    # step made the probes up to 100x slower (measured here under load 4 on 2 cores); the planner's
    # own run time is what this checks
    env = dict(os.environ, PYTHONPATH=str(ROOT), NASSEG_NO_PROGRESS="1", OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "stages", "plan", "--params", str(params), "--json", str(out),
                          "--device", "cpu", *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    took = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(out.read_text()), res.stdout + res.stderr, took


def _check(plan: dict, text: str, took: float, params_path: Path) -> None:
    assert took < 60, f"nasseg plan took {took:.1f} s"
    names = dvc_stages(ROOT / "dvc.yaml")
    assert [s["stage"] for s in plan["stages"]] == names
    for name in names:
        assert name in text  # the table names every stage
    p = load_params(params_path)
    by = {s["stage"]: s for s in plan["stages"]}
    for s in plan["stages"]:
        if s["seconds"] is not None:
            assert s["seconds"] > 0 and math.isfinite(s["seconds"]), s
            assert s["probed"] and s["scaling"], s
        assert s["disk_bytes"] >= 0
        if s["peak_bytes"] is not None:
            assert s["peak_bytes"] > 0
    # the computing stages all have a time
    for name in ("pretrain", "teacher", "precompute", "benchmark", "search", "tricks", "ablate",
                 "correlate", "train", "transfer", "precompute_wacv", "search_wacv", "train_wacv"):
        assert by[name]["seconds"] is not None, name
    assert plan["totals"]["seconds"] == pytest.approx(sum(s["seconds"] or 0 for s in plan["stages"]))
    # work counts from the params
    sets = count_sets(p)
    for name, s, n in (("search", p.search, 2), ("search_wacv", p.wacv.search, 1)):  # search: ppo and random
        c = by[name]["counts"]
        if s.max_seconds is None:
            assert c["trials"] == n * s.max_trials
        else:  # the wall-clock budget cuts the trials; the plan says how many fit
            assert 1 <= c["trials"] <= (s.max_trials or c["trials"]) and "max_seconds" in " ".join(by[name]["notes"])
        assert 1 <= c["expected_stage2"] <= c["trials"]
    s1 = p.search.stage1
    per_epoch = s1.samples_per_epoch // s1.batch_size if s1.samples_per_epoch else p.precompute.n // s1.batch_size
    assert by["search"]["counts"]["stage1_steps"] == s1.epochs * per_epoch
    if p.runtime.procs > 1:  # the two searches side by side: the wall time is one search's, on fewer threads
        assert by["search"]["seconds"] < by["search"]["train_seconds"] and "side by side" in by["search"]["parallel"]
    assert by["ablate"]["counts"]["runs"] == p.ablate.archs * len(p.ablate.variants)
    assert by["correlate"]["counts"]["runs"] == 3 * p.correlate.per_bucket
    assert by["train"]["counts"]["runs"] == p.train.archs + len(p.train.baselines)
    assert by["transfer"]["counts"]["runs"] == len(p.transfer.tasks) * len(p.transfer.models)
    pre = p.pretrain
    if pre.weights is None:
        n = sets.n(pre.sets)
        assert by["pretrain"]["counts"]["steps"] == pre.epochs * (math.ceil(n / pre.batch_size)
                                                                  - (n % pre.batch_size == 1))
    steps = sum(min(ph.images_per_epoch or sets.n(ph.sets), sets.n(ph.sets)) // p.train.schedule.batch_size
                * ph.epochs for ph in p.train.schedule.phases)
    assert by["train"]["counts"]["steps_per_run"] == steps
    assert by["precompute"]["counts"]["train_samples"] == p.precompute.n
    assert by["precompute"]["disk_bytes"] > p.precompute.n * 2 * 32 * (p.precompute.augment.crop // 4) ** 2
    # prepare_scan: the source files it stats, counted, untimed like prepare
    scan = by["prepare_scan"]
    assert "stat of the source files" in scan["work"] and scan["seconds"] is None and "no planner" not in scan["work"]
    if p.data.sources.voc is None and p.data.sources.sbd is None and p.data.sources.coco is None:
        assert scan["counts"]["files"] == 0 and "all embedded" in scan["work"]
    # the table says what was probed and how it was scaled
    assert "probed" in text and "a + b·(batch × crop pixels)" in text


def test_plan_on_params_yaml(tmp_path):
    # smaller probes than the default (the paper profile's test runs those, and the time limit)
    plan, text, took = _plan_cli(ROOT / "params.yaml", tmp_path, "--probe-sides", "48,96")
    _check(plan, text, took, ROOT / "params.yaml")


def test_plan_on_the_paper_profile(tmp_path):
    if not PAPER.is_file():
        pytest.skip(f"{PAPER} does not exist yet (the paper profile is written by another change)")
    plan, text, took = _plan_cli(PAPER, tmp_path)
    _check(plan, text, took, PAPER)


def test_more_gpus_are_faster_for_the_ddp_stages():
    p = load_params(ROOT / "params.yaml")
    counted: dict = {}  # the what-ifs count FLOPs once and share them (no GPU here; ignored on one)
    one = make_plan(p, hardware("cuda", 1, params=p), dvc=ROOT / "dvc.yaml", sides=(64, 96), archs=1, counted=counted)
    eight = make_plan(p, hardware("cuda", 8, params=p), dvc=ROOT / "dvc.yaml", sides=(64, 96), archs=1,
                      counted=counted)
    a, b = ({s["stage"]: s for s in x["stages"]} for x in (one, eight))
    for name in DDP:
        assert b[name]["seconds"] < a[name]["seconds"], name
        assert "8" in b[name]["parallel"]
    # the single-process stages do not change (in a what-if they are computed, not timed)
    if not one["hardware"]["present"]:
        assert b["pretrain"]["seconds"] == pytest.approx(a["pretrain"]["seconds"])
        assert "1 ranks" not in a["ablate"]["parallel"]
    # without a GPU here, the plan says it is a what-if and on what it rests
    if not one["hardware"]["present"]:
        assert "WHAT-IF" in one["hardware"]["describe"] and "--gpu-tflops" in one["hardware"]["describe"]
    # a faster assumed GPU gives a proportionally faster what-if
    fast = make_plan(p, hardware("cuda", 1, gpu_tflops=one["hardware"]["gpu_tflops"] * 2, params=p),
                     dvc=ROOT / "dvc.yaml", sides=(64, 96), archs=1, counted=counted)
    c = {s["stage"]: s for s in fast["stages"]}
    # the compute halves; the input pipeline (this CPU's, shared through `counted`) hides less behind it.
    # Whether it hides entirely at 1 GPU depends on how fast this CPU prepared the images just now
    # (the rule itself: test_the_input_pipeline_adds_its_timed_seconds_per_image)
    compute = lambda s: s["seconds"] - s["input_seconds"]  # noqa: E731
    assert compute(c["pretrain"]) == pytest.approx(compute(a["pretrain"]) / 2, rel=1e-6) \
        if not one["hardware"]["present"] else c["pretrain"]["seconds"] > 0
    assert c["pretrain"]["input_seconds"] >= a["pretrain"]["input_seconds"] >= 0


def test_linear_fit_recovers_a_line_and_falls_back_on_noise():
    f = Linear.through((100, 1.5), (300, 3.5))
    assert f.a == pytest.approx(0.5) and f.b == pytest.approx(0.01) and f.at(1000) == pytest.approx(10.5)
    g = Linear.through((100, 2.0), (300, 1.0))  # slower at the small size: timing noise
    assert g.a == 0 and g.at(600) == pytest.approx(2.0)


def test_stage2_share_follows_the_termination_rule(tmp_path):
    base = {"search": {"max_trials": 6, "stage1": {"epochs": 1, "batch_size": 4, "samples_per_epoch": 8},
                       "stage2": {"batch_size": 4, "max_images": 8},
                       "termination": {"p0": 1.0, "decay": 1.0}}}
    hw = hardware("cuda", 1, gpu_tflops=10.0)  # what-if: counted FLOPs, quick
    dvc = tmp_path / "dvc.yaml"
    dvc.write_text("stages:\n  search:\n    foreach: [ppo]\n    do: {cmd: x}\n  odd_stage: {cmd: y}\n")
    plan = make_plan(parse_params(base), hw, dvc=dvc, sides=(64, 96), archs=1)
    s = plan["stages"][0]
    assert s["stage"] == "search@ppo" and s["counts"]["expected_stage2"] == 6  # p = 1: every trial goes on
    assert "no planner" in plan["stages"][1]["work"]  # a stage the planner does not know is named, not dropped
    off = {**base, "search": {**base["search"], "stage2": {"enabled": False}}}
    s = make_plan(parse_params(off), hw, dvc=dvc, sides=(64, 96), archs=1)["stages"][0]
    assert s["counts"]["expected_stage2"] == 0 and s["counts"]["stage2_steps"] == 0
    budget = {**base, "search": {**base["search"], "max_trials": None, "max_seconds": 1e-6}}
    s = make_plan(parse_params(budget), hw, dvc=dvc, sides=(64, 96), archs=1)["stages"][0]
    assert s["counts"]["trials"] == 0 and "max_seconds" in " ".join(s["notes"])


def test_default_workers_share_the_cores_among_a_nodes_torchrun_processes(monkeypatch):
    """workers null: cores / local processes - 1 each (8 ranks on 16 cores: 1 worker each, not 15);
    the plan of a DDP stage on GPUs here assumes the same."""
    import nasseg.runtime as rt
    from nasseg.plan.hardware import Hardware
    from nasseg.plan.inputs import input_step_seconds

    monkeypatch.setattr(rt, "usable_cores", lambda: 16)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert rt.default_workers() == 15 and rt.default_workers(8) == 1 and rt.default_workers(32) == 0
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # what torchrun sets in each of its processes
    assert rt.default_workers() == 3 and rt.Runtime.of(None, device="cpu").workers == 3
    node = Hardware("cuda", present=True, gpus=8)
    assert input_step_seconds(node, None, 0.01, 8, 0.0, local_world=8) == pytest.approx(0.08)  # 1 worker
    assert input_step_seconds(node, None, 0.01, 8, 0.0) == pytest.approx(0.08 / 15)


def test_the_input_pipeline_adds_its_timed_seconds_per_image(tmp_path):
    from conftest import tiny_segmentation_params
    from nasseg.data.prepare import build_lists, generate_embedded
    from nasseg.plan.inputs import InputProber, input_step_seconds

    cpu, gpu = hardware("cpu"), hardware("cuda", 1, gpu_tflops=10.0)
    assert input_step_seconds(cpu, 3, 0.01, 8, 1.0) == pytest.approx(0.08)  # a CPU: its cores do both
    assert input_step_seconds(gpu, 2, 0.01, 8, 0.01) == pytest.approx(0.03)  # 2 workers hide all but 0.04 - 0.01
    assert input_step_seconds(gpu, 2, 0.01, 8, 1.0) == 0.0 and input_step_seconds(gpu, 0, 0.01, 8, 1.0) == 0.08
    # before prepare: generated JPEG + PNG pairs of the set's full size; after: the prepared set itself
    raw = tiny_segmentation_params(tmp_path)
    p = parse_params(raw)
    sets = count_sets(p)
    per, how = InputProber(p, sets.full).per_image("voc_train")
    assert per > 0 and "generated" in how and "voc_train is not prepared" in how
    generate_embedded(p.data)
    build_lists(p.data)
    per, how = InputProber(p, sets.full).per_image("voc_train+trainaug")
    assert per > 0 and "prepared voc_train+trainaug" in how
    # a stage that trains on images plans its steps plus that input time, and says how it was timed
    dvc = tmp_path / "dvc.yaml"
    dvc.write_text("stages:\n  pretrain: {cmd: x}\n")
    raw["pretrain"].update(epochs=1, batch_size=4, decoder_width=16, sets="voc_train")
    st = make_plan(parse_params(raw), cpu, dvc=dvc, sides=(32, 48), archs=1)["stages"][0]
    assert 0 < st["input_seconds"] < st["train_seconds"]
    assert any("input pipeline:" in n and "prepared voc_train" in n for n in st["notes"]), st["notes"]


def test_prepare_scan_counts_the_files_the_scan_stats(tmp_path):
    voc = tmp_path / "VOC2012"
    for sub, names in (("ImageSets/Segmentation", ["train.txt", "val.txt", "notes.md"]),
                       ("JPEGImages", ["a.jpg", "b.jpg", "c.jpg"]), ("SegmentationClass", ["a.png", "b.png"])):
        (voc / sub).mkdir(parents=True)
        for n in names:
            (voc / sub / n).write_text("x")
    dvc = tmp_path / "dvc.yaml"
    dvc.write_text("stages:\n  prepare_scan: {cmd: x}\n")
    p = parse_params({"data": {"sources": {"voc": str(voc), "sbd": str(tmp_path / "no_sbd")}}})
    plan = make_plan(p, hardware("cuda", 1, gpu_tflops=10.0), dvc=dvc, sides=(64, 96), archs=1)
    s = plan["stages"][0]
    # VOC: the two .txt lists (not notes.md), 3 images, 2 masks; the missing SBD folder is named, not counted
    assert s["counts"]["files"] == 7 and s["counts"]["voc_files"] == 7 and s["counts"]["sbd_files"] is None
    assert "stat of the source files: 7 files" in s["work"] and "sbd not found here" in s["work"]
    assert s["seconds"] is None and s["disk_bytes"] > 0 and any("prepare-scan stops" in n for n in s["notes"])


def test_compare_reads_the_records_and_names_stages_without_one(tmp_path):
    out = tmp_path / "search"
    (out / "ppo").mkdir(parents=True)
    with open(out / "ppo" / "trials.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["id", "status", "stage1_seconds", "stage2_seconds", "ran_stage2"])
        w.writerow([1, "done", "10.0", "5.0", 1])
        w.writerow([2, "done", "12.0", "", 0])
        w.writerow([3, "failed", "99.0", "", 0])
    p = parse_params({"search": {"out": str(out)}, "pretrain": {"out": str(tmp_path / "none")}})
    rec = measured(p, "search@ppo")
    assert rec["seconds"] == pytest.approx(27.0) and rec["work"] == {"trials": 2, "reached_stage2": 1}
    assert measured(p, "search") is None  # the merged stage needs both strategies' records
    (out / "random").mkdir()
    (out / "random" / "trials.tsv").write_text((out / "ppo" / "trials.tsv").read_text())
    both = measured(p, "search")
    assert both["seconds"] == pytest.approx(54.0) and both["work"] == {"trials": 4, "reached_stage2": 2}
    assert measured(p, "pretrain") is None
    plan = {"stages": [{"stage": "search@ppo", "train_seconds": 54.0, "counts": {"trials": 2, "expected_stage2": 1}},
                       {"stage": "pretrain", "train_seconds": 10.0, "counts": {}},
                       {"stage": "report", "train_seconds": None, "counts": {}},
                       {"stage": "tricks", "train_seconds": 5.0, "counts": {}}]}
    rows = {r["stage"]: r for r in compare(plan, p)}
    assert rows["search@ppo"]["ratio"] == pytest.approx(0.5) and rows["search@ppo"]["note"] == "same work"
    assert rows["pretrain"]["measured_seconds"] is None and "no record" in rows["pretrain"]["note"]
    assert "records no training time" in rows["report"]["note"]
    assert "records no training time" in rows["tricks"]["note"]


@pytest.mark.parametrize("args, word", [
    (["--gpus", "0"], "--gpus"),
    (["--device", "tpu"], "--device"),
    (["--device", "cpu", "--gpus", "8"], "--device cuda"),
    (["--gpu-tflops", "-1"], "--gpu-tflops"),
    (["--probe-sides", "64"], "--probe-sides"),
    (["--params", "no/such.yaml"], "params file not found"),
])
def test_bad_options_are_one_clear_line(args, word):
    res = run_cli(["plan", *args], ROOT, timeout=120)
    text = (res.stdout + res.stderr).strip()
    assert res.returncode == 2, text
    assert word in text and "Traceback" not in text
    assert len(text.splitlines()) == 1, text


def test_hardware_rejects_cpu_what_ifs():
    with pytest.raises(ConfigError, match="--nodes"):
        hardware(nodes=0)
    assert hardware("cuda", 2, 3, gpu_tflops=1.0).world == 6
    assert hardware("cpu").world == 1
