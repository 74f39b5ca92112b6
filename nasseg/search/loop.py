"""The search loop: propose, train (stage 1, termination rule, stage 2), record, learn, save.

Durability: every trial is a row in the trial store (written when it starts and when it
ends); after every controller update the strategy, the termination rule, the step and the
elapsed time are saved atomically beside the store. A run killed at any moment (SIGKILL
included) and started again re-proposes the step in flight from the saved state (so the
same architectures), reuses the trials of that step that had finished, and redoes the
ones in flight: nothing finished is lost or repeated.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Protocol

import torch

from .executor import Failure, LocalExecutor
from .inner import EarlyTermination
from .store import TrialStore


class Trainer(Protocol):
    """Trains one architecture; both methods run where the executor puts them."""

    def stage1(self, genotype_text: str, seed: int) -> dict: ...  # {"scores": {...}, "reward", "seconds", "state", "params", "madds"}

    def stage2(self, genotype_text: str, stage1_out: dict, seed: int) -> dict: ...  # {"scores", "reward", "seconds"}


@dataclass
class Budget:
    max_trials: Optional[int] = 100
    max_seconds: Optional[float] = None


@dataclass
class HardwarePenalty:
    """Beyond the paper (off by default): objective = reward x (cost / target) ** -weight when
    the architecture's cost (MAdds, or parameters) exceeds the target (MnasNet-style)."""

    metric: str = "none"  # none | madds | params
    target: float = 0.0
    weight: float = 0.07

    def __call__(self, reward: float, params: int, madds: int) -> float:
        if self.metric == "none" or reward is None:
            return reward
        cost = madds if self.metric == "madds" else params
        return reward * (cost / self.target) ** (-self.weight) if cost > self.target else reward


@dataclass
class SearchState:
    step: int = 0
    elapsed: float = 0.0
    strategy: dict = field(default_factory=dict)
    termination: dict = field(default_factory=dict)


def save_state(path: Path, state: SearchState) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state.__dict__, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> Optional[SearchState]:
    if not path.is_file():
        return None
    return SearchState(**torch.load(path, map_location="cpu", weights_only=True))


def run_search(strategy, trainer: Trainer, store: TrialStore, state_path: Path, *, budget: Budget,
               batch_size: int = 4, termination: Optional[EarlyTermination] = None, executor=None,
               penalty: HardwarePenalty = HardwarePenalty(), seed: int = 0, two_stage: bool = True,
               on_trial: Optional[Callable[[dict], None]] = None, log: Callable[[str], None] = print) -> SearchState:
    executor = executor or LocalExecutor()
    termination = termination or EarlyTermination(seed=seed)
    state = load_state(state_path)
    if state is not None:
        strategy.load_state_dict(state.strategy)
        termination.load_state_dict(state.termination)
        log(f"resuming {strategy.name} search at step {state.step} ({store.count(strategy.name)} trials done)")
    else:
        state = SearchState(strategy=strategy.state_dict(), termination=termination.state_dict())
    name = strategy.name
    while True:
        done_before = sum(1 for r in store.rows(name, ("done", "failed")) if r["step"] < state.step)
        remaining = math.inf if budget.max_trials is None else budget.max_trials - done_before
        if remaining <= 0 or (budget.max_seconds is not None and state.elapsed >= budget.max_seconds):
            break
        t0 = time.time()
        proposals = strategy.propose(int(min(batch_size, remaining)))
        finished = store.finished_slots(name, state.step)
        todo = [i for i in range(len(proposals)) if i not in finished]
        ids = {}
        for i in todo:
            p = proposals[i]
            ids[i] = store.start(strategy=name, step=state.step, slot=i, genotype=p.genotype.to_text(),
                                 hash=p.genotype.hash(), decisions=p.decisions, log_prob=p.log_prob,
                                 seed=seed * 1_000_003 + state.step * 1000 + i)
        seeds = {i: seed * 1_000_003 + state.step * 1000 + i for i in range(len(proposals))}
        s1 = dict(zip(todo, executor.map(trainer.stage1, [(proposals[i].genotype.to_text(), seeds[i]) for i in todo])))
        # termination rule in slot order (finished slots replay their decisions: same state, same outcome)
        go2 = []
        for i in range(len(proposals)):
            if i in finished:
                r = finished[i]
                if r["stage1_reward"] is not None and two_stage:  # stage 1 ran: its decision was taken
                    termination.decide(r["stage1_reward"])
                continue
            out = s1[i]
            if isinstance(out, Failure):
                continue
            if two_stage and termination.decide(out["reward"]):
                go2.append(i)
        s2 = dict(zip(go2, executor.map(trainer.stage2, [(proposals[i].genotype.to_text(), s1[i], seeds[i])
                                                         for i in go2])))
        objectives = []
        for i, p in enumerate(proposals):
            if i in finished:
                objectives.append(finished[i]["objective"])
                continue
            out = s1[i]
            if isinstance(out, Failure):
                store.finish(ids[i], "failed", failure=out.kind, traceback=f"{out.message}\n{out.traceback}")
                objectives.append(None)
                continue
            metrics = {f"stage1_{k}": v for k, v in out["scores"].items()}
            values = dict(stage1_reward=out["reward"], stage1_seconds=out["seconds"], params=out.get("params"),
                          madds=out.get("madds"))
            reward = out["reward"]
            status = "done"
            if i in s2:
                o2 = s2[i]
                if isinstance(o2, Failure):
                    values.update(failure=o2.kind, traceback=f"stage 2: {o2.message}\n{o2.traceback}")
                    status = "failed"
                    reward = None
                else:
                    metrics.update({f"stage2_{k}": v for k, v in o2["scores"].items()})
                    values.update(stage2_reward=o2["reward"], stage2_seconds=o2["seconds"], ran_stage2=1)
                    reward = o2["reward"]
            objective = penalty(reward, out.get("params") or 0, out.get("madds") or 0) if reward is not None else None
            store.finish(ids[i], status, reward=reward, objective=objective, metrics=metrics, **values)
            objectives.append(objective)
            if on_trial:
                on_trial({"step": state.step, "slot": i, "genotype": p.genotype.to_text(), "reward": reward,
                          "status": status})
        stats = strategy.observe(proposals, objectives)
        state.step += 1
        state.elapsed += time.time() - t0
        state.strategy = strategy.state_dict()
        state.termination = termination.state_dict()
        save_state(state_path, state)
        if stats:
            log(f"{name} step {state.step}: " + ", ".join(f"{k}={v:.4g}" for k, v in stats.items() if v is not None))
    return state
