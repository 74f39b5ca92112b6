"""Search strategies behind one interface: ``ppo`` (the paper's), ``reinforce``, ``random``.

A strategy proposes architectures (``propose(n)``) and learns from their rewards
(``observe(proposals, rewards)``). Everything that must survive a crash is in
``state_dict()`` / ``load_state_dict()``: controller, optimiser, baseline, buffer, RNG.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..config import PPOParams
from ..errors import ConfigError
from ..spaces import CELLS, SearchSpace
from .controller import Controller, space_key


def check_space(state: dict, space: SearchSpace, name: str) -> None:
    """A saved strategy state continues only a search in the same space: one saved under other
    cell positions (or another space) proposed decisions this one cannot score. States saved
    before the space was recorded are taken as made in the default space of their name."""
    saved, now = state.get("space", space.name), space_key(space)
    if saved != now:
        raise ConfigError(f"the saved {name} search state was made in the {saved!r} search space, and params now "
                          f"ask for {now!r} (search.search_space / search.cell_positions). Set them back to resume "
                          "that search, or move its folder (search.out/<strategy>) away to start a new one.")


@dataclass
class Proposal:
    decisions: list[int]
    genotype: object  # the space's genotype type
    log_prob: float = 0.0


class RandomStrategy:
    """Uniform sampling of every decision: the paper's random-search baseline."""

    name = "random"

    def __init__(self, space: SearchSpace = CELLS, seed: int = 0):
        self.space = space
        self.rng = np.random.default_rng(seed)

    def propose(self, n: int) -> list[Proposal]:
        out = []
        for _ in range(n):
            d = [int(self.rng.integers(k)) for k in self.space.decision_sizes()]
            out.append(Proposal(d, self.space.from_decisions(d), -float(np.sum(np.log(self.space.decision_sizes())))))
        return out

    def observe(self, proposals, rewards) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "space": space_key(self.space)}

    def load_state_dict(self, state: dict) -> None:
        check_space(state, self.space, self.name)
        self.rng.bit_generator.state = state["rng"]


class PPOStrategy:
    """The LSTM controller trained with PPO (clip 0.1, Adam 1e-4, gradient-norm clip 2,
    EMA reward baseline 0.95, a buffer of the last 100 samples). ``reinforce`` is the same
    controller with a plain policy-gradient step on the latest samples only."""

    def __init__(self, space: SearchSpace = CELLS, seed: int = 0, cfg: PPOParams = PPOParams(),
                 reinforce: bool = False):
        self.name = "reinforce" if reinforce else "ppo"
        self.cfg, self.reinforce = cfg, reinforce
        torch.manual_seed(seed)
        self.controller = Controller(space, hidden=cfg.hidden)
        self.opt = torch.optim.Adam(self.controller.parameters(), lr=cfg.lr)
        self.gen = torch.Generator().manual_seed(seed)
        self.baseline: Optional[float] = None
        self.buffer: deque = deque(maxlen=cfg.buffer)  # (decisions, old log-prob, advantage)
        self.updates = 0

    def propose(self, n: int) -> list[Proposal]:
        return [Proposal(s.decisions, s.genotype, s.log_prob) for s in self.controller.sample(n, self.gen)]

    def observe(self, proposals: list[Proposal], rewards: list[float]) -> dict:
        fresh = []
        for p, r in zip(proposals, rewards):
            if r is None or not np.isfinite(r):
                continue  # failed architectures teach nothing about the policy's reward
            if self.baseline is None:
                self.baseline = float(r)
            adv = float(r) - self.baseline
            self.baseline = self.cfg.baseline_decay * self.baseline + (1 - self.cfg.baseline_decay) * float(r)
            fresh.append((p.decisions, p.log_prob, adv))
        if not fresh:
            return {}
        batch = fresh if self.reinforce else None
        self.buffer.extend(fresh)
        batch = batch or list(self.buffer)
        decisions = [b[0] for b in batch]
        old_logp = torch.tensor([b[1] for b in batch], dtype=torch.float32)
        adv = torch.tensor([b[2] for b in batch], dtype=torch.float32)
        stats = {}
        for _ in range(1 if self.reinforce else self.cfg.epochs):
            logp, ent = self.controller.log_prob(decisions)
            if self.reinforce:
                loss = -(logp * adv).mean()
            else:
                ratio = torch.exp(logp - old_logp)
                clipped = torch.clamp(ratio, 1 - self.cfg.clip, 1 + self.cfg.clip)
                loss = -torch.min(ratio * adv, clipped * adv).mean()
            loss = loss - self.cfg.entropy_weight * ent.mean()
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.controller.parameters(), self.cfg.grad_clip)
            self.opt.step()
            stats = {"loss": float(loss.detach()), "entropy": float(ent.mean().detach())}
        self.updates += 1
        stats["baseline"] = self.baseline
        return stats

    def state_dict(self) -> dict:
        return {"controller": self.controller.state_dict(), "opt": self.opt.state_dict(),
                "gen": self.gen.get_state(), "baseline": self.baseline, "buffer": list(self.buffer),
                "updates": self.updates, "torch_rng": torch.get_rng_state(), "space": space_key(self.controller.space)}

    def load_state_dict(self, state: dict) -> None:
        check_space(state, self.controller.space, self.name)
        self.controller.load_state_dict(state["controller"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.baseline = state["baseline"]
        self.buffer = deque([tuple(b) for b in state["buffer"]], maxlen=self.cfg.buffer)
        self.updates = state["updates"]
        torch.set_rng_state(state["torch_rng"])


def make_strategy(name: str, seed: int = 0, cfg: PPOParams = PPOParams(), space: SearchSpace = CELLS):
    if name == "random":
        return RandomStrategy(space, seed)
    if name in ("ppo", "reinforce"):
        return PPOStrategy(space, seed, cfg, reinforce=name == "reinforce")
    raise ValueError(f"unknown strategy {name!r}; choose ppo, reinforce or random")
