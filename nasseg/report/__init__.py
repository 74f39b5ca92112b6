"""The pipeline's report: one self-contained HTML page and its Markdown twin (``build_report``)."""
from .build import FIGURES, TABLES, build_report

__all__ = ["FIGURES", "TABLES", "build_report"]
