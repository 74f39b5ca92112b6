"""pretrain / teacher (train and import paths) and precompute, on a tiny prepared dataset."""
import json
from pathlib import Path

import pytest
import torch
import torchvision

from nasseg.cache import FeatureCache
from nasseg.cache.precompute import cache_fingerprint, precompute
from nasseg.config import parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.errors import NassegError
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.training.recipes import run_pretrain, run_teacher


def _params(root: Path, **over):
    raw = {
        "data": {"root": str(root / "data"),
                 "embedded": {"voc": {"train": 6, "val": 10}, "sbd": {"train": 8, "val": 2}, "coco": {"train": 6},
                              "min_size": 40, "max_size": 48},
                 "augment": {"crop": 32, "min_side": 32}},
        "pretrain": {"out": str(root / "pre"), "epochs": 1, "batch_size": 4, "decoder_width": 16,
                     "val_set": "meta_val"},
        "teacher": {"out": str(root / "tea"), "depth": 18, "epochs": 1, "batch_size": 4, "decoder_width": 16,
                    "sets": "trainaug", "val_set": "meta_val"},
        "precompute": {"out": str(root / "cache"), "n": 20, "chunk": 8, "val_size": 48,
                       "augment": {"crop": 32, "min_side": 32}},
    }
    for key, value in over.items():
        section, name = key.split("__")
        raw[section][name] = value
    return parse_params(raw)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    p = _params(root)
    generate_embedded(p.data)
    build_lists(p.data)
    return root


def test_pretrain_trains_and_writes_encoder_metrics_history(prepared):
    p = _params(prepared)
    meta = run_pretrain(p, log=lambda s: None)
    assert meta["source"] == "trained" and 0.0 <= meta["mean_iou"] <= 1.0
    ck = torch.load(prepared / "pre/encoder.pt", weights_only=True)
    enc = MobileNetV2Encoder()
    enc.load_state_dict(ck["encoder"])
    assert json.loads((prepared / "pre/metrics.json").read_text())["epochs"] == 1
    assert (prepared / "pre/history.tsv").read_text().startswith("epoch\t")
    assert (prepared / "pre/resume/last.pt").is_file()


def test_pretrain_imports_torchvision_weights_and_rejects_bad_ones(prepared, tmp_path):
    good = tmp_path / "mbv2.pth"
    sd = torchvision.models.mobilenet_v2(weights=None).state_dict()
    torch.save(sd, good)
    p = _params(prepared, pretrain__weights=str(good), pretrain__out=str(tmp_path / "imp"))
    meta = run_pretrain(p)
    assert meta["source"] == "imported" and len(meta["sha256"]) == 64
    ck = torch.load(tmp_path / "imp/encoder.pt", weights_only=True)
    assert torch.equal(ck["encoder"]["features.3.conv.1.0.weight"], sd["features.3.conv.1.0.weight"])
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(NassegError, match="bad.pth"):
        run_pretrain(_params(prepared, pretrain__weights=str(bad), pretrain__out=str(tmp_path / "imp2")))
    with pytest.raises(NassegError, match="not found"):
        run_pretrain(_params(prepared, pretrain__weights=str(tmp_path / "nope.pth")))


def test_teacher_trains_then_imports_and_rejects_other_architecture(prepared, tmp_path):
    p = _params(prepared)
    meta = run_teacher(p, log=lambda s: None)
    assert meta["source"] == "trained" and meta["depth"] == 18
    saved = prepared / "tea/teacher.pt"
    imp = run_teacher(_params(prepared, teacher__weights=str(saved), teacher__out=str(tmp_path / "imp")))
    assert imp["source"] == "imported"
    assert imp["mean_iou"] == pytest.approx(meta["mean_iou"], abs=1e-9)  # same weights, same val set
    with pytest.raises(NassegError, match="does not fit"):
        run_teacher(_params(prepared, teacher__weights=str(saved), teacher__depth=34,
                            teacher__out=str(tmp_path / "imp2")))


def test_precompute_writes_caches_that_match_their_fingerprint(prepared):
    p = _params(prepared)
    if not (prepared / "pre/encoder.pt").is_file():
        run_pretrain(p, log=lambda s: None)
    if not (prepared / "tea/teacher.pt").is_file():
        run_teacher(p, log=lambda s: None)
    path, rep = precompute(p, "train")
    assert rep["n"] == 20 and rep["fp16_max_rel_error"] < 1e-2
    with FeatureCache(path, cache_fingerprint(p, "train")) as c:
        shapes = c.shapes()
        assert shapes["tap0"] == (24, 8, 8) and shapes["tap3"] == (320, 1, 1)
        assert shapes["labels"] == (8, 8) and shapes["teacher"] == (21, 8, 8)
    vpath, vrep = precompute(p, "val")
    with FeatureCache(vpath, cache_fingerprint(p, "val")) as c:
        assert c.shapes()["labels"] == (48, 48) and "teacher" not in c.shapes()
    # another seed or n is another cache: the reader refuses the old file
    with pytest.raises(NassegError, match="n, seed|seed"):
        FeatureCache(path, cache_fingerprint(_params(prepared, precompute__seed=1, precompute__n=21), "train"))


def test_pretrain_in_bf16_on_cpu_finishes_with_finite_losses(prepared, tmp_path):
    import math

    from nasseg.runtime import Runtime

    p = _params(prepared, pretrain__out=str(tmp_path / "bf16"))
    meta = run_pretrain(p, log=lambda s: None, runtime=Runtime.of(None, device="cpu", precision="bf16"))
    assert meta["source"] == "trained" and 0.0 <= meta["mean_iou"] <= 1.0
    ck = torch.load(tmp_path / "bf16/resume/last.pt", weights_only=True)
    assert ck["identity"]["precision"] == "bf16" and all(math.isfinite(h["train_loss"]) for h in ck["history"])
    assert all(v.dtype == torch.float32 for v in ck["model"].values() if v.is_floating_point())  # fp32 weights
