"""Browse trial stores read-only: open, filter, rank, find one trial, summarise a search.

A library for ``nasseg trials``; nothing here prints. Stores are opened read-only so that
browsing never writes, locks or leaves files beside a store, even one a search is still
writing (see :func:`read_rows`).
"""
from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import NassegError
from ..search.report import last_quarter
from ..spaces import parse_genotype

STATUSES = ("running", "done", "failed")
FAILURES = ("oom", "nan", "error", "worker", "any")
STAGES = (1, 2)
# sort key -> (row value, descending?)
SORTS = {
    "reward": (lambda r: r.get("reward"), True),
    "stage1": (lambda r: r.get("stage1_reward"), True),
    "stage2": (lambda r: r.get("stage2_reward"), True),
    "objective": (lambda r: r.get("objective"), True),
    "params": (lambda r: r.get("params"), False),
    "madds": (lambda r: r.get("madds"), False),
    "id": (lambda r: r.get("id"), False),
    "time": (lambda r: trial_seconds(r), False),
}
SEARCH_HINT = "nasseg search --strategy {s}"


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise NassegError(f"{name} {value!r} is not valid; choose one of: {', '.join(map(str, choices))}")


def finite(v) -> Optional[float]:
    """``v``, or None when it is missing or a float that is not finite."""
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def trial_seconds(row: dict) -> Optional[float]:
    """Training time of a trial (stage 1 + stage 2), or its wall time if neither was recorded."""
    parts = [row.get("stage1_seconds"), row.get("stage2_seconds")]
    if any(p is not None for p in parts):
        return float(sum(p for p in parts if p is not None))
    if row.get("started") is not None and row.get("finished") is not None:
        return float(row["finished"] - row["started"])
    return None


# --------------------------------------------------------------------------- open
def _is_wal(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(20)
    return len(head) == 20 and head[:16] == b"SQLite format 3\x00" and head[18:20] == b"\x02\x02"


def read_rows(path: Path) -> list[dict]:
    """Every row of one ``trials.db``, oldest first, with ``metrics``/``decisions`` decoded.

    Opened with ``mode=ro``. A WAL store whose ``-wal`` file is absent has no open writer
    (SQLite removes it when the last connection closes), and even a writer that starts
    meanwhile only appends to a new ``-wal`` until a checkpoint; such a store is read as
    ``immutable`` so SQLite creates no ``-wal``/``-shm`` beside it (they would sit in a
    DVC-tracked output). A store being written is read through its live WAL.
    """
    path = Path(path)
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        if _is_wal(path) and not Path(f"{path}-wal").exists():
            uri += "&immutable=1"
        db = sqlite3.connect(uri, uri=True, timeout=10)
    except (OSError, sqlite3.Error) as err:
        raise NassegError(f"{path}: cannot open the trial store read-only ({err}).") from None
    db.row_factory = sqlite3.Row
    try:
        raw = [dict(r) for r in db.execute("SELECT * FROM trials ORDER BY id").fetchall()]
    except sqlite3.Error as err:
        raise NassegError(f"{path}: not a trial store ({err}); it is written by `nasseg search`.") from None
    finally:
        db.close()
    rows = []
    for d in raw:
        try:
            d["metrics"] = json.loads(d["metrics"]) if d.get("metrics") else {}
        except ValueError:
            d["metrics"] = {"unparsed": d["metrics"]}
        try:
            d["decisions"] = json.loads(d["decisions"]) if d.get("decisions") else []
        except ValueError:
            pass
        d["ran_stage2"] = bool(d.get("ran_stage2"))
        d["store"] = str(path)
        rows.append(d)
    return rows


def store_paths(path_or_dir: str | Path, strategy: Optional[str] = None) -> list[Path]:
    """The ``trials.db`` files that ``path_or_dir`` names (see :func:`open_store`)."""
    p = Path(path_or_dir)
    hint = SEARCH_HINT.format(s=strategy or "ppo|reinforce|random")
    if p.is_file():
        return [p]
    if not p.exists():
        raise NassegError(f"{p}: no such trial store or search folder; `{hint}` writes "
                          f"<search.out>/<strategy>/trials.db (default results/search).")
    if (p / "trials.db").is_file():
        return [p / "trials.db"]
    if strategy:
        db = p / strategy / "trials.db"
        if not db.is_file():
            present = [d.name for d in sorted(p.iterdir()) if (d / "trials.db").is_file()]
            raise NassegError(f"{db}: no trial store for strategy {strategy!r}; run `{SEARCH_HINT.format(s=strategy)}`"
                              + (f" (stores present: {', '.join(present)})" if present else "") + ".")
        return [db]
    found = sorted(d / "trials.db" for d in p.iterdir() if (d / "trials.db").is_file())
    if not found:
        raise NassegError(f"{p}: no <strategy>/trials.db in this folder; run `{hint}` first "
                          "(or point at a trials.db).")
    return found


def open_store(path_or_dir: str | Path, strategy: Optional[str] = None) -> list[dict]:
    """Rows of a trial store, read-only.

    ``path_or_dir`` is a ``trials.db``, a strategy folder holding one, or a search output
    folder (``results/search``) whose strategy sub-folders hold them: every one present by
    default, or only ``strategy``'s. With a single file, ``strategy`` keeps that strategy's
    rows. A missing store raises :class:`NassegError` naming it and the command that writes it.
    """
    paths = store_paths(path_or_dir, strategy)
    rows = [r for p in paths for r in read_rows(p)]
    if strategy:
        rows = [r for r in rows if r["strategy"] == strategy]
        if not rows and len(paths) == 1 and Path(path_or_dir).is_file():
            present = sorted({r["strategy"] for r in read_rows(paths[0])})
            raise NassegError(f"{paths[0]}: holds no trials of strategy {strategy!r}"
                              + (f" (it holds: {', '.join(present)})" if present else " (it is empty)")
                              + f"; `{SEARCH_HINT.format(s=strategy)}` writes them.")
    return rows


# --------------------------------------------------------------------------- filter / rank
def query(rows: list[dict], *, strategy: Optional[str] = None, status: Optional[str] = None,
          failure: Optional[str] = None, stage: Optional[int] = None, min_reward: Optional[float] = None,
          top: Optional[int] = None, sort: Optional[str] = None) -> list[dict]:
    """Filter and rank trials.

    ``stage=1``: every trial with a stage-1 reward, ranked by it; ``stage=2``: only trials
    that ran stage 2, ranked by the stage-2 reward. ``failure`` keeps failed trials of that
    kind (``any``: every failed trial). ``min_reward`` applies to the ranked reward (the
    stage's when ``stage`` is given). ``sort`` is one of :data:`SORTS` (rewards best first,
    params/MAdds/time smallest first, id oldest first); default the stage's reward, else
    ``reward``. Trials without the sort value come last. ``top`` keeps the first k.
    """
    if strategy is not None:
        present = sorted({r["strategy"] for r in rows})
        _choice("strategy", strategy, present or ["(no trials in the store)"])
    if status is not None:
        _choice("status", status, STATUSES)
    if failure is not None:
        _choice("failure", failure, FAILURES)
    if stage is not None:
        _choice("stage", stage, STAGES)
    if sort is None:
        sort = {1: "stage1", 2: "stage2"}.get(stage, "reward")
    _choice("sort", sort, tuple(SORTS))
    if top is not None and top < 1:
        raise NassegError(f"top {top}: give a positive number of trials to show")

    reward_key = {1: "stage1_reward", 2: "stage2_reward"}.get(stage, "reward")
    out = list(rows)
    if strategy is not None:
        out = [r for r in out if r["strategy"] == strategy]
    if status is not None:
        out = [r for r in out if r["status"] == status]
    if failure is not None:
        out = [r for r in out if r["status"] == "failed" and (failure == "any" or r.get("failure") == failure)]
    if stage == 1:
        out = [r for r in out if finite(r.get("stage1_reward")) is not None]
    elif stage == 2:
        out = [r for r in out if r.get("ran_stage2")]
    if min_reward is not None:
        out = [r for r in out if finite(r.get(reward_key)) is not None and r[reward_key] >= min_reward]

    value, descending = SORTS[sort]

    def key(r):
        v = value(r)
        v = finite(v)
        if v is None:
            return (1, 0.0, r.get("id") or 0)
        return (0, -v if descending else v, r.get("id") or 0)

    out.sort(key=key)
    return out[:top] if top is not None else out


def find(rows: list[dict], key: str) -> list[dict]:
    """Trials matching ``key``: an id (``7``, or ``ppo:7`` for one strategy's store), a hash
    prefix (a key of digits only is an id when it has fewer than 4 digits or an id matches),
    or a genotype text of either search space (any spacing; symmetric duplicates, which share
    the hash, match too). Every match is returned, oldest first; none -> ``[]``. A malformed
    genotype text raises :class:`~nasseg.errors.GenotypeError`."""
    key = str(key).strip()
    if not key:
        raise NassegError("empty trial key: give an id (7 or ppo:7), a hash prefix or a genotype text")
    if key.startswith("["):
        g = parse_genotype(key)
        text, h = g.to_text(), g.hash()
        return [r for r in rows if r.get("hash") == h or _canonical_text(r.get("genotype")) == text]
    strategy, _, ident = key.rpartition(":")
    if ident.isdigit():
        hits = [r for r in rows if r.get("id") == int(ident) and (not strategy or r["strategy"] == strategy)]
        if hits or strategy or len(ident) < 4:
            return hits
    prefix = key.lower()
    if not all(c in "0123456789abcdef" for c in prefix):
        return []
    return [r for r in rows if str(r.get("hash") or "").startswith(prefix)]


def _canonical_text(text) -> Optional[str]:
    try:
        return parse_genotype(text).to_text()
    except (NassegError, ValueError):
        return None


# --------------------------------------------------------------------------- summary
def summary(rows: list[dict]) -> dict[str, dict]:
    """Per strategy: trial counts by status, failures by kind, best / mean reward, mean of
    the last quarter (as in ``comparison.json``), the search's wall time and throughput."""
    out: dict[str, dict] = {}
    for s in sorted({r["strategy"] for r in rows}):
        rs = sorted((r for r in rows if r["strategy"] == s), key=lambda r: r["id"])
        done = [r for r in rs if r["status"] == "done"]
        failed = [r for r in rs if r["status"] == "failed"]
        rewards = [r["reward"] for r in done if finite(r.get("reward")) is not None]
        best = max((r for r in done if finite(r.get("reward")) is not None), key=lambda r: r["reward"], default=None)
        failures: dict[str, int] = {}
        for r in failed:
            failures[r.get("failure") or "unknown"] = failures.get(r.get("failure") or "unknown", 0) + 1
        started = [r["started"] for r in rs if r.get("started") is not None]
        finished = [r["finished"] for r in rs if r.get("finished") is not None]
        wall = (max(finished) - min(started)) if started and finished else None
        n_finished = len(done) + len(failed)
        out[s] = {
            "trials": len(rs),
            "done": len(done),
            "failed": len(failed),
            "running": sum(r["status"] == "running" for r in rs),
            "ran_stage2": sum(bool(r.get("ran_stage2")) for r in rs),
            "failures": dict(sorted(failures.items())),
            "best_reward": best["reward"] if best else None,
            "best_id": best["id"] if best else None,
            "best_hash": best["hash"] if best else None,
            "best_genotype": best["genotype"] if best else None,
            "mean_reward": float(np.mean(rewards)) if rewards else None,
            "mean_last_quarter": float(last_quarter(rewards).mean()) if rewards else None,
            "started": min(started) if started else None,
            "finished": max(finished) if finished else None,
            "wall_seconds": wall,
            "trials_per_hour": n_finished / (wall / 3600) if wall and wall > 0 else None,
        }
    return out


def jsonable(obj):
    """``obj`` with non-finite floats as ``None`` (strict JSON) and paths as strings."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.floating, np.integer)):
        return jsonable(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    return obj
