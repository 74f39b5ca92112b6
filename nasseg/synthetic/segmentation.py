"""The embedded default: synthetic scenes written in the real dataset formats.

Nothing can be downloaded at run time, so ``prepare`` renders small datasets that stand
in for VOC, SBD and COCO, on disk in exactly their public layouts, so that the pipeline
runs the same loaders it runs on the real data. The scenes are made so that decoder
design matters:

* 20 object classes (the VOC ones), told apart by shape and texture more than colour:
  several classes share a colour;
* objects from a few pixels to most of the image (log-uniform sizes);
* two pairs of look-alike classes (boat/car, cat/dog) that only the scene type around
  them separates (water, land, indoor): they need context;
* thin structures (bicycle wheels and frames, chair and table legs, plant stems), one to
  two pixels wide: they need high-resolution output;
* background clutter: objects of classes outside the label set, labelled background.

A scene is a pure function of (seed, scope, id) (:func:`nasseg.synthetic.seeding.scene_rng`):
the VOC and SBD layouts share some ids, as the real ones do, and then hold the same picture
with each format's own annotation (VOC draws a void border around objects, SBD does not).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image, ImageDraw

from ..data.io import savemat_reproducible
from ..data.labels import COCO_TO_VOC, VOC_CLASSES, VOID, voc_colormap
from .seeding import scene_rng

# ----------------------------------------------------------------------------- looks

COLOURS = {
    "red": (200, 60, 50), "blue": (60, 90, 200), "yellow": (225, 195, 60), "purple": (150, 80, 170),
    "white": (235, 235, 235), "dark": (45, 45, 50), "skin": (225, 150, 120), "brown": (125, 75, 35),
    "green": (60, 140, 60), "orange": (235, 130, 30), "grey": (128, 128, 128),
}

SCENES = ("land", "water", "indoor")


@dataclass(frozen=True)
class Look:
    shape: str
    texture: str
    colour: str
    scenes: tuple[str, ...] = SCENES  # where the class may appear
    min_size: int = 6


# class index -> look. Look-alike pairs: 4 boat / 7 car (water / land), 8 cat / 12 dog (indoor / land).
LOOKS: dict[int, Look] = {
    1: Look("triangle", "flat", "white"),
    2: Look("wheels", "flat", "dark", min_size=18),
    3: Look("diamond", "dots", "yellow"),
    4: Look("semi", "stripes_h", "red", scenes=("water",)),
    5: Look("rect_tall", "stripes_h", "blue"),
    6: Look("rect_wide", "stripes_v", "yellow"),
    7: Look("semi", "stripes_h", "red", scenes=("land",)),
    8: Look("ellipse", "checker", "brown", scenes=("indoor",)),
    9: Look("legs", "flat", "brown", min_size=16),
    10: Look("ellipse", "dots", "white"),
    11: Look("table", "flat", "brown", min_size=16),
    12: Look("ellipse", "checker", "brown", scenes=("land",)),
    13: Look("ellipse", "stripes_v", "brown"),
    14: Look("ring", "checker", "dark"),
    15: Look("cross", "flat", "skin"),
    16: Look("branches", "flat", "green", min_size=16),
    17: Look("disk", "dots", "white"),
    18: Look("lshape", "flat", "purple"),
    19: Look("rect_long", "checker", "blue"),
    20: Look("frame", "flat", "dark", min_size=10),
}
# Clutter: COCO categories outside the VOC classes (giraffe, umbrella, kite): background.
CLUTTER: dict[int, Look] = {
    25: Look("ellipse", "dots", "orange"),
    28: Look("semi", "flat", "purple"),
    38: Look("diamond", "stripes_v", "grey"),
}
VOC_TO_COCO = {v: k for k, v in COCO_TO_VOC.items()}

POLYGON_SHAPES = {"triangle", "diamond", "semi", "rect_tall", "rect_wide", "rect_long", "ellipse",
                  "disk", "cross", "lshape"}


# ----------------------------------------------------------------------------- shapes

def _rot(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _polygon(shape: str, size: float) -> np.ndarray:
    """Vertices (x, y) centred at 0 for a shape whose extent is about ``size``."""
    r = size / 2
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    if shape == "disk":
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if shape == "ellipse":
        return np.stack([r * np.cos(t), 0.6 * r * np.sin(t)], 1)
    if shape == "semi":
        h = np.linspace(0, np.pi, 13)
        return np.stack([r * np.cos(h), -0.7 * r * np.sin(h) + 0.2 * r], 1)
    if shape == "triangle":
        return np.array([[-r, 0.6 * r], [r, 0.6 * r], [0, -0.9 * r]])
    if shape == "diamond":
        return np.array([[0, -r], [0.6 * r, 0], [0, r], [-0.6 * r, 0]])
    if shape in ("rect_tall", "rect_wide", "rect_long"):
        w, h = {"rect_tall": (0.35, 1.0), "rect_wide": (1.0, 0.5), "rect_long": (1.0, 0.25)}[shape]
        return np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) * r
    if shape == "cross":
        a, b = 0.3 * r, r
        return np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a],
                         [-b, a], [-b, -a], [-a, -a]])
    if shape == "lshape":
        return np.array([[-r, -r], [-0.3 * r, -r], [-0.3 * r, 0.4 * r], [r, 0.4 * r], [r, r], [-r, r]])
    raise KeyError(shape)


def _raster(shape: str, size: float, cx: float, cy: float, angle: float, hw: tuple[int, int],
            rng: np.random.Generator) -> np.ndarray:
    """Shapes that are not one simple polygon (holes, thin lines), drawn straight to a mask."""
    h, w = hw
    im = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(im)
    r = size / 2
    thin = 1 if size < 40 else 2

    def pt(x, y):
        p = _rot(np.array([[x, y]]), angle)[0]
        return (cx + p[0], cy + p[1])

    if shape == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=1)
        ri = 0.55 * r
        d.ellipse([cx - ri, cy - ri, cx + ri, cy + ri], fill=0)
    elif shape == "frame":
        poly = [pt(-r, -0.75 * r), pt(r, -0.75 * r), pt(r, 0.75 * r), pt(-r, 0.75 * r)]
        d.polygon(poly, fill=1)
        k = 0.7
        d.polygon([pt(-k * r, -0.5 * r), pt(k * r, -0.5 * r), pt(k * r, 0.5 * r), pt(-k * r, 0.5 * r)], fill=0)
    elif shape == "wheels":
        wr = 0.35 * r
        for sx in (-0.6, 0.6):
            x0, y0 = pt(sx * r, 0.3 * r)
            d.ellipse([x0 - wr, y0 - wr, x0 + wr, y0 + wr], outline=1, width=thin)
        for a, b in (((-0.6, 0.3), (0.0, -0.3)), ((0.0, -0.3), (0.6, 0.3)), ((-0.2, -0.3), (0.4, -0.3)),
                     ((0.0, -0.3), (0.0, -0.5))):
            d.line([pt(a[0] * r, a[1] * r), pt(b[0] * r, b[1] * r)], fill=1, width=thin)
    elif shape in ("legs", "table"):
        top = (-0.9, -0.3, 0.9, -0.1) if shape == "table" else (-0.5, -0.1, 0.5, 0.1)
        d.polygon([pt(top[0] * r, top[1] * r), pt(top[2] * r, top[1] * r), pt(top[2] * r, top[3] * r),
                   pt(top[0] * r, top[3] * r)], fill=1)
        if shape == "legs":  # chair: a back and four legs
            d.line([pt(-0.5 * r, 0.0), pt(-0.5 * r, -0.9 * r)], fill=1, width=thin + 1)
        xs = (-0.8, 0.8) if shape == "table" else (-0.45, -0.15, 0.15, 0.45)
        for x in xs:
            d.line([pt(x * r, top[3] * r), pt(x * r, 0.9 * r)], fill=1, width=thin)
    elif shape == "branches":
        d.polygon([pt(-0.25 * r, 0.5 * r), pt(0.25 * r, 0.5 * r), pt(0.18 * r, r), pt(-0.18 * r, r)], fill=1)
        tips = [(0.0, 0.5)]
        for _ in range(3):  # three levels of forking stems
            new = []
            for (x, y) in tips:
                for dx in (-1, 1):
                    nx, ny = x + dx * rng.uniform(0.1, 0.35), y - rng.uniform(0.25, 0.45)
                    d.line([pt(x * r, y * r), pt(nx * r, ny * r)], fill=1, width=thin)
                    new.append((nx, ny))
            tips = new
    else:
        raise KeyError(shape)
    return np.asarray(im, dtype=bool)


def _texture(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    if kind == "flat":
        return np.zeros_like(u)
    if kind == "stripes_h":
        return (np.floor(v / 3) % 2).astype(np.float32)
    if kind == "stripes_v":
        return (np.floor(u / 3) % 2).astype(np.float32)
    if kind == "checker":
        return ((np.floor(u / 4) + np.floor(v / 4)) % 2).astype(np.float32)
    if kind == "dots":
        return (((u % 5) - 2) ** 2 + ((v % 5) - 2) ** 2 <= 2).astype(np.float32)
    raise KeyError(kind)


# ----------------------------------------------------------------------------- scenes

@dataclass
class Instance:
    label: int  # class index (0 for clutter)
    category: int  # COCO category id
    mask: np.ndarray  # bool H x W, the full (unoccluded) shape
    polygon: Optional[np.ndarray]  # vertices when the shape is one polygon, else None
    look: Look
    centre: tuple[float, float]
    angle: float
    colour: np.ndarray
    iscrowd: int = 0


@dataclass
class Scene:
    image: np.ndarray  # uint8 H x W x 3
    label: np.ndarray  # uint8 H x W, class indices (visible parts), no void
    instances: list[Instance] = field(default_factory=list)
    scene_type: str = "land"


def _background(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "land":
        coarse = rng.normal(0, 1, (6, 6)).astype(np.float32)
        noise = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR))
        base = np.array([105, 125, 70], np.float32) + rng.uniform(-15, 15, 3)
        img = base + 22 * noise[..., None] * np.array([1.0, 0.8, 0.5])
    elif kind == "water":
        period, phase = rng.uniform(8, 14), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * yy / period + 0.6 * np.sin(xx / 9 + phase) + phase)
        base = np.array([70, 110, 170], np.float32) + rng.uniform(-15, 15, 3)
        img = base + 22 * wave[..., None] * np.array([0.6, 0.8, 1.0])
    else:  # indoor: wall panels above a floor
        horizon = rng.uniform(0.45, 0.75) * h
        wall = np.array([190, 175, 150], np.float32) + rng.uniform(-15, 15, 3)
        floor = np.array([140, 105, 75], np.float32) + rng.uniform(-15, 15, 3)
        panels = 10 * ((xx % rng.uniform(16, 24)) < 2)
        img = np.where((yy < horizon)[..., None], wall - panels[..., None], floor)
    return img.astype(np.float32)


def _pick_class(rng: np.random.Generator, scene_type: str) -> int:
    allowed = [c for c, lk in LOOKS.items() if scene_type in lk.scenes]
    return int(rng.choice(allowed))


def make_scene(rng: np.random.Generator, hw: tuple[int, int], max_objects: int = 6,
               rasterize_polygon: Optional[Callable[[np.ndarray, int, int], np.ndarray]] = None,
               crowd_prob: float = 0.0) -> Scene:
    """Render one scene. ``rasterize_polygon(vertices, h, w)`` turns polygons into masks
    (PIL by default; the COCO writer passes pycocotools' rasteriser so that the picture
    matches what a COCO reader decodes). Non-polygon objects are marked as COCO crowd
    regions with probability ``crowd_prob``."""
    h, w = hw
    rasterize_polygon = rasterize_polygon or _pil_polygon
    scene_type = SCENES[int(rng.integers(len(SCENES)))]
    img = _background(scene_type, h, w, rng)
    n = int(rng.integers(1, max_objects + 1))
    instances: list[Instance] = []
    for _ in range(n):
        if rng.random() < 0.12:
            cat = int(rng.choice(list(CLUTTER)))
            label, look = 0, CLUTTER[cat]
        else:
            label = _pick_class(rng, scene_type)
            cat, look = VOC_TO_COCO[label], LOOKS[label]
        hi = 0.75 * min(h, w)
        lo = min(look.min_size, hi)
        size = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        cx, cy = rng.uniform(0.1 * w, 0.9 * w), rng.uniform(0.1 * h, 0.9 * h)
        angle = float(rng.uniform(-0.5, 0.5)) if look.shape not in ("semi", "legs", "table", "branches") else 0.0
        if look.shape in POLYGON_SHAPES:
            # rounded as the COCO writer stores it, so a reader decodes exactly this mask
            poly = np.round(_rot(_polygon(look.shape, size), angle) + np.array([cx, cy]), 2)
            mask = rasterize_polygon(poly, h, w)
        else:
            poly = None
            mask = _raster(look.shape, size, cx, cy, angle, (h, w), rng)
        if mask.sum() < 4:
            continue
        colour = np.clip(np.array(COLOURS[look.colour], np.float32) + rng.uniform(-20, 20, 3), 0, 255)
        crowd = int(poly is None and crowd_prob > 0 and rng.random() < crowd_prob)
        instances.append(Instance(label, cat, mask, poly, look, (cx, cy), angle, colour, crowd))
    # Paint largest first so that small objects stay visible (the COCO reader's order).
    instances.sort(key=lambda i: -int(i.mask.sum()))
    label = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for inst in instances:
        m = inst.mask
        u, v = _rot(np.stack([xx[m] - inst.centre[0], yy[m] - inst.centre[1]], 1), -inst.angle).T
        pattern = _texture(inst.look.texture, u, v)
        img[m] = inst.colour * (1 - 0.45 * pattern[:, None])
        label[m] = inst.label
    img = img * rng.uniform(0.8, 1.15) + rng.uniform(-15, 15)  # exposure
    img = img + rng.normal(0, 5, img.shape)  # sensor noise
    return Scene(np.clip(img, 0, 255).astype(np.uint8), label, instances, scene_type)


def _pil_polygon(poly: np.ndarray, h: int, w: int) -> np.ndarray:
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).polygon([tuple(p) for p in poly.tolist()], fill=1)
    return np.asarray(im, dtype=bool)


def void_border(label: np.ndarray, width: int = 1) -> np.ndarray:
    """VOC-style void: background pixels within ``width`` of an object become 255."""
    obj = label > 0
    grown = obj.copy()
    for _ in range(width):
        g = grown.copy()
        g[1:] |= grown[:-1]
        g[:-1] |= grown[1:]
        g[:, 1:] |= grown[:, :-1]
        g[:, :-1] |= grown[:, 1:]
        grown = g
    out = label.copy()
    out[grown & ~obj] = VOID
    return out


def _size(rng: np.random.Generator, lo: int, hi: int) -> tuple[int, int]:
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


# ----------------------------------------------------------------------------- writers

def _save_jpeg(arr: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray(arr).save(path, quality=quality, subsampling=0)


def save_palette_png(label: np.ndarray, path: Path) -> None:
    im = Image.fromarray(label.astype(np.uint8), mode="P")
    im.putpalette(voc_colormap().reshape(-1).tolist())
    im.save(path)


def voc_id(i: int) -> str:
    return f"2100_{i:06d}"  # VOC-style ids; the year 2100 marks them as synthetic


@dataclass(frozen=True)
class EmbeddedSpec:
    seed: int = 0
    min_size: int = 112
    max_size: int = 144
    jpeg_quality: int = 92
    max_objects: int = 6


def _scene_for(spec: EmbeddedSpec, scope: str, key: str, **kw) -> Scene:
    rng = scene_rng(spec.seed, scope, key)
    return make_scene(rng, _size(rng, spec.min_size, spec.max_size), spec.max_objects, **kw)


def embedded_layout(sbd_train: int, sbd_val: int, voc_train: int, voc_val: int) -> dict[str, list[str]]:
    """Which ids each split holds. As in the real datasets, a tenth of VOC val also sits in
    SBD train (the pipeline must keep those out of the training pool)."""
    n_sbd = sbd_train + sbd_val
    overlap = min(voc_val // 10, sbd_train)
    voc_val_ids = [voc_id(i) for i in range(overlap)]
    voc_val_ids += [voc_id(n_sbd + voc_train + i) for i in range(voc_val - overlap)]
    return {
        "sbd_train": [voc_id(i) for i in range(sbd_train)],
        "sbd_val": [voc_id(sbd_train + i) for i in range(sbd_val)],
        "voc_train": [voc_id(n_sbd + i) for i in range(voc_train)],
        "voc_val": voc_val_ids,
    }


def write_voc(root: Path, splits: dict[str, list[str]], spec: EmbeddedSpec, progress=None) -> Path:
    """VOC 2012 layout under ``root``/VOCdevkit/VOC2012 (palette PNGs with void borders)."""
    base = root / "VOCdevkit" / "VOC2012"
    for d in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (base / d).mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        for i in ids:
            sc = _scene_for(spec, "pascal", i)
            _save_jpeg(sc.image, base / "JPEGImages" / f"{i}.jpg", spec.jpeg_quality)
            save_palette_png(void_border(sc.label), base / "SegmentationClass" / f"{i}.png")
            if progress:
                progress()
        (base / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    allids = [i for ids in splits.values() for i in ids]
    (base / "ImageSets" / "Segmentation" / "trainval.txt").write_text("".join(f"{i}\n" for i in allids))
    return base


def write_sbd(root: Path, splits: dict[str, list[str]], spec: EmbeddedSpec, progress=None) -> Path:
    """SBD layout under ``root``/benchmark_RELEASE/dataset: img/*.jpg, cls/*.mat (MATLAB v5
    struct GTcls with Segmentation, Boundaries, CategoriesPresent), train.txt, val.txt."""
    import scipy.sparse

    base = root / "benchmark_RELEASE" / "dataset"
    for d in ("img", "cls"):
        (base / d).mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        for i in ids:
            sc = _scene_for(spec, "pascal", i)  # same scope as VOC: shared ids, same picture
            _save_jpeg(sc.image, base / "img" / f"{i}.jpg", spec.jpeg_quality)
            seg = sc.label.astype(np.uint8)
            present = np.array([c for c in np.unique(seg) if c > 0], dtype=np.uint8)
            bounds = np.empty((20, 1), dtype=object)
            for c in range(1, 21):
                edge = (void_border((seg == c).astype(np.uint8)) == VOID) if c in present else np.zeros_like(seg, bool)
                bounds[c - 1, 0] = scipy.sparse.csc_matrix(edge)
            gt = {"Segmentation": seg, "Boundaries": bounds, "CategoriesPresent": present.reshape(-1, 1)}
            savemat_reproducible(base / "cls" / f"{i}.mat", {"GTcls": gt}, _MAT_HEADER)
            if progress:
                progress()
        (base / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    return base


_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by nasseg (embedded synthetic SBD)"


def _coco_polygon(poly: np.ndarray, h: int, w: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    rle = mask_utils.frPyObjects([poly.reshape(-1).tolist()], h, w)
    return mask_utils.decode(mask_utils.merge(rle)).astype(bool)


def _uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.reshape(-1, order="F").astype(np.uint8)  # COCO RLE runs are column-major
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def coco_label(scene: Scene) -> np.ndarray:
    """The class map a COCO reader must produce for ``scene``: paint in area order, crowd
    regions of VOC classes void, clutter background."""
    out = np.zeros(scene.label.shape, np.uint8)
    for inst in scene.instances:
        if inst.label > 0:
            out[inst.mask] = VOID if inst.iscrowd else inst.label
    return out


def coco_scene(spec: EmbeddedSpec, split: str, img_id: int) -> Scene:
    """The scene behind image ``img_id`` of the embedded COCO ``split``."""
    return _scene_for(spec, f"coco-{split}", str(img_id), rasterize_polygon=_coco_polygon, crowd_prob=0.08)


def write_coco(root: Path, split: str, n: int, spec: EmbeddedSpec, progress=None) -> tuple[Path, Path]:
    """COCO layout under ``root``/coco: images/<split>2017/*.jpg and
    annotations/instances_<split>2017.json with polygons (simple shapes), compressed RLE
    (shapes with holes or thin parts) and uncompressed RLE (crowd regions)."""
    from pycocotools import mask as mask_utils

    img_dir = root / "coco" / "images" / f"{split}2017"
    ann_dir = root / "coco" / "annotations"
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for k in range(n):
        img_id = k + 1
        sc = coco_scene(spec, split, img_id)
        h, w = sc.label.shape
        fname = f"{img_id:012d}.jpg"
        _save_jpeg(sc.image, img_dir / fname, spec.jpeg_quality)
        images.append({"id": img_id, "file_name": fname, "height": h, "width": w})
        for inst in sc.instances:
            if inst.iscrowd:
                seg = _uncompressed_rle(inst.mask)
            elif inst.polygon is not None:
                seg = [np.round(inst.polygon.reshape(-1), 2).tolist()]
            else:
                rle = mask_utils.encode(np.asfortranarray(inst.mask.astype(np.uint8)))
                seg = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            ys, xs = np.nonzero(inst.mask)
            annotations.append({
                "id": len(annotations) + 1, "image_id": img_id, "category_id": inst.category,
                "segmentation": seg, "area": float(inst.mask.sum()), "iscrowd": inst.iscrowd,
                "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
            })
        if progress:
            progress()
    categories = [{"id": cid, "name": VOC_CLASSES[v], "supercategory": "voc"} for cid, v in sorted(COCO_TO_VOC.items())]
    categories += [{"id": 25, "name": "giraffe", "supercategory": "animal"},
                   {"id": 28, "name": "umbrella", "supercategory": "accessory"},
                   {"id": 38, "name": "kite", "supercategory": "sports"}]
    ann_file = ann_dir / f"instances_{split}2017.json"
    ann_file.write_text(json.dumps({
        "info": {"description": "nasseg embedded synthetic COCO-format set", "version": "1"},
        "licenses": [], "images": images, "annotations": annotations,
        "categories": sorted(categories, key=lambda c: c["id"]),
    }))
    return img_dir, ann_file
