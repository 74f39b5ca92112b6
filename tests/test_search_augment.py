"""Issue 18, item 5: the search's augmentation (``precompute.augment``: the cache's crops, and
stage 2's with ``search.stage2.crop``) is apart from the final training's (``data.augment``).
Changing the final crop leaves the cache and the searches valid; changing the search's
invalidates them; the new keys at their defaults leave every recorded identity as it was."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml

import nasseg.cache.precompute as pc
from nasseg.config import apply_overrides, identity_dump, params_sha1, parse_params
from nasseg.search.run import _check_same_search

ROOT = Path(__file__).resolve().parents[1]
# the identities recorded before the augment keys existed were those of the pre-issue-21 default,
# which profiles/embedded-long.yaml gives back (the 45-minute default crops at 96 on purpose)
RAW = apply_overrides(yaml.safe_load((ROOT / "params.yaml").read_text()),
                      yaml.safe_load((ROOT / "profiles" / "embedded-long.yaml").read_text()))

# what the fingerprints recorded before the key existed: params.yaml's data.augment (wacv.data.augment)
OLD_AUGMENT = {"cells": {"scale": [0.7, 1.4], "min_side": 96, "crop": 128, "flip": True},
               "wacv": {"scale": [0.75, 1.25], "min_side": 96, "crop": 96, "flip": True}}
# the new keys, by system: where the search's and the final training's augmentation live
SEARCH_AUG = {"cells": ("precompute",), "wacv": ("wacv", "precompute")}
STAGE2 = {"cells": ("search", "stage2"), "wacv": ("wacv", "search", "stage2")}
DATA_AUG = {"cells": ("data",), "wacv": ("wacv", "data")}


@pytest.fixture
def no_files(monkeypatch):
    """The fingerprint hashes the encoder, teacher and lists; this checkout need not hold them."""
    monkeypatch.setattr(pc, "file_sha256", lambda path: f"sha256({path})")


def _params(system: str, **changes):
    """params.yaml for ``system`` with ``changes``: {"data"|"search"|"stage2": {key: value}}."""
    raw = copy.deepcopy(RAW)
    where = {"data": DATA_AUG[system] + ("augment",), "search": SEARCH_AUG[system] + ("augment",),
             "stage2": STAGE2[system]}
    for what, kv in changes.items():
        d = raw
        for k in where[what]:
            d = d[k]
        d.update(kv)
    return parse_params(raw).for_system(system)


def _search_sha1(p, tmp_path: Path) -> str:
    out = tmp_path / f"s{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    _check_same_search(p, out, log=lambda s: None)
    return json.loads((out / "search.json").read_text())["sha1"]


@pytest.mark.parametrize("system", ["cells", "wacv"])
def test_defaults_give_the_fingerprints_and_identities_recorded_before(system, no_files):
    p = _params(system)
    fp = pc.cache_fingerprint(p, "train")
    assert fp["augment"] == OLD_AUGMENT[system] == p.data.augment.model_dump(mode="json")
    assert "augment" not in identity_dump(p.precompute)  # later key at its default
    assert "crop" not in identity_dump(p.search)["stage2"]
    # params.yaml without the new keys (as before they existed) gives the same identities
    raw = copy.deepcopy(RAW)
    for section in (raw["precompute"], raw["wacv"]["precompute"]):
        del section["augment"]
    for section in (raw["search"]["stage2"], raw["wacv"]["search"]["stage2"]):
        del section["crop"]
    before = parse_params(raw)
    now = parse_params(RAW)
    assert {s: params_sha1(before, s) for s in type(now).model_fields} == \
        {s: params_sha1(now, s) for s in type(now).model_fields}
    b = before.for_system(system)
    assert pc.cache_fingerprint(b, "train") == fp
    assert identity_dump(b.precompute) == identity_dump(p.precompute)
    assert identity_dump(b.search) == identity_dump(p.search)


@pytest.mark.parametrize("system", ["cells", "wacv"])
def test_the_final_crop_leaves_the_cache_and_the_search_valid(system, tmp_path, no_files):
    p = _params(system)
    final = _params(system, data={"crop": 64, "min_side": 64, "scale": [0.5, 2.0], "flip": False})
    assert final.data.augment.crop == 64 and final.precompute.augment == p.precompute.augment
    for split in ("train", "val"):
        assert pc.cache_fingerprint(final, split) == pc.cache_fingerprint(p, split)
    assert final.search_augment(2) == p.search_augment(2)
    assert _search_sha1(final, tmp_path) == _search_sha1(p, tmp_path)


@pytest.mark.parametrize("system", ["cells", "wacv"])
def test_the_search_crop_invalidates_the_cache_and_the_search(system, tmp_path, no_files):
    p = _params(system)
    other = _params(system, search={"crop": 64})
    assert other.data.augment == p.data.augment  # the final training's is untouched
    assert pc.cache_fingerprint(other, "train")["augment"]["crop"] == 64
    assert pc.cache_fingerprint(other, "train") != pc.cache_fingerprint(p, "train")
    assert pc.cache_fingerprint(other, "val") == pc.cache_fingerprint(p, "val")
    assert identity_dump(other.precompute)["augment"]["crop"] == 64
    assert _search_sha1(other, tmp_path) != _search_sha1(p, tmp_path)


@pytest.mark.parametrize("system", ["cells", "wacv"])
def test_stage2_crop_is_its_own_and_defaults_to_the_cache(system, tmp_path, no_files):
    p = _params(system)
    assert p.search.stage2.crop is None
    assert p.search_augment(1) == p.search_augment(2) == p.precompute.augment
    s2 = _params(system, stage2={"crop": 160})
    a1, a2 = s2.search_augment(1), s2.search_augment(2)
    assert a1 == p.precompute.augment and a2.crop == 160
    assert a2.model_dump(exclude={"crop"}) == a1.model_dump(exclude={"crop"})
    assert pc.cache_fingerprint(s2, "train") == pc.cache_fingerprint(p, "train")  # the cache is stage 1's
    assert identity_dump(s2.search)["stage2"]["crop"] == 160
    assert _search_sha1(s2, tmp_path) != _search_sha1(p, tmp_path)
    with pytest.raises(Exception, match="stage2.crop"):
        _params(system, stage2={"crop": 4})


def test_dvc_search_stages_read_the_search_augmentation_and_training_stages_the_final_one():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]

    def params(name):
        st = stages[name]
        return (st.get("do") or st)["params"]

    for name, data in [("precompute", "data"), ("search", "data"), ("tricks", "data"),
                       ("precompute_wacv", "wacv.data"), ("search_wacv", "wacv.data")]:
        ps = params(name)
        assert not [k for k in ps if k == data or k.startswith(data + ".augment")], (name, ps)
        assert (data + ".root") in ps and ("wacv.precompute" if "wacv" in name else "precompute") in ps, (name, ps)
    for name, data in [("pretrain", "data"), ("teacher", "data"), ("ablate", "data"), ("correlate", "data"),
                       ("train", "data"), ("train_wacv", "wacv.data")]:
        assert data in params(name), name


def test_precompute_crops_with_the_search_augmentation(tmp_path, monkeypatch):
    """A real (tiny) cache: its crops are precompute.augment's; a reader with another final
    crop takes it, one with another search crop refuses it."""
    from nasseg.cache import FeatureCache
    from nasseg.data.prepare import build_lists, generate_embedded
    from nasseg.errors import NassegError
    from nasseg.models.encoder import MobileNetV2Encoder

    def raw(final_crop, search_crop):
        return {
            "data": {"root": str(tmp_path / "data"),
                     "embedded": {"voc": {"train": 4, "val": 4}, "sbd": {"train": 4, "val": 2}, "coco": {"train": 2},
                                  "min_size": 40, "max_size": 48},
                     "augment": {"crop": final_crop, "min_side": final_crop}},
            "pretrain": {"out": str(tmp_path / "pre")},
            "precompute": {"out": str(tmp_path / "cache"), "n": 4, "chunk": 4, "val_size": 48, "teacher": False,
                           "augment": {"crop": search_crop, "min_side": search_crop}}}

    p = parse_params(raw(48, 32))
    generate_embedded(p.data)
    build_lists(p.data)
    (tmp_path / "pre").mkdir()
    (tmp_path / "pre/encoder.pt").write_bytes(b"encoder")
    torch.manual_seed(0)
    monkeypatch.setattr(pc, "load_frozen_encoder", lambda params: MobileNetV2Encoder().eval())
    path, rep = pc.precompute(p, "train", batch_size=4)
    assert rep["size"] == 32
    with FeatureCache(path, pc.cache_fingerprint(parse_params(raw(64, 32)), "train")) as c:
        assert c.shapes()["labels"] == (8, 8) and c.shapes()["tap0"] == (24, 8, 8)
    with pytest.raises(NassegError):
        FeatureCache(path, pc.cache_fingerprint(parse_params(raw(48, 40)), "train"))
