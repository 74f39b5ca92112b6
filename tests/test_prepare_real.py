"""prepare on real sources: masks decoded once to PNGs, one index file, the manifest of the
real files (what reruns prepare), bad files under --skip-bad; on small sets in the real
formats made here, and on ../shared/realdata when present."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import yaml
from PIL import Image

from conftest import ROOT, run_cli
from nasseg.config import CocoSource, DataParams, SourcesParams
from nasseg.data.catalog import clear_index_cache, index_path, open_set, prepared_dir
from nasseg.data.datasets import COCOSegmentation, SBDSegmentation, VOCSegmentation, IndexedSegmentation
from nasseg.data.io import read_mask
from nasseg.data.loader import load_sample, sample_seed
from nasseg.data.manifest import diff_manifests, scan_sources
from nasseg.data.prepare import build_lists, write_summary
from nasseg.data.transforms import SegmentationTransform
from nasseg.errors import DataError
from nasseg.synthetic.segmentation import EmbeddedSpec, embedded_layout, write_coco, write_sbd, write_voc

BASE_SETS = ("voc_train", "voc_val", "sbd", "coco_train")


def make_sources(root: Path, *, seed: int = 3) -> DataParams:
    """A small set in the real formats (VOC layout, SBD .mat, COCO polygons / RLE / crowd RLE)
    under ``root/src``, named as real sources; prepare writes under ``root/data``."""
    spec = EmbeddedSpec(seed=seed, min_size=40, max_size=56)
    lay = embedded_layout(6, 2, 4, 10)  # VOC val id 0 also sits in SBD train, as in the real sets
    src = root / "src"
    voc = write_voc(src, {"train": lay["voc_train"], "val": lay["voc_val"]}, spec)
    sbd = write_sbd(src, {"train": lay["sbd_train"], "val": lay["sbd_val"]}, spec)
    coco_img, coco_ann = write_coco(src, "train", 8, spec)
    return DataParams(root=root / "data", sources=SourcesParams(voc=voc, sbd=sbd, coco=CocoSource(
        root=coco_img, annotations=coco_ann)), split={"val_fraction": 0.25, "seed": 0})


def old_path(data: DataParams, name: str, transforms=None):
    """The set as the loops read it before prepare decoded the masks: SBD .mat and COCO JSON."""
    src = data.sources
    if name == "coco_train":
        return COCOSegmentation(src.coco.root, src.coco.annotations, transforms)
    if name == "sbd":
        a, b = SBDSegmentation(src.sbd, "train", transforms), SBDSegmentation(src.sbd, "val", transforms)
        return {s.id: (ds, i) for ds in (a, b) for i, s in enumerate(ds.samples)}
    return VOCSegmentation(src.voc, name.split("_")[1], transforms)


def assert_same_as_old(data: DataParams, name: str, transforms=None):
    new = open_set(name, data, transforms)
    assert isinstance(new, IndexedSegmentation)
    old = old_path(data, name, transforms)
    where = old if isinstance(old, dict) else {s.id: (old, i) for i, s in enumerate(old.samples)}
    assert len(new) > 0
    for i, s in enumerate(new.samples):
        ds, j = where[s.id]
        a = load_sample(new, i, seed=5, epoch=1)
        with torch.random.fork_rng(devices=[]):  # the augmentation of key (5, 1, i), as a loop draws it
            torch.manual_seed(sample_seed(5, 1, i, 2))
            b = ds[j]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), f"{name} sample {s.id} differs"
    return new


def sha(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- outputs

def test_prepare_writes_decoded_pngs_index_and_manifest(tmp_path):
    data = make_sources(tmp_path)
    reports = {r.name: r for r in build_lists(data, workers=0)}
    prep = prepared_dir(data)
    assert prep == tmp_path / "data" / "prepared"
    sbd_pngs = sorted((prep / "masks" / "sbd").glob("*.png"))
    coco_pngs = sorted((prep / "masks" / "coco").glob("*.png"))
    assert len(sbd_pngs) == reports["sbd_train"].images + reports["sbd_val"].images == 8
    assert len(coco_pngs) == reports["coco_train"].images > 0
    # a decoded SBD mask holds exactly the .mat's GTcls.Segmentation, as a VOC palette PNG
    for png in sbd_pngs:
        with Image.open(png) as im:
            assert im.mode == "P"
        mat = data.sources.sbd / "cls" / f"{png.stem}.mat"
        assert np.array_equal(read_mask(png), read_mask(mat))

    index = json.loads(index_path(data).read_text())
    assert index["version"] == 1 and index["num_classes"] == 21
    assert set(index["sets"]) == {"coco_train", "voc_train", "voc_val", "sbd", "trainaug", "meta_train", "meta_val"}
    for name, rows in index["sets"].items():
        assert len(rows) == {**{r.name: r.images for r in reports.values()}}[name]
    for row in index["samples"]:  # [id, image root, image name, mask root, mask name, height, width]
        sid, ir, iname, mr, mname, h, w = row
        img = Path(os.path.normpath(prep / index["roots"][ir])) / iname
        with Image.open(img) as im:
            assert im.size == (w, h)
        assert mname.endswith(".png")
    # the list files name the same PNG masks; no .mat is left in them
    lists = tmp_path / "data" / "lists"
    assert ".mat" not in (lists / "trainaug.lst").read_text()
    assert len((lists / "coco_train.lst").read_text().splitlines()) == reports["coco_train"].images

    manifest = json.loads((prep / "manifest.json").read_text())
    assert manifest["fingerprint"] == "stat"
    voc = manifest["sources"]["voc"]
    assert voc["kind"] == "real" and voc["files"] == 4 + 10 + 4 + 10 + 3  # jpg + png + train/val/trainval.txt
    names = {e[0] for e in manifest["sources"]["sbd"]["entries"]}
    assert {"train.txt", "val.txt", "cls/2100_000000.mat", "img/2100_000000.jpg"} <= names
    coco = {e[0] for e in manifest["sources"]["coco"]["entries"]}
    assert any(n.endswith("instances_train2017.json") for n in coco) and len(coco) == 8 + 1

    summary = json.loads(write_summary(data, list(reports.values())).read_text())
    assert summary["prepared"]["decoded_masks"] == {"sbd_train": 6, "sbd_val": 2,
                                                    "coco_train": reports["coco_train"].images}


def test_parallel_prepare_writes_the_same_bytes(tmp_path):
    data = make_sources(tmp_path)
    build_lists(data, workers=0)
    prep = prepared_dir(data)
    before = {p.relative_to(prep): sha(p) for p in sorted(prep.rglob("*")) if p.is_file()}
    lists = {p.name: p.read_text() for p in (tmp_path / "data" / "lists").glob("*.lst")}
    build_lists(data, workers=3)
    after = {p.relative_to(prep): sha(p) for p in sorted(prep.rglob("*")) if p.is_file()}
    assert before == after and len(after) == 8 + 8 + 2
    assert lists == {p.name: p.read_text() for p in (tmp_path / "data" / "lists").glob("*.lst")}


def test_indexed_loader_gives_the_old_direct_decode_arrays(tmp_path):
    data = make_sources(tmp_path)
    build_lists(data, workers=0)
    for name in BASE_SETS:
        assert_same_as_old(data, name)  # raw pairs
        assert_same_as_old(data, name, SegmentationTransform(crop=32, scale=(0.7, 1.4), min_side=32, flip=True))
    both = open_set("coco_train+trainaug", data)
    assert len(both) == len(open_set("coco_train", data)) + len(open_set("trainaug", data))


def test_open_set_reads_one_file_and_no_decoder(tmp_path):
    """Opening and reading a set parses the index only: no pycocotools, no scipy .mat reader,
    no file checked (a file deleted after prepare fails when read, by name)."""
    data = make_sources(tmp_path)
    build_lists(data, workers=0)
    code = (
        "import sys; from pathlib import Path\n"
        "from nasseg.config import DataParams\n"
        "from nasseg.data.catalog import open_set\n"
        f"data = DataParams(root=Path({str(tmp_path / 'data')!r}))\n"
        "for n in ('coco_train', 'sbd', 'trainaug', 'meta_val'):\n"
        "    ds = open_set(n, data); ds[0]; ds[len(ds) - 1]\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pycocotools', 'scipy.io'))))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

    ds = open_set("sbd", data)
    gone = ds.samples[1].image
    gone.unlink()
    ds = open_set("sbd", data)  # opening checks nothing
    with pytest.raises(DataError, match=rf"{gone.name}.*not found"):
        ds[1]


def test_open_set_errors_name_the_fix(tmp_path):
    data = make_sources(tmp_path)
    build_lists(data, workers=0)
    with pytest.raises(DataError, match="data.num_classes is 19"):
        open_set("sbd", data.model_copy(update={"num_classes": 19}))
    index_path(data).write_text("{not json")
    clear_index_cache()
    with pytest.raises(DataError, match="not a prepared index.*nasseg prepare"):
        open_set("sbd", data)
    index_path(data).unlink()
    (tmp_path / "data" / "lists" / "coco_train.lst").unlink()  # as an older prepare left it: no list either
    with pytest.raises(DataError, match="no prepared index.*nasseg prepare"):
        open_set("coco_train", data)


# ----------------------------------------------------------------------------- manifest

def test_touching_a_file_changes_the_manifest(tmp_path):
    data = make_sources(tmp_path)
    first = scan_sources(data)
    assert scan_sources(data) == first  # nothing changed: the same bytes, DVC reruns nothing
    jpg = data.sources.voc / "JPEGImages" / "2100_000008.jpg"
    st = jpg.stat()
    os.utime(jpg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touch: same bytes, newer mtime
    touched = scan_sources(data)
    assert touched != first
    assert touched["sources"]["voc"]["digest"] != first["sources"]["voc"]["digest"]
    assert touched["sources"]["sbd"] == first["sources"]["sbd"]
    assert diff_manifests(first, touched) == ["voc: JPEGImages/2100_000008.jpg changed"]

    # by content: a touch changes nothing, a changed byte does
    by_content = data.model_copy(update={"fingerprint": "sha1"})
    a = scan_sources(by_content)
    os.utime(jpg, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert scan_sources(by_content) == a
    mat = data.sources.sbd / "cls" / "2100_000001.mat"
    mat.write_bytes(mat.read_bytes() + b"\0")  # size changes too
    b = scan_sources(by_content)
    assert diff_manifests(a, b) == ["sbd: cls/2100_000001.mat changed"]
    (data.sources.coco.root / "000000000099.jpg").write_bytes(b"x")
    assert diff_manifests(b, scan_sources(by_content)) == ["coco: images/train2017/000000000099.jpg added"]


def test_prepare_scan_stage_rewrites_only_on_change(tmp_path):
    data = make_sources(tmp_path)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": json.loads(data.model_dump_json())}))
    out = tmp_path / "data" / "sources.json"
    r = run_cli(["prepare-scan", "--params", str(params)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "voc 31 files" in r.stderr and out.is_file()
    first = out.read_bytes()
    r = run_cli(["prepare-scan", "--params", str(params)], tmp_path)
    assert "unchanged" in r.stderr and out.read_bytes() == first
    png = data.sources.voc / "SegmentationClass" / "2100_000008.png"
    png.write_bytes(png.read_bytes() + b"\0")
    r = run_cli(["prepare-scan", "--params", str(params)], tmp_path)
    assert "changed: voc: SegmentationClass/2100_000008.png changed" in r.stderr
    assert out.read_bytes() != first

    # a missing source root is one clear error
    bad = json.loads(data.model_dump_json())
    bad["sources"]["sbd"] = str(tmp_path / "nowhere")
    params.write_text(yaml.safe_dump({"data": bad}))
    r = run_cli(["prepare-scan", "--params", str(params)], tmp_path)
    assert r.returncode == 2 and "nowhere: SBD root not found" in r.stderr and "data.sources.sbd" in r.stderr


# ----------------------------------------------------------------------------- bad files

def corrupt(data: DataParams) -> tuple[Path, Path]:
    mat = data.sources.sbd / "cls" / "2100_000002.mat"
    mat.write_bytes(b"MATLAB? no: " + bytes(range(200)))
    jpg = data.sources.voc / "JPEGImages" / "2100_000009.jpg"  # a VOC train image
    jpg.write_bytes(jpg.read_bytes()[:300])  # truncated
    return mat, jpg


def test_bad_files_are_one_clear_error_without_skip_bad(tmp_path):
    data = make_sources(tmp_path)
    mat = data.sources.sbd / "cls" / "2100_000002.mat"
    mat.write_bytes(b"MATLAB? no: " + bytes(range(200)))
    with pytest.raises(DataError, match=r"2100_000002\.mat: not a readable MATLAB \.mat file.*--skip-bad"):
        build_lists(data, workers=0)
    with pytest.raises(DataError, match=r"2100_000002\.mat.*--skip-bad"):
        build_lists(data, workers=2)  # the same from the decode processes
    _, jpg = corrupt(data)
    with pytest.raises(DataError, match=rf"{jpg.name}: unreadable or truncated image.*--skip-bad"):
        build_lists(data, workers=0)  # VOC train is read first


def test_skip_bad_drops_and_counts_bad_files(tmp_path):
    data = make_sources(tmp_path)
    mat, jpg = corrupt(data)
    reports = {r.name: r for r in build_lists(data, skip_bad=True, workers=2)}
    assert [i for i, _ in reports["sbd_train"].skipped] == ["2100_000002"]
    assert [i for i, _ in reports["voc_train"].skipped] == ["2100_000009"]
    assert sum(len(r.skipped) for r in reports.values()) == 2
    assert reports["sbd_train"].images == 5 and reports["voc_train"].images == 3
    ids = {s.id for s in open_set("trainaug", data).samples}
    assert "2100_000002" not in ids and "2100_000009" not in ids
    assert not (prepared_dir(data) / "masks" / "sbd" / "2100_000002.png").exists()
    summary = json.loads(write_summary(data, list(reports.values())).read_text())
    assert mat.name in summary["skipped"]["sbd_train"][0]["reason"]


def test_prepare_command_reports_bad_files_by_name(tmp_path):
    data = make_sources(tmp_path)
    mat, jpg = corrupt(data)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": json.loads(data.model_dump_json())}))
    r = run_cli(["prepare", "--params", str(params), "--workers", "1"], tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert jpg.name in r.stderr and "--skip-bad" in r.stderr and "Traceback" not in r.stderr
    r = run_cli(["prepare", "--params", str(params), "--skip-bad"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped voc_train '2100_000009'" in r.stderr and jpg.name in r.stderr
    assert "skipped sbd_train '2100_000002'" in r.stderr and mat.name in r.stderr
    assert "2 bad sample(s) skipped (--skip-bad)" in r.stderr
    assert (tmp_path / "data" / "prepared" / "index.json").is_file()


# ----------------------------------------------------------------------------- real samples

def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)


def test_prepare_on_real_samples(tmp_path, realdata):
    """Real VOC pairs (symlinked into a VOC layout, never copied), SBD .mat files holding those
    real masks, and the real COCO images with their RLE annotations (crowd ones too) in place."""
    pairs = {p.stem: p for p in (realdata / "authors" / "DrSleep__nas-segm-pytorch" / "examples" / "imgs" / "VOC")
             .glob("*.jpg")}
    pairs["2007_000129"] = realdata / "voc2012" / "aurora95__Keras-FCN" / "doc" / "2007_000129.jpg"
    ids = sorted(pairs)
    voc, sbd = tmp_path / "VOC2012", tmp_path / "sbd"
    for i in ids:
        _link(pairs[i], voc / "JPEGImages" / f"{i}.jpg")
        _link(pairs[i].with_suffix(".png"), voc / "SegmentationClass" / f"{i}.png")
        _link(pairs[i], sbd / "img" / f"{i}.jpg")
        seg = np.array(Image.open(pairs[i].with_suffix(".png"))).astype(np.uint8)
        seg[seg == 255] = 0  # SBD has no void border
        (sbd / "cls").mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(sbd / "cls" / f"{i}.mat", {"GTcls": {"Segmentation": seg}})
    (voc / "ImageSets" / "Segmentation").mkdir(parents=True)
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids[:3]) + "\n")
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("\n".join(ids[3:]) + "\n")
    (sbd / "train.txt").write_text("\n".join(ids[:5]) + "\n")
    (sbd / "val.txt").write_text("\n".join(ids[5:]) + "\n")
    pan = realdata / "coco_panoptic" / "cocodataset__panopticapi" / "sample_data"
    data = DataParams(root=tmp_path / "data", sources=SourcesParams(voc=voc, sbd=sbd, coco=CocoSource(
        root=pan / "input_images", annotations=pan / "panoptic_coco_detection_format.json")))

    reports = {r.name: r for r in build_lists(data, workers=2)}
    assert reports["voc_train"].images == 3 and reports["voc_val"].images == 3
    assert reports["sbd"].images == 3  # SBD ids that are VOC val images stay out of the pool
    assert reports["coco_train"].images == 2  # both images hold a person
    assert reports["coco_train"].class_pixels[15] > 0
    coco = assert_same_as_old(data, "coco_train")
    assert coco.sizes == [(427, 640), (360, 640)]
    for name in ("voc_train", "voc_val", "sbd"):
        assert_same_as_old(data, name)
    masks = [np.array(Image.open(p)) for p in sorted((prepared_dir(data) / "masks" / "coco").glob("*.png"))]
    assert any((m == 255).any() for m in masks)  # the crowd regions of VOC classes are void
    manifest = json.loads((prepared_dir(data) / "manifest.json").read_text())
    coco_files = {e[0]: e[1] for e in manifest["sources"]["coco"]["entries"]}
    assert coco_files["input_images/000000142238.jpg"] == 362228  # the real file's size (MANIFEST.md)


# ----------------------------------------------------------------------------- bench-prepare

def test_bench_prepare_small_set_before_vs_after(tmp_path):
    from nasseg.config import parse_params
    from nasseg.data.bench_real import run_bench_prepare
    from nasseg.errors import ConfigError
    from nasseg.runtime import Runtime

    small = dict(images=20, batch_size=2, batches=2, crop=32, rounds=1, workers=0, prepare_workers=2,
                 min_size=40, max_size=48, runtime=Runtime(torch.device("cpu")), log=lambda s: None)
    root = tmp_path / "bench"
    r = run_bench_prepare(parse_params({}), root=root, **small)
    json.dumps(r)  # the --out file
    assert r["set"]["reused"] is False and r["set"]["settings"]["counts"] == {
        "voc_train": 1, "voc_val": 1, "sbd_train": 7, "sbd_val": 1, "coco": 10}
    assert len(list((root / "benchmark_RELEASE/dataset/cls").glob("*.mat"))) == 8
    assert r["prepare"]["seconds"] > 0 and r["prepare"]["skipped"] == 0 and r["prepare"]["masks_bytes"] > 0
    assert r["manifest_cost"]["stat"]["files"] == r["manifest_cost"]["sha1"]["files"] > 20
    for name, f in r["loader"].items():
        assert f["same_pixels"], name  # the prepared PNGs give the pixels the old decode gave
        assert f["before"]["images"] == f["after"]["images"] == 4 and f["speedup"] > 0
        assert f["open"]["before_s"] > 0 and f["open"]["after_s"] > 0
    again = run_bench_prepare(parse_params({}), root=root, **small)
    assert again["set"]["reused"] is True
    with pytest.raises(ConfigError, match="--crop"):
        run_bench_prepare(parse_params({}), root=tmp_path / "other", **{**small, "crop": 8})
    assert not (tmp_path / "other").exists()
