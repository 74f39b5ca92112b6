"""A toy trainer for dry runs of the search machinery (tests, executor checks, resume drills):
the reward is the share of decisions equal to 0, so a working controller visibly learns it.
No data, no cache, milliseconds per trial."""
from __future__ import annotations

import time

import numpy as np

from ..spaces import space_of


class ToyTrainer:
    """``sleep`` seconds per stage-1 call; with ``uneven`` > 0 a trial sleeps ``sleep x (1 +
    uneven x k)``, k in 0..3 from its seed: trials of unequal length, as real ones are."""

    def __init__(self, fail_every: int = 0, sleep: float = 0.0, uneven: float = 0.0):
        self.fail_every, self.sleep, self.uneven, self.calls = fail_every, sleep, uneven, 0

    def stage1(self, text: str, seed: int) -> dict:
        self.calls += 1
        time.sleep(self.sleep * (1 + self.uneven * ((seed * 2654435761) % 4)))
        space = space_of(text)
        d = space.to_decisions(space.parse(text))
        if self.fail_every and (seed % 1000 + 1) % self.fail_every == 0:
            raise FloatingPointError("stage-1 loss became nan (toy failure)")
        r = float(np.mean([v == 0 for v in d]))
        return {"scores": {"mean_iou": r}, "reward": r, "seconds": 0.0, "state": {}, "params": 1000,
                "madds": 10**9}

    def stage2(self, text: str, s1: dict, seed: int) -> dict:
        return {"scores": {"mean_iou": s1["reward"]}, "reward": min(1.0, s1["reward"] + 0.05), "seconds": 0.0}
