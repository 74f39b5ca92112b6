"""The manifest of the real source files: what ``prepare`` read, so that DVC reruns when it changes.

DVC cannot track a dataset folder outside the project cheaply (it would hash, and with its
cache copy, tens of GB). Instead :func:`scan_sources` lists the files each real source's
loader reads, with a fingerprint per file, and writes them to a small JSON file:

* ``stat`` (default): size and modification time (ns), one ``stat`` call per file: a touched or
  rewritten file reruns prepare, and so does a copy that keeps the bytes but not the mtime;
* ``sha1``: size and the SHA-1 of the content: only a real change reruns, but every byte of
  every dataset is read each time the scan runs.

``nasseg prepare-scan`` writes the scan as a DVC stage that always runs (``always_changed``);
``prepare`` depends on its output and therefore reruns only when the scan's bytes changed.
``prepare`` writes the same scan to ``<data.prepared>/manifest.json``, which later stages depend on.
Embedded sources are DVC outputs already (``data/embedded``) and are recorded as such only.

Which files: VOC ``ImageSets/Segmentation/*.txt``, ``JPEGImages/*``, ``SegmentationClass/*``;
SBD ``*.txt``, ``img/*``, ``cls/*``; COCO the annotation file and every file of the image folder.
Folders are listed, nothing is parsed, so the scan does not load the COCO JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Optional

from ..errors import DataError
from ..outputs import write_json

VERSION = 1
FINGERPRINTS = ("stat", "sha1")
SOURCE_NAMES = ("voc", "sbd", "coco")

# source -> (folder inside the root, name filter) of the files its loader reads
LAYOUT = {
    "voc": (("ImageSets/Segmentation", ".txt"), ("JPEGImages", ""), ("SegmentationClass", "")),
    "sbd": ((".", ".txt"), ("img", ""), ("cls", "")),
}
HINTS = {
    "voc": "Point data.sources.voc at the folder that holds JPEGImages/ (…/VOCdevkit/VOC2012).",
    "sbd": "Point data.sources.sbd at the folder that holds cls/ and img/ (…/benchmark_RELEASE/dataset).",
    "coco": "Set data.sources.coco.root (the image folder) and data.sources.coco.annotations (instances_*.json).",
}


def _sha1(path: str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


def _entry(rel: str, path: str, st: os.stat_result, fingerprint: str) -> list:
    return [rel, st.st_size, st.st_mtime_ns if fingerprint == "stat" else _sha1(path)]


def _folder(root: Path, sub: str, suffix: str, fingerprint: str, tick) -> list[list]:
    folder = root / sub
    out = []
    with os.scandir(folder) as it:
        found = sorted((e for e in it if e.is_file() and e.name.endswith(suffix)), key=lambda e: e.name)
    for e in found:
        rel = e.name if sub == "." else f"{sub}/{e.name}"
        out.append(_entry(rel, e.path, e.stat(), fingerprint))
        tick()
    return out


def _summary(root: Path, entries: list[list], fingerprint: str) -> dict:
    digest = hashlib.sha1(json.dumps(entries, separators=(",", ":")).encode()).hexdigest()
    return {"kind": "real", "root": str(root.absolute()), "files": len(entries),
            "bytes": sum(e[1] for e in entries), "digest": digest, "entries": entries}


def scan_source(name: str, where, fingerprint: str = "stat", tick: Optional[Callable[[], None]] = None) -> dict:
    """One real source: ``where`` is its root (VOC, SBD) or ``(image folder, annotation file)`` (COCO)."""
    if fingerprint not in FINGERPRINTS:
        raise DataError(f"data.fingerprint must be one of {', '.join(FINGERPRINTS)}, not {fingerprint!r}.")
    tick = tick or (lambda: None)
    if name == "coco":
        images, ann = Path(where[0]), Path(where[1])
        if not ann.is_file():
            raise DataError(f"{ann}: COCO annotation file not found. {HINTS['coco']}")
        if not images.is_dir():
            raise DataError(f"{images}: COCO image folder not found. {HINTS['coco']}")
        root = Path(os.path.commonpath([images.absolute(), ann.absolute()]))
        entries = [_entry(os.path.relpath(ann.absolute(), root), str(ann), ann.stat(), fingerprint)]
        sub = os.path.relpath(images.absolute(), root)
        entries += _folder(root, sub, "", fingerprint, tick)
        return _summary(root, entries, fingerprint)
    root = Path(where)
    if not root.is_dir():
        raise DataError(f"{root}: {name.upper()} root not found. {HINTS[name]}")
    entries = []
    for sub, suffix in LAYOUT[name]:
        if not (root / sub).is_dir():
            raise DataError(f"{root / sub}: folder not found in the {name.upper()} root. {HINTS[name]}")
        entries += _folder(root, sub, suffix, fingerprint, tick)
    return _summary(root, entries, fingerprint)


def scan_sources(data, progress: Optional[Callable[[str, int], Callable[[], None]]] = None) -> dict:
    """The manifest of ``data.sources`` (a ``DataParams``): one entry per source, real ones with
    every file (path relative to the source's root, size, mtime in ns or SHA-1) and a digest."""
    src = data.sources
    where = {"voc": src.voc, "sbd": src.sbd,
             "coco": (src.coco.root, src.coco.annotations) if src.coco is not None else None}
    tick = progress or (lambda name, total: None)
    sources = {}
    for name in SOURCE_NAMES:
        if where[name] is None:
            sources[name] = {"kind": "embedded", "note": "rendered by prepare under <data.root>/embedded (a DVC output)"}
        else:
            sources[name] = scan_source(name, where[name], data.fingerprint, tick(f"scan {name}", None))
    return {"version": VERSION, "fingerprint": data.fingerprint, "sources": sources}


def write_manifest(manifest: dict, path: Path) -> Path:
    """Written only when the content differs, so that an unchanged scan leaves the file alone."""
    path = Path(path)
    if path.is_file():
        try:
            if json.loads(path.read_text()) == manifest:
                return path
        except (json.JSONDecodeError, OSError):
            pass
    return write_json(manifest, path)


def diff_manifests(old: dict, new: dict, limit: int = 10) -> list[str]:
    """What changed between two manifests, in words (at most ``limit`` files per source)."""
    lines = []
    if old.get("fingerprint") != new.get("fingerprint"):
        lines.append(f"fingerprint {old.get('fingerprint')} -> {new.get('fingerprint')}")
    for name in SOURCE_NAMES:
        a, b = old.get("sources", {}).get(name, {}), new.get("sources", {}).get(name, {})
        if a.get("digest") == b.get("digest") and a.get("kind") == b.get("kind"):
            continue
        if a.get("kind") != b.get("kind") or a.get("root") != b.get("root"):
            lines.append(f"{name}: {a.get('kind')} {a.get('root', '')} -> {b.get('kind')} {b.get('root', '')}".strip())
            continue
        ea = {e[0]: e[1:] for e in a.get("entries", [])}
        eb = {e[0]: e[1:] for e in b.get("entries", [])}
        changed = [f"{name}: {p} " + ("added" if p not in ea else "removed" if p not in eb else "changed")
                   for p in sorted(set(ea) | set(eb)) if ea.get(p) != eb.get(p)]
        lines += changed[:limit] + ([f"{name}: … and {len(changed) - limit} more"] if len(changed) > limit else [])
    return lines


__all__ = ["FINGERPRINTS", "diff_manifests", "scan_source", "scan_sources", "write_manifest"]
