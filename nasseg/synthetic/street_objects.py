"""The objects of the embedded street scenes: vehicles, people and cyclists, poles, trees, street furniture.

Each ``draw_<object>(cv, x, yb, ppm, ...)`` paints one object standing at ``x`` on the
ground line ``yb`` at ``ppm`` pixels per metre, in colour and in Cityscapes label ids.
"""
from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from .street_canvas import (BIKE, BUS, CAR, CLOTHES, Canvas, GLASS, LAMPS, LIGHT_BOX, MOTO, POLE, Part, SIGN, SKIN,
                            STATIC, Street, TRAIN, TRAIN_STRIPE, TROUSERS, TRUCK_BOX, TRUNK, TYRE, jitter, leaves,
                            pick, scaled)


def _box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A rectangle given by any two opposite corners, as PIL wants it (x0 <= x1, y0 <= y1)."""
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def draw_car(cv: Canvas, x: float, yb: float, ppm: float, side_view: bool, kind: str = "car") -> None:
    rng = cv.rng
    body = jitter(rng, pick(rng, CAR), 10)
    glass = Part(kind, jitter(rng, GLASS, 8))
    tyre = Part(kind, TYRE, grain=3)
    parts = {1: Part(kind, body, grain=3), 2: glass, 3: tyre, 4: Part(kind, (210, 30, 30))}
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


def draw_truck(cv: Canvas, x: float, yb: float, ppm: float, side_view: bool) -> None:
    rng = cv.rng
    cab, box = jitter(rng, pick(rng, CAR), 10), jitter(rng, pick(rng, TRUCK_BOX), 8)
    parts = {1: Part("truck", cab, grain=3), 2: Part("truck", box, scaled(box, 0.85),
                                                       lambda x_, y_: ((x_ % 6) < 1).astype(np.float32)),
             3: Part("truck", TYRE, grain=3), 4: Part("truck", jitter(rng, GLASS, 8))}
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


def draw_bus(cv: Canvas, x: float, yb: float, ppm: float, side_view: bool) -> None:
    rng = cv.rng
    body = jitter(rng, pick(rng, BUS), 8)
    parts = {1: Part("bus", body, grain=3), 2: Part("bus", jitter(rng, GLASS, 6)), 3: Part("bus", TYRE, grain=3)}
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


def draw_rail(cv: Canvas, st: Street, yb: float, ppm: float) -> None:
    """Rail track (ignored id 10) across the road under a tram."""
    def draw(d):
        d.rectangle([-1, yb - 0.5 * ppm, cv.w + 1, yb + 0.7 * ppm], fill=1)
    cv.stamp(draw, {1: Part("rail track", (105, 95, 85), (170, 170, 175),
                             lambda x, y: (np.abs(((y - yb) / max(ppm, 1e-3)) % 0.6) < 0.15).astype(np.float32))})


def draw_train(cv: Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    L, H = rng.uniform(20, 30) * ppm, 3.6 * ppm
    cars = int(rng.integers(2, 4))
    stripe = jitter(rng, pick(rng, TRAIN_STRIPE), 8)
    parts = {1: Part("train", jitter(rng, TRAIN, 6), grain=3), 2: Part("train", jitter(rng, GLASS, 6)),
             3: Part("train", stripe, grain=3), 4: Part("train", (40, 40, 42))}

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


def draw_person(cv: Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    hp = rng.uniform(1.55, 1.9) * ppm
    stride = rng.uniform(0.3, 1.3)
    parts = {1: Part("person", jitter(rng, pick(rng, SKIN), 10)),
             2: Part("person", jitter(rng, pick(rng, CLOTHES))),
             3: Part("person", jitter(rng, pick(rng, TROUSERS), 8))}
    cv.stamp(lambda d: _figure(d, x, yb, hp, stride, (1, 2, 3)), parts)


def draw_cycle(cv: Canvas, x: float, yb: float, ppm: float, motor: bool, ridden: bool = True) -> None:
    """A bicycle or motorcycle (side view) with or without its rider."""
    rng = cv.rng
    vehicle = "motorcycle" if motor else "bicycle"
    f = 1 if rng.random() < 0.5 else -1
    r = (0.32 if motor else 0.34) * ppm
    span = (0.75 if motor else 0.55) * ppm
    lw = max(1, int(round((0.12 if motor else 0.06) * ppm)))
    parts = {1: Part(vehicle, jitter(rng, BIKE, 8), grain=3),
             5: Part(vehicle, jitter(rng, pick(rng, MOTO) if motor else pick(rng, CAR), 10), grain=3),
             2: Part("rider", jitter(rng, pick(rng, SKIN), 10)),
             3: Part("rider", jitter(rng, pick(rng, CLOTHES))),
             4: Part("rider", jitter(rng, pick(rng, TROUSERS), 8))}
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


def draw_pole(cv: Canvas, x: float, yb: float, ppm: float, top: str) -> None:
    """A pole, optionally carrying a traffic sign or a traffic light."""
    rng = cv.rng
    height = rng.uniform(3.5, 7.0) * ppm
    pw = max(1.0, 0.14 * ppm)
    yt = yb - height
    sign_colour = jitter(rng, pick(rng, SIGN), 10)
    lit = int(rng.integers(3))
    parts = {1: Part("pole", jitter(rng, POLE, 10), grain=3), 2: Part("traffic sign", sign_colour, grain=3),
             3: Part("traffic sign", (235, 235, 230), grain=3), 4: Part("traffic light", jitter(rng, LIGHT_BOX, 6)),
             5: Part("traffic light", LAMPS[lit], grain=3), 6: Part("traffic light", (70, 70, 60), grain=3)}

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


def draw_tree(cv: Canvas, x: float, yb: float, ppm: float) -> None:
    rng = cv.rng
    trunk_h = rng.uniform(1.8, 3.0) * ppm
    tw = max(1.0, 0.25 * ppm)
    crowns = [(x + rng.uniform(-1.2, 1.2) * ppm, yb - trunk_h - rng.uniform(0.5, 2.5) * ppm,
               rng.uniform(1.2, 2.6) * ppm, rng.uniform(1.2, 2.4) * ppm) for _ in range(int(rng.integers(2, 5)))]

    def draw(d):
        d.rectangle([x - tw / 2, yb - trunk_h - ppm, x + tw / 2, yb], fill=1)
        for cx, cy, rx, ry in crowns:
            d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=2)
    cv.stamp(draw, {1: Part("vegetation", jitter(rng, TRUNK, 10)), 2: leaves(cv)})


def draw_static(cv: Canvas, x: float, yb: float, ppm: float) -> None:
    """Street furniture (bins, boxes): the ignored id 'static' (CamVid: void)."""
    rng = cv.rng
    bw, bh = rng.uniform(0.5, 1.2) * ppm, rng.uniform(0.8, 1.4) * ppm
    cv.stamp(lambda d: d.rectangle([x - bw / 2, yb - bh, x + bw / 2, yb], fill=1),
             {1: Part("static", jitter(rng, pick(rng, STATIC), 15))})


