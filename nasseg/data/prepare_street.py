"""What ``nasseg prepare-street`` does: CamVid and Cityscapes on disk and their list files (WACV system).

Each set is the real one named in ``wacv.data.sources`` or the embedded one rendered
(:mod:`nasseg.synthetic.street`); every sample is checked, and list files with a
``# labels: camvid|cityscapes`` header are written under ``<wacv.data.root>/lists``, plus
``meta_train`` / ``meta_val`` (CamVid train / val, the template search's split).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Optional

from ..config import WacvDataParams
from ..outputs import write_json
from ..synthetic.street import write_camvid, write_cityscapes
from .lists import SetReport, check_set, report_details, write_list
from .names import STREET_SETS
from .street import CamVidSegmentation, CityscapesSegmentation

Progress = Callable[[str, int], Callable[[], None]]


def prepare_street(w: WacvDataParams, *, skip_bad: bool = False,
                   progress: Optional[Progress] = None) -> list[SetReport]:
    """Render the embedded CamVid / Cityscapes that params do not replace with real ones,
    write every list file and ``lists/summary.json``; one report per set."""
    tick = progress or (lambda name, total: None)
    e = w.embedded
    emb, lists = Path(w.root) / "embedded", Path(w.root) / "lists"
    camvid = w.sources.camvid
    if camvid is None:
        shutil.rmtree(emb / "CamVid", ignore_errors=True)
        sizes = {"train": e.camvid.train, "val": e.camvid.val, "test": e.camvid.test}
        camvid = write_camvid(emb, sizes, tuple(e.camvid_size), e.seed, tick("render CamVid", sum(sizes.values())))
    cityscapes = w.sources.cityscapes
    if cityscapes is None:
        shutil.rmtree(emb / "cityscapes", ignore_errors=True)
        sizes = {"train": e.cityscapes.train, "val": e.cityscapes.val}
        cityscapes = write_cityscapes(emb, sizes, tuple(e.cityscapes_size), e.seed,
                                      tick("render Cityscapes", sum(sizes.values())))
    shutil.rmtree(lists, ignore_errors=True)
    lists.mkdir(parents=True)
    reports = build_street_lists(lists, Path(camvid), Path(cityscapes), skip_bad=skip_bad, progress=progress)
    # the template search's meta-train / meta-val: CamVid train / val
    shutil.copyfile(lists / "camvid_train.lst", lists / "meta_train.lst")
    shutil.copyfile(lists / "camvid_val.lst", lists / "meta_val.lst")
    summary = {
        "sources": {"camvid": "real" if w.sources.camvid else "embedded",
                    "cityscapes": "real" if w.sources.cityscapes else "embedded"},
        "sets": {r.name: {"images": r.images, "skipped": len(r.skipped)} for r in reports},
        **report_details(reports),
    }
    write_json(summary, lists / "summary.json")
    return reports


def build_street_lists(lists_dir: Path, camvid_root: Path, cityscapes_root: Path, *, skip_bad: bool = False,
                       progress: Optional[Progress] = None) -> list[SetReport]:
    """Check every sample of CamVid train/val/test and Cityscapes train/val and write
    ``<name>.lst`` (``image<TAB>mask`` lines after a ``# labels: camvid|cityscapes``
    header) into ``lists_dir``. ``progress(name, total)`` returns a per-sample tick.
    Returns one :class:`~nasseg.data.lists.SetReport` per set, with its class histogram."""
    lists_dir = Path(lists_dir)
    lists_dir.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda name, total: None)
    make = {
        "camvid": lambda split: CamVidSegmentation(camvid_root, split, skip_bad=skip_bad),
        "cityscapes": lambda split: CityscapesSegmentation(cityscapes_root, split, skip_bad=skip_bad),
    }
    reports = []
    for name, (kind, split) in STREET_SETS.items():
        ds = make[kind](split)
        root = camvid_root if kind == "camvid" else cityscapes_root
        reports.append(check_set(ds, name, kind, skip_bad=skip_bad, progress=tick(f"check {name}", len(ds.samples)),
                                 note=f"from {root}"))
        path = lists_dir / f"{name}.lst"
        write_list(path, ds.samples)
        path.write_text(f"# labels: {kind}\n" + path.read_text())
    return reports
