"""The drawing kit of the embedded street scenes: colours, the two-layer canvas, the street's geometry.

Every part is drawn twice, as colour into the image and as a Cityscapes label id into the
label map (:class:`Canvas`); :class:`Street` is the road in perspective, which places and
scales objects by their distance. Used by :mod:`nasseg.synthetic.street` and
:mod:`nasseg.synthetic.street_objects`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from PIL import Image, ImageDraw

from ..data.labels import CITYSCAPES_ID

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
class Part:
    """How one part of a drawing is painted: label, colour, and optionally a texture
    ``tex(x, y) -> [0, 1]`` blending ``colour`` (0) into ``alt`` (1)."""

    name: str  # Cityscapes label name
    colour: tuple
    alt: Optional[tuple] = None
    tex: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    grain: float = 4.0


def jitter(rng: np.random.Generator, colour, amount: float = 12.0) -> tuple:
    return tuple(np.clip(np.asarray(colour, np.float32) + rng.uniform(-amount, amount, 3), 0, 255))


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def scaled(colour, k: float) -> tuple:
    return tuple(np.asarray(colour, np.float32) * k)


def upsampled_noise(rng: np.random.Generator, h: int, w: int, cells: tuple[int, int]) -> np.ndarray:
    coarse = rng.normal(0, 1, cells).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BILINEAR))


class Canvas:
    """An image (float RGB) and its label map (Cityscapes ids) painted shape by shape."""

    def __init__(self, hw: tuple[int, int], rng: np.random.Generator):
        self.h, self.w = hw
        self.rng = rng
        self.img = np.zeros((self.h, self.w, 3), np.float32)
        self.lab = np.zeros((self.h, self.w), np.uint8)
        self.grain = rng.normal(0, 1, (self.h, self.w)).astype(np.float32)
        self.leaf = upsampled_noise(rng, self.h, self.w, (max(2, self.h // 3), max(2, self.w // 3)))
        self.cloud = upsampled_noise(rng, self.h, self.w, (4, 6))

    def stamp(self, draw: Callable[[ImageDraw.ImageDraw], None], parts: dict[int, Part]) -> None:
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

    def paint(self, ys: np.ndarray, xs: np.ndarray, part: Part) -> None:
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
class Street:
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


def make_street(rng: np.random.Generator, h: int, w: int, grass: tuple[float, float]) -> Street:
    yh = h * rng.uniform(0.36, 0.5)
    xv = w * rng.uniform(0.35, 0.65)
    rl, rr = w * rng.uniform(0.3, 0.6), w * rng.uniform(0.3, 0.6)
    road = (xv - rl, xv + rr)
    side = (road[0] - w * rng.uniform(0.15, 0.45), road[1] + w * rng.uniform(0.15, 0.45))
    base = (side[0] - grass[0] * w, side[1] + grass[1] * w)
    return Street(h, w, yh, xv, road, side, base, (rl + rr) / rng.uniform(7.0, 10.0))


def leaves(cv: Canvas) -> Part:
    leaf = cv.leaf
    return Part("vegetation", jitter(cv.rng, LEAVES, 15), scaled(LEAVES, 0.45),
                 lambda x, y: 0.5 + 0.6 * leaf[y.astype(int), x.astype(int)], grain=9)
