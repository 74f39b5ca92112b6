"""The trial store: one SQLite row per sampled architecture (stdlib sqlite3, WAL mode).

A row is written when a trial starts (status ``running``) and completed when it ends
(``done`` or ``failed``), so a crash leaves at most the trials in flight unfinished; on
resume they are redone. Each row records the genotype, its canonical hash, the strategy,
per-stage rewards and metrics, whether stage 2 ran, the failure kind and traceback
summary, params, MAdds, per-stage wall time, seed and controller step.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    strategy TEXT NOT NULL,
    step INTEGER NOT NULL,          -- controller update this architecture was sampled for
    slot INTEGER NOT NULL,          -- position in that step's batch
    genotype TEXT NOT NULL,
    hash TEXT NOT NULL,
    decisions TEXT NOT NULL,
    log_prob REAL,
    seed INTEGER,
    status TEXT NOT NULL,           -- running | done | failed
    stage1_reward REAL,
    stage2_reward REAL,
    reward REAL,                    -- the architecture's reward: stage 2's when it ran, else stage 1's
    objective REAL,                 -- what the controller saw (reward, maybe hardware-penalised)
    ran_stage2 INTEGER DEFAULT 0,
    metrics TEXT,                   -- JSON: per-stage mean_iou, fw_iou, mean_acc, ...
    params INTEGER,
    madds INTEGER,
    stage1_seconds REAL,
    stage2_seconds REAL,
    failure TEXT,                   -- oom | nan | error
    traceback TEXT,
    started REAL,
    finished REAL,
    s1_seq INTEGER,                 -- order of the stage-1 decision among this strategy's trials
    go2 INTEGER,                    -- that decision: 1 on to stage 2, 0 stop (NULL: not taken)
    done_seq INTEGER,               -- order of finishing among this strategy's trials
    UNIQUE(strategy, step, slot)
);
CREATE INDEX IF NOT EXISTS trials_status ON trials(strategy, status);
"""

FIELDS = ("stage1_reward", "stage2_reward", "reward", "objective", "ran_stage2", "metrics", "params", "madds",
          "stage1_seconds", "stage2_seconds", "failure", "traceback")


class SearchLock:
    """One search per out folder: ``<folder>/search.lock`` holds the writer's host and pid,
    created atomically. A second search refuses, naming the folder and the holder; a lock left
    by a process that is gone (same host) is taken over."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "search.lock"

    def __enter__(self):
        import os
        import socket

        from ..errors import NassegError

        me = {"host": socket.gethostname(), "pid": os.getpid()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    held = json.loads(self.path.read_text() or "{}")
                except (OSError, ValueError):
                    held = {}
                if held.get("host") == me["host"] and isinstance(held.get("pid"), int) and not _alive(held["pid"]):
                    self.path.unlink(missing_ok=True)  # its process is gone: a stale lock
                    continue
                raise NassegError(
                    f"{self.path.parent}: another search is writing here (process {held.get('pid', '?')} on "
                    f"{held.get('host', '?')}, lock {self.path}). Wait for it to end, or give this one another "
                    "--out; if that process is surely gone, delete the lock file.") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            return self
        raise NassegError(f"{self.path}: could not take the search lock; delete the file and rerun.")

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


ENVIRONMENTAL = ("NassegError", "DataError", "ConfigError", "OSError", "PermissionError", "FileNotFoundError",
                 "IsADirectoryError", "NotADirectoryError", "ImportError", "ModuleNotFoundError")


def environmental_failures(rows: Iterable[dict]) -> list[int]:
    """Failed trials whose recorded error is, by today's rule (executor.is_environmental), the
    inputs' or the machine's: stores written before that rule charged them to the architecture."""
    out = []
    for r in rows:
        text = (r.get("traceback") or "").strip().removeprefix("stage 2: ")
        first = text.split(":", 1)[0].split(" ")[-1] if text else ""
        if r["status"] == "failed" and (r.get("failure") == "environment" or first in ENVIRONMENTAL):
            out.append(r["id"])
    return out


class TrialStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Stores written before the asynchronous loop lack the decision and finish order:
        added, the finished rows numbered in id order (the order the synchronous loop finished them)."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(trials)").fetchall()}
        for col in ("s1_seq", "go2", "done_seq"):
            if col not in have:
                self.db.execute(f"ALTER TABLE trials ADD COLUMN {col} INTEGER")
        if "done_seq" not in have:
            with self._tx():
                for strategy, in self.db.execute("SELECT DISTINCT strategy FROM trials").fetchall():
                    ids = [r[0] for r in self.db.execute(
                        "SELECT id FROM trials WHERE strategy=? AND status!='running' ORDER BY id", (strategy,))]
                    for k, i in enumerate(ids, 1):
                        self.db.execute("UPDATE trials SET done_seq=? WHERE id=?", (k, i))

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def start(self, *, strategy: str, step: int, slot: int, genotype: str, hash: str, decisions: list[int],
              log_prob: float, seed: int) -> int:
        """Record a trial as running (replacing an unfinished row of the same step and slot
        unless it is the same architecture: then that row, with its stage-1 decision, is kept)."""
        with self._tx():
            same = self.db.execute("SELECT id FROM trials WHERE strategy=? AND step=? AND slot=? AND status='running'"
                                   " AND hash=?", (strategy, step, slot, hash)).fetchone()
            if same is not None:
                return int(same[0])
            self.db.execute("DELETE FROM trials WHERE strategy=? AND step=? AND slot=? AND status='running'",
                            (strategy, step, slot))
            cur = self.db.execute(
                "INSERT INTO trials (strategy, step, slot, genotype, hash, decisions, log_prob, seed, status, started)"
                " VALUES (?,?,?,?,?,?,?,?, 'running', ?)",
                (strategy, step, slot, genotype, hash, json.dumps(decisions), log_prob, seed, time.time()))
            return int(cur.lastrowid)

    def finish(self, trial_id: int, status: str, **values) -> None:
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise KeyError(f"unknown trial fields {sorted(unknown)}")
        if isinstance(values.get("metrics"), dict):
            values["metrics"] = json.dumps(values["metrics"])
        cols = ", ".join(f"{k}=?" for k in values)
        with self._tx():
            strategy = self.db.execute("SELECT strategy FROM trials WHERE id=?", (trial_id,)).fetchone()[0]
            seq = self._next(strategy, "done_seq")
            self.db.execute(f"UPDATE trials SET status=?, finished=?, done_seq=?{', ' + cols if cols else ''} "
                            "WHERE id=?", (status, time.time(), seq, *values.values(), trial_id))

    def retry(self, strategy: str, ids: Iterable[int]) -> int:
        """Make failed trials unfinished again, so the search runs them anew (same architecture,
        step, slot and seed; a stage-2 decision already taken is kept): after a failure judged the
        environment's. Finished trials are untouched; the budget is not used again."""
        ids = list(ids)
        clear = ", ".join(f"{k}=NULL" for k in FIELDS if k not in ("stage1_reward",))
        with self._tx():
            for i in ids:
                self.db.execute(f"UPDATE trials SET status='running', finished=NULL, done_seq=NULL, {clear} "
                                "WHERE id=? AND strategy=? AND status='failed'", (i, strategy))
        return len(ids)

    def _next(self, strategy: str, col: str) -> int:
        return int(self.db.execute(f"SELECT COALESCE(MAX({col}), 0) + 1 FROM trials WHERE strategy=?",
                                   (strategy,)).fetchone()[0])

    def decide(self, trial_id: int, stage1_reward: float, go2: bool) -> int:
        """Record a trial's stage-1 reward and the termination rule's decision; returns its order."""
        with self._tx():
            strategy = self.db.execute("SELECT strategy FROM trials WHERE id=?", (trial_id,)).fetchone()[0]
            seq = self._next(strategy, "s1_seq")
            self.db.execute("UPDATE trials SET stage1_reward=?, go2=?, s1_seq=? WHERE id=?",
                            (stage1_reward, int(go2), seq, trial_id))
        return seq

    def rows(self, strategy: Optional[str] = None, status: Optional[Iterable[str]] = None) -> list[dict]:
        q, args = "SELECT * FROM trials WHERE 1=1", []
        if strategy:
            q += " AND strategy=?"
            args.append(strategy)
        if status:
            st = list(status)
            q += f" AND status IN ({','.join('?' * len(st))})"
            args += st
        q += " ORDER BY id"
        out = []
        for r in self.db.execute(q, args).fetchall():
            d = dict(r)
            d["metrics"] = json.loads(d["metrics"]) if d["metrics"] else {}
            d["decisions"] = json.loads(d["decisions"])
            out.append(d)
        return out

    def count(self, strategy: Optional[str] = None, status: str = "done") -> int:
        q, args = "SELECT COUNT(*) FROM trials WHERE status=?", [status]
        if strategy:
            q += " AND strategy=?"
            args.append(strategy)
        return int(self.db.execute(q, args).fetchone()[0])
