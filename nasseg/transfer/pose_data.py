"""Human pose estimation samples: Simple Baselines' top-down dataset.

The pipeline is Simple Baselines' (Xiao et al., ECCV 2018), which the paper's pose
transfer (Sect. 4.5) builds on: every annotated person is a
:class:`~nasseg.transfer.pose_formats.PersonRecord` with a box (``center``, ``scale``),
read by :mod:`nasseg.transfer.pose_formats` (COCO) or :mod:`nasseg.transfer.mpii`; a
sample is that box cropped to the network input by an affine warp (with scale, rotation
and flip augmentation when training) and a target of one Gaussian heatmap per joint at
``1/stride`` of the input resolution (:mod:`nasseg.transfer.pose_geometry` holds the
conventions).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..data.io import open_rgb
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError
from .pose_formats import PersonRecord
from .pose_geometry import compose_affine, crop_affine, flip_joints, gaussian_heatmaps, transform_points, warp_image


class PoseDataset(torch.utils.data.Dataset):
    """Simple Baselines' top-down samples: ``(image 3 x H x W normalised, heatmaps
    K x H/stride x W/stride, weight K)``, all float32, with ``input_wh = (W, H)``.

    Training draws, from torch's global RNG (4 numbers per sample, always):
    scale ``clip(randn * sf + 1, 1 - sf, 1 + sf)``, rotation ``clip(randn * rf, -2rf, 2rf)``
    with probability ``rotation_prob`` (else 0), and a horizontal flip with probability 0.5.
    ``sigma`` is in heatmap pixels at stride 4; at another stride ``sigma * 4 / stride``.
    """

    def __init__(self, records: Sequence[PersonRecord], *, input_wh=(96, 128), stride: int = 4, sigma: float = 2.0,
                 flip_pairs, train: bool, scale_factor: float = 0.35, rotation_factor: float = 40.0,
                 rotation_prob: float = 0.6, flip: bool = True):
        self.records = list(records)
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.stride = int(stride)
        if self.stride < 1 or self.input_wh[0] % self.stride or self.input_wh[1] % self.stride:
            raise DataError(f"pose input size {self.input_wh[0]}x{self.input_wh[1]} (WxH) is not divisible by the "
                            f"heatmap stride {stride}; choose a width and height that are multiples of the stride.")
        self.sigma = float(sigma)
        self.heatmap_sigma = self.sigma * 4.0 / self.stride
        self.flip_pairs = tuple(tuple(p) for p in flip_pairs)
        self.train = bool(train)
        self.scale_factor, self.rotation_factor = float(scale_factor), float(rotation_factor)
        self.rotation_prob, self.flip = float(rotation_prob), bool(flip)
        if self.records:
            k = len(self.records[0].joints)
            if self.flip_pairs and max(max(p) for p in self.flip_pairs) >= k:
                raise DataError(f"flip pairs {self.flip_pairs} name joints beyond the records' {k} joints; "
                                "use the flip pairs of the dataset (COCO_FLIP_PAIRS or MPII_FLIP_PAIRS).")
        self._mean = np.asarray(IMAGENET_MEAN, np.float32) * 255.0
        self._std = np.asarray(IMAGENET_STD, np.float32) * 255.0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def heatmap_wh(self) -> tuple[int, int]:
        return self.input_wh[0] // self.stride, self.input_wh[1] // self.stride

    def meta(self, i: int) -> dict:
        r = self.records[i]
        return {"center": r.center.copy(), "scale": r.scale.copy(), "image_id": r.image_id, "ann_id": r.ann_id,
                "area": r.area, "index": r.index}

    def augmentation(self) -> tuple[float, float, bool]:
        """(scale multiplier, rotation degrees, flip) drawn from torch's global RNG."""
        sf, rf = self.scale_factor, self.rotation_factor
        u = torch.randn(2).tolist()
        p = torch.rand(2).tolist()
        s = float(np.clip(u[0] * sf + 1.0, 1.0 - sf, 1.0 + sf))
        r = float(np.clip(u[1] * rf, -2.0 * rf, 2.0 * rf)) if p[0] < self.rotation_prob else 0.0
        return s, r, bool(self.flip and p[1] < 0.5)

    def __getitem__(self, i: int):
        if self.train:
            s, r, f = self.augmentation()
            return self.sample(i, scale=s, rotation=r, flip=f)
        return self.sample(i)

    def sample(self, i: int, *, scale: float = 1.0, rotation: float = 0.0, flip: bool = False):
        """The sample of record ``i`` under a given augmentation (no randomness)."""
        rec = self.records[i]
        im = open_rgb(rec.image)
        width = im.width
        center, joints, vis = rec.center.copy(), rec.joints, rec.visible
        if flip:
            joints, vis = flip_joints(joints, vis, width, self.flip_pairs)
            center[0] = width - 1 - center[0]
        m = crop_affine(center, rec.scale * scale, rotation, self.input_wh)
        m_img = compose_affine(m, np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]])) if flip else m
        crop = np.asarray(warp_image(im, m_img, self.input_wh), np.float32)
        image = torch.from_numpy(((crop - self._mean) / self._std).transpose(2, 0, 1).copy())
        maps, weight = gaussian_heatmaps(transform_points(joints, m), vis, self.input_wh, self.stride,
                                         self.heatmap_sigma)
        return image, torch.from_numpy(maps), torch.from_numpy(weight)
