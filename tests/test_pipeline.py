"""The one end-to-end test: `dvc repro` of the whole pipeline on a tiny profile, in a copy
of the project; a second `dvc repro` must do nothing."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nasseg.config import apply_overrides

ROOT = Path(__file__).resolve().parents[1]

TINY = yaml.safe_load((ROOT / "profiles" / "tiny.yaml").read_text())  # also `make gpu-check`'s


def _copy_project(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip("the project is not a git checkout; cannot tell its files from build outputs")
    for f in files:
        if f.startswith("tests/") or not (ROOT / f).exists():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dst / f)


@pytest.mark.slow
def test_dvc_repro_tiny_profile_then_nothing_to_do(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    _copy_project(proj)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params = apply_overrides(params, TINY)
    # the runs of a stage in turn, not side by side: spawning processes costs more than a tiny run
    # (test_cross_process.py and test_reliability.py test runtime.procs 2 on their own)
    params["runtime"]["procs"] = 1
    params["runtime"]["workers"] = 0  # the loader inline: a worker process per tiny epoch costs more than it hides
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    (proj / "dvc.lock").unlink(missing_ok=True)
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", NASSEG_NO_PROGRESS="1",
               PYTHONPATH=str(proj))
    dvc = [sys.executable, "-m", "dvc"]

    def run(*args):
        out = subprocess.run(args, cwd=proj, env=env, capture_output=True, text=True)
        assert out.returncode == 0, f"{args} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout + out.stderr

    run("git", "init", "-q")
    first = run(*dvc, "repro")
    assert "Running stage 'prepare'" in first
    assert (proj / "data/lists/meta_train.lst").is_file()
    assert (proj / "data/embedded/VOCdevkit/VOC2012/JPEGImages").is_dir()
    bench = json.loads((proj / "results/benchmark/metrics.json").read_text())
    assert {r["model"] for r in bench["rows"]} == {"arch0", "arch1", "arch2", "lraspp_mbv3"}
    assert (proj / "results/benchmark/arch0.png").is_file()
    assert json.loads((proj / "models/pretrain/metrics.json").read_text())["source"] == "trained"
    assert json.loads((proj / "models/teacher/metrics.json").read_text())["depth"] == 18
    assert (proj / "cache/train.h5").is_file() and (proj / "cache/val.h5").is_file()
    for strategy in ("ppo", "random"):
        m = json.loads((proj / f"results/search/{strategy}/metrics.json").read_text())
        assert m["sampled"] == 2 and m["done"] + m["failed"] == 2
    assert "ppo" in json.loads((proj / "results/search/comparison.json").read_text())
    assert (proj / "results/search/fig2_rewards.png").is_file() and (proj / "results/tricks/fig3_tricks.png").is_file()
    ablation = json.loads((proj / "results/ablate/metrics.json").read_text())
    assert ablation["archs"] >= 1 and set(ablation["wins"]) == {"none", "clf", "cell"}
    assert (proj / "results/ablate/fig4_ablation.png").is_file()
    corr = json.loads((proj / "results/correlate/metrics.json").read_text())
    assert corr["archs"] >= 1 and "final_reward_vs_miou" in corr["spearman"]
    assert (proj / "results/correlate/fig5_correlation.png").is_file()
    assert (proj / "models/train/found0/model.pt").is_file()
    train = json.loads((proj / "results/train/metrics.json").read_text())
    assert {"found0", "refinenet_lw_mbv2"} <= set(train) and "found_vs_baseline" in train
    assert (proj / "models/train/baselines/refinenet_lw_mbv2/model.pt").is_file()
    assert "(paper, VOC)" in (proj / "results/train/cards.md").read_text()
    transfer = json.loads((proj / "results/transfer/metrics.json").read_text())
    assert set(transfer) == {"mpii", "coco", "nyu", "nyu_constant_depth"} and set(transfer["nyu"]) == {"found0", "refinenet_lw_mbv2"}
    assert "paper: arch0" in (proj / "results/transfer/table2.md").read_text()
    assert "δ < 1.25" in (proj / "results/transfer/table3.md").read_text()
    assert (proj / "models/transfer/coco/found0/model.pt").is_file()
    # the second system: template search on CamVid through the same `nasseg search`, training on both sets
    w = json.loads((proj / "results/wacv/search/ppo/metrics.json").read_text())
    assert w["sampled"] == 2 and w["done"] + w["failed"] == 2
    top = json.loads((proj / "results/wacv/search/ppo/topk.json").read_text())
    assert top and top[0]["genotype"].startswith("[[[")
    wt = json.loads((proj / "results/wacv/train/metrics.json").read_text())
    assert set(wt) == {"camvid/searched0", "camvid/wacv_arch0", "cityscapes/searched0", "cityscapes/wacv_arch0"}
    assert (proj / "models/wacv/cityscapes/wacv_arch0/model.pt").is_file()
    wb = json.loads((proj / "results/benchmark/wacv_metrics.json").read_text())
    assert {(r["model"], tuple(r["input_hw"])) for r in wb["rows"]} >= {("wacv_arch0", (64, 128)), ("wacv_arch1", (48, 64))}
    # the report is last and shows everything; `dvc plots` finds every declared plot's data
    report = json.loads((proj / "results/report/summary.json").read_text())
    assert report["missing"] == [] and len(report["tables"]) == 3 and len(report["figures"]) == 6
    assert {"WACV search", "WACV table", "WACV benchmark"} <= set(report["extra"])
    assert first.rstrip().rfind("Running stage 'report'") > first.rfind("Running stage 'transfer'")
    shown = subprocess.run([*dvc, "plots", "show", "--json"], cwd=proj, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    plots = json.loads(shown.stdout)
    assert not plots.get("errors"), plots.get("errors")
    assert {"search_best_reward", "reward_distribution", "results/train/history.tsv"} <= set(plots["data"])
    second = run(*dvc, "repro")
    # only the real sources' scan runs again (always_changed); its output is unchanged, so nothing follows
    assert re.findall(r"Running stage '([\w@-]+)'", second) == ["prepare_scan"], second
    # the same params render the same bytes: running the stage by hand changes no output
    run(sys.executable, "-m", "stages", "prepare")
    status = run(*dvc, "status")
    assert set(re.findall(r"^(\S+):\s*$", status, re.M)) <= {"prepare_scan"}, status
    # changing a precompute param reruns only precompute (and what follows it). The targets: the two
    # searches (after precompute: the archive below) and the benchmark (beside it: must not rerun); the
    # rest of what follows precompute was shown to run by the first repro
    params["precompute"]["seed"] = 1
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    third = run(*dvc, "repro", "search", "benchmark")
    assert "Running stage 'precompute'" in third
    for stage in ("prepare", "pretrain", "teacher", "benchmark"):
        assert f"Running stage '{stage}'" not in third
    # the search made on the old cache is kept aside, not mixed with the new one
    assert list((proj / "results/search/ppo/archive").glob("*/trials.db"))
    assert json.loads((proj / "results/search/ppo/metrics.json").read_text())["sampled"] == 2
    # changing a data param reruns prepare
    params["data"]["split"]["seed"] = 1
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    fourth = run(*dvc, "repro", "prepare")  # the target: prepare must rerun (what follows it ran in the first repro)
    assert "Running stage 'prepare'" in fourth
