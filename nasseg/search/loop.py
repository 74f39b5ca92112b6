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

from ..config import HardwareParams
from .executor import Failure, LocalExecutor
from .inner import EarlyTermination
from .store import TrialStore


class Trainer(Protocol):
    """Trains one architecture; both methods run where the executor puts them."""

    def stage1(self, genotype_text: str, seed: int) -> dict: ...  # {"scores": {...}, "reward", "seconds", "state", "params", "madds"}

    def stage2(self, genotype_text: str, stage1_out: dict, seed: int) -> dict: ...  # {"scores", "reward", "seconds", optionally "data_wait"}


@dataclass
class Budget:
    max_trials: Optional[int] = 100
    max_seconds: Optional[float] = None


def penalised(reward: Optional[float], params: int, madds: int, hw: HardwareParams) -> Optional[float]:
    """Beyond the paper (off by default): the objective is reward x (cost / target) ** -weight when
    the architecture's cost (MAdds, or parameters) exceeds the target (MnasNet-style)."""
    if hw.metric == "none" or reward is None:
        return reward
    cost = madds if hw.metric == "madds" else params
    return reward * (cost / hw.target) ** (-hw.weight) if cost > hw.target else reward


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
               hardware: HardwareParams = HardwareParams(), seed: int = 0, two_stage: bool = True,
               on_trial: Optional[Callable[[dict], None]] = None, log: Callable[[str], None] = print) -> SearchState:
    executor = executor or LocalExecutor()
    termination = termination or EarlyTermination(seed=seed)
    state = _resume(strategy, termination, store, state_path, log)
    name = strategy.name
    while (left := _trials_left(store, name, state, budget)) > 0:
        t0 = time.time()
        proposals = strategy.propose(int(min(batch_size, left)))
        step = _Step(name, state.step, proposals, store.finished_slots(name, state.step), seed)
        objectives = step.run(trainer, store, executor, termination, hardware, two_stage, on_trial)
        stats = strategy.observe(proposals, objectives)
        state.step += 1
        state.elapsed += time.time() - t0
        state.strategy = strategy.state_dict()
        state.termination = termination.state_dict()
        save_state(state_path, state)
        if stats:
            log(f"{name} step {state.step}: " + ", ".join(f"{k}={v:.4g}" for k, v in stats.items() if v is not None))
    return state


def _resume(strategy, termination: EarlyTermination, store: TrialStore, state_path: Path, log) -> SearchState:
    """The saved state loaded into the strategy and the termination rule, or a fresh one."""
    state = load_state(state_path)
    if state is None:
        return SearchState(strategy=strategy.state_dict(), termination=termination.state_dict())
    strategy.load_state_dict(state.strategy)
    termination.load_state_dict(state.termination)
    log(f"resuming {strategy.name} search at step {state.step} ({store.count(strategy.name)} trials done)")
    return state


def _trials_left(store: TrialStore, name: str, state: SearchState, budget: Budget) -> float:
    """Trials the budget still allows (0 once the time is spent); steps before this one count."""
    done_before = sum(1 for r in store.rows(name, ("done", "failed")) if r["step"] < state.step)
    remaining = math.inf if budget.max_trials is None else budget.max_trials - done_before
    if budget.max_seconds is not None and state.elapsed >= budget.max_seconds:
        return 0
    return remaining


@dataclass
class _Step:
    """One controller step: its proposals trained (slots finished before a restart reused),
    recorded in the store; :meth:`run` gives the objectives the strategy learns from."""

    name: str
    index: int
    proposals: list
    finished: dict  # slot -> store row of the trials of this step that had finished
    seed: int

    def trial_seed(self, slot: int) -> int:
        return self.seed * 1_000_003 + self.index * 1000 + slot

    def run(self, trainer: Trainer, store: TrialStore, executor, termination: EarlyTermination,
            hardware: HardwareParams, two_stage: bool, on_trial) -> list[Optional[float]]:
        todo = [i for i in range(len(self.proposals)) if i not in self.finished]
        ids = {}
        for i in todo:
            p = self.proposals[i]
            ids[i] = store.start(strategy=self.name, step=self.index, slot=i, genotype=p.genotype.to_text(),
                                 hash=p.genotype.hash(), decisions=p.decisions, log_prob=p.log_prob,
                                 seed=self.trial_seed(i))
        s1 = dict(zip(todo, executor.map(trainer.stage1, [(self.proposals[i].genotype.to_text(), self.trial_seed(i))
                                                          for i in todo])))
        go2 = self._to_stage2(s1, termination, two_stage)
        s2 = dict(zip(go2, executor.map(trainer.stage2, [(self.proposals[i].genotype.to_text(), s1[i],
                                                          self.trial_seed(i)) for i in go2])))
        objectives = []
        for i, p in enumerate(self.proposals):
            if i in self.finished:
                objectives.append(self.finished[i]["objective"])
                continue
            objective, reward, status = _record(store, ids[i], s1[i], s2.get(i), hardware)
            objectives.append(objective)
            if on_trial and status is not None:
                on_trial({"step": self.index, "slot": i, "genotype": p.genotype.to_text(), "reward": reward,
                          "status": status})
        return objectives

    def _to_stage2(self, s1: dict, termination: EarlyTermination, two_stage: bool) -> list[int]:
        """The termination rule in slot order (finished slots replay their decisions: same
        state, same outcome): the slots that go on to stage 2."""
        go2 = []
        for i in range(len(self.proposals)):
            if i in self.finished:
                r = self.finished[i]
                if r["stage1_reward"] is not None and two_stage:  # stage 1 ran: its decision was taken
                    termination.decide(r["stage1_reward"])
                continue
            out = s1[i]
            if isinstance(out, Failure):
                continue
            if two_stage and termination.decide(out["reward"]):
                go2.append(i)
        return go2


def _record(store: TrialStore, trial_id, out, o2, hardware: HardwareParams):
    """One trial's outcome in the store; returns (objective, reward, status), status None for a
    stage-1 failure (not reported to ``on_trial``)."""
    if isinstance(out, Failure):
        store.finish(trial_id, "failed", failure=out.kind, traceback=f"{out.message}\n{out.traceback}")
        return None, None, None
    metrics = {f"stage1_{k}": v for k, v in out["scores"].items()}
    if "data_wait" in out:  # the share of the stage's time spent waiting for input
        metrics["stage1_data_wait"] = out["data_wait"]
    values = dict(stage1_reward=out["reward"], stage1_seconds=out["seconds"], params=out.get("params"),
                  madds=out.get("madds"))
    reward = out["reward"]
    status = "done"
    if o2 is not None:
        if isinstance(o2, Failure):
            values.update(failure=o2.kind, traceback=f"stage 2: {o2.message}\n{o2.traceback}")
            status = "failed"
            reward = None
        else:
            metrics.update({f"stage2_{k}": v for k, v in o2["scores"].items()})
            if "data_wait" in o2:
                metrics["stage2_data_wait"] = o2["data_wait"]
            values.update(stage2_reward=o2["reward"], stage2_seconds=o2["seconds"], ran_stage2=1)
            reward = o2["reward"]
    objective = penalised(reward, out.get("params") or 0, out.get("madds") or 0, hardware) \
        if reward is not None else None
    store.finish(trial_id, status, reward=reward, objective=objective, metrics=metrics, **values)
    return objective, reward, status
