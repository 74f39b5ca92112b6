"""``report``: the last stage's page."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field, StrictInt

from .base import Section


class QualitativeParams(Section):
    """Fig. 7: predictions of the trained models beside the ground truth."""

    set: str = "voc_val"
    images: StrictInt = Field(default=4, ge=1, le=16)
    models: list[str] = ["found0", "found1", "found2"]  # found<k>: models/train/found<k>/model.pt
    seed: StrictInt = 0  # which images: a seeded draw from the set (favouring images with several classes)


class ReportParams(Section):
    """The last stage: one HTML page (and a Markdown twin) from every stage's outputs."""

    title: str = "nasseg: fast NAS of compact segmentation models (CVPR 2019) — reproduction report"
    qualitative: QualitativeParams = QualitativeParams()
    out: Path = Path("results/report")  # report.html, report.md, figures/, plots/ (TSVs for `dvc plots`)
