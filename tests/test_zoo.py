"""The model zoo (SPEC §3 and Table 1 baselines): registry, exact parameter counts, output strides,
task heads, errors, and loading MobileNet-v2 encoder weights."""
from __future__ import annotations

import hashlib

import pytest
import torch
import torchvision

from nasseg.errors import NassegError
from nasseg.models import PUBLISHED, build_model, count_params, list_archs, load_encoder_weights
from nasseg.models.encoder import TAP_CHANNELS, MobileNetV2Encoder
from nasseg.models.zoo import arch_info
from nasseg.errors import GenotypeError
from nasseg.spaces.cells import Genotype

STRIDES = {
    "arch0": 4,
    "arch1": 8,
    "arch2": 8,
    "refinenet_lw_mbv2": 4,
    "deeplabv3_mbv2": 8,
    "deeplabv3_aspp_mbv2": 16,
    "lraspp_mbv3": 8,
}
PARAMS = {"arch0": 2_628_821, "arch1": 2_809_045, "arch2": 2_852_053}


def test_list_archs():
    names = list_archs()
    assert set(STRIDES) <= set(names)
    assert len(names) == len(set(names))
    assert list_archs("found") == ["arch0", "arch1", "arch2", "wacv_arch0", "wacv_arch1"]
    assert set(list_archs("baseline")) == {"refinenet_lw_mbv2", "deeplabv3_mbv2", "deeplabv3_aspp_mbv2",
                                           "lraspp_mbv3"}
    for n in names:
        assert arch_info(n).name == n and arch_info(n).description


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_exact_parameter_counts(name):
    model = build_model(name, num_classes=21, width=64, repeats=2)
    assert count_params(model) == PARAMS[name]
    # the same genotype given as text / object builds the same model
    assert count_params(build_model(PUBLISHED[name])) == PARAMS[name]
    # auxiliary heads are training-only: left out of the count
    aux = build_model(Genotype.from_text(PUBLISHED[name]), aux="cell")
    assert count_params(aux) == PARAMS[name] < count_params(aux, inference=False)


def test_default_build_is_final_configuration():
    assert count_params(build_model("arch0")) == PARAMS["arch0"]  # 21 classes, width 64, repeats 2
    assert count_params(build_model("arch0", width=48, repeats=1)) < PARAMS["arch0"]


def test_encoder_taps():
    enc = MobileNetV2Encoder().eval()
    assert enc.out_channels == TAP_CHANNELS == (24, 32, 96, 320)
    assert len(enc.features) == 18  # the 1280-channel head is dropped
    with torch.no_grad():
        taps = enc(torch.randn(1, 3, 64, 64))
    assert [tuple(t.shape) for t in taps] == [(1, 24, 16, 16), (1, 32, 8, 8), (1, 96, 4, 4), (1, 320, 2, 2)]


@pytest.mark.parametrize("name", list(STRIDES))
def test_forward_and_output_stride(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y = model(x)
        y2, aux = model(x, return_aux=True)
    s = STRIDES[name]
    assert y.shape == (1, 21, 64 // s, 64 // s)
    assert torch.isfinite(y).all()
    assert aux == [] and torch.equal(y, y2)
    assert model.name == name


@pytest.mark.parametrize("name", list(STRIDES))
@pytest.mark.parametrize("num_classes", [1, 17], ids=["depth", "pose"])
def test_task_output_channels(name, num_classes):
    model = build_model(name, num_classes=num_classes).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 64, 64))
    s = STRIDES[name]
    assert y.shape == (1, num_classes, 64 // s, 64 // s)


def test_train_mode_with_aux():
    model = build_model("arch1", num_classes=3, width=16, repeats=1, aux="cell").train()
    logits, aux = model(torch.randn(2, 3, 64, 64), return_aux=True)
    assert logits.shape == (2, 3, 8, 8) and len(aux) == 3
    (logits.mean() + sum(a.mean() for a in aux)).backward()
    assert model.encoder.features[0][0].weight.grad is not None


def test_deeplab_output_stride_option():
    model = build_model("deeplabv3_mbv2", output_stride=16).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 21, 4, 4)


# =========================================================================== errors
def test_unknown_name_lists_registered():
    with pytest.raises(NassegError) as ei:
        build_model("nope")
    msg = str(ei.value)
    assert "nope" in msg
    for n in STRIDES:
        assert n in msg


@pytest.mark.parametrize("text", ["[[1,[0,0,0,0]...]]", "[[1,[0,0,0,0]],[[0,4]]]", "[[1,[0,0,0,0]],[0,1]]",
                                  " [[11,[0,0,0,0]],[[0,1]]]", "[[1,[0,0,0,0.5]],[[0,1]]]"])
def test_malformed_genotype_text(text):
    with pytest.raises(GenotypeError):
        build_model(text)


@pytest.mark.parametrize("aux", ["cell", "clf"])
def test_aux_on_baseline_rejected(aux):
    for name in ("refinenet_lw_mbv2", "deeplabv3_mbv2"):
        with pytest.raises(NassegError, match=name):
            build_model(name, aux=aux)


def test_bad_aux_kind_rejected():
    with pytest.raises(ValueError):
        build_model("arch0", aux="bogus")


# =========================================================================== encoder weights
@pytest.fixture(scope="module")
def tv_state():
    """A full torchvision MobileNet-v2 state dict (classifier, features.18 included), randomised so that
    it differs from any fresh initialisation."""
    torch.manual_seed(123)
    sd = torchvision.models.mobilenet_v2(weights=None).state_dict()
    out = {}
    for k, v in sd.items():
        out[k] = v + torch.rand_like(v) if v.is_floating_point() else v + 7
    assert any(k.startswith("classifier.") for k in out) and any(k.startswith("features.18.") for k in out)
    return out


def _save(obj, path):
    torch.save(obj, path)
    return path


def _assert_encoder_equals(encoder, state):
    own = encoder.state_dict()
    assert own, "empty encoder"
    for k, v in own.items():
        assert torch.equal(v, state[k]), k


def test_load_torchvision_state_dict(tmp_path, tv_state):
    path = _save(tv_state, tmp_path / "mbv2.pth")
    model = build_model("arch0", encoder_weights=str(path))
    _assert_encoder_equals(model.encoder, tv_state)
    # the decoder is untouched and the model still works
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 21, 16, 16)
    # the return value is the file's sha256
    enc = MobileNetV2Encoder()
    assert load_encoder_weights(enc, path) == hashlib.sha256(path.read_bytes()).hexdigest()
    _assert_encoder_equals(enc, tv_state)


@pytest.mark.parametrize("name", ["refinenet_lw_mbv2", "deeplabv3_mbv2"])
def test_load_into_baseline_encoders(tmp_path, tv_state, name):
    path = _save(tv_state, tmp_path / "mbv2.pth")
    model = build_model(name, encoder_weights=path)
    _assert_encoder_equals(model.encoder, tv_state)


def test_load_nasseg_checkpoint(tmp_path, tv_state):
    src = build_model("arch1", width=16, repeats=1)
    src.encoder.load_state_dict({k: v for k, v in tv_state.items() if k in src.encoder.state_dict()})
    path = _save({"encoder": src.encoder.state_dict(), "epoch": 3}, tmp_path / "pretrain.pt")
    model = build_model("arch0", encoder_weights=path)
    _assert_encoder_equals(model.encoder, src.encoder.state_dict())
    _assert_encoder_equals(model.encoder, tv_state)


def test_lraspp_has_no_encoder_to_load(tmp_path, tv_state):
    path = _save(tv_state, tmp_path / "mbv2.pth")
    with pytest.raises(NassegError, match="lraspp_mbv3"):
        build_model("lraspp_mbv3", encoder_weights=path)


def _load_error(path) -> str:
    with pytest.raises(NassegError) as ei:
        build_model("arch0", width=16, repeats=1, encoder_weights=str(path))
    msg = str(ei.value)
    assert str(path) in msg, msg
    return msg


def test_missing_file(tmp_path):
    msg = _load_error(tmp_path / "nowhere" / "mbv2.pth")
    assert "not found" in msg
    _load_error(tmp_path)  # a directory is not a weights file


def test_random_bytes(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(bytes(range(256)) * 40)
    _load_error(path)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    _load_error(empty)


def test_missing_keys(tmp_path, tv_state):
    sd = dict(tv_state)
    del sd["features.3.conv.0.0.weight"]
    msg = _load_error(_save(sd, tmp_path / "missing.pth"))
    assert "features.3.conv.0.0.weight" in msg and "missing" in msg


def test_unexpected_keys(tmp_path, tv_state):
    sd = dict(tv_state)
    sd["decoder.foo"] = torch.zeros(3)
    msg = _load_error(_save(sd, tmp_path / "extra.pth"))
    assert "decoder.foo" in msg


def test_wrong_shape(tmp_path, tv_state):
    sd = dict(tv_state)
    sd["features.0.0.weight"] = torch.zeros(32, 3, 5, 5)
    msg = _load_error(_save(sd, tmp_path / "shape.pth"))
    assert "features.0.0.weight" in msg and "(32, 3, 5, 5)" in msg and "(32, 3, 3, 3)" in msg


@pytest.mark.parametrize("obj", [[1, 2, 3], {"encoder": {"features.0.0.weight": 3}}, torch.zeros(3), {}],
                         ids=["list", "non-tensor", "tensor", "empty"])
def test_not_a_state_dict(tmp_path, obj):
    _load_error(_save(obj, tmp_path / "odd.pth"))


def test_failed_load_leaves_encoder_untouched(tmp_path, tv_state):
    sd = dict(tv_state)
    sd["features.17.conv.0.0.weight"] = torch.zeros(1)
    enc = MobileNetV2Encoder()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    with pytest.raises(NassegError):
        load_encoder_weights(enc, _save(sd, tmp_path / "bad.pth"))
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_non_numeric_features_key(tmp_path, tv_state):
    sd = dict(tv_state)
    sd["features.extra.weight"] = torch.zeros(1)
    _load_error(_save(sd, tmp_path / "oddkey.pth"))
