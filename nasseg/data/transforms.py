"""Joint image + mask transforms, in plain torch.

Images go through bilinear resizing, masks through nearest; padding fills images with
the ImageNet mean (0 after normalisation) and masks with void (255).

The tensor ops (``resize``, ``pad``, ``to_float``, ``normalize``) give the same bits as the
``torchvision.transforms.v2.functional`` ops they replace, and the transforms draw the same
numbers from torch's global RNG as the v2 pipeline did (RandomCrop with ``pad_if_needed``,
RandomHorizontalFlip, ToDtype, Normalize), so that stage processes need not import
torchvision (~1.6 s). ``tests/test_transforms_exact.py`` checks both against torchvision.
Images are ``... x C x H x W``; a 2-D tensor is taken as one ``H x W`` mask.
"""
from __future__ import annotations

import platform
from typing import Sequence, Union

import torch
from torch.nn.functional import interpolate
from torch.nn.functional import pad as torch_pad

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_MEAN_U8 = tuple(int(round(255 * m)) for m in IMAGENET_MEAN)
VOID = 255

Fill = Union[int, float, Sequence[float]]
_ROUNDED = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _native_uint8(mode: str, device: torch.device) -> bool:
    """Whether ``interpolate`` takes uint8 directly: nearest modes anywhere, bilinear only on
    CPUs with the AVX2 / AVX-512 or ARM kernel; elsewhere uint8 goes through float32."""
    if mode == "nearest-exact":
        return True
    if device.type != "cpu":
        return False
    if torch.compiler.is_compiling() or torch.jit.is_scripting():
        return True
    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512") or platform.machine() in ("aarch64", "arm64")


def resize(image: torch.Tensor, size: Sequence[int], mode: str = "bilinear", antialias: bool = True) -> torch.Tensor:
    """``image`` resized to ``size`` (H, W) with ``mode`` "bilinear" (half-pixel centres,
    ``antialias`` when shrinking) or "nearest-exact" (never antialiased). Integer dtypes
    without a native kernel are resized in float32 and rounded back. The same size returns
    ``image`` itself."""
    if mode not in ("bilinear", "nearest-exact"):
        raise ValueError(f"resize: mode must be 'bilinear' or 'nearest-exact', got {mode!r}")
    if image.ndim == 2:
        return resize(image.unsqueeze(0), size, mode, antialias).squeeze(0)
    shape, numel = image.shape, image.numel()
    c, h, w = shape[-3:]
    new_h, new_w = int(size[0]), int(size[1])
    if (new_h, new_w) == (h, w):
        return image
    if numel > 0:
        dtype = image.dtype
        image = image.reshape(-1, c, h, w)
        strides = list(image.stride())
        if image.shape[0] == 1 and image.is_contiguous(memory_format=torch.channels_last) and numel != strides[0]:
            # a lone channels-last image: restride the fake batch dim so that interpolate keeps
            # the channels-last layout (torchvision does the same; the uint8 kernel follows it)
            strides[0] = numel
            image = image.as_strided((1, c, h, w), strides)
        cast = dtype not in (torch.float32, torch.float64) and not (
            dtype == torch.uint8 and _native_uint8(mode, image.device))
        if cast:
            image = image.to(dtype=torch.float32)
        bilinear = mode == "bilinear"
        image = interpolate(image, size=[new_h, new_w], mode=mode, align_corners=False if bilinear else None,
                            antialias=antialias and bilinear)
        if cast:
            if dtype in _ROUNDED:
                image = image.round_()
            image = image.to(dtype=dtype)
    return image.reshape(shape[:-3] + (c, new_h, new_w))


def pad(image: torch.Tensor, padding: Sequence[int], fill: Fill = 0) -> torch.Tensor:
    """``image`` padded by ``padding`` = (left, top, right, bottom) pixels with the constant
    ``fill``: a scalar, or one value per channel (cast to the image dtype)."""
    if image.ndim == 2:
        return pad(image.unsqueeze(0), padding, fill).squeeze(0)
    left, top, right, bottom = (int(p) for p in padding)
    per_channel = isinstance(fill, (tuple, list)) and len(fill) != 1
    scalar = 0.0 if per_channel else float(fill[0] if isinstance(fill, (tuple, list)) else fill)
    shape = image.shape
    c, h, w = shape[-3:]
    out = torch_pad(image.reshape(-1, c, h, w), [left, right, top, bottom], mode="constant", value=scalar)
    if per_channel:
        # built as float32 first, then cast, as torchvision does (no implicit float -> int)
        value = torch.tensor([float(v) for v in fill], device=image.device).to(dtype=image.dtype).reshape(-1, 1, 1)
        if top > 0:
            out[..., :top, :] = value
        if left > 0:
            out[..., :, :left] = value
        if bottom > 0:
            out[..., -bottom:, :] = value
        if right > 0:
            out[..., :, -right:] = value
    return out.reshape(shape[:-3] + (c,) + tuple(out.shape[-2:]))


def to_float(image: torch.Tensor) -> torch.Tensor:
    """A uint8 image as float32 in [0, 1] (times ``1.0 / 255``, not divided by 255); float32
    passes through, other floats are cast without scaling."""
    if image.dtype == torch.float32:
        return image
    if image.is_floating_point():
        return image.to(torch.float32)
    if image.dtype != torch.uint8:
        raise TypeError(f"to_float: expected a uint8 or float image, got {image.dtype}")
    return image.to(torch.float32).mul_(1.0 / 255)


def normalize(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(image - mean) / std`` per channel, the statistics cast to the image dtype first."""
    if not image.is_floating_point():
        raise TypeError(f"normalize: expected a float image, got {image.dtype}")
    if not all(std):
        raise ValueError("normalize: a std of zero would divide by zero")
    mean_t = torch.as_tensor(mean, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    return image.sub(mean_t).div_(std_t)


class RandomScale:
    """Rescale image and mask by one factor drawn from ``scale``; the shorter side never
    drops below ``min_side``."""

    def __init__(self, scale: tuple[float, float] = (0.7, 1.4), min_side: int = 0):
        self.low, self.high = float(scale[0]), float(scale[1])
        self.min_side = int(min_side)

    def __call__(self, image, mask):
        h, w = image.shape[-2:]
        s = self.low + (self.high - self.low) * float(torch.rand(()))
        s = max(s, self.min_side / min(h, w)) if self.min_side else s
        size = [max(1, round(h * s)), max(1, round(w * s))]
        # NEAREST_EXACT samples at pixel centres like bilinear does; plain NEAREST would
        # shift the mask by up to half a pixel against the image.
        return resize(image, size, "bilinear", antialias=True), resize(mask, size, "nearest-exact")


def random_crop(image: torch.Tensor, mask: torch.Tensor, crop: int):
    """A random ``crop`` x ``crop`` window of the pair. A side shorter than ``crop`` by ``d``
    is first padded by ``d`` on both ends (image: ImageNet mean, mask: void), so the image
    lands at a random offset; one ``randint`` per side whose padded length differs from ``crop``."""
    h, w = image.shape[-2:]
    if tuple(mask.shape[-2:]) != (h, w):
        raise ValueError(f"random_crop: image {h}x{w} and mask {tuple(mask.shape[-2:])} (HxW) differ")
    dh, dw = max(crop - h, 0), max(crop - w, 0)
    ph, pw = h + 2 * dh, w + 2 * dw
    top = int(torch.randint(0, ph - crop + 1, size=())) if ph > crop else 0
    left = int(torch.randint(0, pw - crop + 1, size=())) if pw > crop else 0
    if dh or dw:
        padding = [dw, dh, dw, dh]  # left, top, right, bottom
        image = pad(image, padding, fill=[float(v) for v in IMAGENET_MEAN_U8])
        mask = pad(mask, padding, fill=VOID)
    return image[..., top:top + crop, left:left + crop], mask[..., top:top + crop, left:left + crop]


class SegmentationTransform:
    """Training or evaluation transform of an ``(image uint8 3xHxW, mask int64 HxW)`` pair.

    Returns a float32 normalised image and an int64 mask (plain tensors).
    ``crop=None`` keeps the full image (evaluation)."""

    def __init__(self, *, crop: int | None = None, scale: tuple[float, float] | None = None,
                 min_side: int = 0, flip: bool = False, normalize: bool = True):
        self.scale = None if scale is None else RandomScale(scale, min_side)
        self.crop = None if crop is None else int(crop)
        self.flip = bool(flip)
        self.normalize = bool(normalize)

    @classmethod
    def train(cls, augment) -> "SegmentationTransform":
        """From the ``data.augment`` params section."""
        return cls(crop=augment.crop, scale=tuple(augment.scale), min_side=augment.min_side, flip=augment.flip)

    @classmethod
    def eval(cls) -> "SegmentationTransform":
        return cls()

    def __call__(self, image: torch.Tensor, mask: torch.Tensor):
        image, mask = image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)
        if self.scale is not None:
            image, mask = self.scale(image, mask)
        if self.crop is not None:
            image, mask = random_crop(image, mask, self.crop)
        if self.flip and torch.rand(1) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        image = to_float(image)
        if self.normalize:
            image = normalize(image, IMAGENET_MEAN, IMAGENET_STD)
        return image, mask.long()
