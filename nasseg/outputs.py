"""How the stages write the small files DVC tracks as metrics, plots and records (Markdown
tables: :mod:`nasseg.markdown`).

* JSON (metrics, records): ``json.dumps(obj, indent=1)``, written to ``<name>.tmp`` and renamed,
  so a reader (or ``dvc exp show``) never sees half a file;
* TSV (tables, histories, ``dvc plots`` data): a header row of column names then one row per
  record, a missing value as an empty cell; lines end in CRLF (the csv module's default, which
  every stage's TSV has always used) or, for the report's plot files, LF.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence


def write_json(obj, path: Path, *, final_newline: bool = False) -> Path:
    """``final_newline``: end the file with a newline (the report's summary.json always has)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + ("\n" if final_newline else ""))
    os.replace(tmp, path)
    return path


def write_tsv(path: Path, rows: Iterable[dict], columns: Optional[Sequence[str]] = None, *, lf: bool = False) -> Path:
    """``rows`` (dicts) under ``columns`` (default: every key, in order of first appearance)."""
    path = Path(path)
    rows = list(rows)
    columns = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, delimiter="\t", lineterminator="\n" if lf else "\r\n")
        w.writeheader()
        w.writerows({k: "" if r.get(k) is None else r[k] for k in columns} for r in rows)
    return path
