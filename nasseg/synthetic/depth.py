"""The embedded default for depth prediction: ray-cast indoor scenes in NYU Depth v2's formats.

Nothing can be downloaded at run time, so ``prepare`` renders small rooms with **metric**
depth and writes them exactly as the real data is laid out: a labelled
``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 / HDF5) with its ``splits.mat``, and raw
training frames as RGB JPEG + 16-bit millimetre PNG pairs with a BTS-style list.

A scene is a room (floor, ceiling, back, side and front walls) seen by a pinhole camera
with NYU's intrinsics scaled to the image size, from a random height, pitch, yaw and roll,
plus 2-6 objects (axis-aligned boxes and spheres 0.7-6 m away). Depth is the camera-axis
distance ``z`` (what the Kinect reports), from vectorised ray casting. The colours carry
the monocular cues a network can learn depth from: textures fixed in metres on the
surfaces (the floor's checks or planks shrink with distance), occlusion, object size,
Lambertian shading and a little distance fog.

The labelled ``depths`` are dense, like the release's in-painted ones (``rawDepths`` keeps
the holes); the raw pairs are Kinect-like: 0 on a few random blobs, on dark (light
absorbing) surfaces, at grazing angles, in the shadow beside near edges, and beyond 10 m.

Every frame is a pure function of ``(seed, split, index)`` (:func:`nasseg.synthetic.seeding.scene_rng`), so
the files are byte-reproducible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from ..transfer.nyu import NYU_INTRINSICS, NYU_SIZE, write_nyu_labeled, write_nyu_splits
from .seeding import scene_rng

MAX_DEPTH = 10.0
FRAMES_PER_SCENE = 25
SCENE_KINDS = ("bedroom", "kitchen", "living_room", "office", "bathroom", "classroom", "bookstore", "dining_room")
TEXTURES = ("plain", "stripes", "checks", "noise")


def intrinsics(size: tuple[int, int] = (160, 120)) -> tuple[float, float, float, float]:
    """NYU's colour-camera (fx, fy, cx, cy) scaled from 640 x 480 to ``size`` = (W, H)."""
    sx, sy = size[0] / NYU_SIZE[0], size[1] / NYU_SIZE[1]
    fx, fy, cx, cy = NYU_INTRINSICS
    return fx * sx, fy * sy, cx * sx, cy * sy


# ----------------------------------------------------------------------------- scene description


@dataclass(frozen=True)
class Material:
    colour: tuple[float, float, float]
    colour2: tuple[float, float, float]
    texture: str
    period: float  # metres
    dark: bool = False  # light-absorbing: Kinect returns no depth on most of it


@dataclass(frozen=True)
class Obj:
    kind: str  # "box" or "sphere"
    lo: tuple[float, float, float]  # box min corner, or sphere centre
    hi: tuple[float, float, float]  # box max corner, or (radius, 0, 0)
    material: Material


@dataclass(frozen=True)
class Room:
    lo: tuple[float, float, float]  # (left wall x, floor y = 0, front wall z)
    hi: tuple[float, float, float]  # (right wall x, ceiling y, back wall z)
    materials: tuple[Material, ...]  # left, right, floor, ceiling, front, back
    objects: tuple[Obj, ...]
    light: tuple[float, float, float]
    fog_len: float
    fog_colour: tuple[float, float, float]


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    yaw: float
    pitch: float
    roll: float


def _material(rng: np.random.Generator, *, textures=TEXTURES, dark_p: float = 0.0,
              period=(0.15, 0.8)) -> Material:
    dark = bool(rng.random() < dark_p)
    if dark:
        c = rng.uniform(0.02, 0.08, 3)
        c2 = c * rng.uniform(0.6, 1.2)
    else:
        c = rng.uniform(0.15, 0.95, 3)
        c2 = np.clip(c * rng.uniform(0.4, 0.8) + rng.uniform(-0.1, 0.1, 3), 0, 1)
    return Material(tuple(map(float, c)), tuple(map(float, c2)), str(rng.choice(textures)),
                    float(rng.uniform(*period)), dark)


def random_room(rng: np.random.Generator) -> Room:
    """A room 2.5-9 m deep with 2-6 objects between 0.7 and 6 m in front of the origin."""
    back = rng.uniform(2.5, 9.0)
    left, right = -rng.uniform(1.2, 4.5), rng.uniform(1.2, 4.5)
    ceil = rng.uniform(2.4, 3.2)
    front = -rng.uniform(1.0, 3.0)
    wall = lambda: _material(rng, textures=("plain", "stripes", "noise"), period=(0.2, 1.2))  # noqa: E731
    floor = _material(rng, textures=("checks", "stripes", "noise"), period=(0.2, 0.6))
    ceiling = _material(rng, textures=("plain", "checks"), period=(0.5, 1.2))
    mats = (wall(), wall(), floor, ceiling, wall(), wall())
    objects = []
    for _ in range(int(rng.integers(2, 7))):
        z = rng.uniform(0.7, min(6.0, back - 0.3))
        mat = _material(rng, dark_p=0.15)
        if rng.random() < 0.6:  # box standing on the floor
            sx, sy, sz = rng.uniform(0.25, 1.2), rng.uniform(0.3, 1.6), rng.uniform(0.25, 1.0)
            sx, sz = min(sx, right - left - 0.2), min(sz, back - z - 0.05)
            x = rng.uniform(-0.55, 0.55) * z
            x = float(np.clip(x, left + 0.05 + sx / 2, right - 0.05 - sx / 2))
            y0 = 0.0 if rng.random() < 0.8 else rng.uniform(0.5, 1.2)  # a few shelves / hanging cabinets
            objects.append(Obj("box", (x - sx / 2, y0, z), (x + sx / 2, min(y0 + sy, ceil - 0.05), z + sz), mat))
        else:  # sphere resting on the floor or floating (a lamp)
            r = rng.uniform(0.12, 0.5)
            x = float(np.clip(rng.uniform(-0.55, 0.55) * (z + r), left + r + 0.05, right - r - 0.05))
            y = r if rng.random() < 0.6 else rng.uniform(r, min(1.8, ceil - r))
            objects.append(Obj("sphere", (x, y, z + r), (r, 0.0, 0.0), mat))
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(0.6, 1.2), rng.uniform(-0.9, 0.2)])
    light /= np.linalg.norm(light)
    fog = rng.uniform(0.55, 0.85)
    return Room((left, 0.0, front), (right, ceil, back), mats, tuple(objects),
                tuple(map(float, light)), float(rng.uniform(18.0, 35.0)), (fog, fog, fog * rng.uniform(0.9, 1.05)))


def random_camera(rng: np.random.Generator, room: Room) -> Camera:
    (l, _, f), (r, c, _) = room.lo, room.hi
    x = float(np.clip(rng.uniform(-0.5, 0.5), l + 0.3, r - 0.3))
    y = float(min(rng.uniform(1.0, 1.8), c - 0.3))
    z = float(rng.uniform(max(f + 0.3, -0.6), 0.2))
    return Camera((x, y, z), math.radians(rng.uniform(-20, 20)), math.radians(rng.uniform(-25, 5)),
                  math.radians(rng.uniform(-3, 3)))


# ----------------------------------------------------------------------------- ray casting


def _rays(cam: Camera, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World-space ray directions (H*W x 3), scaled so that the ray parameter t is the
    camera-axis depth z, plus the unit forward axis and the origin."""
    w, h = size
    fx, fy, cx, cy = intrinsics(size)
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    dx, dy = ((u - cx) / fx).reshape(-1), ((v - cy) / fy).reshape(-1)
    cyw, syw, cp, sp = math.cos(cam.yaw), math.sin(cam.yaw), math.cos(cam.pitch), math.sin(cam.pitch)
    forward = np.array([syw * cp, sp, cyw * cp])
    right = np.array([cyw, 0.0, -syw])
    up = np.cross(forward, right)
    cr, sr = math.cos(cam.roll), math.sin(cam.roll)
    right, up = cr * right + sr * up, -sr * right + cr * up
    dirs = dx[:, None] * right + dy[:, None] * (-up) + forward
    return dirs, forward, np.asarray(cam.position, dtype=np.float64)


def _safe(d: np.ndarray) -> np.ndarray:
    return np.where(np.abs(d) < 1e-12, 1e-12, d)


def render(room: Room, cam: Camera, size: tuple[int, int] = (160, 120), rng: Optional[np.random.Generator] = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast one view: (rgb uint8 H x W x 3, dense depth float32 H x W metres,
    raw Kinect-like depth float32 H x W with 0 = invalid). ``rng`` drives pixel noise and
    the invalid blobs (a fixed default keeps it deterministic)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    w, h = size
    d, forward, o = _rays(cam, size)
    t, surf, normal, materials = _cast(room, d, o)
    p = o + t[:, None] * d
    depth = t.astype(np.float64)  # t is camera-axis z because d has unit forward component

    # texture coordinates in metres, on the plane most facing the normal
    dom = np.argmax(np.abs(normal), axis=1)
    uu = np.where(dom == 0, p[:, 2], p[:, 0])
    vv = np.where(dom == 1, p[:, 2], p[:, 1])
    base, dark = _albedo(materials, surf, uu, vv)
    colour = _shade(room, base, normal, t * np.linalg.norm(d, axis=1))
    colour = colour + rng.normal(0.0, 0.012, colour.shape)  # sensor noise
    rgb = np.clip(np.round(colour * 255.0), 0, 255).astype(np.uint8).reshape(h, w, 3)

    depth_img = depth.reshape(h, w)
    dense = np.where(depth_img <= MAX_DEPTH, depth_img, 0.0).astype(np.float32)
    raw = depth_img.copy()
    raw[_kinect_holes(depth_img, dark, uu, vv, d, normal, rng)] = 0.0
    return rgb, dense, raw.astype(np.float32)


def _cast(room: Room, d: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Nearest hit of each ray: (ray parameter t, surface id (0..5 room faces, 6+ objects),
    unit normal, the material of each surface id)."""
    n_pix = d.shape[0]
    ds = _safe(d)
    # room: the camera is inside; the exit face along each axis.
    lo, hi = np.asarray(room.lo), np.asarray(room.hi)
    t_axis = np.where(d > 0, (hi - o) / ds, (lo - o) / ds)
    t_axis = np.where(np.abs(d) < 1e-12, np.inf, t_axis)
    axis = np.argmin(t_axis, axis=1)
    t = t_axis[np.arange(n_pix), axis]
    positive = d[np.arange(n_pix), axis] > 0
    face = axis * 2 + positive  # 0 left, 1 right, 2 floor, 3 ceiling, 4 front, 5 back
    normal = np.zeros((n_pix, 3))
    normal[np.arange(n_pix), axis] = np.where(positive, -1.0, 1.0)
    surf = face.copy()
    materials = list(room.materials)
    for k, ob in enumerate(room.objects):
        materials.append(ob.material)
        hit = _hit_box if ob.kind == "box" else _hit_sphere
        hit(ob, d, ds, o, t, surf, normal, 6 + k)
    return t, surf, normal, materials


def _hit_box(ob: Obj, d, ds, o, t, surf, normal, sid: int) -> None:
    """Where the axis-aligned box ``ob`` is nearer than ``t``: update t, surf and normal in place."""
    blo, bhi = np.asarray(ob.lo), np.asarray(ob.hi)
    t1, t2 = (blo - o) / ds, (bhi - o) / ds
    tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
    near_axis = np.argmax(tmin, axis=1)
    t_near, t_far = tmin.max(axis=1), tmax.min(axis=1)
    hit = (t_near <= t_far) & (t_near > 1e-4) & (t_near < t)
    if hit.any():
        idx = np.flatnonzero(hit)
        ax = near_axis[idx]
        t[idx] = t_near[idx]
        surf[idx] = sid
        normal[idx] = 0.0
        normal[idx, ax] = -np.sign(d[idx, ax])


def _hit_sphere(ob: Obj, d, ds, o, t, surf, normal, sid: int) -> None:
    """Where the sphere ``ob`` (centre ``lo``, radius ``hi[0]``) is nearer than ``t``: update in place."""
    c, r = np.asarray(ob.lo), ob.hi[0]
    oc = o - c
    a = np.einsum("ij,ij->i", d, d)
    b = d @ oc
    disc = b * b - a * (oc @ oc - r * r)
    ok = disc > 0
    ts = np.full(d.shape[0], np.inf)
    ts[ok] = (-b[ok] - np.sqrt(disc[ok])) / a[ok]
    hit = ok & (ts > 1e-4) & (ts < t)
    if hit.any():
        idx = np.flatnonzero(hit)
        t[idx] = ts[idx]
        surf[idx] = sid
        normal[idx] = (o + ts[idx, None] * d[idx] - c) / r


def _albedo(materials: list, surf: np.ndarray, uu: np.ndarray, vv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's surface colour from its material's texture at (uu, vv) metres, and
    whether the surface is dark (light absorbing)."""
    base = np.zeros((surf.shape[0], 3))
    dark = np.zeros(surf.shape[0], bool)
    for sid in np.unique(surf):
        m = materials[int(sid)]
        sel = surf == sid
        su, sv = uu[sel] / m.period, vv[sel] / m.period
        if m.texture == "stripes":
            a = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * (su + 0.37 * sid)))
        elif m.texture == "checks":
            a = ((np.floor(su) + np.floor(sv)) % 2).astype(np.float64)
        elif m.texture == "noise":
            cells = np.floor(su) * 12.9898 + np.floor(sv) * 78.233 + sid * 3.7
            a = np.modf(np.abs(np.sin(cells) * 43758.5453))[0]
        else:
            a = np.zeros(sel.sum())
        base[sel] = (1 - a)[:, None] * np.asarray(m.colour) + a[:, None] * np.asarray(m.colour2)
        dark[sel] = m.dark
    return base, dark


def _shade(room: Room, base: np.ndarray, normal: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Lambertian shading under the room's light, a lamp's falloff and distance fog."""
    light = np.asarray(room.light)
    lambert = np.clip(normal @ light, 0.0, 1.0)
    shade = 0.35 + 0.65 * lambert
    shade = shade / (1.0 + 0.015 * dist * dist) * 1.15  # a ceiling lamp's falloff, mild
    colour = base * shade[:, None]
    fog = 1.0 - np.exp(-dist / room.fog_len)
    return (1 - fog[:, None]) * colour + fog[:, None] * np.asarray(room.fog_colour) * 0.8


def _kinect_holes(depth_img: np.ndarray, dark: np.ndarray, uu: np.ndarray, vv: np.ndarray, d: np.ndarray,
                  normal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """H x W mask of the pixels a Kinect returns no depth for."""
    h, w = depth_img.shape
    invalid = depth_img > MAX_DEPTH
    patch = np.modf(np.abs(np.sin(np.floor(uu / 0.07) * 12.9898 + np.floor(vv / 0.07) * 78.233)) * 43758.5453)[0]
    invalid |= (dark & (patch > 0.25)).reshape(h, w)  # light-absorbing surfaces return little
    view = -d / np.linalg.norm(d, axis=1, keepdims=True)
    invalid |= (np.abs(np.einsum("ij,ij->i", view, normal)) < 0.08).reshape(h, w)  # grazing angles
    # shadow: the IR projector sits beside the camera, so background pixels just right of a
    # much nearer edge see no pattern
    sh = max(1, round(w / 160))
    jump = np.zeros((h, w), bool)
    for s in range(1, sh + 2):
        jump[:, s:] |= depth_img[:, :-s] < depth_img[:, s:] - 0.3
    invalid |= jump
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(0, 4))):  # random dropouts
        cy_, cx_ = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.02, 0.1) * h, rng.uniform(0.02, 0.1) * w
        invalid |= ((yy - cy_) / ry) ** 2 + ((xx - cx_) / rx) ** 2 < 1.0
    return invalid


# ----------------------------------------------------------------------------- frames and files


def labeled_frame(seed: int, index: int, size: tuple[int, int] = (160, 120)):
    """Labelled frame ``index``: its own room (the labelled set spans many scenes)."""
    rng = scene_rng(seed, "nyu-labeled", index)
    room = random_room(rng)
    return render(room, random_camera(rng, room), size, rng)


def raw_frame(seed: int, index: int, size: tuple[int, int] = (160, 120)):
    """Raw training frame ``index``: the room of scene ``index // FRAMES_PER_SCENE`` seen
    from a camera pose of its own (consecutive frames share a room, as in a raw sequence)."""
    scene = index // FRAMES_PER_SCENE
    room = random_room(scene_rng(seed, "nyu-raw-scene", scene))
    rng = scene_rng(seed, "nyu-raw", index)
    return render(room, random_camera(rng, room), size, rng)


def raw_scene_name(seed: int, scene: int) -> str:
    kind = SCENE_KINDS[int(scene_rng(seed, "nyu-raw-kind", scene).integers(len(SCENE_KINDS)))]
    return f"{kind}_{scene + 1:04d}"


def _save_png_u16(path: Path, depth_m: np.ndarray) -> None:
    mm = np.clip(np.round(depth_m.astype(np.float64) * 1000.0), 0, 65535).astype(np.uint16)
    Image.fromarray(mm).save(path)  # uint16 -> mode I;16; PNG carries no timestamp by default


def write_nyu_embedded(root: str | Path, *, n_labeled: int, n_test: int, n_raw_train: int, seed: int,
                       size: tuple[int, int] = (160, 120), progress: Optional[Callable[[], None]] = None,
                       raw_depths: bool = True) -> dict:
    """Write the embedded NYU Depth v2 under ``root``; returns the paths written:
    ``labeled`` (nyu_depth_v2_labeled.mat), ``splits`` (splits.mat: the last ``n_test``
    labelled frames are test), ``raw_root`` (raw/<scene>/rgb_NNNNN.jpg +
    sync_depth_NNNNN.png) and ``train_pairs`` (raw/train_pairs.txt, BTS's
    "rgb depth focal" lines relative to raw/). ``size`` is (W, H). ``raw_depths=False``
    leaves out the labelled file's ``rawDepths`` (about a third of its size)."""
    if not 0 < n_test < n_labeled:
        raise ValueError(f"need 0 < n_test < n_labeled, got n_test={n_test}, n_labeled={n_labeled}")
    if n_raw_train < 0:
        raise ValueError("n_raw_train must be >= 0")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    images, depths, raws = [], [], []
    for i in range(n_labeled):
        rgb, dense, raw = labeled_frame(seed, i, size)
        images.append(rgb)
        depths.append(dense)
        if raw_depths:
            raws.append(raw)
        if progress:
            progress()
    labeled = write_nyu_labeled(root / "nyu_depth_v2_labeled.mat", images, depths, raws or None)
    n_train = n_labeled - n_test
    splits = write_nyu_splits(root / "splits.mat", np.arange(n_train), np.arange(n_train, n_labeled))

    raw_root = root / "raw"
    raw_root.mkdir(exist_ok=True)
    focal = intrinsics(size)[0]
    lines = []
    for i in range(n_raw_train):
        scene = raw_scene_name(seed, i // FRAMES_PER_SCENE)
        (raw_root / scene).mkdir(exist_ok=True)
        rgb, _, raw = raw_frame(seed, i, size)
        rgb_rel, depth_rel = f"{scene}/rgb_{i:05d}.jpg", f"{scene}/sync_depth_{i:05d}.png"
        Image.fromarray(rgb).save(raw_root / rgb_rel, quality=95)
        _save_png_u16(raw_root / depth_rel, raw)
        lines.append(f"{rgb_rel} {depth_rel} {focal:.4f}\n")
        if progress:
            progress()
    pairs = raw_root / "train_pairs.txt"
    pairs.write_text("".join(lines))
    return {"labeled": labeled, "splits": splits, "raw_root": raw_root, "train_pairs": pairs}
