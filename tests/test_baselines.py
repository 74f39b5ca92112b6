"""Issue 21: Table 1's baselines (`train.baselines`) trained by `nasseg train` with exactly the
found architectures' schedule, encoder and seed rule: their folders, cards, Table 1 rows, the
found-vs-baseline comparison in metrics.json; bad names; run identities of genotypes unchanged."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_segmentation_params
from nasseg.config import params_sha1, parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.errors import ConfigError
from nasseg.experiments.final import found_vs_baseline, run_train, table1_runs
from nasseg.experiments.runner import file_sha1, run_identity, train_arch
from nasseg.models import PUBLISHED
from nasseg.models.checkpoint import load_checkpoint
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.plan.compare import measured
from nasseg.runtime import CPU_FP32
from nasseg.spaces.cells.genotype import CellSpace
from nasseg.training.engine import schedule_signature
from nasseg.training.fit import runtime_identity

GENOTYPE = CellSpace().sample(np.random.default_rng(5)).to_text()
# two phases, BN frozen halfway through the last: each model's history must show the same 3 epochs
SCHEDULE = {"phases": [{"sets": "trainaug", "epochs": 1, "images_per_epoch": 2, "aux_weight": 0.3},
                       {"sets": "voc_train", "epochs": 2, "images_per_epoch": 2, "aux_weight": 0.2}],
            "batch_size": 2, "val_set": "meta_val", "freeze_bn_halfway": True, "frozen_aux_weight": 0.15}


def _raw(root: Path, **train) -> dict:
    return {**tiny_segmentation_params(root),
            "ablate": {"out": str(root / "ablate")},
            "train": {"archs": 1, "width": 8, "repeats": 1, "latency": {"size": 32, "runs": 1, "warmup": 0},
                      "schedule": SCHEDULE, "out": str(root / "models"), "resume": str(root / "resume"),
                      "report": str(root / "report"), **train}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny project (data, a random 'pretrained' encoder, an ablation table of one architecture)
    after `nasseg train` with the default baselines (refinenet_lw_mbv2, arch0)."""
    root = tmp_path_factory.mktemp("baselines")
    p = parse_params(_raw(root))
    assert p.train.baselines == ["refinenet_lw_mbv2", "arch0"]  # the default
    generate_embedded(p.data)
    build_lists(p.data)
    (root / "pre").mkdir()
    torch.manual_seed(0)
    torch.save({"encoder": MobileNetV2Encoder().state_dict()}, root / "pre/encoder.pt")
    (root / "ablate").mkdir()
    (root / "ablate/ablation.tsv").write_text(f"rank\thash\tgenotype\tcell\n1\tg0\t{GENOTYPE}\t0.5\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is quicker, and far quicker on a busy machine
    try:
        cards = run_train(p, log=lambda s: None)
    finally:
        torch.set_num_threads(threads)
    return root, p, {c["name"]: c for c in cards}


def test_baselines_train_with_the_found_architectures_schedule(trained):
    root, p, cards = trained
    assert list(cards) == ["found0", "refinenet_lw_mbv2", "arch0"]
    assert cards["found0"]["kind"] == "found"
    assert cards["refinenet_lw_mbv2"]["kind"] == cards["arch0"]["kind"] == "baseline"

    def schedule_of(folder: Path) -> list[tuple]:
        with open(folder / "history.tsv", newline="") as f:
            return [(r["epoch"], r["phase"], r["bn_frozen"], r["aux_weight"], r["encoder_lr"], r["decoder_lr"])
                    for r in csv.DictReader(f, delimiter="\t")]

    found = schedule_of(root / "models/found0")
    assert len(found) == 3 and {r[1] for r in found} == {"1", "2"} and found[-1][2] != found[0][2]
    for name in ("refinenet_lw_mbv2", "arch0"):
        folder = root / "models/baselines" / name
        assert schedule_of(folder) == found, name
        assert {f.name for f in folder.iterdir()} >= {"model.pt", "card.json", "card.md", "history.tsv"}
        assert json.loads((folder / "card.json").read_text()) == cards[name]
        assert cards[name]["schedule"] == cards["found0"]["schedule"]
        # the epoch checkpoint and result of the run, in the resume folder beside found0's
        assert (root / "resume/baselines" / name / "result.json").is_file()
    # arch0: the published genotype with the aux cell at train.width / repeats, like the found ones
    a0 = cards["arch0"]
    assert (a0["genotype"], a0["width"], a0["repeats"], a0["aux"]) == (PUBLISHED["arch0"], 8, 1, "cell")
    _, info = load_checkpoint(root / "models/baselines/arch0/model.pt")
    assert info["arch"]["genotype"] == PUBLISHED["arch0"] and info["arch"]["width"] == 8
    # RefineNet-LW: its own decoder (the zoo's standard 256 channels), no aux heads
    rn = cards["refinenet_lw_mbv2"]
    assert rn["genotype"] is None and rn["aux"] == "none" and rn["ablation_cell_miou"] is None
    model, info = load_checkpoint(root / "models/baselines/refinenet_lw_mbv2/model.pt")
    assert info["arch"] == {"name": "refinenet_lw_mbv2", "num_classes": 21}
    assert model.decoder.classifier.in_channels == 256
    assert "Light-Weight RefineNet" in (root / "models/baselines/refinenet_lw_mbv2/card.md").read_text()
    assert rn["output_stride"] == 4 and rn["madds"] > cards["found0"]["madds"]


def test_table1_and_metrics_show_the_baselines_beside_the_found(trained):
    root, p, cards = trained
    lines = (root / "report/cards.md").read_text().splitlines()
    rows = [l for l in lines if l.startswith("| ")]
    labels = [r.split("|")[1].strip() for r in rows[1:]]
    assert labels[:4] == ["**found0** (ours, embedded data)", "RefineNet-LW-MBv2 (ours, same schedule)",
                          "arch0 (ours, same schedule)", "arch0 (paper, VOC)"]
    m = json.loads((root / "report/metrics.json").read_text())
    for name, c in cards.items():
        assert m[name] == {k: c[k] for k in ("mean_iou", "params", "madds", "output_stride", "latency_ms",
                                             "train_seconds")}
    cmp = m["found_vs_baseline"]
    f, r = cards["found0"], cards["refinenet_lw_mbv2"]
    assert (cmp["best_found"], cmp["baseline"]) == ("found0", "refinenet_lw_mbv2")
    assert (cmp["found_mean_iou"], cmp["baseline_mean_iou"]) == (f["mean_iou"], r["mean_iou"])
    assert cmp["madds_ratio"] == pytest.approx(f["madds"] / r["madds"], abs=1e-4)
    assert cmp["found_beats_baseline_at_fewer_madds"] == (f["mean_iou"] > r["mean_iou"] and f["madds"] < r["madds"])
    assert "Found vs hand-designed" in "\n".join(lines)
    # the plan's comparison counts the three trained models (not the comparison entry)
    rec = measured(p, "train")
    assert rec["work"] == {"runs": 3}
    assert rec["seconds"] == pytest.approx(sum(c["train_seconds"] for c in cards.values()))
    with open(root / "report/history.tsv", newline="") as fh:
        header = next(csv.reader(fh, delimiter="\t"))
    assert {"found0_train_loss", "refinenet_lw_mbv2_train_loss", "arch0_train_loss"} <= set(header)


def test_found_vs_baseline_needs_both_and_beats_only_on_both_counts():
    def card(name, kind, miou, madds):
        return {"name": name, "kind": kind, "mean_iou": miou, "madds": madds}

    found = [card("found0", "found", 0.5, 4e9), card("found1", "found", 0.6, 8e9)]
    assert found_vs_baseline(found) is None
    assert found_vs_baseline([card("refinenet_lw_mbv2", "baseline", 0.5, 9e9)]) is None
    c = found_vs_baseline(found + [card("refinenet_lw_mbv2", "baseline", 0.55, 9e9)])
    assert c["best_found"] == "found1" and c["found_beats_baseline_at_fewer_madds"] is True
    c = found_vs_baseline(found + [card("refinenet_lw_mbv2", "baseline", 0.55, 7e9)])
    assert c["best_found"] == "found1" and c["found_beats_baseline_at_fewer_madds"] is False  # more MAdds
    c = found_vs_baseline(found + [card("refinenet_lw_mbv2", "baseline", 0.65, 9e9)])
    assert c["found_beats_baseline_at_fewer_madds"] is False  # lower mIoU


def test_bad_baseline_names_are_one_clear_error(tmp_path):
    for bad, says in ((["refinenet_lw_mbv2", "nope"], "['nope'] cannot be trained"),
                      (["lraspp_mbv3"], "['lraspp_mbv3'] cannot be trained"),
                      (["refinenet_lw_resnet18"], "['refinenet_lw_resnet18'] cannot be trained")):
        p = parse_params(_raw(tmp_path, baselines=bad))
        with pytest.raises(ConfigError, match="train.baselines") as err:  # before ablation.tsv is looked for
            run_train(p, log=lambda s: None)
        assert says in str(err.value) and "registered: arch0" in str(err.value)
        assert "refinenet_lw_mbv2, deeplabv3_mbv2" in str(err.value) and "lraspp_mbv3:" not in str(err.value)
    with pytest.raises(ConfigError, match=r"train\.baselines: .*more than once: \['arch0'\]"):
        parse_params(_raw(tmp_path, baselines=["arch0", "arch1", "arch0"]))


def test_no_baselines_trains_the_found_ones_only(trained):
    root, p, _ = trained
    q = parse_params({**_raw(root), "train": {**_raw(root)["train"], "baselines": []}})
    assert [r["name"] for r in table1_runs(q)] == ["found0"]
    assert [r["name"] for r in table1_runs(p)] == ["found0", "refinenet_lw_mbv2", "arch0"]


def test_run_identities_of_genotypes_are_unchanged_and_reused(trained, tmp_path):
    root, p, _ = trained
    s = p.train.schedule
    # the identity every genotype run has recorded in its result.json before zoo names were accepted
    before = {"genotype": GENOTYPE, "variant": "cell", "width": 8, "repeats": 1, "schedule": schedule_signature(s),
              "encoder_sha1": file_sha1(root / "pre/encoder.pt"), "data_sha1": params_sha1(p, "data"),
              **runtime_identity(CPU_FP32)}
    assert runtime_identity(CPU_FP32) == {}
    assert run_identity(p, GENOTYPE, variant="cell", width=8, repeats=1, schedule=s, runtime=CPU_FP32) == before
    done = {"identity": before, "mean_iou": 0.123, "seconds": 1.0, "history": []}
    (tmp_path / "g").mkdir()
    (tmp_path / "g/result.json").write_text(json.dumps(done))
    result, model = train_arch(p, GENOTYPE, variant="cell", width=8, repeats=1, schedule=s, run_dir=tmp_path / "g")
    assert (result, model) == (done, None)  # reused, not trained again
    # a published name is its genotype; a baseline is its name (width and repeats do not apply)
    kw = {"variant": "cell", "width": 8, "repeats": 1, "schedule": s, "runtime": CPU_FP32}
    assert run_identity(p, "arch0", **kw) == run_identity(p, PUBLISHED["arch0"], **kw)
    rn = run_identity(p, "refinenet_lw_mbv2", **{**kw, "variant": "none"})
    assert rn == {"model": "refinenet_lw_mbv2", "variant": "none", **{k: before[k] for k in
                                                                      ("schedule", "encoder_sha1", "data_sha1")}}
    assert rn == run_identity(p, "refinenet_lw_mbv2", **{**kw, "variant": "none", "width": 64, "repeats": 2})
    # the trained baseline's result.json holds that identity: a later `train_arch` reuses it
    recorded = json.loads((root / "resume/baselines/refinenet_lw_mbv2/result.json").read_text())
    assert recorded["identity"] == rn
    again, model = train_arch(p, "refinenet_lw_mbv2", variant="none", width=8, repeats=1, schedule=s,
                              run_dir=root / "resume/baselines/refinenet_lw_mbv2")
    assert model is None and again == recorded
