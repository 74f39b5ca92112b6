"""One row of the plan (:class:`StagePlan`), the scaling rules it names, and the units it prints in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class StagePlan:
    stage: str
    work: str = ""  # in words
    counts: dict = field(default_factory=dict)  # the work in numbers (JSON)
    seconds: Optional[float] = None  # estimated wall time on the planned hardware (None: not estimated)
    train_seconds: Optional[float] = None  # the part stage records measure (training loops), for --compare
    input_seconds: float = 0.0  # of train_seconds, what the input pipeline adds (plan/inputs.py)
    probed: str = ""  # which step functions were timed
    scaling: str = ""  # how the probe was scaled to the stage's sizes
    disk_bytes: float = 0.0
    disk: str = ""  # what the disk figure counts
    peak_bytes: Optional[float] = None
    parallel: str = ""  # how the stage uses several devices
    notes: list = field(default_factory=list)


def fmt_seconds(s: Optional[float]) -> str:
    if s is None:
        return "–"
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def fmt_bytes(b: Optional[float]) -> str:
    if b is None:
        return "–"
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} B"


SCALING = "t(step) = a + b·(batch × crop pixels), a and b fitted through steps timed at batch {b} × {s0}² and {s1}²"
WHATIF = ("t(step) = {k} × 2 × MAdds(batch × crop) / ({tf:g} TFLOP/s); MAdds counted at {s0}², linear in pixels "
          "(assumed throughput, nothing timed)")


__all__ = ["SCALING", "WHATIF", "StagePlan", "fmt_bytes", "fmt_seconds"]
