"""Profiles (profiles/*.yaml): each validates, stays within params.yaml's keys, the complete ones
set every key, the paper profile holds the paper's values with their sources, and
`nasseg profile list|diff|use` works in a copy of the project."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from nasseg.config import load_params, parse_params
from stages.tools.profile import differences, extra_keys, is_complete, missing_keys

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PROFILES = sorted((ROOT / "profiles").glob("*.yaml"))
COMPLETE = [p for p in PROFILES if is_complete(yaml.safe_load(p.read_text()), PARAMS)]


def raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_paper_and_wacv_profiles_exist_and_are_complete():
    assert {p.stem for p in COMPLETE} >= {"paper", "wacv"}
    assert "tiny" in {p.stem for p in PROFILES} and "tiny" not in {p.stem for p in COMPLETE}  # overrides


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_each_profile_validates_with_load_params(path):
    p = load_params(path)
    assert p.search.search_space == "cells"


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_profile_keys_are_a_subset_of_params_yaml(path):
    extra = extra_keys(PARAMS, raw(path))
    assert not extra, f"{path.name} introduces keys params.yaml lacks: {', '.join(extra)}"


@pytest.mark.parametrize("path", COMPLETE, ids=lambda p: p.stem)
def test_complete_profiles_set_every_key_of_params_yaml(path):
    missing = missing_keys(PARAMS, raw(path))
    assert not missing, f"{path.name} lacks keys of params.yaml: {', '.join(missing)}"


def test_key_checks_name_the_offending_dotted_keys():
    prof = {"search": {"stage1": {"epoch": 5}, "ppo": {"lr": 1e-4}},
            "train": {"schedule": {"phases": [{"sets": "voc_train", "epochs": 3, "aux_wieght": 0.2}]}},
            "data": {"sources": {"coco": {"root": "a", "annotations": "b"}}}, "nope": 1}
    assert extra_keys(PARAMS, prof) == ["search.stage1.epoch", "train.schedule.phases[0].aux_wieght", "nope"]
    assert "search.stage1.lr" in missing_keys(PARAMS, prof) and "runtime" in missing_keys(PARAMS, prof)
    # below a key params.yaml leaves null, the schema (not the key list) checks the mapping
    assert extra_keys(PARAMS, {"data": {"sources": {"coco": {"root": "a", "annotations": "b"}}}}) == []


def test_differences_walk_mappings_and_equal_length_phase_lists():
    a = {"x": {"n": 1, "m": [1, 2]}, "ph": [{"e": 1}, {"e": 2}], "src": None}
    b = {"x": {"n": 2, "m": [1, 2]}, "ph": [{"e": 1}, {"e": 3}], "src": {"root": "r"}, "new": 0}
    assert differences(a, b) == [("x.n", 1, 2), ("ph[1].e", 2, 3), ("src", None, {"root": "r"}),
                                 ("new", "<absent>", 0)]
    assert differences(a, a) == []


def test_paper_profile_holds_the_papers_headline_values():
    p = load_params(ROOT / "profiles/paper.yaml")
    assert p.precompute.n == 4000 and p.precompute.augment.crop == 256 and p.precompute.label_stride == 4
    assert p.precompute.teacher and p.teacher.depth == 152 and p.search.stage1.kd_weight == 0.3
    s = p.search
    assert s.search_space == "cells" and s.width == 48 and s.repeats == 1 and s.aux == "cell"
    assert (s.stage1.epochs, s.stage1.lr, s.stage1.polyak, s.stage1.batch_size) == (5, 3e-3, 0.9, 64)
    assert s.stage1.samples_per_epoch is None and s.stage2.max_images is None
    assert (s.stage2.epochs, s.stage2.encoder_lr, s.stage2.decoder_lr, s.stage2.polyak) == (1, 1e-3, 3e-3, 0.99)
    assert (s.stage2.batch_size, s.stage2.crop, s.stage2.momentum, s.stage2.weight_decay) == (32, 350, 0.9, 1e-5)
    assert s.termination.p0 == 0.9 and s.max_seconds == 4 * 24 * 3600 and s.exclude_background
    assert (s.ppo.lr, s.ppo.clip, s.ppo.grad_clip, s.ppo.baseline_decay, s.ppo.buffer, s.ppo.hidden) == \
        (1e-4, 0.1, 2.0, 0.95, 100, 100)
    assert p.data.split.val_fraction == 0.1 and p.data.num_classes == 21
    assert p.data.sources.voc is not None and p.data.sources.sbd is not None and p.data.sources.coco is not None
    assert p.data.augment.crop == 512
    a = p.ablate
    assert a.archs == 10 and list(a.variants) == ["none", "clf", "cell"]
    assert [(ph.sets, ph.epochs, ph.images_per_epoch) for ph in a.schedule.phases] == \
        [("trainaug", 20, None), ("voc_train", 30, None)]
    assert tuple(p.correlate.bounds) == (0.4, 0.6) and p.correlate.per_bucket == 10
    t = p.train
    assert t.archs == 3 and t.width == 64 and t.repeats == 2
    assert [(ph.sets, ph.epochs, ph.aux_weight, ph.images_per_epoch) for ph in t.schedule.phases] == [
        ("coco_train+trainaug", 30, 0.3, None), ("trainaug", 50, 0.25, None), ("voc_train", 100, 0.2, None)]
    assert t.schedule.lr_halving and t.schedule.lr_decay == 0.5 and t.schedule.freeze_bn_halfway
    assert t.schedule.frozen_aux_weight == 0.15 and (t.latency.size, t.latency.runs) == (512, 100)
    assert (p.benchmark.size, p.benchmark.runs) == (512, 100)
    assert p.transfer.mpii.input == [256, 256] and p.transfer.coco.input == [192, 256]
    assert sum(ph.epochs for ph in p.transfer.mpii.schedule.phases) == 140 and p.transfer.mpii.schedule.batch_size == 32
    assert p.transfer.data.coco_keypoints and p.transfer.data.mpii and p.transfer.data.nyu


def test_real_dataset_paths_sit_under_data_real():
    """Every real-dataset path of the complete profiles is a param under data/real/ (the user edits them)."""
    for path in COMPLETE:
        p = load_params(path)
        sources = [p.data.sources.voc, p.data.sources.sbd, p.wacv.data.sources.camvid, p.wacv.data.sources.cityscapes]
        sources += [p.data.sources.coco.root, p.data.sources.coco.annotations] if p.data.sources.coco else []
        for src in (p.transfer.data.coco_keypoints, p.transfer.data.mpii, p.transfer.data.nyu):
            sources += [v for v in src.model_dump().values() if isinstance(v, Path)] if src else []
        given = [s for s in sources if s is not None]
        assert given, f"{path.name} names no real dataset"
        assert all(Path(s).as_posix().startswith("data/real/") for s in given), given


SOURCE = re.compile(r"paper|SPEC|authors'|Simple Baselines|Light-Weight RefineNet|WACV|search_wacv")


def _key_lines(node, parent_line, out, prefix=""):
    """dotted key -> (its line, its parent key's line) in a composed YAML document."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}.{k.value}" if prefix else k.value
            out[key] = (k.start_mark.line, parent_line)
            _key_lines(v, k.start_mark.line, out, key)
    elif isinstance(node, yaml.SequenceNode):
        for i, e in enumerate(node.value):
            _key_lines(e, parent_line, out, f"{prefix}[{i}]")


@pytest.mark.parametrize("name", ["paper", "wacv"])
def test_every_value_a_profile_changes_names_its_source(name):
    """Each key whose value differs from the embedded default has a comment naming its source
    (or saying 'not in the paper') on its own line or its parent key's."""
    path = ROOT / "profiles" / f"{name}.yaml"
    text = path.read_text()
    lines = text.splitlines()
    where: dict = {}
    _key_lines(yaml.compose(text), 0, where)
    unsourced = []
    for key, _, _ in differences(PARAMS, raw(path)):
        key = re.sub(r"\.length$", "", key)
        line, parent = where[key]
        comments = [lines[i].partition(" #")[2] for i in (line, parent)]
        if not any(SOURCE.search(c) for c in comments):
            unsourced.append(key)
    assert not unsourced, f"{name}.yaml values without a source comment: {', '.join(unsourced)}"


# ------------------------------------------------------------------------------- the command
def _project(tmp_path: Path, with_git: bool = True) -> Path:
    proj = tmp_path / "proj"
    (proj / "profiles").mkdir(parents=True)
    shutil.copy2(ROOT / "params.yaml", proj / "params.yaml")
    for p in PROFILES:
        shutil.copy2(p, proj / "profiles" / p.name)
    if with_git:
        commit = ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]
        for args in (["init", "-q"], ["add", "-A"], commit):
            subprocess.run(["git", *args], cwd=proj, check=True, capture_output=True)
    return proj


def _ok(args, proj):
    out = run_cli(["profile", *args], proj)
    assert out.returncode == 0, f"nasseg profile {args} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


def _refused(args, proj):
    out = run_cli(["profile", *args], proj)
    assert out.returncode == 2, f"nasseg profile {args} should be refused:\n{out.stdout}\n{out.stderr}"
    text = out.stdout + out.stderr
    assert "Traceback" not in text
    return " ".join(text.split())


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_profile_command_diff_use_and_back_in_a_copy_of_the_project(tmp_path):
    proj = _project(tmp_path)
    default = (proj / "params.yaml").read_text()
    listing = " ".join(_ok(["list"], proj).split())
    assert "paper" in listing and "complete" in listing and "overrides" in listing

    diff = _ok(["diff", "paper"], proj)
    assert re.search(r"precompute\.n\s+1000\s+->\s+4000", diff) and re.search(r"teacher\.depth\s+18\s+->\s+152", diff)
    assert "runtime.device" not in diff  # equal values are not listed

    _ok(["use", "paper"], proj)
    assert (proj / "params.yaml").read_text() == (proj / "profiles/paper.yaml").read_text()
    assert (proj / "params.yaml.bak").read_text() == default
    assert load_params(proj / "params.yaml").precompute.n == 4000
    assert "same values" in _ok(["diff", "paper"], proj)

    _ok(["use", "wacv"], proj)  # params.yaml held a profile's text: nothing to lose
    assert load_params(proj / "params.yaml").wacv.precompute.n == 1000

    _ok(["use", "tiny"], proj)  # overrides: merged over the committed params.yaml
    written = (proj / "params.yaml").read_text()
    assert written.startswith("# nasseg profile use tiny")
    p = load_params(proj / "params.yaml")
    assert p.precompute.n == 24 and p.search.ppo.lr == 0.003  # tiny's, and the committed default's
    _ok(["use", "paper"], proj)  # what `use` wrote is known: no refusal

    edited = (proj / "params.yaml").read_text().replace("n: 4000 ", "n: 3000 ", 1)
    (proj / "params.yaml").write_text(edited)
    msg = _refused(["use", "wacv"], proj)
    assert "not committed" in msg and "--force" in msg
    assert (proj / "params.yaml").read_text() == edited  # untouched
    _ok(["use", "wacv", "--force"], proj)
    assert (proj / "params.yaml.bak").read_text() == edited

    _ok(["use", "default"], proj)
    assert (proj / "params.yaml").read_text() == default


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_profile_command_refuses_bad_profiles_with_the_key_named(tmp_path):
    proj = _project(tmp_path)
    (proj / "profiles/typo.yaml").write_text("search:\n  stage1:\n    epoch: 5\n")
    assert "search.stage1.epoch" in _refused(["diff", "typo"], proj)
    (proj / "profiles/bad.yaml").write_text("precompute:\n  n: many\n")
    assert "precompute.n" in _refused(["use", "bad"], proj)
    full = raw(proj / "profiles/paper.yaml")
    del full["search"]["ppo"]["lr"]
    (proj / "profiles/holey.yaml").write_text(yaml.safe_dump(full))
    assert "search.ppo.lr" in _refused(["use", "holey"], proj)
    assert "no profile 'nope'" in _refused(["use", "nope"], proj)
    assert (proj / "params.yaml").read_text() == (ROOT / "params.yaml").read_text()  # never written


def test_profile_use_outside_git_needs_force(tmp_path):
    proj = _project(tmp_path, with_git=False)
    assert "git cannot tell" in _refused(["use", "paper"], proj)
    _ok(["use", "paper", "--force"], proj)
    assert parse_params(raw(proj / "params.yaml")).teacher.depth == 152
