"""Opening the sets ``prepare`` wrote: every later stage's way to its data.

``prepare`` (:mod:`nasseg.data.prepare`) writes list files under ``<data.root>/lists``;
stages open sets by name with :func:`open_set`. The names are :data:`nasseg.data.names.SETS`:
``voc_train``, ``voc_val``, ``sbd`` (SBD train+val), ``trainaug`` (SBD+VOC pool),
``meta_train``, ``meta_val`` and ``coco_train``; for the second system (under ``wacv.data.root``)
``camvid_{train,val,test}``, ``cityscapes_{train,val}`` and its own ``meta_train``/``meta_val``
(CamVid train/val).

The first system's sets are read from one file, ``<data.prepared>/index.json``
(:func:`read_index`; parsed once per process): every sample's image, its class-index PNG
mask (VOC's own, or the ones prepare decoded from SBD ``.mat`` files and rasterised from COCO
polygons / RLE) and its size. No SBD ``.mat`` is decoded, no COCO JSON loaded and no file
checked when a set is opened or read. The list files beside it (``<data.root>/lists``) name the
same files in the authors' format; the street sets are read from theirs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from torch.utils.data import ConcatDataset, Dataset

from ..config import DataParams
from ..errors import DataError
from .datasets import IndexedSegmentation, ListSegmentation
from .names import SETS, STREET_SETS

INDEX_VERSION = 1


def lists_dir(data: DataParams) -> Path:
    """Where ``prepare`` writes the list files of ``data`` (``<data.root>/lists``)."""
    return Path(data.root) / "lists"


def prepared_dir(data: DataParams) -> Path:
    """Where ``prepare`` writes decoded masks, ``index.json`` and ``manifest.json``
    (``data.prepared``; by default ``<data.root>/prepared``)."""
    prepared = getattr(data, "prepared", None)
    return Path(prepared) if prepared is not None else Path(data.root) / "prepared"


def index_path(data: DataParams) -> Path:
    return prepared_dir(data) / "index.json"


_INDEX_CACHE: dict = {}


def clear_index_cache() -> None:
    """Forget the parsed index (the next :func:`read_index` parses the file again)."""
    _INDEX_CACHE.clear()


def read_index(path: Path) -> dict:
    """The parsed index (``{"version", "num_classes", "roots", "samples", "sets"}``, roots made
    absolute), read once per process and file version (path, size, mtime)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no prepared index. Run `nasseg prepare` (or `dvc repro prepare`) first; "
                        "it writes the index every training loop reads.") from None
    key = (str(path.absolute()), st.st_size, st.st_mtime_ns)
    if key not in _INDEX_CACHE:
        try:
            index = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: not a prepared index ({err}). Run `nasseg prepare` again.") from None
        if not isinstance(index, dict) or index.get("version") != INDEX_VERSION:
            raise DataError(f"{path}: index version {index.get('version') if isinstance(index, dict) else None}, "
                            f"this code reads version {INDEX_VERSION}. Run `nasseg prepare` again.")
        index["roots"] = [os.path.normpath(path.parent / r) for r in index["roots"]]
        _INDEX_CACHE.clear()  # one index per process is what a run uses
        _INDEX_CACHE[key] = index
    return _INDEX_CACHE[key]


def write_index(path: Path, roots: list[str], samples: list[list], sets: dict[str, list[int]],
                num_classes: int) -> Path:
    """``index.json``: ``roots`` (folders, relative to the index when inside the project),
    ``samples`` (rows ``[id, image root, image name, mask root, mask name, height, width]``) and
    ``sets`` (name -> row numbers, in the set's order)."""
    from ..outputs import write_json

    return write_json({"version": INDEX_VERSION, "num_classes": num_classes, "roots": roots,
                       "samples": samples, "sets": sets}, path)


def open_set(name: str, data: DataParams, transforms=None) -> Dataset:
    """A set written by ``prepare``; several names joined with '+' give their concatenation
    (e.g. ``coco_train+trainaug``, the paper's COCO+SBD+VOC)."""
    names = [n.strip() for n in name.split("+") if n.strip()]
    if len(names) > 1:
        return ConcatDataset([open_set(n, data, transforms) for n in names])
    name = names[0] if names else name
    out = lists_dir(data)
    if name not in SETS:
        raise DataError(f"unknown dataset '{name}'. Known sets: {', '.join(SETS)} (join several with '+').")
    if not out.is_dir():
        stage = "prepare-street" if name in STREET_SETS else "prepare"
        raise DataError(f"{out}: no list files. Run `nasseg {stage}` (or `dvc repro {stage.replace('-', '_')}`) first.")
    path = index_path(data)
    if name in STREET_SETS or (not path.is_file() and (out / f"{name}.lst").is_file()):
        # the street sets, and the second system's meta_train / meta_val (prepare-street writes lists only)
        return ListSegmentation(out / f"{name}.lst", out, transforms, num_classes=data.num_classes)
    index = read_index(path)
    if index["num_classes"] != data.num_classes:
        raise DataError(f"{path}: prepared for {index['num_classes']} classes, but data.num_classes is "
                        f"{data.num_classes}. Run `nasseg prepare` again.")
    if name not in index["sets"]:
        raise DataError(f"{path}: holds no set '{name}' (it holds {', '.join(index['sets'])}). "
                        "Run `nasseg prepare` again.")
    rows = index["samples"]
    return IndexedSegmentation([rows[i] for i in index["sets"][name]], index["roots"], transforms,
                               num_classes=data.num_classes, source=f"{name} ({path})")
