"""`nasseg predict`: names -> checkpoints, masks / overlays, depth maps, skeletons, bad images."""
import json

import numpy as np
import pytest
import torch
import typer
from PIL import Image
from typer.testing import CliRunner

from nasseg.data.labels import voc_colormap
from nasseg.errors import DataError, NassegError
from nasseg.models import build_model
from nasseg.models.checkpoint import arch_of, save_checkpoint
from nasseg.tools.predict import load_predictor
from nasseg.tools.predict import output_names, predict_depth, predict_paths, predict_pose, predict_segmentation
from nasseg.tools.render import colorize, depth_to_mm, overlay
from nasseg.transfer.depth_data import read_depth_png
from nasseg.transfer.pose_formats import COCO_FLIP_PAIRS, COCO_KEYPOINTS

GENO = "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]"
DEPTH_META = {"task": "nyu", "stride": 4, "output": "depth_m", "max_depth": 10.0}
POSE_META = {"task": "coco", "stride": 4, "output": "heatmaps", "input_wh": [48, 64],
             "flip_pairs": [list(p) for p in COCO_FLIP_PAIRS]}
SIZES = {"a.jpg": (48, 40), "b.png": (37, 53), "c.bmp": (40, 40)}  # (W, H)


def _checkpoint(path, num_classes, meta, bias=None):
    torch.manual_seed(0)
    model = build_model(GENO, num_classes=num_classes, width=8, repeats=1)
    if bias is not None:
        with torch.no_grad():
            model.decoder.classifier.bias.fill_(bias)
    save_checkpoint(model, arch_of(GENO, num_classes=num_classes, width=8, repeats=1), meta, path)
    return path


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    return {"seg": _checkpoint(d / "seg.pt", 21, {"name": "tiny"}),
            "depth": _checkpoint(d / "depth.pt", 1, DEPTH_META, bias=3.0),
            "pose": _checkpoint(d / "pose.pt", 17, POSE_META)}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name, (w, h) in SIZES.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / name)
    (d / "notes.txt").write_text("not an image, and not picked up from the folder")
    return d


def test_segmentation_masks_and_overlays(ckpts, images, tmp_path):
    recs = predict_paths(str(ckpts["seg"]), [images], tmp_path)
    assert [r["name"] for r in recs] == ["a", "b", "c"] and all(r["task"] == "segmentation" for r in recs)
    for name, (w, h) in SIZES.items():
        stem, ext = name.split(".")
        mask = Image.open(tmp_path / f"{stem}_mask.png")
        assert mask.mode == "P" and mask.size == (w, h)
        assert mask.getpalette()[:63] == voc_colormap(21).reshape(-1).tolist()
        assert np.asarray(mask).max() < 21
        ov = Image.open(tmp_path / f"{stem}_overlay.{'jpg' if ext == 'jpg' else 'png'}")
        assert ov.mode == "RGB" and ov.size == (w, h)


class _Const(torch.nn.Module):
    """Logits that pick ``cls`` everywhere (at stride 4), whatever the input."""

    def __init__(self, cls, k=21):
        super().__init__()
        self.cls, self.k, self.p = cls, k, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        out = torch.zeros(x.shape[0], self.k, (x.shape[2] + 3) // 4, (x.shape[3] + 3) // 4)
        out[:, self.cls] = 1.0
        return out


def test_overlay_blends_classes_and_keeps_background():
    img = Image.fromarray(np.full((9, 11, 3), 100, np.uint8))
    mask = predict_segmentation(_Const(15), img, flip=True, scales=(0.75, 1.0))
    assert mask.shape == (9, 11) and mask.dtype == np.uint8 and (mask == 15).all()
    mask[:, :4] = 0
    mask[0, -1] = 255
    out = np.asarray(overlay(img, mask, alpha=0.5)).astype(int)
    assert (out[:, :4] == 100).all() and (out[0, -1] == 100).all()  # background and void untouched
    expect = np.rint(0.5 * 100 + 0.5 * voc_colormap(256)[15].astype(float))
    assert (out[1:, 4:] == expect).all()
    assert (np.asarray(colorize(mask)) == mask).all()


def test_corrupt_image_stops_or_is_skipped(ckpts, images, tmp_path):
    bad_dir = tmp_path / "in"
    bad_dir.mkdir()
    Image.open(images / "a.jpg").save(bad_dir / "good.png")
    (bad_dir / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(DataError, match=r"broken\.jpg.*--skip-bad"):
        predict_paths(str(ckpts["seg"]), [bad_dir], tmp_path / "out")
    logged = []
    recs = predict_paths(str(ckpts["seg"]), [bad_dir], tmp_path / "out", skip_bad=True, log=logged.append)
    assert [r["name"] for r in recs if "skipped" in r] == ["broken"] and len(logged) == 1 and "broken.jpg" in logged[0]
    assert (tmp_path / "out" / "good_mask.png").is_file() and not list((tmp_path / "out").glob("broken*"))


def test_same_stem_in_two_folders_does_not_overwrite(ckpts, images, tmp_path):
    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        Image.open(images / "b.png").save(tmp_path / sub / "img.png")
    recs = predict_paths(str(ckpts["seg"]), [tmp_path / "x", tmp_path / "y" / "img.png", images / "a.jpg"],
                         tmp_path / "out")
    assert [r["name"] for r in recs] == ["x_img", "y_img", "a"]
    assert {p.name for p in (tmp_path / "out").glob("*_mask.png")} == {"x_img_mask.png", "y_img_mask.png", "a_mask.png"}
    same = [tmp_path / "x" / "img.png", tmp_path / "x" / "sub" / "x" / "img.png", tmp_path / "y" / "img.jpg"]
    names = output_names(same)
    assert len(set(names)) == 3 and names[:2] == ["x_img", "x_img-2"]


def test_names_resolve_to_stage_checkpoints_with_clear_errors(ckpts, tmp_path):
    for name, stage in (("found0", "nasseg train"), ("nyu/found1", "nasseg transfer"),
                        ("coco/refinenet_lw_mbv2", "nasseg transfer"), ("teacher", "nasseg teacher")):
        with pytest.raises(NassegError, match=stage):
            load_predictor(name, root=tmp_path)
    with pytest.raises(NassegError, match="--untrained"):
        load_predictor("arch0", root=tmp_path)
    with pytest.raises(NassegError, match="--untrained"):
        load_predictor(GENO, root=tmp_path)
    with pytest.raises(NassegError, match="neither a checkpoint"):
        load_predictor("no_such_model", root=tmp_path)
    model, info = load_predictor(GENO, root=tmp_path, allow_untrained=True)
    assert info["task"] == "segmentation" and info["meta"]["untrained"]
    for rel, ck in (("models/train/found0/model.pt", "seg"), ("models/transfer/nyu/found0/model.pt", "depth"),
                    ("models/transfer/coco/found0/model.pt", "pose")):
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_bytes(ckpts[ck].read_bytes())
    assert load_predictor("found0", root=tmp_path)[1]["task"] == "segmentation"
    assert load_predictor("nyu/found0", root=tmp_path)[1]["task"] == "depth"
    model, info = load_predictor("coco/found0", root=tmp_path)
    assert info["task"] == "pose" and info["meta"]["input_wh"] == [48, 64] and not model.training


def test_depth_colour_map_and_millimetre_png(ckpts, images, tmp_path):
    recs = predict_paths(str(ckpts["depth"]), [images / "a.jpg", images / "b.png"], tmp_path)
    assert [r["task"] for r in recs] == ["depth", "depth"]
    model, info = load_predictor(str(ckpts["depth"]))
    for name in ("a.jpg", "b.png"):
        stem, (w, h) = name.split(".")[0], SIZES[name]
        depth = predict_depth(model, Image.open(images / name).convert("RGB"), info["meta"])
        assert depth.shape == (h, w) and depth.dtype == np.float32
        assert depth.min() >= 1e-3 and depth.max() <= 10.0 and depth.max() > depth.min()
        colour = Image.open(tmp_path / f"{stem}_depth.png")
        assert colour.mode == "RGB" and colour.size == (w, h)
        mm = Image.open(tmp_path / f"{stem}_depth_mm.png")
        assert mm.mode.startswith("I;16") and mm.size == (w, h)
        raw = np.asarray(mm)
        assert np.array_equal(raw, np.clip(np.rint(depth.astype(np.float64) * 1000), 0, 65535).astype(np.uint16))
        assert np.allclose(read_depth_png(tmp_path / f"{stem}_depth_mm.png"), depth, atol=5e-4)
    assert depth_to_mm(np.array([70.0, -1.0, 1.2344])).tolist() == [65535, 0, 1234]


def test_pose_joints_json_and_skeleton(ckpts, images, tmp_path):
    recs = predict_paths(str(ckpts["pose"]), [images / "a.jpg", images / "b.png"], tmp_path)
    assert [r["task"] for r in recs] == ["pose", "pose"]
    for name in ("a.jpg", "b.png"):
        stem, (w, h) = name.split(".")[0], SIZES[name]
        data = json.loads((tmp_path / f"{stem}_pose.json").read_text())
        joints, scores = np.asarray(data["joints"]), np.asarray(data["scores"])
        assert joints.shape == (17, 2) and scores.shape == (17,) and data["names"] == list(COCO_KEYPOINTS)
        assert (joints >= 0).all() and (joints[:, 0] <= w - 1).all() and (joints[:, 1] <= h - 1).all()
        drawn = Image.open(tmp_path / f"{stem}_pose.png")
        assert drawn.mode == "RGB" and drawn.size == (w, h)


class _Peak(torch.nn.Module):
    """Heatmaps (stride 4) with every joint's peak at heatmap pixel (5, 7)."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        out = torch.zeros(x.shape[0], 17, x.shape[2] // 4, x.shape[3] // 4)
        out[:, :, 7, 5] = 1.0
        out[:, :, 7, 4] = out[:, :, 7, 6] = out[:, :, 6, 5] = out[:, :, 8, 5] = 0.5
        return out


def test_pose_geometry_maps_heatmap_peaks_back_to_the_image():
    img = Image.new("RGB", (48, 40))
    joints, scores = predict_pose(_Peak(), img, POSE_META, flip=False)
    # whole-image box: centre (23.5, 19.5), 47 x 39 grown to aspect 48/64 -> 47 x 62.67, x 1.25
    sw, sh = 47 * 1.25, 47 / 0.75 * 1.25
    crop = np.array([(5 + 0.5) * 4 - 0.5, (7 + 0.5) * 4 - 0.5])  # heatmap -> crop pixels
    expect = np.array([23.5, 19.5]) + (crop - np.array([23.5, 31.5])) * np.array([sw / 48, sh / 64])
    assert np.allclose(joints, expect[None], atol=1e-6) and np.allclose(scores, 1.0)


def test_cli_through_typer(ckpts, images, tmp_path):
    app = typer.Typer()
    from stages.tools.predict import main

    app.command()(main)
    (tmp_path / "in").mkdir()
    Image.open(images / "b.png").save(tmp_path / "in" / "b.png")
    (tmp_path / "in" / "bad.png").write_bytes(b"garbage")
    runner = CliRunner()
    res = runner.invoke(app, [str(ckpts["seg"]), str(tmp_path / "in"), str(images / "a.jpg"),
                              "--out", str(tmp_path / "out"), "--skip-bad", "--flip", "--alpha", "0.3"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"b_mask.png", "b_overlay.png", "a_mask.png",
                                                              "a_overlay.jpg"}
    res = runner.invoke(app, [str(ckpts["seg"]), str(tmp_path / "in"), "--out", str(tmp_path / "out2")])
    assert isinstance(res.exception, DataError) and "bad.png" in str(res.exception)
    res = runner.invoke(app, ["found7", str(images), "--root", str(tmp_path)])
    assert isinstance(res.exception, NassegError) and "nasseg train" in str(res.exception)


def test_cli_runs_on_the_chosen_device_and_precision(ckpts, images, tmp_path):
    app = typer.Typer()
    from stages.tools.predict import main

    app.command()(main)
    for key in ("seg", "depth"):
        res = CliRunner().invoke(app, [str(ckpts[key]), str(images / "a.jpg"), "--out", str(tmp_path / key),
                                       "--device", "cpu", "--precision", "bf16"])
        assert res.exit_code == 0, res.output
        assert "device cpu, precision bf16" in res.output and any((tmp_path / key).iterdir())
