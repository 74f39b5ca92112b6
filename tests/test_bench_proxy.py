"""`nasseg bench-proxy`: settings parsing, the statistics, and a study that resumes from its journal."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from conftest import ROOT
from nasseg.errors import ConfigError
from nasseg.search import calibrate
from nasseg.search.calibrate import SETTINGS, nested, parse_setting, summarise


def test_settings_are_presets_or_key_values_and_bad_ones_name_the_fix():
    assert parse_setting("s1-1ep") == ("s1-1ep", SETTINGS["s1-1ep"])
    assert parse_setting("mine:search.stage1.epochs=2,search.stage2.enabled=false") == (
        "mine", {"search.stage1.epochs": 2, "search.stage2.enabled": False})
    assert nested({"a.b": 1, "a.c.d": 2, "e": 3}) == {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    with pytest.raises(ConfigError, match="no preset"):
        parse_setting("nope")
    with pytest.raises(ConfigError, match="not key=value"):
        parse_setting("x:search.stage1.epochs")


def test_summary_separates_signal_from_seed_noise():
    ref = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    # rewards that follow the reference with small seed noise: rank agreement 1, noise well below 1
    good = np.stack([ref + 0.01, ref - 0.01], 1)
    s = summarise(good, ref, np.full(good.shape, 2.0))
    assert s["seed_rho"] == 1.0 and s["rho_one"] == 1.0 and s["rho_mean"] == 1.0
    assert s["noise"] < 0.2 and s["trial_s"] == 2.0
    # rewards that are seed noise only: reversed order under the second seed
    bad = np.stack([ref, ref[::-1]], 1)
    s = summarise(bad, ref, np.ones(bad.shape))
    assert s["seed_rho"] == -1.0 and s["noise"] > 1


def test_study_resumes_from_its_journal_and_reports_each_setting(tmp_path, monkeypatch):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    calls = {"trial": 0, "ref": 0}

    def trial(p, path, genotype, seed):  # a reward that depends on the architecture and a little on the seed
        calls["trial"] += 1
        r = (int(json.loads(genotype)[1][0][0]) + 0.1 * seed + p.search.stage1.epochs) / 10
        return {"reward": r, "trial_s": 1.0 + p.search.stage1.epochs, "stage1_reward": r / 2, "stage1_s": 0.5}

    def reference(p, genotype, run_dir):
        calls["ref"] += 1
        return {"miou": int(json.loads(genotype)[1][0][0]) / 10, "seconds": 0.0}

    monkeypatch.setattr(calibrate, "proxy_trial", trial)
    monkeypatch.setattr(calibrate, "reference_run", reference)
    settings = [("now", {}), ("one", {"search.stage1.epochs": 1})]
    out = calibrate.run_study(str(params), settings, 5, [0, 1], tmp_path / "s", log=lambda s: None)
    assert calls == {"trial": 20, "ref": 5}
    # each setting with stage 2 also reports its stage-1 reward alone, from the same trials
    assert [s["name"] for s in out["settings"]] == ["now", "now (stage 1 only)", "one", "one (stage 1 only)"]
    now, now1, one = out["settings"][:3]
    assert one["trial_s"] == 2.0 and now["trial_s"] == 4.0 and now1["trial_s"] == 0.5
    assert np.allclose(np.array(now1["rewards"]), np.array(now["rewards"]) / 2, atol=1e-4)
    assert now1["overrides"] == {"search.stage2.enabled": False}
    # the second setting's params file carries its override
    assert yaml.safe_load((tmp_path / "s" / "one" / "params.yaml").read_text())["search"]["stage1"]["epochs"] == 1
    again = calibrate.run_study(str(params), settings, 5, [0, 1], tmp_path / "s", log=lambda s: None)
    assert calls == {"trial": 20, "ref": 5}, "a rerun trains nothing that the journal holds"
    assert again["settings"] == out["settings"]
    with pytest.raises(ConfigError, match="search.\\* and precompute"):
        calibrate.run_study(str(params), [("x", {"data.num_classes": 3})], 5, [0, 1], tmp_path / "s",
                            log=lambda s: None)
