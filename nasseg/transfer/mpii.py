"""MPII human pose: HRNet's / mmpose's JSON with ``gt_valid.mat``, and the official release .mat.

MPII files are MATLAB 1-based; every loader here returns 0-based pixel coordinates
(:mod:`nasseg.transfer.pose_formats` states the convention) in :class:`PersonRecord` objects.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.io import savemat_reproducible
from ..errors import DataError
from .pose_formats import MPII_JOINTS, MPII_MAT_NAMES, PersonRecord, box_to_wh, read_json


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
    data = read_json(path, "MPII annotation file", "Point the pose dataset at annot/<split>.json (HRNet format).")
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


_MPII_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by nasseg (MPII ground truth, HRNet gt_valid layout)"


def write_mpii_gt(path: Path, jnt_missing, pos_gt, headboxes) -> Path:
    """Inverse of :func:`load_mpii_gt` (0-based arrays in, 1-based HRNet layout out), with
    a fixed 116-byte header so that the same content gives the same bytes."""
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
    savemat_reproducible(path, {"dataset_joints": names, "jnt_missing": jm.T, "pos_gt_src": (pos + 1.0).transpose(1, 2, 0),
                                "headboxes_src": (hb + 1.0).transpose(1, 2, 0)}, _MPII_MAT_HEADER)
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
