"""Human pose estimation data: COCO keypoints and MPII loaders, crop geometry, heatmaps.

The pipeline is Simple Baselines' (Xiao et al., ECCV 2018), which the paper's pose
transfer (Sect. 4.5) builds on: every annotated person is a :class:`PersonRecord` with a
box (``center``, ``scale``); a sample is that box cropped to the network input by an
affine warp (with scale, rotation and flip augmentation when training) and a target of
one Gaussian heatmap per joint at ``1/stride`` of the input resolution.

Conventions (used everywhere in this module and by the synthetic writers):

* **Pixel coordinates**: integer coordinates are pixel *centres*, 0-based; pixel ``i``
  covers ``[i - 0.5, i + 0.5]``. COCO keypoints are read as they are; MPII files are
  MATLAB 1-based and the loaders subtract 1 (as HRNet and mmpose do).
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
  :class:`PoseDataset` takes it in heatmap pixels *at stride 4* (Simple Baselines' 2.0)
  and uses ``sigma * 4 / stride``, so the Gaussian keeps its size in input pixels.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..data.io import open_rgb
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError

# ----------------------------------------------------------------------------- joint sets

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
# COCO's own ``skeleton`` (person category), 0-based.
COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

MPII_JOINTS = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)
MPII_FLIP_PAIRS = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
MPII_SKELETON = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
    (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15),
)
# The names HRNet's evaluation looks up in gt_valid.mat's ``dataset_joints``.
MPII_MAT_NAMES = ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
                  "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri")

_MEAN_U8 = tuple(int(round(255 * m)) for m in IMAGENET_MEAN)  # (124, 116, 104)


@dataclass(frozen=True, eq=False)
class PersonRecord:
    """One annotated person. Arrays are float64 pixels, 0-based, pixel centres at integers."""

    image: Path
    image_id: int | str          # COCO image id, or the MPII file name
    center: np.ndarray           # (2,) box centre
    scale: np.ndarray            # (2,) box width, height in pixels: the region the crop covers
    joints: np.ndarray           # (K, 2)
    visible: np.ndarray          # (K,) float32 in {0, 1}: 1 where the joint is labelled
    ann_id: int | None = None
    area: float = 0.0            # COCO segment area (OKS needs it); 0 for MPII
    index: int = 0               # position in the source file (annotation list / JSON list)


# ----------------------------------------------------------------------------- file helpers

def _read_json(path: Path, what: str, fix: str):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found. {fix}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err}). Re-download or re-extract the {what}.") from None


def clip_box(box, image_wh) -> Optional[tuple[np.ndarray, float, float]]:
    """A COCO box ``(x, y, w, h)`` clipped to the image as Simple Baselines does:
    ``(center, width, height)``, or None when nothing of it is inside."""
    x, y, w, h = (float(v) for v in box)
    width, height = image_wh
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(height - 1.0, y1 + max(0.0, h - 1.0))
    if x2 < x1 or y2 < y1:
        return None
    bw, bh = x2 - x1, y2 - y1
    return np.array([x1 + 0.5 * bw, y1 + 0.5 * bh]), bw, bh


def box_to_wh(w: float, h: float, aspect: float, padding: float) -> np.ndarray:
    """Grow the short side to the aspect ratio w/h = ``aspect``, then multiply by ``padding``."""
    w, h = max(float(w), 1.0), max(float(h), 1.0)  # a 1-pixel floor keeps the crop affine invertible
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    return np.array([w, h], np.float64) * padding


# ----------------------------------------------------------------------------- COCO

def load_coco_keypoints(annotations: Path, image_root: Path, *, aspect: float = 0.75, padding: float = 1.25,
                        skip_bad: bool = False) -> tuple[list[PersonRecord], dict]:
    """Person records of a COCO ``person_keypoints_<split>.json``.

    Simple Baselines' rules: person category, ``iscrowd == 0``, ``num_keypoints > 0``,
    a box clipped to the image (``x2 = min(W-1, x1 + max(0, w-1))``) kept when
    ``area > 0`` and ``x2 >= x1``, ``y2 >= y1``. The box's centre is the record's centre;
    the box grows to ``aspect`` (w/h) and is multiplied by ``padding``.
    Records come image by image in the file's image order.

    Returns ``(records, info)`` with ``info = {"path", "json" (the parsed file, for
    COCOeval), "skipped" (images dropped because their file is missing, with
    ``skip_bad``), "skipped_persons"}``.
    """
    annotations, image_root = Path(annotations), Path(image_root)
    data = _read_json(annotations, "COCO keypoints annotation file",
                      "Point the pose dataset at annotations/person_keypoints_<split>.json.")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise DataError(f"{annotations}: expected a COCO annotation object with 'images' and 'annotations' lists "
                        "(annotations/person_keypoints_<split>.json).")
    person_ids = [c.get("id") for c in data.get("categories") or [] if isinstance(c, dict) and c.get("name") == "person"]
    person_id = person_ids[0] if person_ids else 1
    k = len(COCO_KEYPOINTS)

    images: dict = {}
    order: list = []
    for im in data["images"]:
        try:
            images[im["id"]] = (str(im["file_name"]), int(im["width"]), int(im["height"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{annotations}: image entry {str(im)[:120]} lacks id/file_name/width/height. "
                            "Is this a COCO annotation file?") from None
        order.append(im["id"])

    per_image: dict = {i: [] for i in order}
    for pos, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DataError(f"{annotations}: annotation #{pos} is not an object. Is this a COCO annotation file?")
        if ann.get("category_id", person_id) != person_id or ann.get("iscrowd", 0):
            continue
        ann_id = ann.get("id")
        kp = ann.get("keypoints")
        if kp is None:
            raise DataError(f"{annotations}: annotation id {ann_id} has no 'keypoints'. This looks like an instances "
                            "file; use annotations/person_keypoints_<split>.json.")
        if not isinstance(kp, list) or len(kp) != 3 * k:
            n = len(kp) if isinstance(kp, list) else type(kp).__name__
            raise DataError(f"{annotations}: annotation id {ann_id} has {n} keypoint values; expected 3*{k} = {3 * k} "
                            "(x, y, v for each COCO keypoint). Is this a COCO person_keypoints file?")
        try:
            kp = np.asarray(kp, np.float64).reshape(k, 3)
            x, y, w, h = (float(v) for v in ann["bbox"])
            area = float(ann.get("area", 0.0))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{annotations}: annotation id {ann_id} has a malformed bbox, area or keypoints "
                            "(expected bbox [x, y, w, h] and 51 numbers).") from None
        num = ann.get("num_keypoints", int((kp[:, 2] > 0).sum()))
        if num <= 0 or not (kp[:, 2] > 0).any():
            continue
        if ann.get("image_id") not in images:
            raise DataError(f"{annotations}: annotation id {ann_id} names image_id {ann.get('image_id')}, "
                            "which is not in 'images'. The file is inconsistent; re-download it.")
        _, width, height = images[ann["image_id"]]
        clipped = clip_box((x, y, w, h), (width, height))
        if not (area > 0 and clipped is not None):
            continue
        center, bw, bh = clipped
        per_image[ann["image_id"]].append((pos, ann_id, area, kp, center, box_to_wh(bw, bh, aspect, padding)))

    records: list[PersonRecord] = []
    skipped = skipped_persons = 0
    for img_id in order:
        if not per_image[img_id]:
            continue
        path = image_root / images[img_id][0]
        if not path.is_file():
            if not skip_bad:
                raise DataError(f"{path}: image file not found (image id {img_id} of {annotations}). Check the "
                                "image root, or pass --skip-bad to drop the persons on missing images.")
            skipped += 1
            skipped_persons += len(per_image[img_id])
            continue
        for pos, ann_id, area, kp, center, scale in per_image[img_id]:
            records.append(PersonRecord(
                image=path, image_id=img_id, center=center, scale=scale, joints=kp[:, :2].copy(),
                visible=(kp[:, 2] > 0).astype(np.float32), ann_id=ann_id, area=area, index=pos))
    return records, {"path": annotations, "json": data, "skipped": skipped, "skipped_persons": skipped_persons}


# ----------------------------------------------------------------------------- MPII

def load_mpii_json(path: Path, image_root: Path, *, aspect: float = 1.0, padding: float = 1.25,
                   skip_bad: bool = False, stats: dict | None = None) -> list[PersonRecord]:
    """Person records of the HRNet / mmpose MPII JSON (``annot/train.json``, ``valid.json``).

    Each entry: ``image``, ``center`` [x, y], ``scale`` (box side / 200 px), ``joints``
    16 x [x, y], ``joints_vis`` 16 ints, all MATLAB 1-based. As HRNet: when center x != -1,
    center y += 15 * scale and scale *= ``padding`` (this 1.25 *is* the padding, applied
    once); then center and joints -= 1. The box is square, ``scale * 200`` px a side, grown
    to ``aspect`` (w/h) when that is not 1. ``index`` is the entry's position in the list
    (the row of gt_valid.mat). With ``skip_bad`` entries whose image is missing are dropped
    and counted in ``stats["skipped"]`` when a dict is passed.
    """
    path, image_root = Path(path), Path(image_root)
    data = _read_json(path, "MPII annotation file", "Point the pose dataset at annot/<split>.json (HRNet format).")
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of person entries (HRNet/mmpose MPII format, keys image, "
                        f"center, scale, joints, joints_vis); got a {type(data).__name__}.")
    k = len(MPII_JOINTS)
    records: list[PersonRecord] = []
    skipped = 0
    for pos, entry in enumerate(data):
        try:
            name = str(entry["image"])
            c = np.asarray(entry["center"], np.float64).reshape(2)
            s = float(entry["scale"])
            if "joints" in entry:
                joints = np.asarray(entry["joints"], np.float64)
                vis = np.asarray(entry.get("joints_vis", np.ones(len(joints))), np.float64).reshape(-1)
            else:  # the test split has no joints
                joints, vis = np.zeros((k, 2)), np.zeros(k)
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: entry #{pos} is malformed; expected keys image, center [x, y], scale, "
                            "joints 16 x [x, y], joints_vis (HRNet/mmpose MPII JSON).") from None
        if joints.shape != (k, 2) or vis.shape != (k,):
            raise DataError(f"{path}: entry #{pos} ({name}) has joints of shape {joints.shape} and joints_vis of "
                            f"length {vis.size}; expected {k} x 2 and {k} (MPII joint order).")
        if c[0] != -1:
            c[1] += 15 * s
            s *= padding
        c -= 1
        joints = joints - 1
        side = s * 200.0
        img = image_root / name
        if not img.is_file():
            if not skip_bad:
                raise DataError(f"{img}: image file not found (entry #{pos} of {path}). Check the image root, "
                                "or pass --skip-bad to drop it.")
            skipped += 1
            continue
        records.append(PersonRecord(
            image=img, image_id=name, center=c, scale=box_to_wh(side, side, aspect, 1.0), joints=joints,
            visible=(vis > 0).astype(np.float32), ann_id=None, area=0.0, index=pos))
    if stats is not None:
        stats["skipped"] = skipped
    return records


def load_mpii_gt(path: Path) -> dict:
    """HRNet's ``gt_valid.mat``: ``{"jnt_missing": (N,16) bool, "pos_gt": (N,16,2),
    "headboxes": (N,2,2) [[x1,y1],[x2,y2]]}``, coordinates converted to 0-based.
    (The head size PCKh normalises by is ``0.6 * ||headbox[1] - headbox[0]||``.)"""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: MPII ground-truth file not found. It is annot/gt_valid.mat in HRNet's MPII layout.")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises several unrelated types for a bad file
        raise DataError(f"{path}: not a readable MATLAB .mat file ({err}). Re-download gt_valid.mat.") from None
    missing = [key for key in ("jnt_missing", "pos_gt_src", "headboxes_src") if key not in mat]
    if missing:
        raise DataError(f"{path}: no {', '.join(missing)}; expected HRNet's gt_valid.mat with jnt_missing (16 x N), "
                        "pos_gt_src (16 x 2 x N) and headboxes_src (2 x 2 x N).")
    jm, pos, hb = (np.asarray(mat[key]) for key in ("jnt_missing", "pos_gt_src", "headboxes_src"))
    k = len(MPII_JOINTS)
    n = jm.shape[1] if jm.ndim == 2 else -1
    if jm.shape != (k, n) or pos.shape != (k, 2, n) or hb.shape != (2, 2, n):
        raise DataError(f"{path}: shapes jnt_missing {jm.shape}, pos_gt_src {pos.shape}, headboxes_src {hb.shape} "
                        f"do not fit; expected ({k}, N), ({k}, 2, N), (2, 2, N) with one N.")
    return {
        "jnt_missing": jm.T.astype(bool),
        "pos_gt": pos.transpose(2, 0, 1).astype(np.float64) - 1.0,
        "headboxes": hb.transpose(2, 0, 1).astype(np.float64) - 1.0,
    }


_MPII_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by nasseg (MPII ground truth, HRNet gt_valid layout)".ljust(116)


def write_mpii_gt(path: Path, jnt_missing, pos_gt, headboxes) -> Path:
    """Inverse of :func:`load_mpii_gt` (0-based arrays in, 1-based HRNet layout out), with
    a fixed 116-byte header so that the same content gives the same bytes."""
    import scipy.io

    jm = np.asarray(jnt_missing).astype(np.uint8)
    pos = np.asarray(pos_gt, np.float64)
    hb = np.asarray(headboxes, np.float64)
    n, k = jm.shape
    if pos.shape != (n, k, 2) or hb.shape != (n, 2, 2):
        raise ValueError(f"write_mpii_gt: shapes {jm.shape}, {pos.shape}, {hb.shape}; expected (N,16), (N,16,2), (N,2,2)")
    names = np.empty((1, k), dtype=object)
    for i, nm in enumerate(MPII_MAT_NAMES[:k]):
        names[0, i] = nm
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"dataset_joints": names, "jnt_missing": jm.T,
                            "pos_gt_src": (pos + 1.0).transpose(1, 2, 0), "headboxes_src": (hb + 1.0).transpose(1, 2, 0)},
                     do_compression=True)
    with open(path, "r+b") as f:
        f.write(_MPII_MAT_HEADER)
    return path


def load_mpii_official(path: Path, image_root: Path, *, aspect: float = 1.0, padding: float = 1.25,
                       train: bool | None = None, skip_bad: bool = False) -> list[PersonRecord]:
    """Person records of the official release ``mpii_human_pose_v1_u12_1.mat`` (RELEASE struct).

    Only persons with ``objpos``, ``scale`` and ``annopoints`` are kept (the single-person
    set HRNet converts). Center and scale follow :func:`load_mpii_json` (y += 15 * scale,
    scale *= ``padding``, 1-based -> 0-based). ``train`` filters on ``img_train`` (None: all).
    ``image_id`` is the file name, ``index`` the annolist position, ``ann_id`` the person's
    position in that image's annorect list. The head box is not part of the record; use
    :func:`mpii_official_headboxes`.
    """
    image_root = Path(image_root)
    release = _read_release(path)
    annolist = np.atleast_1d(release.annolist)
    img_train = np.atleast_1d(getattr(release, "img_train", np.ones(len(annolist))))
    k = len(MPII_JOINTS)
    records: list[PersonRecord] = []
    for i, ann in enumerate(annolist):
        if train is not None and bool(img_train[i]) != train:
            continue
        try:
            name = str(ann.image.name)
        except AttributeError:
            raise DataError(f"{path}: annolist({i + 1}) has no image.name; is this mpii_human_pose_v1_u12_1.mat?") from None
        for j, rect in enumerate(_cells(getattr(ann, "annorect", None))):
            if not all(hasattr(rect, f) for f in ("objpos", "scale", "annopoints")):
                continue
            try:
                c = np.array([float(rect.objpos.x), float(rect.objpos.y)])
                s = float(rect.scale)
                points = _cells(rect.annopoints.point)
            except (AttributeError, TypeError, ValueError):
                continue  # an empty struct ([]) where a person is unannotated
            joints, vis = np.zeros((k, 2)), np.zeros(k, np.float32)
            for p in points:
                pid = int(p.id)
                if 0 <= pid < k:
                    joints[pid] = float(p.x) - 1.0, float(p.y) - 1.0
                    vis[pid] = 1.0
            if c[0] != -1:
                c[1] += 15 * s
                s *= padding
            c -= 1
            img = image_root / name
            if not img.is_file():
                if skip_bad:
                    continue
                raise DataError(f"{img}: image file not found (annolist({i + 1}) of {path}). Check the image root, "
                                "or pass --skip-bad to drop it.")
            side = s * 200.0
            records.append(PersonRecord(image=img, image_id=name, center=c, scale=box_to_wh(side, side, aspect, 1.0),
                                        joints=joints, visible=vis, ann_id=j, area=0.0, index=i))
    return records


def mpii_official_headboxes(path: Path, records: Sequence[PersonRecord]) -> np.ndarray:
    """(N, 2, 2) 0-based head boxes [[x1, y1], [x2, y2]] of ``records`` from the official .mat."""
    release = _read_release(path)
    annolist = np.atleast_1d(release.annolist)
    out = np.zeros((len(records), 2, 2))
    for n, rec in enumerate(records):
        rect = _cells(annolist[rec.index].annorect)[rec.ann_id]
        out[n] = [[float(rect.x1) - 1, float(rect.y1) - 1], [float(rect.x2) - 1, float(rect.y2) - 1]]
    return out


def _read_release(path: Path):
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: MPII release file not found (mpii_human_pose_v1_u12_1.mat).")
    try:
        mat = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except Exception as err:
        raise DataError(f"{path}: not a readable MATLAB .mat file ({err}). Re-download the MPII release.") from None
    if "RELEASE" not in mat or not hasattr(mat["RELEASE"], "annolist"):
        raise DataError(f"{path}: no RELEASE.annolist; expected the official mpii_human_pose_v1_u12_1.mat.")
    return mat["RELEASE"]


def _cells(x) -> list:
    """squeeze_me turns a 1-element struct array into the struct itself; undo that."""
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        return list(x.reshape(-1))
    return [x]


# ----------------------------------------------------------------------------- geometry

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
    fill = _MEAN_U8 if image.mode == "RGB" else _MEAN_U8[0]
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


# ----------------------------------------------------------------------------- dataset

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
