"""The embedded pose default: synthetic figures written in the COCO keypoints and MPII formats.

Nothing can be downloaded at run time, so the pose transfer runs on small rendered images
of limbed figures, written exactly as the real annotation files are (COCO
``person_keypoints_<split>.json``; MPII as HRNet's ``annot/<split>.json`` plus
``gt_valid.mat``), so that the loaders of :mod:`nasseg.transfer.pose_formats` and
:mod:`nasseg.transfer.mpii` that read the real data are the ones that run.

A figure has the 17 COCO keypoints plus MPII's pelvis (mid-hips), thorax
(mid-shoulders), upper neck and head top, in a random pose (torso lean, shoulder and hip
abduction, elbow and knee flexion, head tilt and turn), size and position, on a textured
background with clutter shapes (thick lines among them, which look like limbs) and
sometimes a foreground occluder. Figures face the camera (eyes, nose and ears on the
head, hair on top), so the person's left is on the image's right.

**Left vs right.** Every limb segment carries a thin stripe along one of its edges: on
the side a quarter turn clockwise (on screen) from the limb's proximal-to-distal
direction for left limbs, counter-clockwise for right limbs. The cue is *chiral*: the
mirror image of a left limb looks exactly like a right limb. That is what horizontal
flip augmentation and the flip test need (they mirror the image and swap the left/right
labels); a colour per side would be mirrored onto the wrong label and make flipping
contradict the data.

Occlusion: COCO ``v = 1`` where another figure or a foreground occluder covers the
joint's pixel, ``v = 0`` (and x = y = 0) outside the image. MPII ``joints_vis`` is 0
outside the image (joints written as [-1, -1]) and 1 otherwise, occluded or not, as
MPII annotates occluded joints.

Everything is a pure function of (seed, split, index) (:func:`nasseg.synthetic.seeding.scene_rng`);
JPEGs are written by PIL at a fixed quality, so the same call gives the same bytes.
"""
from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image, ImageDraw

from ..transfer.mpii import write_mpii_gt
from ..transfer.pose_formats import COCO_KEYPOINTS, COCO_SKELETON, MPII_JOINTS
from .seeding import scene_rng

JPEG_QUALITY = 90

POINT_NAMES = COCO_KEYPOINTS + ("pelvis", "thorax", "upper_neck", "head_top")
MPII_FROM_POINTS = {
    "r_ankle": "right_ankle", "r_knee": "right_knee", "r_hip": "right_hip", "l_hip": "left_hip",
    "l_knee": "left_knee", "l_ankle": "left_ankle", "pelvis": "pelvis", "thorax": "thorax",
    "upper_neck": "upper_neck", "head_top": "head_top", "r_wrist": "right_wrist", "r_elbow": "right_elbow",
    "r_shoulder": "right_shoulder", "l_shoulder": "left_shoulder", "l_elbow": "left_elbow", "l_wrist": "left_wrist",
}
SKIN = ((241, 194, 160), (224, 172, 125), (198, 134, 86), (141, 85, 54), (94, 58, 38))
HAIR = ((30, 25, 20), (80, 50, 30), (150, 110, 60), (200, 170, 110), (110, 110, 110))
OCCLUDER = 255  # owner value of foreground occluders

_SPLIT_BASE_COCO = {"train2017": 0, "val2017": 500_000}
_SPLIT_BASE_MPII = {"train": 0, "valid": 500_000_000, "test": 800_000_000}


def _unit(deg: float) -> np.ndarray:
    """Up vector of a body part leaning ``deg`` clockwise on screen (image y points down)."""
    t = math.radians(deg)
    return np.array([math.sin(t), -math.cos(t)])


def _rot(v: np.ndarray, deg: float) -> np.ndarray:
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@dataclass
class Figure:
    points: dict            # name -> (2,) float pixels (0-based, pixel centres at integers)
    head_center: np.ndarray
    head_radius: float
    head_up: np.ndarray
    head_side: np.ndarray   # towards the person's left (the image's right)
    arm_width: float
    leg_width: float
    skin: tuple
    hair: tuple
    shirt: tuple
    trousers: tuple
    shoes: tuple

    def extent(self) -> tuple[float, float, float, float]:
        pts = np.array(list(self.points.values()))
        c, r = self.head_center, self.head_radius
        x0, y0 = min(pts[:, 0].min(), c[0] - r), min(pts[:, 1].min(), c[1] - r)
        x1, y1 = max(pts[:, 0].max(), c[0] + r), max(pts[:, 1].max(), c[1] + r)
        return float(x0), float(y0), float(x1), float(y1)


def _colour(rng: np.random.Generator) -> tuple:
    return tuple(int(v) for v in rng.integers(20, 236, 3))


def make_figure(rng: np.random.Generator, height: float, pelvis) -> Figure:
    """A random front-facing figure about ``height`` px tall (head top to ankles) with its pelvis at ``pelvis``."""
    h = float(height)
    g = lambda: float(rng.uniform(0.9, 1.1))  # noqa: E731  per-segment proportion jitter
    lean = float(np.clip(rng.normal(0, 12), -35, 35)) if rng.random() > 0.1 else float(rng.uniform(-60, 60))
    up = _unit(lean)
    side = np.array([math.cos(math.radians(lean)), math.sin(math.radians(lean))])  # up turned 90 deg clockwise
    down = -up
    p = np.asarray(pelvis, np.float64)
    thorax = p + 0.30 * h * g() * up
    sh, hp = 0.11 * h * g(), 0.075 * h * g()
    pts = {
        "pelvis": p, "thorax": thorax,
        "left_shoulder": thorax + sh * side, "right_shoulder": thorax - sh * side,
        "left_hip": p + hp * side, "right_hip": p - hp * side,
    }
    neck = thorax + 0.045 * h * up
    tilt = lean + float(np.clip(rng.normal(0, 12), -30, 30))
    hu = _unit(tilt)
    hs = np.array([math.cos(math.radians(tilt)), math.sin(math.radians(tilt))])
    r = 0.07 * h * g()
    hc = neck + 0.95 * r * hu
    yaw = float(rng.uniform(-0.45, 0.45))
    pts.update({
        "upper_neck": neck, "head_top": hc + r * hu,
        "nose": hc - 0.18 * r * hu + 0.5 * yaw * r * hs,
        "left_eye": hc + 0.18 * r * hu + (0.38 + 0.4 * yaw) * r * hs,
        "right_eye": hc + 0.18 * r * hu + (-0.38 + 0.4 * yaw) * r * hs,
        "left_ear": hc + 0.05 * r * hu + (0.9 + 0.1 * yaw) * r * hs,
        "right_ear": hc + 0.05 * r * hu + (-0.9 + 0.1 * yaw) * r * hs,
    })
    for sign, prefix in ((1.0, "left"), (-1.0, "right")):
        a = float(rng.uniform(-15, 175)) if rng.random() < 0.8 else float(rng.uniform(-15, 60))
        d1 = math.cos(math.radians(a)) * down + math.sin(math.radians(a)) * sign * side
        elbow = pts[f"{prefix}_shoulder"] + 0.16 * h * g() * d1
        bend = float(rng.uniform(0, 145)) * (1 if rng.random() < 0.5 else -1)
        pts[f"{prefix}_elbow"] = elbow
        pts[f"{prefix}_wrist"] = elbow + 0.14 * h * g() * _rot(d1, bend)
        a = float(rng.uniform(-12, 35)) if rng.random() < 0.85 else float(rng.uniform(35, 95))
        d1 = math.cos(math.radians(a)) * down + math.sin(math.radians(a)) * sign * side
        knee = pts[f"{prefix}_hip"] + 0.23 * h * g() * d1
        bend = float(rng.uniform(0, 30)) if rng.random() < 0.7 else float(rng.uniform(30, 115))
        pts[f"{prefix}_knee"] = knee
        pts[f"{prefix}_ankle"] = knee + 0.23 * h * g() * _rot(d1, bend * (1 if rng.random() < 0.5 else -1))
    skin = SKIN[int(rng.integers(len(SKIN)))]
    return Figure(
        points={k: np.asarray(pts[k], np.float64) for k in POINT_NAMES}, head_center=hc, head_radius=r,
        head_up=hu, head_side=hs, arm_width=max(3.0, 0.07 * h), leg_width=max(3.0, 0.085 * h), skin=skin,
        hair=HAIR[int(rng.integers(len(HAIR)))], shirt=_colour(rng), trousers=_colour(rng),
        shoes=tuple(int(v) for v in rng.integers(10, 90, 3)))


# ----------------------------------------------------------------------------- drawing

def _contrast(c: tuple) -> tuple:
    lum = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    return (20, 20, 20) if lum > 110 else (240, 240, 240)


def _disc(draw: ImageDraw.ImageDraw, c, r: float, fill) -> None:
    draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=fill)


def _segment(rgb, own, a, b, width: float, colour, chirality: float, fid: int, end_colour=None) -> None:
    """A limb segment with round ends and its chiral edge stripe (+1 left limbs, -1 right)."""
    a, b = np.asarray(a), np.asarray(b)
    w = int(round(width))
    for draw, fill in ((rgb, colour), (own, fid)):
        draw.line([tuple(a), tuple(b)], fill=fill, width=w)
        _disc(draw, a, width / 2, fill)
        _disc(draw, b, width / 2, end_colour if (end_colour is not None and draw is rgb) else fill)
    d = b - a
    length = float(np.hypot(*d))
    if length < 2:
        return
    n = np.array([-d[1], d[0]]) / length  # a quarter turn clockwise on screen (y down)
    off = chirality * 0.3 * width * n
    rgb.line([tuple(a + 0.15 * d + off), tuple(b - 0.2 * d + off)], fill=_contrast(colour),
             width=max(1, int(round(0.28 * width))))


def draw_figure(rgb: ImageDraw.ImageDraw, own: ImageDraw.ImageDraw, fig: Figure, fid: int,
                rng: np.random.Generator) -> None:
    p = fig.points
    legs = [("left", 1.0), ("right", -1.0)]
    arms = [("left", 1.0), ("right", -1.0)]
    if rng.random() < 0.5:
        legs.reverse()
    if rng.random() < 0.5:
        arms.reverse()
    for side, chir in legs:
        _segment(rgb, own, p[f"{side}_hip"], p[f"{side}_knee"], fig.leg_width, fig.trousers, chir, fid)
        _segment(rgb, own, p[f"{side}_knee"], p[f"{side}_ankle"], fig.leg_width * 0.9, fig.trousers, chir, fid,
                 end_colour=fig.shoes)
    up = fig.head_up
    s = p["left_shoulder"] - p["thorax"]
    s = s / max(1e-6, float(np.hypot(*s)))
    torso = [p["left_shoulder"] + 0.4 * fig.arm_width * s, p["right_shoulder"] - 0.4 * fig.arm_width * s,
             p["right_hip"] - 0.4 * fig.leg_width * s, p["left_hip"] + 0.4 * fig.leg_width * s]
    for draw, fill in ((rgb, fig.shirt), (own, fid)):
        draw.polygon([tuple(q) for q in torso], fill=fill)
        draw.line([tuple(p["thorax"]), tuple(fig.head_center)], fill=fill if draw is own else fig.skin,
                  width=int(round(max(2.0, 0.6 * fig.arm_width))))
    for side, chir in arms:
        _segment(rgb, own, p[f"{side}_shoulder"], p[f"{side}_elbow"], fig.arm_width, fig.shirt, chir, fid)
        _segment(rgb, own, p[f"{side}_elbow"], p[f"{side}_wrist"], fig.arm_width * 0.85, fig.skin, chir, fid)
    c, r = fig.head_center, fig.head_radius
    _disc(rgb, c, r, fig.skin)
    _disc(own, c, r, fid)
    ang = math.degrees(math.atan2(up[1], up[0]))
    rgb.pieslice([c[0] - r, c[1] - r, c[0] + r, c[1] + r], ang - 75, ang + 75, fill=fig.hair)
    ear = tuple(max(0, v - 35) for v in fig.skin)
    for name in ("left_ear", "right_ear"):
        _disc(rgb, p[name], max(1.0, 0.2 * r), ear)
    for name in ("left_eye", "right_eye"):
        _disc(rgb, p[name], max(0.8, 0.13 * r), (15, 15, 25))
    _disc(rgb, p["nose"], max(0.8, 0.13 * r), (170, 60, 50))


def _upsample(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    gh, gw = grid.shape[:2]
    y = np.linspace(0, gh - 1, h)
    x = np.linspace(0, gw - 1, w)
    y0 = np.minimum(y.astype(int), gh - 2)
    x0 = np.minimum(x.astype(int), gw - 2)
    fy, fx = (y - y0)[:, None, None], (x - x0)[None, :, None]
    g00, g01 = grid[y0][:, x0], grid[y0][:, x0 + 1]
    g10, g11 = grid[y0 + 1][:, x0], grid[y0 + 1][:, x0 + 1]
    return (g00 * (1 - fx) + g01 * fx) * (1 - fy) + (g10 * (1 - fx) + g11 * fx) * fy


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured float32 H x W x 3 background."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(40, 215, 3).astype(np.float32)
    kind = int(rng.integers(4))
    if kind == 0:  # blotchy noise
        img = base + 40 * _upsample(rng.normal(0, 1, (5, 6, 3)), h, w)
    elif kind == 1:  # stripes
        a, period, phase = rng.uniform(0, np.pi), rng.uniform(6, 20), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period + phase)
        img = base + 30 * wave[..., None] * rng.uniform(-1, 1, 3)
    elif kind == 2:  # checker / tiles
        cell = rng.uniform(8, 24)
        chk = ((xx // cell + yy // cell) % 2)[..., None]
        img = base + (rng.uniform(-60, 60, 3) * chk)
    else:  # gradient with a horizon
        other = rng.uniform(40, 215, 3)
        t = (yy / max(1, h - 1))[..., None]
        img = base * (1 - t) + other * t
        horizon = rng.uniform(0.3, 0.8) * h
        img = np.where((yy > horizon)[..., None], img * 0.8, img)
    img = img + rng.normal(0, 5, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _clutter(draw: ImageDraw.ImageDraw, own: Optional[ImageDraw.ImageDraw], rng: np.random.Generator, h: int, w: int,
             n: int, size: tuple[float, float]) -> None:
    for _ in range(n):
        kind = int(rng.integers(4))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sz = rng.uniform(*size) * min(h, w)
        fill = _colour(rng)
        if kind == 0:
            box = [cx - sz / 2, cy - sz * rng.uniform(0.2, 0.6), cx + sz / 2, cy + sz * rng.uniform(0.2, 0.6)]
            shapes = [("ellipse", box)]
        elif kind == 1:
            box = [cx - sz / 2, cy - sz * rng.uniform(0.2, 0.6), cx + sz / 2, cy + sz * rng.uniform(0.2, 0.6)]
            shapes = [("rectangle", box)]
        elif kind == 2:
            k = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = sz / 2 * rng.uniform(0.5, 1.0, k)
            shapes = [("polygon", [(cx + r * np.cos(a), cy + r * np.sin(a)) for a, r in zip(ang, rad)])]
        else:  # a thick stroke: looks like a limb
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * sz / 2
            shapes = [("line", [(cx - d[0], cy - d[1]), (cx + d[0], cy + d[1])])]
        width = int(rng.integers(2, 8))
        for target, value in ((draw, fill), (own, OCCLUDER)):
            if target is None:
                continue
            for what, geom in shapes:
                if what == "line":
                    target.line(geom, fill=value, width=width)
                else:
                    getattr(target, what)(geom, fill=value)


def _pick(rng: np.random.Generator, v) -> int:
    if isinstance(v, (tuple, list)):
        return int(rng.integers(int(v[0]), int(v[1]) + 1))
    return int(v)


def _image_size(rng: np.random.Generator, size) -> tuple[int, int]:
    return _pick(rng, size[0]), _pick(rng, size[1])


def render(rng: np.random.Generator, size: tuple[int, int], n_figures: int, heights: tuple[float, float],
           occluder_prob: float):
    """(image uint8 H x W x 3, owner map uint8 (0 background, i+1 figure i, 255 occluder), figures)."""
    w, h = size
    img = Image.fromarray(background(rng, h, w))
    own_img = Image.new("L", (w, h), 0)
    rgb, own = ImageDraw.Draw(img), ImageDraw.Draw(own_img)
    _clutter(rgb, None, rng, h, w, int(rng.integers(3, 10)), (0.08, 0.4))
    figs = []
    for _ in range(n_figures):
        fh = float(rng.uniform(*heights)) * h
        lo, hi = 0.38 * fh, h - 0.36 * fh
        py = float(rng.uniform(lo, hi)) if hi > lo else h / 2 + float(rng.uniform(-0.1, 0.1)) * fh
        px = float(rng.uniform(0.1, 0.9)) * w
        figs.append(make_figure(rng, fh, (px, py)))
    figs.sort(key=lambda f: f.arm_width)  # smaller (farther) figures first
    for i, fig in enumerate(figs):
        draw_figure(rgb, own, fig, i + 1, rng)
    if rng.random() < occluder_prob:
        _clutter(rgb, own, rng, h, w, int(rng.integers(1, 3)), (0.1, 0.3))
    return np.asarray(img), np.asarray(own_img), figs


def _inside(xy: np.ndarray, w: int, h: int) -> np.ndarray:
    return (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0) & (xy[..., 1] <= h - 1)


def _save_jpeg(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, quality=JPEG_QUALITY, subsampling=0)


def _hull_polygon(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    try:
        from scipy.spatial import ConvexHull

        poly = pts[ConvexHull(pts).vertices]
    except Exception:  # fewer than 3 points, or all on one line: the box
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
        poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    return [np.round(poly.reshape(-1), 2).tolist()]


# ----------------------------------------------------------------------------- COCO

def coco_image(seed: int, split: str, index: int, size=(160, 128)):
    """(image, annotations without ids) of image ``index`` of the synthetic COCO ``split``."""
    rng = scene_rng(seed, f"coco-keypoints-{split}", index)
    w, h = _image_size(rng, size)
    n = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    img, owner, figs = render(rng, (w, h), n, (0.4, 1.0), 0.3)
    anns = []
    for i, fig in enumerate(figs):
        sil = owner == i + 1
        area = int(sil.sum())
        if area == 0:
            continue
        xy = np.array([fig.points[k] for k in COCO_KEYPOINTS])
        inside = _inside(xy, w, h)
        kp = []
        for (x, y), ok in zip(xy, inside):
            if not ok:
                kp += [0, 0, 0]
                continue
            v = 2 if owner[int(round(y)), int(round(x))] == i + 1 else 1
            kp += [round(float(x), 2), round(float(y), 2), v]
        ys, xs = np.nonzero(sil)
        anns.append({
            "num_keypoints": int(inside.sum()), "keypoints": kp, "area": float(area), "iscrowd": 0,
            "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
            "category_id": 1, "segmentation": _hull_polygon(sil),
        })
    return img, anns


def write_coco_keypoints(root: Path, split: str, n_images: int, *, seed: int, size=(160, 128),
                         progress: Optional[Callable[[], None]] = None) -> Path:
    """Write ``root/images/<split>/<12-digit id>.jpg`` and
    ``root/annotations/person_keypoints_<split>.json``; return the JSON's path.
    ``size`` is (w, h), each an int or an inclusive (lo, hi) range."""
    root = Path(root)
    img_dir, ann_dir = root / "images" / split, root / "annotations"
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    base = _SPLIT_BASE_COCO.get(split, (zlib.crc32(split.encode()) % 1000 + 1) * 1_000_000)
    images, annotations = [], []
    for index in range(int(n_images)):
        img, anns = coco_image(seed, split, index, size)
        img_id = base + index + 1
        fname = f"{img_id:012d}.jpg"
        _save_jpeg(img, img_dir / fname)
        images.append({"license": 0, "file_name": fname, "height": int(img.shape[0]), "width": int(img.shape[1]),
                       "id": img_id})
        for j, ann in enumerate(anns):
            annotations.append({**ann, "image_id": img_id, "id": img_id * 10 + j})
        if progress:
            progress()
    category = {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO_KEYPOINTS),
                "skeleton": [[a + 1, b + 1] for a, b in COCO_SKELETON]}
    path = ann_dir / f"person_keypoints_{split}.json"
    path.write_text(json.dumps({
        "info": {"description": "nasseg embedded synthetic COCO-keypoints-format set", "version": "1",
                 "year": 2017, "contributor": "nasseg", "date_created": "2017/01/01"},
        "licenses": [{"id": 0, "name": "synthetic", "url": ""}],
        "images": images, "annotations": annotations, "categories": [category],
    }))
    return path


# ----------------------------------------------------------------------------- MPII

def mpii_image(seed: int, split: str, index: int, size=(160, 128)):
    """(image, HRNet JSON entry without the file name, 0-based joints (16, 2), visible (16,),
    0-based head box (2, 2)) of image ``index`` of the synthetic MPII ``split``."""
    rng = scene_rng(seed, f"mpii-{split}", index)
    w, h = _image_size(rng, size)
    img, _, figs = render(rng, (w, h), 1, (0.6, 0.95), 0.2)
    fig = figs[0]
    joints = np.array([fig.points[MPII_FROM_POINTS[n]] for n in MPII_JOINTS])
    vis = _inside(joints, w, h).astype(int)
    joints = np.where(vis[:, None] > 0, joints, -2.0)  # [-1, -1] once 1-based
    x0, y0, x1, y1 = fig.extent()
    scale = round(max(x1 - x0, y1 - y0) / 200.0, 6)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2 - 15 * scale])  # the loader adds 15 * scale back
    entry = {
        "joints_vis": [int(v) for v in vis],
        "joints": [[round(float(x) + 1, 3), round(float(y) + 1, 3)] for x, y in joints],
        "scale": scale, "center": [round(float(center[0]) + 1, 3), round(float(center[1]) + 1, 3)],
    }
    c, r = fig.head_center, fig.head_radius
    headbox = np.array([[c[0] - r, c[1] - r], [c[0] + r, c[1] + r]])
    return img, entry, joints, vis, headbox


def mpii_name(split: str, index: int) -> str:
    base = _SPLIT_BASE_MPII.get(split, (zlib.crc32(split.encode()) % 90 + 10) * 10_000_000)
    return f"{base + index + 1:09d}.jpg"


def write_mpii(root: Path, split: str, n_images: int, *, seed: int, size=(160, 128),
               progress: Optional[Callable[[], None]] = None) -> Path:
    """Write ``root/images/<9 digits>.jpg`` and ``root/annot/<split>.json`` (HRNet format,
    1-based), and for ``valid`` also ``root/annot/gt_valid.mat``; return the JSON's path."""
    root = Path(root)
    img_dir, ann_dir = root / "images", root / "annot"
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    entries, missing, pos, heads = [], [], [], []
    for index in range(int(n_images)):
        img, entry, joints, vis, headbox = mpii_image(seed, split, index, size)
        name = mpii_name(split, index)
        _save_jpeg(img, img_dir / name)
        entries.append({"joints_vis": entry["joints_vis"], "joints": entry["joints"], "image": name,
                        "scale": entry["scale"], "center": entry["center"]})
        missing.append(1 - vis)
        pos.append(np.round(joints + 1, 3) - 1)
        heads.append(headbox)
        if progress:
            progress()
    path = ann_dir / f"{split}.json"
    path.write_text(json.dumps(entries))
    if split == "valid":
        n = len(entries)
        write_mpii_gt(ann_dir / "gt_valid.mat", np.array(missing).reshape(n, len(MPII_JOINTS)),
                      np.array(pos).reshape(n, len(MPII_JOINTS), 2), np.array(heads).reshape(n, 2, 2))
    return path
