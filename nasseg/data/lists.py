"""List files (``image<TAB>mask`` lines) and the per-set report ``prepare`` prints."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from .datasets import Sample, SegmentationDataset, verify_dataset
from .labels import VOID


@dataclass
class SetReport:
    """One set's row in prepare's table and ``summary.json``."""

    name: str
    source: str
    images: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    class_pixels: Optional[np.ndarray] = None
    note: str = ""


def check_set(ds: SegmentationDataset, name: str, source: str, *, skip_bad: bool = False,
              progress: Optional[Callable[[], None]] = None, note: str = "") -> SetReport:
    """Read every sample of ``ds`` (:func:`~nasseg.data.datasets.verify_dataset`: bad ones
    raise, or are dropped with ``skip_bad``), counting the pixels of each class; its report."""
    nc = ds.num_classes
    hist = np.zeros(nc, np.int64)

    def visit(_img, mask):
        m = mask[mask != VOID]
        hist[:] += np.bincount(m.numpy().ravel(), minlength=nc)[:nc]

    verify_dataset(ds, skip_bad=skip_bad, progress=progress, visit=visit)
    return SetReport(name, source, len(ds), ds.skipped, hist, note)


def relative_path(path: Path, start: Path) -> str:
    """Paths inside the project are written relative to the list folder (portable across
    clones); paths elsewhere (real datasets) stay absolute."""
    path, start = Path(path).absolute(), Path(start).absolute()
    try:
        path.relative_to(start.parent.parent)
        return os.path.relpath(path, start)
    except ValueError:
        return str(path)


def write_list(path: Path, samples: Sequence[Sample]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{relative_path(s.image, path.parent)}\t{relative_path(s.mask, path.parent)}\n" for s in samples]
    path.write_text("".join(lines))


def report_details(reports: Sequence[SetReport]) -> dict:
    """The ``skipped`` (id and reason of each dropped sample) and ``class_pixels`` (pixels per
    class) entries of a prepare ``summary.json``."""
    return {
        "skipped": {r.name: [{"id": i, "reason": why} for i, why in r.skipped] for r in reports if r.skipped},
        "class_pixels": {r.name: r.class_pixels.tolist() for r in reports if r.class_pixels is not None},
    }
