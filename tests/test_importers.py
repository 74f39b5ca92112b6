"""Importers of foreign weights (nasseg/models/importers.py): the authors' Light-Weight RefineNet,
torchvision ResNets and MobileNet-v2, nas-segm-pytorch's encoder, and files that are not weights.

The authors' models are rebuilt here as small module trees with *their* module names and the
shapes their public code declares (light-weight-refinenet models/resnet.py, mobilenet.py;
nas-segm-pytorch src/nn/encoders.py), so that nothing is downloaded. An import must map every
tensor by name and give the same output as their model, value for value.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from nasseg.errors import NassegError
from nasseg.models.checkpoint import load_checkpoint
from nasseg.models.encoder import MobileNetV2Encoder, load_encoder_weights
from nasseg.models.importers import converted, detect, import_encoder, import_model, import_teacher
from nasseg.models.zoo import build_model
from nasseg.training.recipes import load_teacher_weights


# ---- the authors' ResNet Light-Weight RefineNet, by their module names --------------------------

class _CRPBlock(nn.Module):  # their CRP: "{i}_outvar_dimred" 1x1 convs after 5x5 max-pools
    def __init__(self, c_in, c_out, stages=4):
        super().__init__()
        for i in range(stages):
            setattr(self, f"{i + 1}_outvar_dimred", nn.Conv2d(c_in if i == 0 else c_out, c_out, 1, bias=False))
        self.stages = stages

    def forward(self, x):
        top = x
        for i in range(self.stages):
            top = getattr(self, f"{i + 1}_outvar_dimred")(F.max_pool2d(top, 5, 1, 2))
            x = top + x
        return x


def _c1(a, b):
    return nn.Conv2d(a, b, 1, bias=False)


class AuthorsRFLW(nn.Module):
    """rf_lw<depth> as their code names and wires it (ResNet names are torchvision's)."""

    def __init__(self, depth=50, num_classes=5):
        super().__init__()
        r = getattr(torchvision.models, f"resnet{depth}")(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4
        e = 4 if depth >= 50 else 1
        self.p_ims1d2_outl1_dimred = _c1(512 * e, 512)
        self.mflow_conv_g1_pool = nn.Sequential(_CRPBlock(512, 512))
        self.mflow_conv_g1_b3_joint_varout_dimred = _c1(512, 256)
        self.p_ims1d2_outl2_dimred = _c1(256 * e, 256)
        self.adapt_stage2_b2_joint_varout_dimred = _c1(256, 256)
        self.mflow_conv_g2_pool = nn.Sequential(_CRPBlock(256, 256))
        self.mflow_conv_g2_b3_joint_varout_dimred = _c1(256, 256)
        self.p_ims1d2_outl3_dimred = _c1(128 * e, 256)
        self.adapt_stage3_b2_joint_varout_dimred = _c1(256, 256)
        self.mflow_conv_g3_pool = nn.Sequential(_CRPBlock(256, 256))
        self.mflow_conv_g3_b3_joint_varout_dimred = _c1(256, 256)
        self.p_ims1d2_outl4_dimred = _c1(64 * e, 256)
        self.adapt_stage4_b2_joint_varout_dimred = _c1(256, 256)
        self.mflow_conv_g4_pool = nn.Sequential(_CRPBlock(256, 256))
        self.clf_conv = nn.Conv2d(256, num_classes, 3, padding=1, bias=True)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        l1 = self.layer1(x)
        l2 = self.layer2(l1)
        l3 = self.layer3(l2)
        l4 = self.layer4(l3)
        up = lambda t, ref: F.interpolate(t, size=ref.shape[2:], mode="bilinear", align_corners=True)  # noqa: E731
        x4 = self.mflow_conv_g1_pool(self.relu(self.p_ims1d2_outl1_dimred(l4)))
        x4 = up(self.mflow_conv_g1_b3_joint_varout_dimred(x4), l3)
        x3 = self.adapt_stage2_b2_joint_varout_dimred(self.p_ims1d2_outl2_dimred(l3)) + x4
        x3 = up(self.mflow_conv_g2_b3_joint_varout_dimred(self.mflow_conv_g2_pool(F.relu(x3))), l2)
        x2 = self.adapt_stage3_b2_joint_varout_dimred(self.p_ims1d2_outl3_dimred(l2)) + x3
        x2 = up(self.mflow_conv_g3_b3_joint_varout_dimred(self.mflow_conv_g3_pool(F.relu(x2))), l1)
        x1 = self.adapt_stage4_b2_joint_varout_dimred(self.p_ims1d2_outl4_dimred(l1)) + x2
        return self.clf_conv(self.mflow_conv_g4_pool(F.relu(x1)))


def _randomise_bn(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial BN statistics, so that a misplaced tensor changes the output."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def authors50():
    torch.manual_seed(0)
    return _randomise_bn(AuthorsRFLW(50, num_classes=5), 1)


@pytest.fixture(scope="module")
def image():
    return torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(2))


def _save_training_checkpoint(model: nn.Module, path):
    """As their training script saves: DataParallel keys under 'segmenter', a numpy best_val."""
    torch.save({"segmenter": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch_start": 7,
                "best_val": np.float64(0.71)}, path)


def test_rf_lw_imports_every_tensor_and_gives_their_output(authors50, image, tmp_path):
    src = tmp_path / "rf_lw50_checkpoint.pth.tar"
    _save_training_checkpoint(authors50, src)
    model, report, arch = import_model(src)
    assert report.layout == "lw-refinenet-resnet"
    assert report.mapped == len(authors50.state_dict()) and report.ignored == {}
    assert (report.entry, report.stripped_prefix) == ("segmenter", "module.")
    assert arch == {"name": "refinenet_lw_resnet50", "num_classes": 5, "decoder_width": 256,
                    "decoder_layout": "lw-refinenet"}
    with torch.no_grad():
        assert torch.equal(model(image), authors50(image))


def test_rf_lw_into_the_teacher_stage_model_and_back(authors50, image, tmp_path):
    src = tmp_path / "rf_lw50.pth"
    torch.save(authors50.state_dict(), src)  # their released files: a plain state dict
    teacher = build_model("refinenet_lw_resnet50", num_classes=5, decoder_width=256).eval()
    report = import_teacher(teacher, src)
    assert (report.scope, report.decoder_layout) == ("full", "lw-refinenet")
    with torch.no_grad():
        want = authors50(image)
        assert torch.equal(teacher(image), want)
    # teacher.pt as the stage writes it loads back into a freshly built teacher (precompute's path) ...
    tpt = tmp_path / "teacher.pt"
    torch.save({"model": teacher.state_dict(), "meta": {"model": "refinenet_lw_resnet50", "decoder_width": 256,
                                                       "num_classes": 5}}, tpt)
    again = build_model("refinenet_lw_resnet50", num_classes=5, decoder_width=256).eval()
    load_teacher_weights(again, tpt)
    # ... and into evaluate / predict / export (load_checkpoint)
    loaded, _ = load_checkpoint(tpt)
    with torch.no_grad():
        assert torch.equal(again(image), want)
        assert torch.equal(loaded(image), want)


def test_import_weights_command_writes_a_checkpoint_that_rebuilds_itself(authors50, image, tmp_path):
    from typer.testing import CliRunner

    from stages.cli import load

    src, out = tmp_path / "rf_lw50.pth", tmp_path / "model.pt"
    torch.save(authors50.state_dict(), src)
    res = CliRunner().invoke(load("import-weights"), [str(src), "--kind", "model", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert f"lw-refinenet-resnet: {len(authors50.state_dict())} tensors mapped" in res.output
    model, info = load_checkpoint(out)
    assert info["meta"]["layout"] == "lw-refinenet-resnet"
    with torch.no_grad():
        assert torch.equal(model(image), authors50(image))
    ckpt, report = converted(src, "teacher")
    assert ckpt["meta"]["depth"] == 50 and ckpt["meta"]["decoder_layout"] == "lw-refinenet"


@pytest.mark.parametrize("damage, named", [
    ("rename", ["clf.weight", "decoder.classifier.weight"]),
    ("reshape", ["p_ims1d2_outl2_dimred.weight", "(256, 1000, 1, 1)"]),
    ("extra", ["aux_head.weight"]),
])
def test_rf_lw_damaged_file_fails_naming_the_keys(authors50, tmp_path, damage, named):
    sd = dict(authors50.state_dict())
    if damage == "rename":
        sd["clf.weight"] = sd.pop("clf_conv.weight")
    elif damage == "reshape":
        sd["p_ims1d2_outl2_dimred.weight"] = torch.zeros(256, 1000, 1, 1)
    else:
        sd["aux_head.weight"] = torch.zeros(3)
    src = tmp_path / "damaged.pth"
    torch.save(sd, src)
    teacher = build_model("refinenet_lw_resnet50", num_classes=5, decoder_width=256)
    for attempt in (lambda: import_model(src), lambda: import_teacher(teacher, src)):
        with pytest.raises(NassegError) as err:
            attempt()
        text = str(err.value)
        assert str(src) in text and all(n in text for n in named), text


def test_rf_lw_against_other_teacher_params_fails_with_the_fix(authors50, tmp_path):
    src = tmp_path / "rf_lw50.pth"
    torch.save(authors50.state_dict(), src)
    with pytest.raises(NassegError, match=r"ResNet-50.*set teacher.depth: 50"):
        import_teacher(build_model("refinenet_lw_resnet101", num_classes=5, decoder_width=256), src)
    with pytest.raises(NassegError, match=r"wrong shape: clf_conv.weight -> decoder.classifier.weight: "
                                          r"file \(5, 256, 3, 3\), ours \(21, 256, 3, 3\)"):
        import_teacher(build_model("refinenet_lw_resnet50", num_classes=21, decoder_width=256), src)


# ---- torchvision ---------------------------------------------------------------------------------

def test_torchvision_resnet18_fills_the_teacher_encoder(tmp_path, image):
    torch.manual_seed(3)
    tv = _randomise_bn(torchvision.models.resnet18(weights=None), 4)
    src = tmp_path / "resnet18.pth"
    torch.save(tv.state_dict(), src)
    teacher = build_model("refinenet_lw_resnet18", num_classes=5, decoder_width=32).eval()
    decoder_before = {k: v.clone() for k, v in teacher.decoder.state_dict().items()}
    report = import_teacher(teacher, src)
    assert (report.layout, report.scope) == ("torchvision-resnet", "encoder")
    assert report.mapped == len(tv.state_dict()) - 2 and report.ignored == {"ImageNet classifier (fc.*)": 2}
    with torch.no_grad():
        x = tv.maxpool(tv.relu(tv.bn1(tv.conv1(image))))
        want = tv.layer4(tv.layer3(tv.layer2(tv.layer1(x))))
        assert torch.equal(teacher.encoder(image)[-1], want)
    assert all(torch.equal(v, teacher.decoder.state_dict()[k]) for k, v in decoder_before.items())
    with pytest.raises(NassegError, match="holds the encoder only"):
        load_teacher_weights(build_model("refinenet_lw_resnet18", num_classes=5, decoder_width=32), src)
    with pytest.raises(NassegError, match=r"holds a ResNet-18; the teacher is a ResNet-34: set teacher.depth: 18"):
        import_teacher(build_model("refinenet_lw_resnet34", num_classes=5, decoder_width=32), src)


def test_torchvision_mobilenet_v2_and_the_pretrain_checkpoint(tmp_path, image):
    tv = torchvision.models.mobilenet_v2(weights=None)
    src = tmp_path / "mbv2.pth"
    torch.save(tv.state_dict(), src)
    enc = MobileNetV2Encoder()
    report = import_encoder(enc, src)
    assert report.layout == "mobilenet_v2" and report.ignored == {
        "MobileNet-v2 blocks after the last tap": 6, "ImageNet classifier (classifier.*)": 2}
    ckpt, _ = converted(src, "encoder")
    out = tmp_path / "encoder.pt"
    torch.save(ckpt, out)
    again = MobileNetV2Encoder()
    assert load_encoder_weights(again, out) == import_encoder(MobileNetV2Encoder(), out).sha256
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in enc.state_dict().items())


# ---- the authors' MobileNet-v2 ---------------------------------------------------------------------

_MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _bn(prefix, c, g):
    return {f"{prefix}.weight": torch.rand(c, generator=g), f"{prefix}.bias": torch.rand(c, generator=g),
            f"{prefix}.running_mean": torch.rand(c, generator=g), f"{prefix}.running_var": torch.rand(c, generator=g),
            f"{prefix}.num_batches_tracked": torch.tensor(0)}


def _authors_mbv2(style: str, seed: int = 0) -> dict:
    """Their MobileNet-v2 tensors: style 'nas' (nas-segm encoders.py: conv.0/1 pw, conv.3/4 dw,
    conv.6/7 pw-linear) or 'lw' (light-weight-refinenet mobilenet.py: output.{0,1,2}.{0,1})."""
    g = torch.Generator().manual_seed(seed)
    sd = {"layer1.0.weight": torch.randn(32, 3, 3, 3, generator=g), **_bn("layer1.1", 32, g)}
    c_in = 32
    for li, (t, c, n, _) in enumerate(_MBV2):
        for b in range(n):
            p, h = f"layer{li + 2}.{b}", c_in * t
            names = (["conv.0", "conv.1", "conv.3", "conv.4", "conv.6", "conv.7"] if style == "nas" else
                     ["output.0.0", "output.0.1", "output.1.0", "output.1.1", "output.2.0", "output.2.1"])
            sd[f"{p}.{names[0]}.weight"] = torch.randn(h, c_in, 1, 1, generator=g)
            sd.update(_bn(f"{p}.{names[1]}", h, g))
            sd[f"{p}.{names[2]}.weight"] = torch.randn(h, 1, 3, 3, generator=g)
            sd.update(_bn(f"{p}.{names[3]}", h, g))
            sd[f"{p}.{names[4]}.weight"] = torch.randn(c, h, 1, 1, generator=g)
            sd.update(_bn(f"{p}.{names[5]}", c, g))
            c_in = c
    return sd


def test_nas_segm_encoder_maps_all_but_the_t1_expansion(tmp_path):
    sd = _authors_mbv2("nas")
    src = tmp_path / "mbv2_voc_rflw.ckpt"
    torch.save(sd, src)
    with pytest.raises(NassegError) as err:
        import_encoder(MobileNetV2Encoder(), src)
    text = str(err.value)
    assert "layer2.0.conv.0.weight" in text and "1x1 expansion conv" in text and str(src) in text
    assert not any(w in text for w in ("missing", "unexpected", "wrong shape")), text  # the rest maps exactly
    # without the expansion conv every other tensor lands where torchvision keeps it
    torch.save({k: v for k, v in sd.items() if not k.startswith(("layer2.0.conv.0.", "layer2.0.conv.1."))}, src)
    enc = MobileNetV2Encoder(taps=(3, 6, 10, 13, 16, 17))
    report = import_encoder(enc, src, format="nas-segm-mbv2")
    own = enc.state_dict()
    assert report.mapped == len(own)
    assert torch.equal(own["features.1.conv.0.0.weight"], sd["layer2.0.conv.3.weight"])
    assert torch.equal(own["features.17.conv.3.running_var"], sd["layer8.0.conv.7.running_var"])
    assert torch.equal(own["features.5.conv.1.1.bias"], sd["layer4.1.conv.4.bias"])


def test_lw_refinenet_mbv2_decoder_maps_one_to_one(tmp_path):
    g = torch.Generator().manual_seed(5)
    sd = _authors_mbv2("lw", 1)
    for i, c in zip(range(3, 9), (24, 32, 64, 96, 160, 320)):
        sd[f"conv{i}.weight"] = torch.randn(256, c, 1, 1, generator=g)
    for i in range(1, 5):
        for s in range(1, 5):
            sd[f"crp{i}.0.{s}_outvar_dimred.weight"] = torch.randn(256, 256, 1, 1, generator=g)
    for i in (2, 3, 4):
        sd[f"conv_adapt{i}.weight"] = torch.randn(256, 256, 1, 1, generator=g)
    sd["segm.weight"], sd["segm.bias"] = torch.randn(21, 256, 3, 3, generator=g), torch.randn(21, generator=g)
    src = tmp_path / "mbv2_voc.pth"
    torch.save(sd, src)
    assert detect(sd).name == "lw-refinenet-mbv2"
    with pytest.raises(NassegError) as err:
        import_model(src)
    text = str(err.value)
    assert "layer2.0.output.0.0.weight" in text and "ReLU6" in text
    assert not any(w in text for w in ("missing", "unexpected", "wrong shape")), text
    torch.save({k: v for k, v in sd.items() if not k.startswith("layer2.0.output.0.")}, src)
    model, report, _ = import_model(src)
    own = model.state_dict()
    assert report.mapped == len(own)
    assert torch.equal(own["decoder.reduce.5.weight"], sd["conv8.weight"])
    assert torch.equal(own["decoder.crp.0.convs.3.weight"], sd["crp4.0.4_outvar_dimred.weight"])
    assert torch.equal(own["decoder.adapt.2.weight"], sd["conv_adapt2.weight"])
    assert torch.equal(own["encoder.features.1.conv.1.weight"], sd["layer2.0.output.2.0.weight"])


# ---- files that are not weights ---------------------------------------------------------------------

def _write(kind, path):
    if kind == "text":
        path.write_text("not weights\n")
    elif kind == "torch_list":
        torch.save([torch.zeros(2), 3], path)
    elif kind == "pickle":
        with open(path, "wb") as f:
            pickle.dump({"a": [1, 2]}, f)
    elif kind == "module":
        torch.save(nn.Linear(2, 2), path)
    else:
        torch.save({"epoch": 3, "optimizer": {"lr": 0.1}}, path)


@pytest.mark.parametrize("kind", ["text", "torch_list", "pickle", "module", "no_tensors"])
def test_non_checkpoint_files_give_one_clear_line(tmp_path, kind):
    path = tmp_path / f"{kind}.pth"
    _write(kind, path)
    for attempt in (lambda: import_encoder(MobileNetV2Encoder(), path),
                    lambda: import_teacher(build_model("refinenet_lw_resnet18", decoder_width=32), path)):
        with pytest.raises(NassegError) as err:
            attempt()
        text = str(err.value)
        assert str(path) in text and "\n" not in text and "weights_only" not in text, text


def test_unknown_layout_and_format(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"backbone.stem.weight": torch.zeros(1)}, path)
    with pytest.raises(NassegError, match=r"match no known layout.*backbone.stem.weight.*torchvision-resnet"):
        import_encoder(MobileNetV2Encoder(), path)
    with pytest.raises(NassegError, match="unknown weights format 'caffe'"):
        import_encoder(MobileNetV2Encoder(), path, format="caffe")


# ---- the stages: what they record ---------------------------------------------------------------------

def _tiny_params(root, **sections):
    from nasseg.config import parse_params

    raw = {"data": {"root": str(root / "data"),
                    "embedded": {"voc": {"train": 6, "val": 4}, "sbd": {"train": 6, "val": 2}, "coco": {"train": 4},
                                 "min_size": 40, "max_size": 48},
                    "augment": {"crop": 32, "min_side": 32}},
           "pretrain": {"out": str(root / "pre"), "epochs": 1, "batch_size": 4, "decoder_width": 16,
                        "val_set": "meta_val"},
           "teacher": {"out": str(root / "tea"), "depth": 18, "epochs": 1, "batch_size": 4, "decoder_width": 16,
                       "sets": "trainaug", "val_set": "meta_val", "seed": 0}}
    for section, values in sections.items():
        raw[section].update(values)
    return parse_params(raw)


def test_stages_record_the_layout_and_train_a_teacher_decoder_on_an_imported_resnet(tmp_path):
    from nasseg.data.prepare import build_lists, generate_embedded
    from nasseg.training.recipes import run_pretrain, run_teacher

    p = _tiny_params(tmp_path)
    generate_embedded(p.data)
    build_lists(p.data)
    torch.manual_seed(6)
    tv = torchvision.models.resnet18(weights=None)
    src = tmp_path / "resnet18.pth"
    torch.save(tv.state_dict(), src)
    meta = run_teacher(_tiny_params(tmp_path, teacher={"weights": str(src)}), log=lambda s: None)
    assert meta["source"] == "trained" and meta["epochs"] == 1
    assert meta["init"]["layout"] == "torchvision-resnet" and meta["init"]["scope"] == "encoder"
    assert meta["init"]["tensors"] == len(tv.state_dict()) - 2
    mbv2 = tmp_path / "mbv2.pth"
    torch.save(torchvision.models.mobilenet_v2(weights=None).state_dict(), mbv2)
    meta = run_pretrain(_tiny_params(tmp_path, pretrain={"weights": str(mbv2)}))
    assert (meta["source"], meta["layout"], meta["tensors"]) == ("imported", "mobilenet_v2", 306)
