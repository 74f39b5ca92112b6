"""Predictions as pictures: class masks and overlays, depth maps, skeletons (``nasseg predict``'s files).

* a mask is a palette ('P') PNG with the VOC colours, as VOC's ``SegmentationClass`` files;
  an overlay blends every non-background class into the image in its colour;
* depth is drawn through ``magma_r`` over a fixed range (near = bright, far = dark; the same
  colour means the same depth in every image) and stored as 16-bit millimetres (NYU's raw
  convention);
* a skeleton is COCO's 17 or MPII's 16 joints as coloured limbs and white-rimmed dots.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageDraw

from ..data.labels import VOID, voc_colormap
from ..errors import NassegError

DEPTH_CMAP = "magma_r"


def colorize(mask: np.ndarray) -> Image.Image:
    """A palette ('P') image of the class ids with the VOC colours, as VOC's SegmentationClass PNGs."""
    m = np.ascontiguousarray(mask, np.uint8)
    im = Image.frombytes("P", (m.shape[1], m.shape[0]), m.tobytes())
    im.putpalette(voc_colormap(256).reshape(-1).tolist())
    return im


def overlay(image: Image.Image, mask: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The image with each pixel of a non-background class blended with its VOC colour:
    ``(1 - alpha) * image + alpha * colour``. Background (0) and void (255) pixels are left
    untouched, so the scene stays visible where nothing was found."""
    if not 0.0 <= alpha <= 1.0:
        raise NassegError(f"--alpha {alpha}: the overlay's opacity must lie in [0, 1].")
    rgb = np.asarray(image.convert("RGB"), np.float32)
    mask = np.asarray(mask)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"overlay: mask {mask.shape} and image {rgb.shape[:2]} (H, W) differ")
    colour = voc_colormap(256)[mask.astype(np.uint8)].astype(np.float32)
    fg = ((mask != 0) & (mask != VOID))[..., None]
    out = np.where(fg, (1.0 - alpha) * rgb + alpha * colour, rgb)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")

def depth_colormap(depth: np.ndarray, max_depth: float, *, cmap: str = DEPTH_CMAP,
                   min_depth: float = 0.0) -> Image.Image:
    """An RGB rendering of metres over the fixed range ``[min_depth, max_depth]`` (the same
    colours mean the same depth in every image). With the default ``magma_r``, near is bright
    (light yellow) and far is dark (black-purple)."""
    from matplotlib import colormaps

    span = max(float(max_depth) - float(min_depth), 1e-9)
    t = np.clip((np.asarray(depth, np.float64) - min_depth) / span, 0.0, 1.0)
    rgba = colormaps[cmap](t, bytes=True)
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres, ``round(depth * 1000)`` clipped to 0..65535."""
    return np.clip(np.rint(np.asarray(depth, np.float64) * 1000.0), 0, 65535).astype(np.uint16)


def save_depth_png16(depth: np.ndarray, path: Path) -> Path:
    """A 16-bit grey PNG of depth in millimetres (NYU raw / ``read_depth_png`` convention)."""
    mm = depth_to_mm(depth)
    Image.frombytes("I;16", (mm.shape[1], mm.shape[0]), mm.astype("<u2").tobytes()).save(path)
    return Path(path)


def skeleton_of(k: int) -> tuple[tuple, tuple[str, ...]]:
    """(limbs, joint names) for K joints: COCO's 17 keypoints, MPII's 16 joints, else no limbs."""
    from ..transfer.pose_formats import COCO_KEYPOINTS, COCO_SKELETON, MPII_JOINTS, MPII_SKELETON

    if k == len(COCO_KEYPOINTS):
        return COCO_SKELETON, COCO_KEYPOINTS
    if k == len(MPII_JOINTS):
        return MPII_SKELETON, MPII_JOINTS
    return (), tuple(f"joint_{i}" for i in range(k))


def _limb_colours(n: int) -> list[tuple[int, int, int]]:
    from matplotlib import colormaps

    cm = colormaps["hsv"]
    return [tuple(int(c) for c in cm(i / max(n, 1), bytes=True)[:3]) for i in range(n)]


def draw_skeleton(image: Image.Image, joints: np.ndarray, scores: np.ndarray, skeleton: Iterable = None,
                  threshold: float = 0.2) -> Image.Image:
    """An RGB copy of the image with limbs as coloured lines and joints as white-rimmed dots;
    joints scoring below ``threshold`` (and limbs touching them) are not drawn. ``skeleton``
    defaults to COCO's (17 joints) or MPII's (16)."""
    out = image.convert("RGB").copy()
    joints = np.asarray(joints, np.float64)
    scores = np.asarray(scores, np.float64)
    limbs = skeleton_of(len(joints))[0] if skeleton is None else tuple(skeleton)
    draw = ImageDraw.Draw(out)
    size = max(out.width, out.height)
    width, radius = max(1, round(size / 160)), max(2, round(size / 110))
    ok = scores >= threshold
    for (a, b), colour in zip(limbs, _limb_colours(len(limbs))):
        if ok[a] and ok[b]:
            draw.line([tuple(joints[a]), tuple(joints[b])], fill=colour, width=width)
    for (x, y), good in zip(joints, ok):
        if good:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 64, 64),
                         outline=(255, 255, 255))
    return out
