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
import errno
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Optional, Sequence

from .errors import NassegError

# what to do about a write the file system refused, by errno
_FIXES = {
    errno.EACCES: "no permission to write there: choose a folder you can write (e.g. --out) or fix its permissions",
    errno.EPERM: "no permission to write there: choose a folder you can write (e.g. --out) or fix its permissions",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENOSPC: "the disk is full: free space (old caches, checkpoints, `dvc gc`) or write elsewhere",
    errno.EDQUOT: "the disk quota is used up: free space or write elsewhere",
    errno.ENOENT: "a folder on the path does not exist: create it or fix the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: fix the path",
    errno.EISDIR: "the path is a folder, a file was expected: give a file name",
}


def file_error(err: OSError, path=None) -> Optional[NassegError]:
    """A file-system refusal (permissions, disk full, a missing folder, ...) as one line naming
    the path (the error's own, else ``path``) and the fix; None for other errors."""
    fix = _FIXES.get(err.errno)
    if fix is None:
        return None
    path = err.filename if err.filename is not None else (path or "a file")
    return NassegError(f"{path}: {err.strerror or os.strerror(err.errno)} ({fix}).")


@contextmanager
def writing(path):
    """Every write of a stage's files goes through here (and the CLI turns any other such
    refusal into the same line): an OSError the file system raised becomes one NassegError
    naming the path and the fix."""
    try:
        yield Path(path)
    except OSError as err:
        mapped = file_error(err, path)
        if mapped is None:
            raise
        raise mapped from None


def write_json(obj, path: Path, *, final_newline: bool = False) -> Path:
    """``final_newline``: end the file with a newline (the report's summary.json always has)."""
    path = Path(path)
    with writing(path):
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
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=columns, delimiter="\t", lineterminator="\n" if lf else "\r\n")
            w.writeheader()
            w.writerows({k: "" if r.get(k) is None else r[k] for k in columns} for r in rows)
    return path
