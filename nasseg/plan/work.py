"""Counting work from the params: images per set (embedded counts, the official sizes of real
sources, or prepare's own counts) and full image sizes."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..config import Params

STAGE2_ABOVE_MEAN = 0.5  # share of architectures assumed to beat the running mean of stage-1 rewards

# Sizes of the official releases, used when params name a real dataset that this machine cannot count
REAL_SETS = {
    "voc_train": (1464, "VOC 2012 train"), "voc_val": (1449, "VOC 2012 val"),
    "trainaug": (10582, "SBD + VOC train, VOC val left out (the usual 'trainaug')"),
    "sbd": (10582 - 1464, "trainaug less VOC train (lower bound: SBD's overlap with VOC train counted once)"),
    "coco_train": (118287, "COCO train2017, before the VOC-class filter (an upper bound)"),
    "camvid_train": (367, "CamVid (SegNet split) train"), "camvid_val": (101, "CamVid val"),
    "camvid_test": (233, "CamVid test"), "cityscapes_train": (2975, "Cityscapes train"),
    "cityscapes_val": (500, "Cityscapes val"),
    "mpii_train": (22246, "MPII train persons (HRNet's train.json)"), "mpii_valid": (2958, "MPII valid persons"),
    "coco_kp_train": (149813, "COCO train2017 persons with keypoints"), "coco_kp_val": (6352, "COCO val2017 persons"),
    "nyu_test": (654, "NYUv2 labelled test split"), "nyu_train": (25000, "NYUv2 raw Kinect frames, the paper's ~25K (Sect. 4.5.2)"),
}
REAL_FULL_SIZE = {"voc": (375, 500), "camvid": (360, 480), "cityscapes": (1024, 2048), "nyu": (480, 640)}

# Stages that run under torchrun (their batches split over ranks; tricks deals whole runs)
DDP_STAGES = ("ablate", "correlate", "train", "train_wacv", "transfer")
RUN_PARALLEL_STAGES = ("tricks",)


@dataclass
class Sets:
    sizes: dict  # name -> images
    basis: dict  # name -> where the count comes from
    full: dict  # family -> (h, w) of a full-size image

    def n(self, sets: str) -> int:
        return sum(self.sizes[s.strip()] for s in sets.split("+"))

    def pixels(self, family: str) -> int:
        h, w = self.full[family]
        return h * w


def count_sets(p: Params) -> Sets:
    """Images per set, from the params (embedded counts; official sizes for real sources),
    replaced by prepare's own counts (``<data.root>/lists/summary.json``) when that file exists
    and was written for the same sources and embedded counts."""
    d, e = p.data, p.data.embedded
    sizes, basis = {}, {}
    real = {"voc": d.sources.voc is not None, "sbd": d.sources.sbd is not None, "coco": d.sources.coco is not None}
    if not real["voc"]:
        sizes.update(voc_train=e.voc.train, voc_val=e.voc.val)
    if not real["sbd"]:
        sizes["sbd"] = e.sbd.train + e.sbd.val - (sizes.get("voc_val", 0) // 10 if not real["voc"] else 0)
    if not real["coco"]:
        sizes["coco_train"] = e.coco.train
    for k in ("voc_train", "voc_val", "sbd", "coco_train"):
        basis[k] = "params (embedded)" if k in sizes else f"assumed: {REAL_SETS[k][1]}"
        sizes.setdefault(k, REAL_SETS[k][0])
    if real["voc"] or real["sbd"]:
        sizes["trainaug"], basis["trainaug"] = REAL_SETS["trainaug"][0], f"assumed: {REAL_SETS['trainaug'][1]}"
    else:
        sizes["trainaug"], basis["trainaug"] = sizes["voc_train"] + sizes["sbd"], "params (embedded)"
    n_val = int(round(sizes["trainaug"] * d.split.val_fraction))
    sizes["meta_train"], sizes["meta_val"] = sizes["trainaug"] - n_val, n_val
    basis["meta_train"] = basis["meta_val"] = f"trainaug split {1 - d.split.val_fraction:g} / {d.split.val_fraction:g}"
    summary = Path(d.root) / "lists" / "summary.json"
    if summary.is_file():
        try:
            s = json.loads(summary.read_text())["sets"]
            wanted = {"voc_train": ("voc", e.voc.train), "voc_val": ("voc", e.voc.val)}
            same = all((s[k]["source"] == "embedded") == (not real[src]) and (real[src] or s[k]["images"] == n)
                       for k, (src, n) in wanted.items())
            same = same and (s["coco_train"]["source"] == "embedded") == (not real["coco"])
            if same:
                for k in ("voc_train", "voc_val", "sbd", "coco_train", "trainaug", "meta_train", "meta_val"):
                    if k in s:
                        sizes[k], basis[k] = s[k]["images"], f"counted by prepare ({summary})"
        except (KeyError, TypeError, ValueError):
            pass
    full = {"voc": ((e.min_size + e.max_size) // 2,) * 2 if not real["voc"] else REAL_FULL_SIZE["voc"]}
    # the second system
    w = p.wacv.data
    we = w.embedded
    for name, (ds, split) in (("camvid_train", ("camvid", "train")), ("camvid_val", ("camvid", "val")),
                              ("camvid_test", ("camvid", "test")), ("cityscapes_train", ("cityscapes", "train")),
                              ("cityscapes_val", ("cityscapes", "val"))):
        if getattr(w.sources, ds) is None:
            sizes[name], basis[name] = getattr(getattr(we, ds), split), "params (embedded)"
        else:
            sizes[name], basis[name] = REAL_SETS[name][0], f"assumed: {REAL_SETS[name][1]}"
    full["camvid"] = tuple(we.camvid_size) if w.sources.camvid is None else REAL_FULL_SIZE["camvid"]
    full["cityscapes"] = tuple(we.cityscapes_size) if w.sources.cityscapes is None else REAL_FULL_SIZE["cityscapes"]
    # the transfer tasks
    t = p.transfer.data
    te = t.embedded
    emb = {"coco_kp_train": (t.coco_keypoints, te.coco.train), "coco_kp_val": (t.coco_keypoints, te.coco.val),
           "mpii_train": (t.mpii, te.mpii.train), "mpii_valid": (t.mpii, te.mpii.val),
           "nyu_train": (t.nyu, te.nyu_raw_train), "nyu_test": (t.nyu, te.nyu_test)}
    for name, (src, n) in emb.items():
        if src is None:
            sizes[name], basis[name] = n, "params (embedded)"
        else:
            sizes[name], basis[name] = REAL_SETS[name][0], f"assumed: {REAL_SETS[name][1]}"
    full["nyu"] = (te.depth_size[1], te.depth_size[0]) if t.nyu is None else REAL_FULL_SIZE["nyu"]
    return Sets(sizes, basis, full)


def _count(folder: Path, suffix: str = "") -> int:
    with os.scandir(folder) as it:
        return sum(1 for e in it if e.is_file() and e.name.endswith(suffix))


def source_files(data) -> dict[str, Optional[int]]:
    """Files per real source that ``prepare-scan`` stats (``data``: a ``DataParams``), listed here the
    way the scan lists them (names only, nothing stat'ed or read); None where a folder is not found
    here. Embedded sources are left out: the scan only notes them."""
    from ..data.manifest import LAYOUT

    src = data.sources
    folders = {name: [(Path(root) / sub, suffix) for sub, suffix in LAYOUT[name]]
               for name, root in (("voc", src.voc), ("sbd", src.sbd)) if root is not None}
    if src.coco is not None:
        folders["coco"] = [(Path(src.coco.root), "")]
    out: dict[str, Optional[int]] = {}
    for name, where in folders.items():
        try:
            out[name] = sum(_count(folder, suffix) for folder, suffix in where)
        except OSError:
            out[name] = None
    if out.get("coco") is not None:
        out["coco"] += int(Path(src.coco.annotations).is_file())  # the annotation file, stat'ed too
    return out


__all__ = ["REAL_FULL_SIZE", "REAL_SETS", "STAGE2_ABOVE_MEAN", "Sets", "count_sets", "source_files"]
