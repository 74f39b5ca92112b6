"""The meta-train / meta-val split, the training pool merge, and the joint transforms."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nasseg.data.split import merge_pool, meta_split
from nasseg.data.transforms import IMAGENET_MEAN_U8, SegmentationTransform

# ----------------------------------------------------------------------------- meta_split


@pytest.mark.parametrize("n", [2, 3, 9, 10, 14, 15, 16, 37, 100, 1001])
def test_meta_split_sizes_disjoint_cover(n):
    items = [f"id{i}" for i in range(n)]
    train, val = meta_split(items, 0.1, seed=0)
    expected_val = min(max(1, round(n * 0.1)), n - 1)
    assert len(val) == expected_val
    assert len(train) == n - expected_val
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(items)
    assert len(set(train)) == len(train) and len(set(val)) == len(val)


def test_meta_split_other_fraction():
    train, val = meta_split(list(range(50)), 0.3, seed=1)
    assert len(val) == 15 and len(train) == 35


def test_meta_split_seeded():
    items = list(range(200))
    assert meta_split(items, 0.1, seed=7) == meta_split(items, 0.1, seed=7)
    assert meta_split(items, 0.1, seed=7) != meta_split(items, 0.1, seed=8)
    assert set(meta_split(items, 0.1, seed=7)[1]) != set(meta_split(items, 0.1, seed=8)[1])
    # the input is not reordered in place
    assert items == list(range(200))


@pytest.mark.parametrize("n", [0, 1])
def test_meta_split_too_few(n):
    with pytest.raises(ValueError):
        meta_split(list(range(n)))


# ----------------------------------------------------------------------------- merge_pool


def test_merge_pool_excludes_and_dedups():
    voc_train = [("a", "voc:a"), ("b", "voc:b")]
    sbd_train = [("b", "sbd:b"), ("c", "sbd:c"), ("v1", "sbd:v1"), ("c", "sbd:c2")]
    sbd_val = [("d", "sbd:d"), ("a", "sbd:a"), ("v2", "sbd:v2")]
    exclude = {"v1", "v2"}
    pool = merge_pool([voc_train, sbd_train, sbd_val], exclude_ids=exclude)
    assert pool == [("a", "voc:a"), ("b", "voc:b"), ("c", "sbd:c"), ("d", "sbd:d")]
    assert exclude == {"v1", "v2"}  # not mutated
    assert merge_pool([], set()) == []
    assert merge_pool([[("x", 1)]], {"x"}) == []


# ----------------------------------------------------------------------------- transforms

VOID_COLOUR = 200
H, W = 40, 60


def colour_coded_pair():
    """Six class blocks (2 rows x 3 columns of 20 x 20; class k flat grey k*10) with a
    void stripe (colour 200) through the middle. Colour tells the class."""
    mask = np.zeros((H, W), np.int64)
    for r in range(2):
        for c in range(3):
            mask[r * 20:(r + 1) * 20, c * 20:(c + 1) * 20] = r * 3 + c
    mask[18:22, 25:50] = 255
    colour = np.where(mask == 255, VOID_COLOUR, mask * 10).astype(np.uint8)
    image = np.repeat(colour[None], 3, axis=0)
    image[1] = np.where(mask == 255, VOID_COLOUR, colour + 3)  # not pure grey: channel order matters
    return torch.from_numpy(image), torch.from_numpy(mask)


def uniform_3x3(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3 x 3 neighbourhood (inside the image) holds one value."""
    h, w = mask.shape
    p = np.pad(mask, 1, mode="edge")
    same = np.ones((h, w), bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= p[dy:dy + h, dx:dx + w] == mask
    return same


def expected_colour(cls: np.ndarray) -> np.ndarray:
    """3 x N expected uint8 colours of the classes ``cls``."""
    grey = cls * 10
    return np.stack([grey, grey + 3, grey])


# Colour tolerance at a class interior: half the step between two class colours (10), so
# a pixel passes when its colour is nearer its own class's colour than any other's.
TOL = 5.0


def alignment_error(img: torch.Tensor, msk: torch.Tensor) -> float:
    m = msk.numpy()
    interior = uniform_3x3(m) & (m != 255)
    assert interior.sum() > 100
    got = img.numpy()[:, interior] * 255
    return float(np.abs(got - expected_colour(m[interior])).max())


def test_train_transform_output_types_and_shapes():
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(crop=48, scale=(0.7, 1.4), flip=True, normalize=False)
    for seed in range(8):
        torch.manual_seed(seed)
        img, msk = tf(image, mask)
        assert type(img) is torch.Tensor and type(msk) is torch.Tensor
        assert img.dtype == torch.float32 and msk.dtype == torch.int64
        assert img.shape == (3, 48, 48) and msk.shape == (48, 48)
        assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
        assert set(np.unique(msk.numpy()).tolist()) <= set(range(6)) | {255}


def test_crop_and_flip_keep_image_and_mask_aligned():
    """Without rescaling the pair must stay aligned pixel for pixel."""
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(crop=32, flip=True, normalize=False)
    flipped = set()
    for seed in range(20):
        torch.manual_seed(seed)
        img, msk = tf(image, mask)
        m = msk.numpy()
        u8 = (img * 255).round().numpy()
        cls = m != 255
        assert np.array_equal(u8[:, cls], expected_colour(m[cls]).astype(np.float32))
        assert (u8[:, ~cls] == VOID_COLOUR).all()
        # which way round the class blocks are tells whether it flipped
        row = m[0]
        flipped.add(bool(row[0] > row[-1]) if row[0] != row[-1] else None)
    assert {True, False} <= flipped


def test_scale_crop_flip_keep_image_and_mask_aligned():
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(crop=48, scale=(0.7, 1.4), flip=True, normalize=False)
    errors = {}
    for seed in range(48):
        torch.manual_seed(seed)
        err = alignment_error(*tf(image, mask))
        if err > TOL:
            errors[seed] = err
    assert errors == {}, f"image/mask misaligned at class interiors (seed: max colour error): {errors}"


@pytest.mark.parametrize("out_rows", [49, 52, 30, 34])
def test_random_scale_mask_follows_image(out_rows):
    """A 4-row void stripe rescaled: every output row whose image pixel is mostly stripe
    colour must be labelled void, and every row mostly background must not."""
    from nasseg.data.transforms import RandomScale
    from torchvision import tv_tensors

    img = torch.zeros(3, 40, 8, dtype=torch.uint8)
    img[:, 18:22] = 200
    msk = torch.zeros(40, 8, dtype=torch.int64)
    msk[18:22] = 255
    s = out_rows / 40
    i, m = RandomScale((s, s))(tv_tensors.Image(img), tv_tensors.Mask(msk))
    assert i.shape[-2] == m.shape[-2] == out_rows
    col, lab = i[0, :, 0].numpy().astype(int), m[:, 0].numpy()
    wrong = [(r, int(col[r]), int(lab[r])) for r in range(out_rows)
             if (col[r] > 130 and lab[r] != 255) or (col[r] < 70 and lab[r] == 255)]
    assert wrong == [], f"(row, image value, label) where the label disagrees with the image: {wrong}"


def colour_coded_no_void():
    """The six class blocks of :func:`colour_coded_pair` without the void stripe."""
    mask = torch.from_numpy(np.repeat(np.repeat(np.arange(6).reshape(2, 3), 20, 0), 20, 1))
    grey = (mask * 10).to(torch.uint8)
    return torch.stack([grey, grey + 3, grey]), mask


@pytest.mark.parametrize("seed", range(6))
def test_train_transform_pads_mask_with_void(seed):
    image, mask = colour_coded_no_void()
    tf = SegmentationTransform(crop=72, scale=(0.8, 1.0), flip=True, normalize=False)  # always smaller than crop
    torch.manual_seed(seed)
    img, msk = tf(image, mask)
    assert img.shape == (3, 72, 72) and msk.shape == (72, 72)
    fill = torch.tensor(IMAGENET_MEAN_U8, dtype=torch.float32)[:, None, None] / 255
    padded = ((img - fill).abs().amax(0) < 1e-6).numpy()
    assert padded.any() and not padded.all()
    # the padding, and only the padding, is void
    assert np.array_equal(msk.numpy() == 255, padded)


def test_train_transform_mask_values_keep_nearest():
    """Masks are resized with nearest neighbour: no new labels appear."""
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(crop=32, scale=(0.5, 2.0), flip=True, normalize=False)
    for seed in range(10):
        torch.manual_seed(seed)
        _, msk = tf(image, mask)
        assert set(np.unique(msk.numpy()).tolist()) <= set(range(6)) | {255}


def test_min_side_respected():
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(scale=(0.5, 0.6), min_side=50, normalize=False)
    torch.manual_seed(0)
    img, msk = tf(image, mask)
    assert min(img.shape[1:]) >= 50 and img.shape[1:] == msk.shape


def test_eval_transform_full_size_and_normalised():
    image, mask = colour_coded_pair()
    img, msk = SegmentationTransform.eval()(image, mask)
    assert img.shape == (3, H, W) and img.dtype == torch.float32
    assert msk.dtype == torch.int64 and torch.equal(msk, mask)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    assert torch.allclose(img, (image.float() / 255 - mean) / std, atol=1e-5)
    img2, _ = SegmentationTransform(normalize=False)(image, mask)
    assert torch.allclose(img2, image.float() / 255, atol=1e-6)


def test_seeded_transform_is_reproducible():
    image, mask = colour_coded_pair()
    tf = SegmentationTransform(crop=32, scale=(0.7, 1.4), flip=True)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        outs.append(tf(image, mask))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    # and it is random across seeds
    draws = set()
    for s in range(8):
        torch.manual_seed(s)
        _, m = tf(image, mask)
        draws.add(m.numpy().tobytes())
    assert len(draws) > 1


def test_train_from_augment_params():
    from nasseg.config import AugmentParams

    tf = SegmentationTransform.train(AugmentParams(scale=(0.7, 1.4), min_side=40, crop=32, flip=True))
    image, mask = colour_coded_pair()
    torch.manual_seed(0)
    img, msk = tf(image, mask)
    assert img.shape == (3, 32, 32) and msk.shape == (32, 32)
