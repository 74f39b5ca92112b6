"""Simple Baselines' crop geometry and heatmaps: affine crops, Gaussian targets, flips, decoding.

Conventions (used everywhere here, by :class:`nasseg.transfer.pose_data.PoseDataset` and
by the predictions mapped back to the image):

* **Pixel coordinates**: integer coordinates are pixel *centres*, 0-based; pixel ``i``
  covers ``[i - 0.5, i + 0.5]``.
* **Crops**: :func:`crop_affine` maps the box of size ``scale`` (w, h) around ``center``
  onto the whole crop: the box's outer edges land on the crop's outer pixel edges
  (``-0.5`` and ``out_w - 0.5``), and ``center`` lands on ``((out_w-1)/2, (out_h-1)/2)``.
  (Simple Baselines maps the centre to ``out_w/2`` with OpenCV, half a pixel off; with
  this convention a horizontal flip is exact, so :func:`flip_back` needs no one-pixel
  shift.)
* **Heatmaps**: heatmap pixel ``j`` covers crop pixels ``j*stride .. (j+1)*stride - 1``,
  so a crop coordinate ``x`` is at heatmap coordinate ``(x + 0.5) / stride - 0.5`` and
  back ``(u + 0.5) * stride - 0.5`` (:func:`crop_to_heatmap`, :func:`heatmap_to_crop`).
  The Gaussian is centred on the joint's exact sub-pixel position.
* **sigma**: :func:`gaussian_heatmaps` takes sigma in pixels of the heatmap it draws;
  :class:`~nasseg.transfer.pose_data.PoseDataset` takes it in heatmap pixels *at stride 4*
  (Simple Baselines' 2.0) and uses ``sigma * 4 / stride``, so the Gaussian keeps its size
  in input pixels.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from ..data.transforms import IMAGENET_MEAN_U8
from ..errors import DataError


def crop_affine(center, scale_wh, rotation_deg: float, out_wh) -> np.ndarray:
    """(2, 3) affine map from source pixel coordinates to crop coordinates.

    The box of size ``scale_wh`` around ``center``, rotated by ``rotation_deg`` (Simple
    Baselines' sign: positive turns the box clockwise on screen, so the content turns
    counter-clockwise in the crop), fills the ``out_wh`` crop: ``center`` goes to
    ``((out_w-1)/2, (out_h-1)/2)`` and the box's edges to the crop's outer pixel edges.
    """
    cx, cy = (float(v) for v in center)
    sw, sh = (float(v) for v in scale_wh)
    ow, oh = out_wh
    t = math.radians(float(rotation_deg))
    c, s = math.cos(t), math.sin(t)
    a = np.array([[c, s], [-s, c]]) * np.array([[ow / sw], [oh / sh]])
    b = np.array([(ow - 1) / 2.0, (oh - 1) / 2.0]) - a @ np.array([cx, cy])
    return np.hstack([a, b[:, None]])


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The (2, 3) inverse of a (2, 3) affine map."""
    m = np.asarray(m, np.float64)
    ai = np.linalg.inv(m[:, :2])
    return np.hstack([ai, (-ai @ m[:, 2])[:, None]])


def compose_affine(m2: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """``m2 o m1`` (apply ``m1`` first)."""
    return np.hstack([m2[:, :2] @ m1[:, :2], (m2[:, :2] @ m1[:, 2] + m2[:, 2])[:, None]])


def transform_points(points, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine map to (..., 2) points."""
    p = np.asarray(points, np.float64)
    return p @ m[:, :2].T + m[:, 2]


def warp_image(image: Image.Image, m: np.ndarray, out_wh) -> Image.Image:
    """Bilinear warp of ``image`` by ``m`` (source -> crop) to an ``out_wh`` RGB crop, filled
    with the ImageNet mean outside the source. PIL samples at (pixel index + 0.5); the
    0.5 shifts convert from this module's pixel-centre convention."""
    inv = invert_affine(m)
    a = inv[:, :2]
    b = inv[:, 2] + 0.5 - a @ np.array([0.5, 0.5])
    data = (a[0, 0], a[0, 1], b[0], a[1, 0], a[1, 1], b[1])
    fill = IMAGENET_MEAN_U8 if image.mode == "RGB" else IMAGENET_MEAN_U8[0]
    return image.transform((int(out_wh[0]), int(out_wh[1])), Image.AFFINE, data, resample=Image.BILINEAR,
                           fillcolor=fill)


def crop_to_heatmap(xy, stride: int):
    """Crop (input) pixel coordinates -> heatmap pixel coordinates: ``(x + 0.5) / stride - 0.5``."""
    return (np.asarray(xy, np.float64) + 0.5) / stride - 0.5


def heatmap_to_crop(xy_heatmap, stride: int):
    """Heatmap pixel coordinates -> crop pixel coordinates: ``(u + 0.5) * stride - 0.5``."""
    return (np.asarray(xy_heatmap, np.float64) + 0.5) * stride - 0.5


def heatmap_to_image(coords, centers, scales, input_wh, stride: int, rotations=None) -> np.ndarray:
    """(N, K, 2) heatmap coordinates -> source image pixels, given each sample's crop box
    (``centers``, ``scales`` (N, 2), optional ``rotations`` in degrees)."""
    coords = np.asarray(coords, np.float64)
    out = np.empty_like(coords)
    for n in range(coords.shape[0]):
        rot = 0.0 if rotations is None else float(rotations[n])
        inv = invert_affine(crop_affine(centers[n], scales[n], rot, input_wh))
        out[n] = transform_points(heatmap_to_crop(coords[n], stride), inv)
    return out


def gaussian_heatmaps(joints_in_crop, visible, input_wh, stride: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Target heatmaps float32 (K, H/stride, W/stride) and weights float32 (K,).

    Each map is exp(-d^2 / (2 sigma^2)) around the joint's sub-pixel heatmap position
    ((x + 0.5)/stride - 0.5), ``sigma`` in heatmap pixels, cut to the box within 3 sigma
    (Simple Baselines' patch). Weight 0, and an all-zero map, for joints not labelled and
    for joints whose 3-sigma box misses every heatmap pixel.
    """
    w_in, h_in = (int(v) for v in input_wh)
    if w_in % stride or h_in % stride:
        raise DataError(f"input size {w_in}x{h_in} is not divisible by the heatmap stride {stride}; "
                        "choose an input width and height that are multiples of the stride.")
    w, h = w_in // stride, h_in // stride
    vis = np.asarray(visible, np.float64).reshape(-1) > 0
    mu = crop_to_heatmap(np.where(vis[:, None], np.asarray(joints_in_crop, np.float64), -1e6), stride)
    mu = np.nan_to_num(mu, nan=-1e6)
    radius = 3.0 * sigma
    dx = np.arange(w)[None, :] - mu[:, 0:1]
    dy = np.arange(h)[None, :] - mu[:, 1:2]
    gx = np.where(np.abs(dx) <= radius, np.exp(-dx ** 2 / (2 * sigma ** 2)), 0.0)
    gy = np.where(np.abs(dy) <= radius, np.exp(-dy ** 2 / (2 * sigma ** 2)), 0.0)
    keep = vis & (gx.max(1) > 0) & (gy.max(1) > 0)
    maps = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    maps[~keep] = 0.0
    return maps, keep.astype(np.float32)


def _flip_perm(k: int, flip_pairs) -> list[int]:
    perm = list(range(k))
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


def flip_back(heatmaps, flip_pairs):
    """Mirror (N, K, h, w) heatmaps horizontally and swap left/right channels (torch or numpy).
    Exact (no one-pixel shift) with this module's pixel-centre convention."""
    perm = _flip_perm(heatmaps.shape[1], flip_pairs)
    if torch.is_tensor(heatmaps):
        return torch.flip(heatmaps, dims=[-1])[:, perm]
    return np.ascontiguousarray(np.asarray(heatmaps)[..., ::-1][:, perm])


def flip_joints(joints, visible, width: int, flip_pairs) -> tuple[np.ndarray, np.ndarray]:
    """Joints of the horizontally flipped image: x -> width - 1 - x, left/right rows swapped.
    Unlabelled joints are zeroed (as Simple Baselines' ``fliplr_joints``)."""
    j = np.asarray(joints, np.float64).copy()
    v = np.asarray(visible).copy()
    j[:, 0] = width - 1 - j[:, 0]
    perm = _flip_perm(len(j), flip_pairs)
    j, v = j[perm], v[perm]
    return j * (v.reshape(-1, 1) > 0), v


def decode_heatmaps(heatmaps):
    """Argmax of each map with Simple Baselines' quarter-pixel shift towards the higher
    neighbour (x and y separately, where both neighbours exist).

    Returns ``(coords (N, K, 2) heatmap pixels, maxvals (N, K))``, torch tensors for a
    tensor input (same device), numpy float32 otherwise. As Simple Baselines, coords are 0
    where the map's maximum is not positive."""
    is_tensor = torch.is_tensor(heatmaps)
    t = heatmaps.detach().float() if is_tensor else torch.as_tensor(np.asarray(heatmaps, np.float32))
    n, k, h, w = t.shape
    flat = t.reshape(n, k, h * w)
    maxvals, idx = flat.max(dim=-1)
    px, py = idx % w, torch.div(idx, w, rounding_mode="floor")

    def at(y, x):
        return flat.gather(-1, (y.clamp(0, h - 1) * w + x.clamp(0, w - 1)).unsqueeze(-1)).squeeze(-1)

    dx = torch.sign(at(py, px + 1) - at(py, px - 1)) * ((px > 0) & (px < w - 1))
    dy = torch.sign(at(py + 1, px) - at(py - 1, px)) * ((py > 0) & (py < h - 1))
    coords = torch.stack([px.float() + 0.25 * dx, py.float() + 0.25 * dy], dim=-1)
    coords = coords * (maxvals > 0).unsqueeze(-1)
    if is_tensor:
        return coords, maxvals
    return coords.numpy(), maxvals.numpy()
