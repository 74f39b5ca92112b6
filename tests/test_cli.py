"""The `nasseg` command: help texts, user errors without tracebacks, --skip-bad."""
import json
import shutil

import yaml

from conftest import run_cli

TINY = {"data": {"embedded": {"voc": {"train": 6, "val": 10}, "sbd": {"train": 8, "val": 2},
                              "coco": {"train": 5}, "min_size": 48, "max_size": 64}}}


def _write_params(path, params):
    path.write_text(yaml.safe_dump(params))
    return path


def test_help_lists_stages_and_explains_prepare(tmp_path):
    out = run_cli(["--help"], tmp_path)
    assert out.returncode == 0 and "prepare" in out.stdout
    out = run_cli(["prepare", "--help"], tmp_path)
    assert out.returncode == 0
    for word in ("Reads", "Writes", "--skip-bad", "--params"):
        assert word in out.stdout


def test_bad_param_type_names_the_key_without_traceback(tmp_path):
    bad = {"data": {"embedded": {"voc": {"train": "many"}}}}
    out = run_cli(["prepare", "--params", str(_write_params(tmp_path / "p.yaml", bad))], tmp_path)
    assert out.returncode == 2
    assert "data.embedded.voc.train" in out.stderr and "Traceback" not in out.stderr


def test_missing_params_file(tmp_path):
    out = run_cli(["prepare", "--params", "nope.yaml"], tmp_path)
    assert out.returncode == 2 and "nope.yaml" in out.stderr and "Traceback" not in out.stderr


def test_prepare_tiny_then_bad_file_stops_or_is_skipped(tmp_path):
    params = _write_params(tmp_path / "params.yaml", TINY)
    out = run_cli(["prepare", "--params", str(params)], tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads((tmp_path / "data/lists/summary.json").read_text())
    sets = summary["sets"]
    # a tenth of VOC val (1 of 10) also sits in SBD train and must stay out of the pool
    assert sets["trainaug"]["images"] == 6 + 8 + 2 - 1
    assert sets["meta_val"]["images"] == round(15 * 0.1)
    lists = tmp_path / "data/lists"
    val_ids = {l.split("\t")[0].rsplit("/", 1)[-1] for l in (lists / "voc_val.lst").read_text().splitlines()}
    pool_ids = {l.split("\t")[0].rsplit("/", 1)[-1] for l in (lists / "trainaug.lst").read_text().splitlines()}
    assert not val_ids & pool_ids

    # Use the rendered VOC set as a "real" source, and break one of its images.
    real = tmp_path / "realvoc"
    shutil.copytree(tmp_path / "data/embedded/VOCdevkit/VOC2012", real)
    victim = sorted((real / "JPEGImages").glob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:200])
    params2 = dict(TINY, data=dict(TINY["data"], sources={"voc": str(real)}))
    p2 = _write_params(tmp_path / "params2.yaml", params2)
    out = run_cli(["prepare", "--params", str(p2)], tmp_path)
    assert out.returncode == 2
    assert victim.name in out.stderr and "--skip-bad" in out.stderr and "Traceback" not in out.stderr
    out = run_cli(["prepare", "--params", str(p2), "--skip-bad"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 bad sample(s) skipped" in out.stderr
    summary = json.loads((tmp_path / "data/lists/summary.json").read_text())
    skipped = summary["skipped"]
    assert sum(len(v) for v in skipped.values()) == 1
    assert summary["sets"]["voc_train"]["source"] == "real"


def test_older_spellings_redirect_to_the_commands_that_serve_them():
    import pytest

    from nasseg.errors import NassegError
    from stages.cli import redirect

    assert redirect(["train", "--system", "wacv", "-p", "x.yaml"]) == ["train-wacv", "-p", "x.yaml"]
    assert redirect(["train", "--system=cells"]) == ["train"]
    assert redirect(["prepare", "--only", "transfer"]) == ["prepare-transfer"]
    assert redirect(["prepare", "--only=street", "--skip-bad"]) == ["prepare-street", "--skip-bad"]
    assert redirect(["search", "--system", "wacv"]) == ["search", "--system", "wacv"]  # search serves both
    with pytest.raises(NassegError, match="--only must be one of"):
        redirect(["prepare", "--only", "everything"])
