"""The search loop, asynchronous: a free worker gets the next architecture at once.

Proposals are drawn from the strategy in blocks of ``batch_size`` (a block drawn with the
policy of its time) and handed out one at a time as workers free up; a trial runs stage 1,
the early-termination rule decides at once (a stopped trial frees its worker), survivors go
on to stage 2. The controller is updated as soon as ``batch_size`` trials have finished, in
the order they finished, with the log-probabilities stored at sampling (PPO's ratio stays
correct for proposals drawn before earlier updates). With one worker (the local executor)
this is exactly the synchronous loop: block, four trials in slot order, update.

Durability: every trial is a row in the trial store (written when it starts, when its stage-1
decision is taken, when it ends: decisions and finishes numbered in the order they happened);
the strategy, the termination rule, the current block and the counters are saved atomically
beside the store after every draw, decision and update. A run killed at any moment (SIGKILL
included) and started again replays the decisions and finishes the store holds beyond the
saved state, reruns the trials in flight (a decided trial keeps its decision), and goes on:
no finished trial is lost or repeated. What is deterministic: the sequence of draws, decisions
and updates, given the order in which trials complete. With several workers that order
depends on timing, so two runs (or a run and its resumed twin) agree only as far as their
trials completed in the same order; with one worker it is always the same.
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
from ..errors import NassegError
from ..spaces import parse_genotype
from .executor import Failure, LocalExecutor
from .inner import EarlyTermination
from .store import TrialStore
from .strategy import Proposal


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
    step: int = 0  # controller updates done
    elapsed: float = 0.0
    strategy: dict = field(default_factory=dict)
    termination: dict = field(default_factory=dict)
    blocks: Optional[int] = 0  # proposal blocks drawn (None: a state of the synchronous loop)
    block: list = field(default_factory=list)  # the current block: (decisions, genotype text, log-prob)
    s1_seq: int = 0  # stage-1 decisions the termination state holds
    observed_upto: int = 0  # finished trials (in finish order) the strategy has learnt from


def save_state(path: Path, state: SearchState) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state.__dict__, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> Optional[SearchState]:
    if not path.is_file():
        return None
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if "blocks" not in raw:  # written by the synchronous loop
        raw["blocks"] = None
    return SearchState(**raw)


def run_search(strategy, trainer: Trainer, store: TrialStore, state_path: Path, *, budget: Budget,
               batch_size: int = 4, termination: Optional[EarlyTermination] = None, executor=None,
               hardware: HardwareParams = HardwareParams(), seed: int = 0, two_stage: bool = True,
               on_trial: Optional[Callable[[dict], None]] = None, log: Callable[[str], None] = print) -> SearchState:
    run = _Run(strategy, trainer, store, Path(state_path), budget, batch_size,
               termination or EarlyTermination(seed=seed), executor or LocalExecutor(), hardware, seed, two_stage,
               on_trial, log)
    return run.go()


@dataclass
class _Trial:
    id: int
    proposal: Proposal
    step: int
    slot: int
    seed: int
    decided: Optional[bool] = None  # the stage-1 decision, when taken (kept across a restart)
    stage1: object = None


class _Run:
    def __init__(self, strategy, trainer, store, state_path, budget, batch_size, termination, executor, hardware,
                 seed, two_stage, on_trial, log):
        self.strategy, self.trainer, self.store, self.state_path = strategy, trainer, store, state_path
        self.budget, self.batch_size, self.termination, self.executor = budget, batch_size, termination, executor
        self.hardware, self.seed, self.two_stage, self.on_trial, self.log = hardware, seed, two_stage, on_trial, log
        self.name = strategy.name
        self.trials: dict[int, _Trial] = {}
        self.buffer: list = []  # (proposal, objective) of finished trials not yet learnt from, in finish order

    # ------------------------------------------------------------------ state
    def save(self) -> None:
        st = self.state
        st.elapsed = self.elapsed0 + (time.time() - self.t0)
        st.strategy = self.strategy.state_dict()
        st.termination = self.termination.state_dict()
        save_state(self.state_path, st)

    def trial_seed(self, step: int, slot: int) -> int:
        return self.seed * 1_000_003 + step * 1000 + slot

    def left(self) -> float:
        """Trials the budget still allows to start (0 once the time is spent)."""
        if self.budget.max_seconds is not None and self.elapsed0 + time.time() - self.t0 >= self.budget.max_seconds:
            return 0
        started = len(self.store.rows(self.name))
        return math.inf if self.budget.max_trials is None else self.budget.max_trials - started

    # ------------------------------------------------------------------ the loop
    def go(self) -> SearchState:
        self.t0 = time.time()
        self._resume()
        for row in self.store.rows(self.name, ("running",)):  # in flight when the last run stopped
            self._submit(self._trial_of(row), 1)
        while True:
            while self.executor.pending() < self.executor.slots and self.left() > 0:
                self._start_next()
            if self.executor.pending() == 0:
                break
            (trial_id, stage), out = self.executor.wait()
            if isinstance(out, Failure) and out.kind == "environment":
                self._stop_for_environment(trial_id, out)
            self._stage1_done(trial_id, out) if stage == 1 else self._finish(trial_id, self.trials[trial_id].stage1, out)
        if self.buffer:  # the last, smaller batch
            self._update(len(self.buffer))
        self.save()
        return self.state

    def _stop_for_environment(self, trial_id: int, out: Failure) -> None:
        """An error of the inputs or the machine is no result of the architecture: the trial stays
        unfinished in the store (a rerun runs it again, as it does the others in flight), the
        state is saved, and the search stops with the error's own message."""
        self.save()
        text = self.trials[trial_id].proposal.genotype.to_text()
        raise NassegError(f"search stopped at trial {trial_id} ({text}) by an error of the inputs or the machine, "
                          f"not of the architecture: {out.message} -- nothing was recorded against the "
                          "architecture; fix the cause and rerun the same command (the unfinished trials run again).")

    def _start_next(self) -> None:
        st = self.state
        if not self.free_slots:
            self._draw(self.left())
            self.free_slots = list(range(len(st.block)))
            self.save()
        slot = self.free_slots.pop(0)
        decisions, text, log_prob = self.state.block[slot]
        step = st.blocks - 1
        g = parse_genotype(text)
        trial_id = self.store.start(strategy=self.name, step=step, slot=slot, genotype=text, hash=g.hash(),
                                    decisions=decisions, log_prob=log_prob, seed=self.trial_seed(step, slot))
        self._submit(_Trial(trial_id, Proposal(decisions, g, log_prob), step, slot, self.trial_seed(step, slot)), 1)

    def _draw(self, left: float) -> None:
        """The next block: ``batch_size`` proposals (fewer when ``left`` trials remain) from the policy of now."""
        props = self.strategy.propose(int(min(self.batch_size, left)))
        self.state.block = [(p.decisions, p.genotype.to_text(), p.log_prob) for p in props]
        self.state.blocks += 1

    def _trial_of(self, row: dict) -> _Trial:
        g = parse_genotype(row["genotype"])
        return _Trial(row["id"], Proposal(row["decisions"], g, row["log_prob"]), row["step"], row["slot"], row["seed"],
                      None if row["go2"] is None else bool(row["go2"]))

    def _submit(self, t: _Trial, stage: int) -> None:
        self.trials[t.id] = t
        text = t.proposal.genotype.to_text()
        if stage == 1:
            self.executor.submit((t.id, 1), self.trainer.stage1, (text, t.seed))
        else:
            self.executor.submit((t.id, 2), self.trainer.stage2, (text, t.stage1, t.seed))

    def _stage1_done(self, trial_id: int, out) -> None:
        t = self.trials[trial_id]
        t.stage1 = out
        if isinstance(out, Failure):
            return self._finish(trial_id, out, None)
        if t.decided is None:  # a trial resumed after its decision keeps it (the rule's state has it)
            t.decided = bool(self.two_stage and self.termination.decide(out["reward"]))
            self.state.s1_seq = self.store.decide(trial_id, out["reward"], t.decided)
            self.save()
        if t.decided:
            self._submit(t, 2)
        else:
            self._finish(trial_id, out, None)

    def _finish(self, trial_id: int, s1, s2) -> None:
        t = self.trials.pop(trial_id)
        objective, reward, status = _record(self.store, trial_id, s1, s2, self.hardware)
        self.buffer.append((t.proposal, objective))
        if self.on_trial and status is not None:
            self.on_trial({"step": t.step, "slot": t.slot, "genotype": t.proposal.genotype.to_text(),
                           "reward": reward, "status": status})
        if len(self.buffer) >= self.batch_size:
            self._update(self.batch_size)

    def _update(self, n: int) -> None:
        batch, self.buffer = self.buffer[:n], self.buffer[n:]
        stats = self.strategy.observe([p for p, _ in batch], [o for _, o in batch])
        self.state.step += 1
        self.state.observed_upto += n
        self.save()
        if stats:
            self.log(f"{self.name} update {self.state.step}: "
                     + ", ".join(f"{k}={v:.4g}" for k, v in stats.items() if v is not None))

    # ------------------------------------------------------------------ resume
    def _resume(self) -> None:
        """The saved state, then what the store holds beyond it: decisions taken and trials
        finished after the last save are replayed in the order they happened."""
        raw = load_state(self.state_path)
        rows = self.store.rows(self.name)
        if raw is None:
            self.state = SearchState(strategy=self.strategy.state_dict(), termination=self.termination.state_dict())
        else:
            self.state = raw
            self.strategy.load_state_dict(raw.strategy)
            self.termination.load_state_dict(raw.termination)
            if raw.blocks is None:  # a state of the synchronous loop, saved between steps
                raw.blocks, raw.block = raw.step, []
                raw.observed_upto = max([r["done_seq"] or 0 for r in rows if r["step"] < raw.step], default=0)
            self.log(f"resuming {self.name} search after {raw.step} update(s) "
                     f"({sum(r['status'] != 'running' for r in rows)} trials finished)")
        self.elapsed0 = self.state.elapsed
        for r in sorted((r for r in rows if (r["s1_seq"] or 0) > self.state.s1_seq), key=lambda r: r["s1_seq"]):
            if self.two_stage:
                self.termination.decide(r["stage1_reward"])
            self.state.s1_seq = r["s1_seq"]
        while any(r["step"] >= self.state.blocks for r in rows):  # blocks drawn, the state not saved since
            before = sum(r["step"] < self.state.blocks for r in rows)  # what left() counted at that draw
            self._draw(math.inf if self.budget.max_trials is None else self.budget.max_trials - before)
        current = self.state.blocks - 1
        used = {r["slot"] for r in rows if r["step"] == current}
        self.free_slots = [i for i in range(len(self.state.block)) if i not in used]
        done = sorted((r for r in rows if r["status"] != "running" and (r["done_seq"] or 0) > self.state.observed_upto),
                      key=lambda r: r["done_seq"])
        self.buffer = [(self._trial_of(r).proposal, r["objective"]) for r in done]
        while len(self.buffer) >= self.batch_size:
            self._update(self.batch_size)


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
