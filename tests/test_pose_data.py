"""Pose data layer: COCO keypoints / MPII loaders on small files in the real formats and on
the real-data samples, bad input, crop and heatmap geometry, the dataset's flip, and the
synthetic writers read back through the loaders."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from nasseg.errors import DataError
from nasseg.synthetic.pose import coco_image, mpii_image, write_coco_keypoints, write_mpii
from nasseg.transfer.mpii import (load_mpii_gt, load_mpii_json, load_mpii_official, mpii_official_headboxes,
                                  write_mpii_gt)
from nasseg.transfer.pose_data import PoseDataset
from nasseg.transfer.pose_formats import (COCO_FLIP_PAIRS, COCO_KEYPOINTS, COCO_SKELETON, MPII_FLIP_PAIRS, MPII_JOINTS,
                                          load_coco_keypoints)
from nasseg.transfer.pose_geometry import (crop_affine, crop_to_heatmap, decode_heatmaps, flip_back, flip_joints,
                                           gaussian_heatmaps, heatmap_to_crop, heatmap_to_image, invert_affine,
                                           transform_points, warp_image)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"../shared/realdata absent: {path} not found (the real-data samples sit beside the checkout)")
    return path


def save_jpeg(path: Path, w: int, h: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, quality=95)
    return path


def kp(points: dict) -> list:
    """51 COCO keypoint values: ``points`` maps a keypoint index to (x, y, v)."""
    out = [0] * 51
    for i, (x, y, v) in points.items():
        out[3 * i:3 * i + 3] = [x, y, v]
    return out


def coco_file(tmp_path: Path, annotations: list, images=None) -> Path:
    images = images or [{"id": 1, "file_name": "000000000001.jpg", "width": 100, "height": 80},
                        {"id": 2, "file_name": "000000000002.jpg", "width": 60, "height": 50}]
    for im in images:
        save_jpeg(tmp_path / "img" / im["file_name"], im["width"], im["height"], im["id"])
    path = tmp_path / "person_keypoints_val2017.json"
    path.write_text(json.dumps({
        "info": {}, "licenses": [], "images": images, "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO_KEYPOINTS),
                        "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}]}))
    return path


def ann(i, image_id, bbox, points, **kw):
    base = {"id": i, "image_id": image_id, "category_id": 1, "bbox": bbox, "area": 100.0, "iscrowd": 0,
            "keypoints": kp(points), "num_keypoints": sum(1 for p in points.values() if p[2] > 0),
            "segmentation": [[0, 0, 1, 0, 1, 1]]}
    base.update(kw)
    return base


# ----------------------------------------------------------------------------- COCO loader

def test_coco_loader_keeps_simple_baselines_persons(tmp_path):
    anns = [
        ann(11, 1, [10, 20, 30, 40], {0: (20, 30, 2), 5: (15, 40, 1), 6: (35, 41, 2)}),
        ann(12, 1, [0, 0, 50, 50], {0: (5, 5, 2)}, iscrowd=1),              # crowd: dropped
        ann(13, 1, [5, 5, 10, 10], {}, num_keypoints=0),                     # no keypoints: dropped
        ann(14, 2, [200, 10, 10, 10], {0: (5, 5, 2)}),                       # box outside the image
        ann(15, 2, [50, 40, 30, 30], {1: (55, 45, 2)}),                      # clipped to the image
        ann(16, 2, [5, 5, 10, 10], {1: (6, 6, 2)}, area=0),                  # zero area: dropped
        ann(17, 2, [5, 5, 10, 10], {1: (6, 6, 2)}, category_id=2),           # not a person: dropped
    ]
    path = coco_file(tmp_path, anns)
    recs, info = load_coco_keypoints(path, tmp_path / "img")
    assert [r.ann_id for r in recs] == [11, 15]
    assert info["skipped"] == 0 and info["json"]["images"][0]["id"] == 1 and info["path"] == path
    r = recs[0]
    # clipped box x1=10, y1=20, x2=39, y2=59 -> 29 x 39, centre (24.5, 39.5); aspect 0.75 -> 29.25 x 39; x 1.25
    np.testing.assert_allclose(r.center, [24.5, 39.5])
    np.testing.assert_allclose(r.scale, [29.25 * 1.25, 39 * 1.25])
    assert r.joints.shape == (17, 2) and r.visible.dtype == np.float32
    np.testing.assert_array_equal(np.flatnonzero(r.visible), [0, 5, 6])
    np.testing.assert_allclose(r.joints[6], [35, 41])
    assert r.image_id == 1 and r.image == tmp_path / "img" / "000000000001.jpg" and r.area == 100.0 and r.index == 0
    r = recs[1]  # x1=50, y1=40, x2=min(59, 79)=59, y2=min(49, 69)=49 -> 9 x 9 box at (54.5, 44.5)
    np.testing.assert_allclose(r.center, [54.5, 44.5])
    np.testing.assert_allclose(r.scale, [9 * 1.25, 12 * 1.25])
    assert r.index == 4
    recs, _ = load_coco_keypoints(path, tmp_path / "img", aspect=1.0, padding=1.0)
    np.testing.assert_allclose(recs[0].scale, [39, 39])


def test_coco_loader_bad_input(tmp_path):
    path = coco_file(tmp_path, [ann(1, 1, [10, 20, 30, 40], {0: (20, 30, 2)}),
                                ann(2, 2, [10, 10, 30, 30], {0: (20, 20, 2)})])
    (tmp_path / "img" / "000000000002.jpg").unlink()
    with pytest.raises(DataError, match=r"000000000002\.jpg.*not found.*--skip-bad"):
        load_coco_keypoints(path, tmp_path / "img")
    recs, info = load_coco_keypoints(path, tmp_path / "img", skip_bad=True)
    assert len(recs) == 1 and info["skipped"] == 1

    bad = ann(3, 1, [10, 20, 30, 40], {0: (20, 30, 2)})
    bad["keypoints"] = bad["keypoints"][:48]
    path = coco_file(tmp_path, [bad])
    with pytest.raises(DataError, match=r"person_keypoints_val2017\.json.*48 keypoint values.*51"):
        load_coco_keypoints(path, tmp_path / "img")

    path.write_text('{"images": [], "annotations": [')
    with pytest.raises(DataError, match=r"person_keypoints_val2017\.json: not valid JSON"):
        load_coco_keypoints(path, tmp_path / "img")
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match=r"person_keypoints_val2017\.json.*'images' and 'annotations'"):
        load_coco_keypoints(path, tmp_path / "img")
    with pytest.raises(DataError, match=r"nope\.json.*not found"):
        load_coco_keypoints(tmp_path / "nope.json", tmp_path / "img")
    no_kp = ann(4, 1, [10, 20, 30, 40], {})
    del no_kp["keypoints"]
    path = coco_file(tmp_path, [no_kp])
    with pytest.raises(DataError, match=r"no 'keypoints'.*instances"):
        load_coco_keypoints(path, tmp_path / "img")


# ----------------------------------------------------------------------------- MPII loaders

def mpii_entry(name, center, scale, joints, vis):
    return {"joints_vis": vis, "joints": joints, "image": name, "scale": scale, "center": center}


def test_mpii_json_loader(tmp_path):
    save_jpeg(tmp_path / "images" / "000000001.jpg", 120, 100)
    save_jpeg(tmp_path / "images" / "000000002.jpg", 120, 100, 1)
    joints = [[10.0 + i, 20.0 + 2 * i] for i in range(16)]
    vis = [1] * 15 + [0]
    path = tmp_path / "valid.json"
    path.write_text(json.dumps([mpii_entry("000000001.jpg", [50.0, 40.0], 0.3, joints, vis),
                                mpii_entry("000000002.jpg", [-1.0, -1.0], 0.2, joints, vis)]))
    recs = load_mpii_json(path, tmp_path / "images")
    assert len(recs) == 2
    r = recs[0]
    # 1-based -> 0-based; y += 15 * scale; side = scale * 1.25 * 200 (the 1.25 is the padding, applied once)
    np.testing.assert_allclose(r.center, [49.0, 40.0 + 4.5 - 1])
    np.testing.assert_allclose(r.scale, [75.0, 75.0])
    np.testing.assert_allclose(r.joints, np.array(joints) - 1)
    np.testing.assert_array_equal(r.visible, np.array(vis, np.float32))
    assert r.image_id == "000000001.jpg" and r.index == 0 and r.ann_id is None
    np.testing.assert_allclose(recs[1].center, [-2.0, -2.0])  # x == -1: no shift, no padding (HRNet)
    np.testing.assert_allclose(recs[1].scale, [40.0, 40.0])
    r = load_mpii_json(path, tmp_path / "images", aspect=0.75)[0]
    np.testing.assert_allclose(r.scale, [75.0, 100.0])

    (tmp_path / "images" / "000000001.jpg").unlink()
    with pytest.raises(DataError, match=r"000000001\.jpg.*not found.*valid\.json"):
        load_mpii_json(path, tmp_path / "images")
    stats = {}
    recs = load_mpii_json(path, tmp_path / "images", skip_bad=True, stats=stats)
    assert [r.index for r in recs] == [1] and stats["skipped"] == 1

    path.write_text(json.dumps([mpii_entry("000000002.jpg", [50.0, 40.0], 0.3, joints[:15], vis)]))
    with pytest.raises(DataError, match=r"valid\.json.*entry #0.*\(15, 2\)"):
        load_mpii_json(path, tmp_path / "images")
    path.write_text(json.dumps([{"image": "000000002.jpg"}]))
    with pytest.raises(DataError, match=r"valid\.json.*entry #0 is malformed"):
        load_mpii_json(path, tmp_path / "images")
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"valid\.json: not valid JSON"):
        load_mpii_json(path, tmp_path / "images")


def test_mpii_gt_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 5
    jm = rng.random((n, 16)) < 0.2
    pos = rng.uniform(0, 100, (n, 16, 2)).round(3)
    hb = np.sort(rng.uniform(0, 100, (n, 2, 2)), axis=1)
    p1 = write_mpii_gt(tmp_path / "a" / "gt_valid.mat", jm, pos, hb)
    p2 = write_mpii_gt(tmp_path / "b" / "gt_valid.mat", jm, pos, hb)
    assert p1.read_bytes() == p2.read_bytes()
    gt = load_mpii_gt(p1)
    np.testing.assert_array_equal(gt["jnt_missing"], jm)
    np.testing.assert_allclose(gt["pos_gt"], pos)
    np.testing.assert_allclose(gt["headboxes"], hb)
    raw = scipy.io.loadmat(p1)  # HRNet's layout: 16 x N, 16 x 2 x N 1-based, 2 x 2 x N
    assert raw["jnt_missing"].shape == (16, n) and raw["pos_gt_src"].shape == (16, 2, n)
    assert raw["headboxes_src"].shape == (2, 2, n)
    np.testing.assert_allclose(raw["pos_gt_src"][:, :, 0], pos[0] + 1)
    assert "head" in [str(np.ravel(v)[0]) for v in raw["dataset_joints"].ravel()]

    scipy.io.savemat(tmp_path / "bad.mat", {"jnt_missing": np.zeros((16, 3)), "pos_gt_src": np.zeros((16, 2, 4)),
                                             "headboxes_src": np.zeros((2, 2, 3))})
    with pytest.raises(DataError, match=r"bad\.mat: shapes"):
        load_mpii_gt(tmp_path / "bad.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"x": np.zeros(3)})
    with pytest.raises(DataError, match=r"other\.mat: no jnt_missing, pos_gt_src, headboxes_src"):
        load_mpii_gt(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match=r"junk\.mat: not a readable MATLAB"):
        load_mpii_gt(tmp_path / "junk.mat")


def test_mpii_official_release_struct(tmp_path):
    """A tiny mpii_human_pose_v1_u12_1.mat: RELEASE.annolist(i).image.name / .annorect(j)..."""
    point_t = [("id", "O"), ("x", "O"), ("y", "O"), ("is_visible", "O")]
    rect_t = [("x1", "O"), ("y1", "O"), ("x2", "O"), ("y2", "O"), ("objpos", "O"), ("scale", "O"),
              ("annopoints", "O")]

    def points(ids):
        p = np.zeros((1, len(ids)), dtype=point_t)
        for k, i in enumerate(ids):
            p[0, k] = (i, 10.0 + i, 30.0 + i, 1)
        return p

    rects = np.zeros((1, 2), dtype=rect_t)
    rects[0, 0] = (5.0, 6.0, 15.0, 18.0, {"x": 40.0, "y": 50.0}, 0.5, {"point": points([0, 9, 15])})
    rects[0, 1] = (1.0, 1.0, 2.0, 2.0, np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)))  # unannotated
    rects2 = np.zeros((1, 1), dtype=rect_t)
    rects2[0, 0] = (0.0, 0.0, 8.0, 8.0, {"x": 20.0, "y": 20.0}, 0.25, {"point": points([3])})
    annolist = np.zeros((1, 2), dtype=[("image", "O"), ("annorect", "O")])
    annolist[0, 0] = ({"name": "000000001.jpg"}, rects)
    annolist[0, 1] = ({"name": "000000002.jpg"}, rects2)
    path = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    scipy.io.savemat(path, {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 0]])}})
    save_jpeg(tmp_path / "images" / "000000001.jpg", 80, 80)
    save_jpeg(tmp_path / "images" / "000000002.jpg", 80, 80)

    recs = load_mpii_official(path, tmp_path / "images")
    assert [(r.image_id, r.index, r.ann_id) for r in recs] == [("000000001.jpg", 0, 0), ("000000002.jpg", 1, 0)]
    r = recs[0]
    np.testing.assert_allclose(r.center, [39.0, 50.0 + 7.5 - 1])
    np.testing.assert_allclose(r.scale, [125.0, 125.0])
    np.testing.assert_array_equal(np.flatnonzero(r.visible), [0, 9, 15])
    np.testing.assert_allclose(r.joints[9], [18.0, 38.0])
    assert [r.index for r in load_mpii_official(path, tmp_path / "images", train=True)] == [0]
    np.testing.assert_allclose(mpii_official_headboxes(path, recs)[0], [[4, 5], [14, 17]])
    scipy.io.savemat(tmp_path / "x.mat", {"x": 1})
    with pytest.raises(DataError, match=r"x\.mat: no RELEASE\.annolist"):
        load_mpii_official(tmp_path / "x.mat", tmp_path / "images")


# ----------------------------------------------------------------------------- real files

def test_real_coco_keypoints_sample():
    root = needs(REALDATA / "coco_keypoints" / "open-mmlab__mmpose" / "tests" / "data" / "coco")
    recs, info = load_coco_keypoints(root / "test_coco.json", root)
    # 14 person annotations, two with num_keypoints == 0
    assert len(info["json"]["annotations"]) == 14 and len(recs) == 12
    assert sorted({r.image_id for r in recs}) == [785, 40083, 196141, 197388]
    r = next(r for r in recs if r.ann_id == 442619)
    np.testing.assert_allclose(r.joints[0], [367, 81])
    np.testing.assert_allclose(r.joints[16], [396, 341])
    x, y, w, h = 280.79, 44.73, 218.7, 346.68
    np.testing.assert_allclose(r.center, [x + (w - 1) / 2, y + (h - 1) / 2])
    np.testing.assert_allclose(r.scale[1], (h - 1) * 1.25)
    np.testing.assert_allclose(r.scale[0] / r.scale[1], 0.75)
    assert r.visible.sum() == 17
    r = next(r for r in recs if r.ann_id == 198196)
    assert r.visible.sum() == 14 and r.visible[3] == 0
    ds = PoseDataset(recs[:2], flip_pairs=COCO_FLIP_PAIRS, train=False)
    image, maps, weight = ds[0]
    assert image.shape == (3, 128, 96) and maps.shape == (17, 32, 24) and weight.shape == (17,)
    assert int(weight.sum()) == 17
    coords, _ = decode_heatmaps(maps[None])
    m = ds.meta(0)
    back = heatmap_to_image(coords, [m["center"]], [m["scale"]], ds.input_wh, ds.stride)[0]
    assert np.abs(back - recs[0].joints).max() < 0.6 * recs[0].scale[0] / 24  # within a heatmap pixel


def test_real_mpii_sample():
    root = needs(REALDATA / "mpii" / "open-mmlab__mmpose" / "tests" / "data" / "mpii")
    recs = load_mpii_json(root / "test_mpii.json", root)
    assert len(recs) == 5 and len({r.image_id for r in recs}) == 5
    r = next(r for r in recs if r.image_id == "005808361.jpg")
    np.testing.assert_allclose(r.center, [965.0, 340.0 + 15 * 4.718488 - 1])
    np.testing.assert_allclose(r.scale, [4.718488 * 1.25 * 200] * 2)
    np.testing.assert_allclose(r.joints[0], [803.0, 710.0])
    np.testing.assert_allclose(r.joints[9], [961.2409, 79.0306])
    assert r.visible.sum() == 16
    ds = PoseDataset([r], input_wh=(128, 128), flip_pairs=MPII_FLIP_PAIRS, train=False)
    _, maps, weight = ds[0]
    assert maps.shape == (16, 32, 32) and weight.sum() == 16


# ----------------------------------------------------------------------------- geometry

def test_crop_affine_corners_and_inverse():
    c, wh, out = np.array([70.3, 52.1]), np.array([40.0, 60.0]), (24, 32)
    m = crop_affine(c, wh, 0.0, out)
    corners = np.array([c - wh / 2, c + wh / 2, [c[0] + wh[0] / 2, c[1] - wh[1] / 2]])
    np.testing.assert_allclose(transform_points(corners, m), [[-0.5, -0.5], [23.5, 31.5], [23.5, -0.5]], atol=1e-9)
    np.testing.assert_allclose(transform_points(c, m), [11.5, 15.5])
    m = crop_affine(c, wh, 33.0, out)
    inv = invert_affine(m)
    pts = np.random.default_rng(0).uniform(-50, 150, (10, 2))
    np.testing.assert_allclose(transform_points(transform_points(pts, m), inv), pts, atol=1e-9)
    src = transform_points(np.array([[-0.5, -0.5], [23.5, -0.5], [23.5, 31.5], [-0.5, 31.5]]), inv)
    np.testing.assert_allclose(np.linalg.norm(src[1] - src[0]), 40.0)  # the rotated box
    np.testing.assert_allclose(np.linalg.norm(src[2] - src[1]), 60.0)
    np.testing.assert_allclose(src.mean(0), c)
    up = src[0] - src[3]  # Simple Baselines' sign: the box turns clockwise on screen
    np.testing.assert_allclose(np.degrees(np.arctan2(up[0], -up[1])), 33.0)


def test_warp_image_follows_the_pixel_centre_convention():
    w, h = 200, 150
    xx = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    m = crop_affine((80.3, 70.2), (60, 80), 17.0, (48, 64))
    out = np.asarray(warp_image(Image.fromarray(xx, "F"), m, (48, 64)))
    gy, gx = np.mgrid[0:64, 0:48]
    src = transform_points(np.stack([gx, gy], -1), invert_affine(m))
    np.testing.assert_allclose(out, src[..., 0], atol=1e-3)
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8))
    far = crop_affine((-500, -500), (100, 100), 0.0, (96, 128))
    assert np.asarray(warp_image(rgb, far, (96, 128)))[0, 0].tolist() == [124, 116, 104]
    m = crop_affine((300, 200), (150, 200), 20.0, (96, 128))
    warp_image(rgb, m, (96, 128))
    t = time.perf_counter()
    for _ in range(50):
        warp_image(rgb, m, (96, 128))
    assert (time.perf_counter() - t) / 50 < 5e-3  # about 0.3 ms measured


def test_heatmaps_peak_and_decode():
    stride, sigma = 4, 2.0
    assert heatmap_to_crop(crop_to_heatmap(13.7, stride), stride) == pytest.approx(13.7)
    # an integer heatmap position is decoded exactly
    joints = np.array([[heatmap_to_crop(7, stride), heatmap_to_crop(9, stride)], [50.0, 60.0], [0.0, 0.0],
                       [500.0, 20.0], [-5.0, 20.0]])
    vis = np.array([1, 1, 0, 1, 1])
    maps, weight = gaussian_heatmaps(joints, vis, (96, 128), stride, sigma)
    assert maps.shape == (5, 32, 24) and maps.dtype == np.float32 and weight.dtype == np.float32
    np.testing.assert_array_equal(weight, [1, 1, 0, 0, 1])  # invisible; far outside; just outside (within 3 sigma)
    assert maps[0, 9, 7] == pytest.approx(1.0) and maps[0].argmax() == 9 * 24 + 7
    assert not maps[2].any() and not maps[3].any()
    u = crop_to_heatmap(joints[1], stride)
    assert maps[1, 15, 12] == pytest.approx(np.exp(-((12 - u[0]) ** 2 + (15 - u[1]) ** 2) / (2 * sigma ** 2)), rel=1e-5)
    coords, maxvals = decode_heatmaps(maps[None])
    np.testing.assert_array_equal(coords[0, 0], [7, 9])
    assert maxvals[0, 0] == pytest.approx(1.0) and coords[0, 2].tolist() == [0, 0]
    # sub-pixel positions: the quarter shift brings the argmax within 0.25 heatmap px
    rng = np.random.default_rng(1)
    hm_xy = rng.uniform([2, 2], [21, 29], (200, 2))
    maps, _ = gaussian_heatmaps(heatmap_to_crop(hm_xy, stride), np.ones(200), (96, 128), stride, sigma)
    coords, _ = decode_heatmaps(torch.from_numpy(maps).reshape(10, 20, 32, 24))
    assert torch.is_tensor(coords)
    assert np.abs(coords.reshape(200, 2).numpy() - hm_xy).max() < 0.3
    with pytest.raises(DataError, match="not divisible by the heatmap stride"):
        gaussian_heatmaps(joints, vis, (97, 128), stride, sigma)


def test_flips():
    hm = torch.rand(2, 17, 8, 6)
    np.testing.assert_array_equal(flip_back(flip_back(hm, COCO_FLIP_PAIRS), COCO_FLIP_PAIRS), hm)
    f = flip_back(hm.numpy(), COCO_FLIP_PAIRS)
    np.testing.assert_array_equal(f[:, 1, :, 0], hm.numpy()[:, 2, :, -1])
    np.testing.assert_array_equal(f[:, 0, :, 1], hm.numpy()[:, 0, :, -2])
    joints = np.arange(34, dtype=np.float64).reshape(17, 2)
    vis = np.ones(17, np.float32)
    vis[3] = 0
    fj, fv = flip_joints(joints, vis, 100, COCO_FLIP_PAIRS)
    np.testing.assert_allclose(fj[1], [100 - 1 - joints[2, 0], joints[2, 1]])
    np.testing.assert_allclose(fj[0], [99 - joints[0, 0], joints[0, 1]])
    assert fv[4] == 0 and fv[3] == 1 and fj[4].tolist() == [0, 0]
    bj, bv = flip_joints(fj, fv, 100, COCO_FLIP_PAIRS)
    np.testing.assert_allclose(bj[vis > 0], joints[vis > 0])
    np.testing.assert_array_equal(bv, vis)


# ----------------------------------------------------------------------------- synthetic + dataset

@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("pose")
    calls = []
    coco = write_coco_keypoints(root / "coco", "val2017", 12, seed=3, progress=lambda: calls.append(1))
    mpii = write_mpii(root / "mpii", "valid", 10, seed=3, size=((120, 160), 128))
    assert len(calls) == 12
    return root, coco, mpii


def tree_hash(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_synthetic_writers_are_reproducible(synth, tmp_path):
    root, _, _ = synth
    write_coco_keypoints(tmp_path / "coco", "val2017", 12, seed=3)
    write_mpii(tmp_path / "mpii", "valid", 10, seed=3, size=((120, 160), 128))
    assert tree_hash(tmp_path / "coco") == tree_hash(root / "coco")
    assert tree_hash(tmp_path / "mpii") == tree_hash(root / "mpii")
    assert len(tree_hash(root / "mpii")) == 12  # 10 images, valid.json, gt_valid.mat
    write_coco_keypoints(tmp_path / "other", "val2017", 2, seed=4)
    assert tree_hash(tmp_path / "other")["images/val2017/000000500001.jpg"] != \
        tree_hash(root / "coco")["images/val2017/000000500001.jpg"]


def test_synthetic_coco_loads_and_evaluates(synth):
    root, path, _ = synth
    data = json.loads(path.read_text())
    assert {"info", "licenses", "images", "annotations", "categories"} <= set(data)
    assert data["categories"][0]["keypoints"] == list(COCO_KEYPOINTS) and len(data["categories"][0]["skeleton"]) == 19
    sizes = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
    for a in data["annotations"]:
        k = np.array(a["keypoints"], np.float64).reshape(17, 3)
        w, h = sizes[a["image_id"]]
        on = k[:, 2] > 0
        assert a["num_keypoints"] == on.sum() and a["area"] > 0 and a["iscrowd"] == 0
        assert (k[on, 0] >= 0).all() and (k[on, 0] <= w - 1).all() and (k[on, 1] >= 0).all() and (k[on, 1] <= h - 1).all()
        assert not k[~on].any()
    assert {1, 2} <= {int(v) for a in data["annotations"] for v in a["keypoints"][2::3]}  # occluded and visible
    recs, info = load_coco_keypoints(path, root / "coco" / "images" / "val2017")
    assert len(recs) >= 12 and info["skipped"] == 0

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
        dets = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                for a in data["annotations"] if a["num_keypoints"] > 0]
        ev = COCOeval(gt, gt.loadRes(dets), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_synthetic_mpii_loads(synth):
    root, _, path = synth
    recs = load_mpii_json(path, root / "mpii" / "images")
    gt = load_mpii_gt(root / "mpii" / "annot" / "gt_valid.mat")
    assert len(recs) == 10 and gt["pos_gt"].shape == (10, 16, 2)
    for r in recs:
        w, h = Image.open(r.image).size
        assert 120 <= w <= 160 and h == 128
        on = r.visible > 0
        assert on.sum() >= 8
        assert (r.joints[on] >= 0).all() and (r.joints[on, 0] <= w - 1).all() and (r.joints[on, 1] <= h - 1).all()
        np.testing.assert_allclose(gt["pos_gt"][r.index][on], r.joints[on], atol=1e-6)
        np.testing.assert_array_equal(gt["jnt_missing"][r.index], ~on)
        # the crop covers the figure: every labelled joint inside the padded box
        assert (np.abs(r.joints[on] - r.center) <= r.scale / 2).all()
        hb = gt["headboxes"][r.index]
        head_top = r.joints[MPII_JOINTS.index("head_top")]
        assert (hb[1] > hb[0]).all() and np.linalg.norm(hb[1] - hb[0]) * 0.6 > 2
        if on[MPII_JOINTS.index("head_top")]:
            assert (head_top >= hb[0] - 1).all() and (head_top <= hb[1] + 1).all()
    # MPII's pelvis and thorax are the mid-hips and mid-shoulders of the figure
    _, _, joints, vis, _ = mpii_image(3, "valid", 0)
    if vis[[2, 3, 6]].all():
        np.testing.assert_allclose(joints[6], (joints[2] + joints[3]) / 2, atol=1e-6)


class _Order:
    """Stands in for the rng of draw_figure: fixed draw orders (< 0.5 reverses legs, arms)."""

    def __init__(self, *values):
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


def test_synthetic_left_right_cue_is_chiral():
    """The mirror image of a figure draws exactly like the mirrored figure with left and
    right swapped (so flip augmentation and the flip test stay consistent with the
    labels), and not like the mirrored figure without the swap: left and right differ."""
    import dataclasses

    from PIL import ImageDraw

    from nasseg.synthetic.pose import draw_figure, make_figure

    w, h = 161, 128
    fig = make_figure(np.random.default_rng(2), 110.0, (80.0, 64.0))

    def mirrored(swap: bool):
        pts = {}
        for name, (x, y) in fig.points.items():
            if swap:
                name = name.replace("left", "@").replace("right", "left").replace("@", "right")
            pts[name] = np.array([w - 1 - x, y])
        c = fig.head_center
        return dataclasses.replace(fig, points=pts, head_center=np.array([w - 1 - c[0], c[1]]),
                                   head_up=np.array([-fig.head_up[0], fig.head_up[1]]))

    def render(f, order):
        img, own = Image.new("RGB", (w, h)), Image.new("L", (w, h))
        draw_figure(ImageDraw.Draw(img), ImageDraw.Draw(own), f, 1, order)
        return np.asarray(img).astype(int)

    ref = render(fig, _Order(0.9, 0.9))[:, ::-1]
    good = render(mirrored(True), _Order(0.1, 0.1))
    bad = render(mirrored(False), _Order(0.9, 0.9))

    def mismatch(a, b):  # pixels that differ from all of their 3 x 3 neighbours (rasterisation is not mirror-exact)
        out = np.ones(a.shape[:2], bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                out &= np.abs(a - np.roll(b, (dy, dx), (0, 1))).max(-1) > 40
        return out.mean()

    diff_good, diff_bad = mismatch(ref, good), mismatch(ref, bad)
    assert diff_good < 0.002 and diff_bad > 5 * diff_good + 0.003, (diff_good, diff_bad)
    img, anns = coco_image(0, "train2017", 0)
    assert img.shape == (128, 160, 3) and len(anns) >= 1


def test_dataset_flip_matches_flip_back(synth):
    root, path, _ = synth
    recs, _ = load_coco_keypoints(path, root / "coco" / "images" / "val2017")
    ds = PoseDataset(recs, flip_pairs=COCO_FLIP_PAIRS, train=True)
    assert len(ds) == len(recs) and set(ds.meta(0)) == {"center", "scale", "image_id", "ann_id", "area", "index"}
    for i in range(3):
        img, hm, w = ds.sample(i, scale=1.1, rotation=0.0)
        fimg, fhm, fw = ds.sample(i, scale=1.1, rotation=0.0, flip=True)
        assert img.dtype == hm.dtype == w.dtype == torch.float32
        assert hm.shape == (17, 32, 24) and img.shape == (3, 128, 96)
        torch.testing.assert_close(fhm, flip_back(hm[None], COCO_FLIP_PAIRS)[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(fw, w[list(_perm())])
        assert (fimg - torch.flip(img, dims=[-1])).abs().max() < 0.05  # bilinear rounding only
    # training draws from torch's global RNG only, reproducibly
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    torch.manual_seed(5)
    a = ds[0]
    torch.manual_seed(5)
    b = ds[0]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    ev = PoseDataset(recs, flip_pairs=COCO_FLIP_PAIRS, train=False, stride=8)
    _, hm, _ = ev[0]
    assert hm.shape == (17, 16, 12) and ev.heatmap_sigma == 1.0
    with pytest.raises(DataError, match="not divisible by the heatmap stride"):
        PoseDataset(recs, input_wh=(100, 128), stride=8, flip_pairs=COCO_FLIP_PAIRS, train=False)


def _perm():
    perm = list(range(17))
    for a, b in COCO_FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm
