"""NYU Depth v2 data layer: writers and readers, bad input, real files, augmentation, the
embedded synthetic writer."""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from nasseg.errors import DataError
from nasseg.synthetic.depth import labeled_frame, write_nyu_embedded
from nasseg.transfer.depth_data import (DepthDataset, DepthPairs, eigen_crop, load_pair_list, pairs_from_folders,
                                        read_depth_png)
from nasseg.transfer.nyu import NYULabeled, read_nyu_splits, write_nyu_labeled, write_nyu_splits

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "nyu_depth_v2"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/realdata absent")


def _frames(n=3, h=6, w=8, seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    depths = [rng.uniform(0.5, 9.5, (h, w)).astype(np.float32) for _ in range(n)]
    return images, depths


def _write_pair(root: Path, stem: str, rgb: np.ndarray, depth_mm: np.ndarray, sub="") -> tuple[Path, Path]:
    (root / sub).mkdir(parents=True, exist_ok=True)
    a, b = root / sub / f"{stem}.jpg", root / sub / f"{stem}.png"
    Image.fromarray(rgb).save(a, quality=100)
    Image.fromarray(depth_mm.astype(np.uint16)).save(b)
    return a, b


# ----------------------------------------------------------------------------- round trips


def test_labeled_round_trip_and_layout(tmp_path):
    images, depths = _frames()
    path = write_nyu_labeled(tmp_path / "nyu_depth_v2_labeled.mat", images, depths)
    with h5py.File(path, "r") as f:
        assert f["images"].shape == (3, 3, 8, 6) and f["images"].dtype == np.uint8  # (N, 3, W, H)
        assert f["depths"].shape == (3, 8, 6) and f["depths"].dtype == np.float32  # (N, W, H)
        assert f.userblock_size == 512
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with pytest.raises(NotImplementedError):  # scipy recognises a v7.3 file
        scipy.io.loadmat(str(path))
    ds = NYULabeled(path, [2, 0])
    assert len(ds) == 2
    img, dep = ds.load(0)
    assert img.dtype == torch.uint8 and img.shape == (3, 6, 8)
    assert dep.dtype == torch.float32 and dep.shape == (1, 6, 8)
    assert np.array_equal(img.permute(1, 2, 0).numpy(), images[2])
    assert np.array_equal(dep[0].numpy(), depths[2])
    # pickling (DataLoader workers) drops the handle and reopens it
    ds2 = pickle.loads(pickle.dumps(ds))
    assert ds2._h5 is None and torch.equal(ds2.load(1)[1], torch.from_numpy(depths[0])[None])
    assert len(NYULabeled(path)) == 3
    again = write_nyu_labeled(tmp_path / "b.mat", images, depths)
    assert again.read_bytes() == path.read_bytes()


def test_splits_round_trip(tmp_path):
    path = write_nyu_splits(tmp_path / "splits.mat", [0, 1, 4], [2, 3])
    raw = scipy.io.loadmat(str(path))
    assert raw["trainNdxs"].dtype == np.uint16 and raw["trainNdxs"].shape == (3, 1)
    assert raw["trainNdxs"].ravel().tolist() == [1, 2, 5] and raw["testNdxs"].ravel().tolist() == [3, 4]
    s = read_nyu_splits(path)
    assert s["train"].tolist() == [0, 1, 4] and s["test"].tolist() == [2, 3]
    assert write_nyu_splits(tmp_path / "again.mat", [0, 1, 4], [2, 3]).read_bytes() == path.read_bytes()


def test_pair_list_and_folders(tmp_path):
    rgb = np.full((6, 8, 3), 128, np.uint8)
    mm = np.arange(48, dtype=np.uint16).reshape(6, 8) * 100
    _write_pair(tmp_path, "a", rgb, mm, "s1")
    _write_pair(tmp_path, "b", rgb, mm, "s1")
    lst = tmp_path / "pairs.txt"
    lst.write_text("# rgb depth focal\ns1/a.jpg s1/a.png 518.8579\n\n  s1/b.jpg s1/b.png\n")
    pairs = load_pair_list(lst, tmp_path)
    assert pairs == [(tmp_path / "s1/a.jpg", tmp_path / "s1/a.png"), (tmp_path / "s1/b.jpg", tmp_path / "s1/b.png")]
    d = read_depth_png(pairs[0][1])
    assert d.dtype == np.float32 and np.allclose(d, mm * 1e-3)
    img, dep = DepthPairs(pairs).load(1)
    assert img.shape == (3, 6, 8) and dep.shape == (1, 6, 8)

    lst.write_text("s1/a.jpg s1/a.png\ns1/missing.jpg s1/a.png\n")
    with pytest.raises(DataError, match="missing.jpg"):
        load_pair_list(lst, tmp_path)
    kept = load_pair_list(lst, tmp_path, skip_bad=True)
    assert len(kept) == 1 and len(kept.skipped) == 1

    # mmseg layout: images/*.jpg + annotations/*.png matched by stem
    (tmp_path / "m/images").mkdir(parents=True)
    (tmp_path / "m/annotations").mkdir()
    for stem in ("x_002", "x_001"):
        Image.fromarray(rgb).save(tmp_path / "m/images" / f"{stem}.jpg")
    Image.fromarray(mm).save(tmp_path / "m/annotations/x_002.png")
    Image.fromarray(mm).save(tmp_path / "m/annotations/x_001.png")
    got = pairs_from_folders(tmp_path / "m/images", tmp_path / "m/annotations")
    assert [(a.name, b.name) for a, b in got] == [("x_001.jpg", "x_001.png"), ("x_002.jpg", "x_002.png")]
    (tmp_path / "m/annotations/x_002.png").unlink()
    with pytest.raises(DataError, match="x_002"):
        pairs_from_folders(tmp_path / "m/images", tmp_path / "m/annotations")
    assert len(pairs_from_folders(tmp_path / "m/images", tmp_path / "m/annotations", skip_bad=True).skipped) == 1


# ----------------------------------------------------------------------------- bad input


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(DataError, match="nope.mat"):
        NYULabeled(tmp_path / "nope.mat")
    v5 = write_nyu_splits(tmp_path / "splits.mat", [0], [1])
    with pytest.raises(DataError, match="splits.mat.*v5"):
        NYULabeled(v5)
    with h5py.File(tmp_path / "noimg.mat", "w") as f:
        f["depths"] = np.zeros((1, 4, 3), np.float32)
    with pytest.raises(DataError, match="noimg.mat.*'images'"):
        NYULabeled(tmp_path / "noimg.mat")
    with h5py.File(tmp_path / "mismatch.mat", "w") as f:
        f["images"] = np.zeros((2, 3, 4, 3), np.uint8)
        f["depths"] = np.zeros((2, 4, 5), np.float32)
    with pytest.raises(DataError, match="mismatch.mat.*disagree"):
        NYULabeled(tmp_path / "mismatch.mat")
    images, depths = _frames(2)
    good = write_nyu_labeled(tmp_path / "good.mat", images, depths)
    with pytest.raises(DataError, match="good.mat.*outside"):
        NYULabeled(good, [0, 2])
    with pytest.raises(DataError, match="good.mat"):
        NYULabeled(good).load(5)
    with pytest.raises(IndexError):  # also an IndexError, so plain iteration stops
        NYULabeled(good).load(5)
    with pytest.raises(DataError, match="nope.mat"):
        read_nyu_splits(tmp_path / "nope.mat")
    with pytest.raises(DataError, match="good.mat.*trainNdxs"):
        read_nyu_splits(good)

    rgb_png = tmp_path / "colour.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(rgb_png)
    with pytest.raises(DataError, match="colour.png.*mode RGB"):
        read_depth_png(rgb_png)
    a, b = _write_pair(tmp_path, "small", np.zeros((6, 8, 3), np.uint8), np.zeros((5, 8), np.uint16))
    with pytest.raises(DataError, match="small.jpg.*small.png"):
        DepthDataset([(a, b)], train=False)[0]


# ----------------------------------------------------------------------------- real files


@needs_real
def test_real_splits():
    s = read_nyu_splits(REAL / "TUI-NICR__ESANet/src/datasets/nyuv2/splits.mat")
    assert len(s["train"]) == 795 and len(s["test"]) == 654
    both = np.concatenate([s["train"], s["test"]])
    assert both.min() == 0 and both.max() == 1448 and len(np.unique(both)) == 1449


@needs_real
def test_real_mmseg_pair():
    root = REAL / "lihqi__mmsegmentation/tests/data/pseudo_nyu_dataset"
    pairs = pairs_from_folders(root / "images", root / "annotations")
    assert [p[0].name for p in pairs] == ["bookstore_0001d_00001.jpg"]
    d = read_depth_png(pairs[0][1])
    assert d.shape == (120, 160) and d.max() == pytest.approx(10.0) and (d == 0).mean() > 0.1
    img, dep = DepthDataset(pairs, train=False)[0]
    assert img.shape == (3, 120, 160) and dep.shape == (1, 120, 160)
    assert torch.equal(dep[0] == 0, torch.from_numpy(d == 0))  # zeros stay invalid, 10 m is kept
    assert float(dep.max()) == pytest.approx(10.0)


# ----------------------------------------------------------------------------- augmentation


def _asym_source(tmp_path, h=12, w=16):
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 4] = 255  # bright left quarter
    img[2:5, 10:13, 1] = 200
    depth = np.tile(np.linspace(1.0, 4.0, w, dtype=np.float32), (h, 1))
    depth[0, 0] = 0.0
    return NYULabeled(write_nyu_labeled(tmp_path / "f.mat", [img], [depth]))


def test_scale_divides_depth(tmp_path):
    src = _asym_source(tmp_path)
    img0, d0 = DepthDataset(src, train=False)[0]
    torch.manual_seed(0)
    img, d = DepthDataset(src, train=True, crop_hw=None, scale=(1.5, 1.5), flip=False)[0]
    assert img.shape == (3, 18, 24) and d.shape == (1, 18, 24)
    valid = d[d > 0]
    allowed = torch.unique(d0[d0 > 0]) / 1.5
    assert torch.isclose(valid[:, None], allowed[None]).any(1).all()
    assert float(valid.max()) == pytest.approx(4.0 / 1.5) and (d == 0).any()


def test_flip_mirrors_both(tmp_path):
    src = _asym_source(tmp_path)
    ds = DepthDataset(src, train=True, crop_hw=None, scale=None, flip=True)
    img0, d0 = DepthDataset(src, train=False)[0]
    seen = set()
    for seed in range(20):
        torch.manual_seed(seed)
        img, d = ds[0]
        if torch.equal(d, d0):
            assert torch.equal(img, img0)
            seen.add("same")
        else:
            assert torch.equal(d, d0.flip(-1)) and torch.equal(img, img0.flip(-1))
            seen.add("flipped")
    assert seen == {"same", "flipped"}


def test_crop_pads_depth_with_zero_and_is_seeded(tmp_path):
    src = _asym_source(tmp_path)  # 12 x 16, one invalid pixel
    ds = DepthDataset(src, train=True, crop_hw=(20, 24), scale=None, flip=False)
    torch.manual_seed(1)
    img, d = ds[0]
    assert img.shape == (3, 20, 24) and d.shape == (1, 20, 24)
    assert int((d == 0).sum()) == 20 * 24 - 12 * 16 + 1
    assert float(img.abs().reshape(3, -1).min(1).values.max()) < 1e-6  # padding = the mean = 0
    ds = DepthDataset(src, train=True, crop_hw=(8, 8), scale=(1.0, 1.5), flip=True)
    torch.manual_seed(7)
    a = ds[0]
    torch.manual_seed(7)
    b = ds[0]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert eigen_crop(480, 640) == (45, 471, 41, 601) and eigen_crop(120, 160) == (11, 118, 10, 150)


def test_max_depth_invalidates(tmp_path):
    images, depths = _frames(1)
    depths[0][0, :3] = [12.0, np.nan, np.inf]
    src = NYULabeled(write_nyu_labeled(tmp_path / "m.mat", images, depths))
    _, d = DepthDataset(src, train=False, max_depth=10.0)[0]
    assert (d[0, 0, :3] == 0).all() and (d[d > 0] <= 10.0).all()


# ----------------------------------------------------------------------------- synthetic writer


def _hashes(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_synthetic_writer_reproducible_and_plausible(tmp_path):
    ticks = []
    out = write_nyu_embedded(tmp_path / "a", n_labeled=6, n_test=2, n_raw_train=4, seed=5,
                             progress=lambda: ticks.append(1))
    write_nyu_embedded(tmp_path / "b", n_labeled=6, n_test=2, n_raw_train=4, seed=5)
    assert len(ticks) == 10
    ha, hb = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert ha == hb and len(ha) == 2 + 4 * 2 + 1
    hc = _hashes(Path(write_nyu_embedded(tmp_path / "c", n_labeled=6, n_test=2, n_raw_train=4,
                                         seed=6)["labeled"]).parent)
    assert hc["nyu_depth_v2_labeled.mat"] != ha["nyu_depth_v2_labeled.mat"]

    s = read_nyu_splits(out["splits"])
    assert s["train"].tolist() == [0, 1, 2, 3] and s["test"].tolist() == [4, 5]
    lab = NYULabeled(out["labeled"], s["test"])
    img, d = lab.load(0)
    assert img.shape == (3, 120, 160) and d.shape == (1, 120, 160)
    raw = NYULabeled(out["labeled"], depth_key="rawDepths")
    pairs = load_pair_list(out["train_pairs"], out["raw_root"])
    assert len(pairs) == 4 and pairs[0][1].name == "sync_depth_00000.png"
    assert out["train_pairs"].read_text().split()[2] == "129.7145"
    for source in (lab, raw, DepthPairs(pairs)):
        for i in range(len(source)):
            d = source.load(i)[1]
            v = d[d > 0]
            assert float(v.min()) > 0 and float(v.max()) <= 10.0
    raw_zero = [float((DepthPairs(pairs).load(i)[1] == 0).float().mean()) for i in range(4)]
    raw_zero += [float((raw.load(i)[1] == 0).float().mean()) for i in range(6)]
    assert max(raw_zero) > 0 and max(raw_zero) < 0.5


def test_synthetic_objects_nearer_than_the_wall_behind():
    from nasseg.synthetic.depth import random_camera, random_room, render
    from nasseg.synthetic.seeding import scene_rng

    checked = 0
    for i in range(8):
        rng = scene_rng(0, "nyu-labeled", i)
        room = random_room(rng)
        cam = random_camera(rng, room)
        _, dense, _ = render(room, cam, (160, 120), rng)
        empty = type(room)(room.lo, room.hi, room.materials, (), room.light, room.fog_len, room.fog_colour)
        _, walls, _ = render(empty, cam, (160, 120), np.random.default_rng(0))
        covered = dense < walls - 1e-4  # pixels where an object hides the room
        assert (dense <= walls + 1e-4).all()  # nothing is behind the wall
        checked += int(covered.any())
    assert checked >= 6
    rgb, dense, raw = labeled_frame(0, 0)
    assert rgb.dtype == np.uint8 and dense.dtype == np.float32 and (raw == 0).any()
