"""Joint image + mask transforms (torchvision transforms v2).

Images go through bilinear resizing, masks through nearest; padding fills images with
the ImageNet mean (0 after normalisation) and masks with void (255).
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_MEAN_U8 = tuple(int(round(255 * m)) for m in IMAGENET_MEAN)


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
        return F.resize(image, size, antialias=True), F.resize(mask, size, interpolation=F.InterpolationMode.NEAREST_EXACT)


class SegmentationTransform:
    """Training or evaluation transform of an ``(image uint8 3xHxW, mask int64 HxW)`` pair.

    Returns a float32 normalised image and an int64 mask (plain tensors).
    ``crop=None`` keeps the full image (evaluation)."""

    def __init__(self, *, crop: int | None = None, scale: tuple[float, float] | None = None,
                 min_side: int = 0, flip: bool = False, normalize: bool = True):
        steps = []
        if scale is not None:
            steps.append(RandomScale(scale, min_side))
        if crop is not None:
            steps.append(v2.RandomCrop(crop, pad_if_needed=True,
                                       fill={tv_tensors.Image: IMAGENET_MEAN_U8, tv_tensors.Mask: 255}))
        if flip:
            steps.append(v2.RandomHorizontalFlip(0.5))
        steps.append(v2.ToDtype(torch.float32, scale=True))  # images only; masks keep int64
        if normalize:
            steps.append(v2.Normalize(IMAGENET_MEAN, IMAGENET_STD))
        self.pipeline = v2.Compose(steps)

    @classmethod
    def train(cls, augment) -> "SegmentationTransform":
        """From the ``data.augment`` params section."""
        return cls(crop=augment.crop, scale=tuple(augment.scale), min_side=augment.min_side, flip=augment.flip)

    @classmethod
    def eval(cls) -> "SegmentationTransform":
        return cls()

    def __call__(self, image: torch.Tensor, mask: torch.Tensor):
        img, msk = self.pipeline(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return img.as_subclass(torch.Tensor), msk.as_subclass(torch.Tensor).long()
