"""ablate / correlate / train / evaluate on a tiny prepared set and a hand-made search store."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_cli, tiny_segmentation_params
from nasseg.config import parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.errors import NassegError
from nasseg.experiments.ablate import run_ablate, wins
from nasseg.experiments.correlate import bucket_of, run_correlate, select, spearman
from nasseg.experiments.final import run_train
from nasseg.models.checkpoint import arch_of, load_checkpoint, save_checkpoint
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.search.store import TrialStore
from nasseg.spaces.cells.genotype import CellSpace

TINY_SCHEDULE = {"phases": [{"sets": "trainaug", "epochs": 1, "images_per_epoch": 4},
                            {"sets": "voc_train", "epochs": 1, "images_per_epoch": 4}],
                 "batch_size": 2, "val_set": "meta_val"}


def _params(root: Path) -> dict:
    return {
        **tiny_segmentation_params(root),
        "ablate": {"archs": 2, "variants": ["none", "clf", "cell"], "width": 8, "repeats": 1,
                   "schedule": TINY_SCHEDULE, "out": str(root / "ablate")},
        "correlate": {"strategies": ["ppo"], "bounds": [0.3, 0.6], "per_bucket": 2, "out": str(root / "corr")},
        "train": {"archs": 1, "width": 8, "repeats": 1, "latency": {"size": 64, "runs": 1, "warmup": 0},
                  "baselines": [],  # trained beside the found ones in test_baselines.py
                  "schedule": {**TINY_SCHEDULE, "freeze_bn_halfway": True, "frozen_aux_weight": 0.15},
                  "out": str(root / "models"), "resume": str(root / "resume"), "report": str(root / "report")},
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Prepared tiny data, a random 'pretrained' encoder and a search store of 5 architectures."""
    root = tmp_path_factory.mktemp("post")
    raw = _params(root)
    p = parse_params(raw)
    generate_embedded(p.data)
    build_lists(p.data)
    (root / "pre").mkdir()
    torch.manual_seed(0)
    torch.save({"encoder": MobileNetV2Encoder().state_dict()}, root / "pre/encoder.pt")
    space = CellSpace()
    rng = np.random.default_rng(0)
    store = TrialStore(root / "search/ppo/trials.db")
    rows = []
    for i, reward in enumerate([0.1, 0.2, 0.45, 0.7, 0.8]):
        g = space.sample(rng)
        tid = store.start(strategy="ppo", step=i, slot=0, genotype=g.to_text(), hash=g.hash(), decisions=[],
                          log_prob=0.0, seed=i)
        store.finish(tid, "done", stage1_reward=reward - 0.05, stage2_reward=reward, reward=reward, objective=reward,
                     ran_stage2=1)
        rows.append({"genotype": g.to_text(), "hash": g.hash(), "reward": reward})
    store.close()
    top = sorted(rows, key=lambda r: -r["reward"])
    (root / "search/ppo/topk.json").write_text(json.dumps(top))
    return root, raw


def test_wins_counts_ties_for_each():
    rows = [{"none": 0.1, "cell": 0.3}, {"none": 0.4, "cell": 0.2}, {"none": 0.5, "cell": 0.5}]
    assert wins(rows, ["none", "cell"]) == {"none": 2, "cell": 2}


def test_buckets_and_short_bucket_note():
    rows = [{"hash": str(i), "reward": r} for i, r in enumerate([0.1, 0.2, 0.3, 0.5, 0.9])]
    assert [bucket_of(r["reward"], (0.4, 0.6)) for r in rows] == [0, 0, 0, 1, 2]
    chosen, notes = select(rows, (0.4, 0.6), 2, seed=0)
    assert [c["bucket"] for c in chosen] == ["< 0.4", "< 0.4", "0.4-0.6", "> 0.6"]
    assert len(notes) == 2 and "0.4-0.6: 1 architecture(s)" in notes[0]
    assert select(rows, (0.4, 0.6), 2, seed=0)[0] == chosen  # seeded


def test_spearman_against_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40])["rho"] == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1])["rho"] == pytest.approx(-1.0)
    # rho = 1 - 6 * sum d^2 / (n (n^2 - 1)): ranks (1,2,3,4,5) vs (2,1,4,3,5) -> 1 - 6*4/120 = 0.8
    s = spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert s["rho"] == pytest.approx(0.8) and 0 < s["p"] < 1
    assert spearman([1, None, 2], [1, 2, None]) == {"n": 1, "rho": None, "p": None}


def test_checkpoint_round_trip_and_errors(tmp_path):
    from nasseg.models import build_model

    g = CellSpace().sample(np.random.default_rng(3)).to_text()
    m = build_model(g, num_classes=4, width=8, repeats=1, aux="cell")
    save_checkpoint(m, arch_of(g, num_classes=4, width=8, repeats=1), {"note": "x"}, tmp_path / "m.pt")
    back, info = load_checkpoint(tmp_path / "m.pt")
    x = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(back(x), m.eval()(x))
    assert info["arch"]["genotype"] == g and info["meta"]["note"] == "x"
    with pytest.raises(NassegError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(NassegError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"encoder": {}}, tmp_path / "enc.pt")
    with pytest.raises(NassegError, match="encoder-only"):
        load_checkpoint(tmp_path / "enc.pt")


def test_ablate_correlate_train_evaluate(project):
    root, raw = project
    p = parse_params(raw)
    m = run_ablate(p, log=lambda s: None)
    assert m["archs"] == 2 and sum(m["wins"].values()) >= 2
    out = root / "ablate"
    table = (out / "table.md").read_text()
    assert "mIoU aux cell" in table and "| wins |" in table
    assert (out / "fig4_ablation.png").stat().st_size > 1000
    assert len((out / "ablation.tsv").read_text().splitlines()) == 3
    # a second run reuses the finished runs (no checkpoint left behind, same figures)
    assert not list(out.glob("runs/*/last.pt"))
    assert run_ablate(p, log=lambda s: None)["mean_iou_mean"] == m["mean_iou_mean"]

    c = run_correlate(p, log=lambda s: None)
    assert c["per_bucket_trained"] == {"< 0.3": 2, "0.3-0.6": 1, "> 0.6": 2}
    assert any("0.3-0.6" in n for n in c["notes"])
    assert c["spearman"]["final_reward_vs_miou"]["n"] == 5
    assert c["spearman"]["stage1_vs_stage2_reward"]["rho"] == pytest.approx(1.0)
    assert (root / "corr/fig5_correlation.png").is_file()

    cards = run_train(p, log=lambda s: None)
    card = cards[0]
    assert card["name"] == "found0" and card["output_stride"] in (4, 8, 16)
    assert card["params"] > 0 and card["madds"] > 0 and card["latency_ms"] > 0
    assert card["command"].startswith("nasseg") and len(card["params_sha1"]) == 40
    assert "(paper, VOC)" in (root / "report/cards.md").read_text()
    ck = root / "models/found0/model.pt"
    model, info = load_checkpoint(ck)
    assert info["arch"]["width"] == 8 and not hasattr(model.decoder, "aux_heads") or model.decoder.aux_heads is None

    params_file = root / "params.yaml"
    import yaml

    params_file.write_text(yaml.safe_dump(json.loads(json.dumps(raw))))
    r = run_cli(["evaluate", str(ck), "--set", "meta_val", "--flip", "--scales", "0.5,1", "--params",
                 str(params_file), "--json", str(root / "ev.json")], cwd=root)
    assert r.returncode == 0, r.stderr
    assert "aeroplane" in r.stderr and "mean_iou" in r.stderr
    ev = json.loads((root / "ev.json").read_text())
    assert ev["mean_iou"] == pytest.approx(card["mean_iou"], abs=1.0) and len(ev["iou"]) == 21
    bad = run_cli(["evaluate", str(root / "nope.pt"), "--params", str(params_file)], cwd=root)
    assert bad.returncode == 2 and "checkpoint not found" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli(["evaluate", str(ck), "--scales", "a,b", "--params", str(params_file)], cwd=root)
    assert bad.returncode == 2 and "--scales" in bad.stderr


def test_missing_search_outputs_are_named(tmp_path):
    p = parse_params(_params(tmp_path))
    with pytest.raises(NassegError, match="topk.json: missing"):
        run_ablate(p, log=lambda s: None)
    with pytest.raises(NassegError, match="trials.db: missing"):
        run_correlate(p, log=lambda s: None)
    with pytest.raises(NassegError, match="ablation.tsv: missing"):
        run_train(p, log=lambda s: None)


def test_ablate_in_bf16_on_cpu_and_cuda_where_there_is_none(project):
    root, raw = project
    from nasseg.runtime import Runtime

    over = {**raw, "ablate": {**raw["ablate"], "archs": 1, "variants": ["cell"], "out": str(root / "ablate_bf16")}}
    m = run_ablate(parse_params(over), log=lambda s: None, runtime=Runtime.of(None, device="cpu", precision="bf16"))
    run = json.loads(next((root / "ablate_bf16/runs").glob("*/result.json")).read_text())
    assert run["identity"]["precision"] == "bf16" and all(np.isfinite(h["train_loss"]) for h in run["history"])
    assert 0.0 <= m["mean_iou_mean"]["cell"] <= 1.0
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    import yaml

    params_file = root / "params_cuda.yaml"
    params_file.write_text(yaml.safe_dump(json.loads(json.dumps(over))))
    r = run_cli(["ablate", "--device", "cuda", "--params", str(params_file)], cwd=root)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no CUDA device" in r.stderr and "--device cpu" in r.stderr


def test_out_of_memory_in_one_ablation_run_is_recorded_and_retried(project, monkeypatch):
    """An injected CUDA OOM in one (architecture, variant) run: recorded as failed in its
    result.json and metrics.json, the other runs finish, and the next invocation retries it."""
    import nasseg.experiments.runner as runner

    root, raw = project
    over = {**raw, "ablate": {**raw["ablate"], "variants": ["none", "cell"], "out": str(root / "ablate_oom")}}
    p = parse_params(over)
    real = runner.train_schedule
    calls = []

    def oom_for_cell(model, *args, **kw):
        calls.append(kw["identity"]["variant"])
        if kw["identity"]["variant"] == "cell" and len(calls) == 2:  # the first architecture's aux-cell run
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return real(model, *args, **kw)

    monkeypatch.setattr(runner, "train_schedule", oom_for_cell)
    logs = []
    m = run_ablate(p, log=logs.append)
    out = root / "ablate_oom"
    top = json.loads((root / "search/ppo/topk.json").read_text())
    bad = out / "runs" / f"{top[0]['hash']}_cell" / "result.json"
    res = json.loads(bad.read_text())
    assert res["status"] == "failed" and res["failure"] == "oom" and "injected" in res["error"]
    assert res["identity"]["variant"] == "cell"
    others = [f for f in out.glob("runs/*/result.json") if f != bad]
    assert len(others) == 3 and all("mean_iou" in json.loads(f.read_text()) for f in others)
    assert [f["run"] for f in m["failed"]] == [f"{top[0]['hash']}_cell"]
    assert json.loads((out / "metrics.json").read_text())["failed"] == m["failed"]
    assert "failed" in (out / "table.md").read_text() and "\tfailed\t" in (out / "ablation.tsv").read_text()
    assert any("out of memory" in s and top[0]["hash"] in s for s in logs)
    assert sum(m["wins"].values()) >= 2 and m["mean_iou_mean"]["cell"] is not None

    # the next invocation retries only the failed run; without the injection it finishes
    calls.clear()
    m2 = run_ablate(p, log=lambda s: None)
    assert calls == ["cell"] and "failed" not in m2
    assert "mean_iou" in json.loads(bad.read_text())
    assert "failed" not in json.loads((out / "metrics.json").read_text())
    assert "failed" not in (out / "table.md").read_text()


def test_errors_other_than_out_of_memory_still_propagate(project, monkeypatch):
    import nasseg.experiments.runner as runner

    root, raw = project
    over = {**raw, "ablate": {**raw["ablate"], "archs": 1, "variants": ["none"], "out": str(root / "ablate_err")}}

    def boom(*args, **kw):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(runner, "train_schedule", boom)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_ablate(parse_params(over), log=lambda s: None)
    assert runner.is_oom(RuntimeError("DefaultCPUAllocator: can't allocate memory: out of memory"))
    assert not runner.is_oom(ValueError("out of memory"))


def test_paired_bootstrap_resamples_architectures_with_their_pairs():
    from nasseg.experiments.ablate import paired, paired_bootstrap

    a, b = [0.30, 0.20, 0.25, 0.40], [0.20, 0.15, 0.20, 0.30]  # a beats b by 0.05-0.1 on every one
    pb = paired_bootstrap(a, b)
    assert pb["n"] == 4 and pb["wins"] == 4 and pb["losses"] == 0
    assert pb["mean_diff"] == pytest.approx(0.075)
    # pairs kept together: every resample's mean lies within the differences' range
    assert 0.05 <= pb["ci_low"] <= pb["mean_diff"] <= pb["ci_high"] <= 0.1
    assert paired_bootstrap(b, a)["ci_high"] < 0
    rows = [{"none": y, "cell": x, "clf": None} for x, y in zip(a, b)]
    out = paired(rows, ["none", "clf", "cell"])
    assert set(out) == {"cell_minus_none"}, "a variant with failed runs only is left out"
    assert out["cell_minus_none"] == pb
