"""Planned vs measured: the training seconds earlier runs recorded, set beside the plan (``--compare``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..config import Params
from .search_stages import SEARCH_STRATEGIES


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _trials_seconds(path: Path) -> Optional[dict]:
    import csv

    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if r.get("status") == "done"]
    if not rows:
        return None
    num = lambda v: float(v) if v not in ("", None) else 0.0  # noqa: E731
    return {"seconds": sum(num(r["stage1_seconds"]) + num(r["stage2_seconds"]) for r in rows), "trials": len(rows),
            "reached_stage2": sum(1 for r in rows if r.get("ran_stage2") == "1")}


def measured(p: Params, stage: str) -> Optional[dict]:
    """What an earlier run of ``stage`` recorded of its training time: ``{"seconds", "source", ...}``,
    or None when no record exists. Records hold training-loop seconds (not the stage's wall time)."""
    base, _, item = stage.partition("@")
    if base in ("pretrain", "teacher"):
        r = getattr(p, base)
        m = _read_json(Path(r.out) / "metrics.json")
        if m and m.get("source") == "trained" and "seconds" in m:
            return {"seconds": m["seconds"], "source": str(Path(r.out) / "metrics.json"),
                    "work": {"epochs": m.get("epochs"), "images": m.get("train_images")}}
        return None
    if base in ("search", "search_wacv"):
        s = p.search if base == "search" else p.wacv.search
        names = [item] if item else (list(SEARCH_STRATEGIES) if base == "search" else ["ppo"])
        paths = [Path(s.out) / n / "trials.tsv" for n in names]
        ts = [_trials_seconds(x) for x in paths]
        if any(t is None for t in ts):
            return None
        return {"seconds": sum(t["seconds"] for t in ts), "source": ", ".join(str(x) for x in paths),
                "work": {"trials": sum(t["trials"] for t in ts), "reached_stage2": sum(t["reached_stage2"] for t in ts)}}
    if base in ("ablate", "correlate"):
        out = getattr(p, base).out
        m = _read_json(Path(out) / "metrics.json")
        if m and "seconds" in m:
            runs = m.get("archs", 0) * (len(m.get("variants", [])) if base == "ablate" else 1)
            return {"seconds": m["seconds"], "source": str(Path(out) / "metrics.json"), "work": {"runs": runs}}
        return None
    if base in ("train", "train_wacv"):
        report = p.train.report if base == "train" else p.wacv.train.report
        m = _read_json(Path(report) / "metrics.json")
        # one entry per trained model; other keys (found_vs_baseline, failed) are no runs
        runs = [v for v in m.values() if isinstance(v, dict) and "train_seconds" in v] if isinstance(m, dict) else []
        if runs:
            return {"seconds": sum(v["train_seconds"] for v in runs), "source": str(Path(report) / "metrics.json"),
                    "work": {"runs": len(runs)}}
        return None
    if base == "transfer":
        # the runs of today's tasks and models (the folder keeps those of earlier params too)
        runs = sorted(Path(p.transfer.out) / "runs" / t / m / "result.json" for t in p.transfer.tasks
                      for m in p.transfer.models)
        runs = [x for x in runs if x.is_file()]
        recs = [r for r in (_read_json(x) for x in runs) if r and "seconds" in r]
        if recs:
            return {"seconds": sum(r["seconds"] for r in recs), "source": str(Path(p.transfer.out) / "runs"),
                    "work": {"runs": len(recs)}}
        return None
    return None


# the stages whose runs record their training seconds (read by :func:`measured`)
RECORDS = ("pretrain", "teacher", "search", "search_wacv", "ablate", "correlate", "train", "train_wacv", "transfer")


def compare(plan: dict, p: Params) -> list[dict]:
    """Per stage: planned training seconds beside the recorded ones (ratio measured / planned),
    or why there is nothing to compare."""
    out = []
    for st in plan["stages"]:
        rec = measured(p, st["stage"])
        row = {"stage": st["stage"], "planned_seconds": st["train_seconds"], "measured_seconds": None,
               "ratio": None, "source": None, "note": ""}
        if rec is None:
            row["note"] = "no record found (the stage has not run here)" if st["stage"].split("@")[0] in RECORDS \
                else "no record: this stage records no training time"
        else:
            row.update(measured_seconds=rec["seconds"], source=rec["source"])
            if st["train_seconds"]:
                row["ratio"] = rec["seconds"] / st["train_seconds"]
            planned = st["counts"]
            diffs = [f"{k} {v} recorded vs {planned.get(k2)} planned" for k, k2, v in
                     [(k, {"images": "images", "epochs": "epochs", "trials": "trials", "runs": "runs",
                           "reached_stage2": "expected_stage2"}[k], v) for k, v in rec["work"].items()]
                     if planned.get(k2) is not None and v is not None and v != planned.get(k2)]
            row["note"] = "; ".join(diffs) if diffs else "same work"
        out.append(row)
    return out


__all__ = ["RECORDS", "compare", "measured"]
