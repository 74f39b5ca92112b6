"""The plain-torch transforms give torchvision v2's results bit for bit, and draw the same
numbers from torch's global RNG (torchvision is the reference here, and only here)."""
from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from nasseg.data import transforms as F
from nasseg.data.transforms import (IMAGENET_MEAN, IMAGENET_MEAN_U8, IMAGENET_STD, RandomScale,
                                    SegmentationTransform)
from nasseg.transfer import depth_data

SEEDS = range(40)
# (H, W) against crops of 8 and 32: smaller in one or both sides, equal, larger, odd, 1 pixel
SIZES = [(1, 1), (1, 9), (9, 1), (5, 40), (40, 5), (7, 7), (8, 8), (31, 33), (32, 32), (47, 61), (64, 48), (3, 100)]
NEAREST_EXACT = TF.InterpolationMode.NEAREST_EXACT


class RefScale:
    """The torchvision RandomScale this project used before."""

    def __init__(self, scale, min_side=0):
        self.low, self.high, self.min_side = float(scale[0]), float(scale[1]), int(min_side)

    def __call__(self, image, mask):
        h, w = image.shape[-2:]
        s = self.low + (self.high - self.low) * float(torch.rand(()))
        s = max(s, self.min_side / min(h, w)) if self.min_side else s
        size = [max(1, round(h * s)), max(1, round(w * s))]
        return TF.resize(image, size, antialias=True), TF.resize(mask, size, interpolation=NEAREST_EXACT)


def reference(*, crop=None, scale=None, min_side=0, flip=False, normalize=True):
    """The torchvision v2 pipeline SegmentationTransform replaced, called the same way."""
    steps = [RefScale(scale, min_side)] if scale is not None else []
    if crop is not None:
        steps.append(v2.RandomCrop(crop, pad_if_needed=True,
                                   fill={tv_tensors.Image: IMAGENET_MEAN_U8, tv_tensors.Mask: 255}))
    if flip:
        steps.append(v2.RandomHorizontalFlip(0.5))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if normalize:
        steps.append(v2.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    pipeline = v2.Compose(steps)

    def call(image, mask):
        img, msk = pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return img.as_subclass(torch.Tensor), msk.as_subclass(torch.Tensor).long()
    return call


def pair(h, w, seed, channels_last=False):
    """A random uint8 3xHxW image (channels-last in memory, as from an HWC array, if asked)
    and an int64 mask of labels 0..20 and 255; drawn from a private generator."""
    g = torch.Generator().manual_seed(1000 + seed)
    image = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8).permute(2, 0, 1)
    image = image if channels_last else image.contiguous()
    mask = torch.randint(0, 22, (h, w), generator=g)
    return image, mask.masked_fill(mask == 21, 255)


def assert_same(ours, ref):
    for a, b in zip(ours, ref):
        assert type(a) is torch.Tensor and a.dtype == b.dtype and a.shape == b.shape
        assert a.stride() == b.stride()
        assert torch.equal(a, b)


def run_both(ours, ref, args, seed):
    torch.default_generator.manual_seed(seed)  # CPU only: torch.manual_seed also queues CUDA seeding (slow)
    start = torch.get_rng_state()
    got = ours(*args)
    after = torch.get_rng_state()
    torch.set_rng_state(start)
    want = ref(*args)
    assert torch.equal(after, torch.get_rng_state()), "different draws from the global RNG"
    assert_same(got, want)


CONFIGS = [
    dict(crop=32, scale=(0.7, 1.4), min_side=0, flip=True),
    dict(crop=8, scale=(0.5, 2.0), min_side=6, flip=True, normalize=False),
    dict(crop=32, flip=False),
    dict(scale=(0.3, 0.6), min_side=0, flip=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_segmentation_transform_matches_torchvision(config):
    ours, ref = SegmentationTransform(**config), reference(**config)
    for i, (h, w) in enumerate(SIZES):
        for seed in SEEDS:
            run_both(ours, ref, pair(h, w, seed, channels_last=(seed + i) % 3 == 0), seed)


def test_train_and_eval_match_torchvision():
    from nasseg.config import AugmentParams

    aug = AugmentParams(scale=(0.7, 1.4), min_side=20, crop=24, flip=True)
    train = reference(crop=aug.crop, scale=tuple(aug.scale), min_side=aug.min_side, flip=aug.flip)
    for seed in SEEDS:
        run_both(SegmentationTransform.train(aug), train, pair(30 + seed % 7, 19 + seed, seed), seed)
        run_both(SegmentationTransform.eval(), reference(), pair(5 + seed, 11, seed), seed)


def test_random_scale_matches_torchvision():
    ours, ref = RandomScale((0.25, 3.0), min_side=4), RefScale((0.25, 3.0), min_side=4)
    for h, w in SIZES:
        for seed in SEEDS[:10]:
            image, mask = pair(h, w, seed, channels_last=seed % 2 == 0)
            run_both(ours, lambda i, m: ref(tv_tensors.Image(i), tv_tensors.Mask(m)), (image, mask), seed)


def test_uint8_bilinear_without_native_kernel(monkeypatch):
    """On CPUs without AVX2 (and on GPUs) uint8 is resized in float32 and rounded back."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    config = dict(crop=16, scale=(0.5, 2.0), flip=True)
    ours, ref = SegmentationTransform(**config), reference(**config)
    for seed in SEEDS[:20]:
        run_both(ours, ref, pair(13 + seed, 29 - seed % 5, seed, channels_last=seed % 2 == 0), seed)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_torchvision():
    config = dict(crop=32, scale=(0.5, 2.0), flip=True)
    ours, ref = SegmentationTransform(**config), reference(**config)
    for i, (h, w) in enumerate(SIZES):
        for seed in SEEDS[:10]:
            image, mask = pair(h, w, seed, channels_last=(seed + i) % 2 == 0)
            run_both(ours, ref, (image.cuda(), mask.cuda()), seed)


@pytest.mark.parametrize("size_in", [(1, 1), (6, 9), (31, 17), (48, 64)])
def test_depth_helpers_match_torchvision(size_in):
    g = torch.Generator().manual_seed(size_in[0])
    image = torch.randn(3, *size_in, generator=g)
    depth = torch.rand(1, *size_in, generator=g) * 10
    for size in [(1, 1), (2, 3), size_in, (size_in[0] + 1, size_in[1] * 2), (max(1, size_in[0] // 2), 5), (97, 33)]:
        assert_same([F.resize(image, size, "bilinear", antialias=True)],
                    [TF.resize(image, list(size), interpolation=TF.InterpolationMode.BILINEAR, antialias=True)])
        assert_same([F.resize(depth, size, "nearest-exact")],
                    [TF.resize(depth, list(size), interpolation=NEAREST_EXACT)])
    for padding in ([0, 0, 0, 0], [1, 0, 0, 0], [0, 2, 0, 0], [3, 1, 4, 1], [0, 0, 5, 9]):
        assert_same([F.pad(image, padding, fill=0.0), F.pad(depth, padding, fill=0.0)],
                    [TF.pad(image, padding, fill=0.0), TF.pad(depth, padding, fill=0.0)])


class TorchvisionF:
    """depth_data's helpers as the torchvision calls it made before."""

    @staticmethod
    def resize(x, size, mode="bilinear", antialias=True):
        if mode == "bilinear":
            return TF.resize(x, size, interpolation=TF.InterpolationMode.BILINEAR, antialias=antialias)
        return TF.resize(x, size, interpolation=NEAREST_EXACT)

    @staticmethod
    def pad(x, padding, fill=0):
        return TF.pad(x, padding, fill=fill)


def test_depth_augment_matches_torchvision(monkeypatch):
    ds = depth_data.DepthDataset.__new__(depth_data.DepthDataset)
    ds.scale, ds.crop_hw, ds.flip, ds.max_depth = (0.6, 1.5), (24, 32), True, 10.0

    def augment_with(helpers):
        def call(image, depth):
            monkeypatch.setattr(depth_data, "F", helpers)
            return ds._augment(image, depth)
        return call

    for seed in SEEDS:
        g = torch.Generator().manual_seed(seed)
        h, w = 10 + 2 * seed, 45 - seed
        image, depth = torch.randn(3, h, w, generator=g), torch.rand(1, h, w, generator=g) * 12
        run_both(augment_with(F), augment_with(TorchvisionF), (image, depth), seed)
