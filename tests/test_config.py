"""params.yaml validation: good files parse, every bad key is named by its dotted path."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from nasseg.config import DataParams, load_params, parse_params
from nasseg.errors import ConfigError

GOOD = textwrap.dedent("""\
    data:
      root: somewhere
      num_classes: 21
      embedded:
        seed: 3
        min_size: 64
        max_size: 96
        jpeg_quality: 90
        max_objects: 4
        voc: {train: 30, val: 20}
        sbd: {train: 70, val: 10}
        coco: {train: 100}
      sources:
        voc: null
        sbd: /datasets/benchmark_RELEASE/dataset
        coco: {root: /datasets/coco/train2017, annotations: /datasets/coco/annotations/instances_train2017.json}
      split:
        val_fraction: 0.2
        seed: 5
      augment:
        scale: [0.5, 2.0]
        min_side: 96
        crop: 128
        flip: false
    not_built_yet:     # a section no stage reads yet: accepted as-is
      format: html
    """)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def test_good_file_parses(tmp_path):
    p = load_params(write(tmp_path, GOOD))
    d = p.data
    assert isinstance(d, DataParams)
    assert d.root == Path("somewhere") and d.num_classes == 21
    e = d.embedded
    assert (e.seed, e.min_size, e.max_size, e.jpeg_quality, e.max_objects) == (3, 64, 96, 90, 4)
    assert (e.voc.train, e.voc.val, e.sbd.train, e.sbd.val, e.coco.train, e.coco.val) == (30, 20, 70, 10, 100, 0)
    assert d.sources.voc is None
    assert d.sources.sbd == Path("/datasets/benchmark_RELEASE/dataset")
    assert d.sources.coco.root == Path("/datasets/coco/train2017")
    assert d.split.val_fraction == 0.2 and d.split.seed == 5
    assert d.augment.scale == (0.5, 2.0) and d.augment.flip is False and d.augment.crop == 128


def test_project_params_file_parses():
    p = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert p.data.num_classes == 21


def test_empty_file_gives_defaults(tmp_path):
    p = load_params(write(tmp_path, ""))
    assert p.data == DataParams()


def test_wrong_type_names_dotted_key(tmp_path):
    path = write(tmp_path, GOOD.replace("voc: {train: 30, val: 20}", 'voc: {train: "abc", val: 20}'))
    with pytest.raises(ConfigError) as err:
        load_params(path)
    msg = str(err.value)
    assert "data.embedded.voc.train" in msg
    assert str(path) in msg and "abc" in msg


@pytest.mark.parametrize("old,new,key", [
    ("num_classes: 21", "num_classes: 1", "data.num_classes"),
    ("jpeg_quality: 90", "jpeg_quality: 101", "data.embedded.jpeg_quality"),
    ("val_fraction: 0.2", "val_fraction: 1.0", "data.split.val_fraction"),
    ("scale: [0.5, 2.0]", "scale: [2.0, 0.5]", "data.augment.scale"),
    ("flip: false", "flip: sometimes", "data.augment.flip"),
    ("crop: 128", "crop: 12.5", "data.augment.crop"),
])
def test_out_of_range_or_wrong_type(tmp_path, old, new, key):
    assert old in GOOD
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_params(write(tmp_path, GOOD.replace(old, new)))


def test_unknown_key_in_data_rejected(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_params(write(tmp_path, GOOD.replace("  num_classes: 21\n", "  num_classes: 21\n  num_clases: 20\n")))
    assert "data.num_clases" in str(err.value)
    with pytest.raises(ConfigError, match=re.escape("data.embedded.voc.tain")):
        load_params(write(tmp_path, GOOD.replace("voc: {train: 30, val: 20}", "voc: {tain: 30}")))


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nowhere" / "params.yaml"
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert str(path) in str(err.value)


def test_min_size_above_max_size_rejected(tmp_path):
    path = write(tmp_path, GOOD.replace("min_size: 64", "min_size: 120"))
    with pytest.raises(ConfigError) as err:
        load_params(path)
    msg = str(err.value)
    assert "data.embedded" in msg and "min_size" in msg and "max_size" in msg
    # equal sizes are fine
    assert load_params(write(tmp_path, GOOD.replace("min_size: 64", "min_size: 96"))).data.embedded.min_size == 96


def test_not_yaml_or_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="YAML"):
        load_params(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_params(write(tmp_path, "- a\n- b\n"))


def test_params_are_frozen():
    p = parse_params({"data": {"num_classes": 5}})
    with pytest.raises(Exception):
        p.data.num_classes = 6


@pytest.mark.parametrize("raw,key", [
    ({"data": {"embedded": {"voc": {"train": "5"}}}}, "data.embedded.voc.train"),
    ({"data": {"embedded": {"seed": True}}}, "data.embedded.seed"),
    ({"data": {"augment": {"flip": "yes"}}}, "data.augment.flip"),
])
def test_strict_types_are_not_coerced(raw, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        parse_params(raw)


def _defaulted(full, given, prefix=""):
    """Dotted keys of ``full`` (a model_dump) that ``given`` (its exclude_unset twin) lacks."""
    out = []
    if isinstance(full, dict):
        for k, v in full.items():
            key = f"{prefix}{k}"
            if k not in given:
                out.append(key)
            else:
                out += _defaulted(v, given[k], key + ".")
    elif isinstance(full, list):
        for i, (v, g) in enumerate(zip(full, given)):
            out += _defaulted(v, g, f"{prefix}{i}.")
    return out


def test_params_yaml_writes_every_value_the_pipeline_uses():
    """No hidden default: every key the pipeline reads is in params.yaml (so DVC tracks it and
    `dvc exp run -S key=value` reaches it). Add a new key to params.yaml with its value."""
    p = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    missing = _defaulted(p.model_dump(), p.model_dump(exclude_unset=True))
    assert not missing, f"keys taken from the code's defaults, not params.yaml: {', '.join(missing)}"


def test_later_keys_at_their_default_leave_identities_unchanged():
    from nasseg.config import identity_dump, params_sha1

    p = parse_params({"search": {"stage2": {"epochs": 2}}})
    assert "momentum" not in identity_dump(p.search)["stage2"] and "hidden" not in identity_dump(p.search)["ppo"]
    same = parse_params({"search": {"stage2": {"epochs": 2, "momentum": 0.9, "weight_decay": 0.00001}}})
    assert params_sha1(same, "search") == params_sha1(p, "search")
    other = parse_params({"search": {"stage2": {"epochs": 2, "momentum": 0.5}}})
    assert identity_dump(other.search)["stage2"]["momentum"] == 0.5
    assert params_sha1(other, "search") != params_sha1(p, "search")
