"""nasseg.models.backbones against torchvision: under one seed, the same weights, the same
random numbers drawn, the same outputs; and no stage process imports torchvision at start."""
import pytest
import torch

from conftest import fresh_python
from nasseg.models.backbones import ResNet, mobilenet_v2_features

torchvision = pytest.importorskip("torchvision")


def _build(fn, seed=3):
    torch.manual_seed(seed)
    module = fn()
    return module, torch.get_rng_state()


def _same(ours, ref, x):
    a, b = ours.state_dict(), ref.state_dict()
    assert list(a) == list(b)  # names and order: torchvision files load as they are
    assert all(torch.equal(a[k], b[k]) for k in a)
    for train in (True, False):
        ours.train(train), ref.train(train)
        with torch.no_grad():
            assert torch.equal(ours(x), ref(x))


def test_mobilenet_v2_features_are_torchvisions():
    ours, rng_ours = _build(mobilenet_v2_features)
    ref, rng_ref = _build(lambda: torchvision.models.mobilenet_v2(weights=None).features)
    assert torch.equal(rng_ours, rng_ref)
    _same(ours, ref, torch.randn(2, 3, 40, 56))


@pytest.mark.parametrize("depth", [18, 50])
def test_resnet_is_torchvisions(depth):
    ours, rng_ours = _build(lambda: ResNet(depth))
    ref, rng_ref = _build(lambda: getattr(torchvision.models, f"resnet{depth}")(weights=None))
    assert torch.equal(rng_ours, rng_ref)
    _same(ours, ref, torch.randn(2, 3, 48, 40))


def test_resnet_depth_is_checked():
    with pytest.raises(ValueError, match="18, 34, 50, 101, 152"):
        ResNet(20)


def test_stage_processes_start_without_torchvision():
    """Every pipeline stage's module and the libraries they use, imported in a fresh process:
    torchvision stays out (only the LR-ASPP baseline and `import-weights` load it, when used)."""
    mods = ["stages.cli", "stages.prepare", "stages.prepare_transfer", "stages.prepare_street", "stages.pretrain",
            "stages.teacher", "stages.precompute", "stages.benchmark", "stages.search", "stages.tricks",
            "stages.ablate", "stages.correlate", "stages.train", "stages.train_wacv", "stages.transfer",
            "stages.report", "nasseg.models.zoo", "nasseg.data.transforms", "nasseg.transfer.depth_data"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods) +
            "from nasseg.models.baselines import ResNetEncoder\nfrom nasseg.models.encoder import MobileNetV2Encoder\n"
            "MobileNetV2Encoder(), ResNetEncoder(18)\n"
            "print('torchvision' in sys.modules)")
    assert fresh_python(code) == "False"
