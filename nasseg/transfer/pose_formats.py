"""Human pose data on disk: the joint sets, the person record every pose loader yields, COCO keypoints.

The pipeline is Simple Baselines' (Xiao et al., ECCV 2018), which the paper's pose
transfer (Sect. 4.5) builds on: every annotated person is a :class:`PersonRecord` with a
box (``center``, ``scale``); :class:`nasseg.transfer.pose_data.PoseDataset` crops that box
to the network input (:mod:`nasseg.transfer.pose_geometry`). MPII is read by
:mod:`nasseg.transfer.mpii`.

**Pixel coordinates**: integer coordinates are pixel *centres*, 0-based; pixel ``i``
covers ``[i - 0.5, i + 0.5]``. COCO keypoints are read as they are; MPII files are
MATLAB 1-based and the loaders subtract 1 (as HRNet and mmpose do).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import DataError

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

def read_json(path: Path, what: str, fix: str):
    """The parsed JSON file ``path``; a DataError naming ``what`` and the ``fix`` when it is missing or invalid."""
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
    data = read_json(annotations, "COCO keypoints annotation file",
                     "Point the pose dataset at annotations/person_keypoints_<split>.json.")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        raise DataError(f"{annotations}: expected a COCO annotation object with 'images' and 'annotations' lists "
                        "(annotations/person_keypoints_<split>.json).")
    person_ids = [c.get("id") for c in data.get("categories") or [] if isinstance(c, dict) and c.get("name") == "person"]
    person_id = person_ids[0] if person_ids else 1
    images, order = _coco_images(data["images"], annotations)
    per_image: dict = {i: [] for i in order}
    for pos, ann in enumerate(data["annotations"]):
        person = _coco_person(ann, pos, person_id, images, annotations)
        if person is not None:
            image_id, kp, area, center, bw, bh = person
            per_image[image_id].append((pos, ann.get("id"), area, kp, center, box_to_wh(bw, bh, aspect, padding)))
    records, skipped, skipped_persons = _coco_records(per_image, order, images, image_root, annotations, skip_bad)
    return records, {"path": annotations, "json": data, "skipped": skipped, "skipped_persons": skipped_persons}


def _coco_images(entries: list, annotations: Path) -> tuple[dict, list]:
    """``({image id: (file name, width, height)}, image ids in file order)``."""
    images: dict = {}
    order: list = []
    for im in entries:
        try:
            images[im["id"]] = (str(im["file_name"]), int(im["width"]), int(im["height"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{annotations}: image entry {str(im)[:120]} lacks id/file_name/width/height. "
                            "Is this a COCO annotation file?") from None
        order.append(im["id"])
    return images, order


def _coco_person(ann, pos: int, person_id, images: dict, annotations: Path):
    """``(image id, keypoints (K, 3), area, box centre, box width, box height)`` of one
    annotation, or None when Simple Baselines' rules leave it out."""
    k = len(COCO_KEYPOINTS)
    if not isinstance(ann, dict):
        raise DataError(f"{annotations}: annotation #{pos} is not an object. Is this a COCO annotation file?")
    if ann.get("category_id", person_id) != person_id or ann.get("iscrowd", 0):
        return None
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
        return None
    if ann.get("image_id") not in images:
        raise DataError(f"{annotations}: annotation id {ann_id} names image_id {ann.get('image_id')}, "
                        "which is not in 'images'. The file is inconsistent; re-download it.")
    _, width, height = images[ann["image_id"]]
    clipped = clip_box((x, y, w, h), (width, height))
    if not (area > 0 and clipped is not None):
        return None
    center, bw, bh = clipped
    return ann["image_id"], kp, area, center, bw, bh


def _coco_records(per_image: dict, order: list, images: dict, image_root: Path, annotations: Path,
                  skip_bad: bool) -> tuple[list[PersonRecord], int, int]:
    """The records of every image with persons, in file order, and how many images (and
    persons on them) were dropped for a missing file."""
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
    return records, skipped, skipped_persons
