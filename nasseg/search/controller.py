"""The controller: a two-layer LSTM that emits a genotype decision by decision (SPEC §4).

One softmax head per decision, in the search space's ``decision_sizes`` order (cells: op0; p1,
p2, opA, opB per cell layer; a, b per decoder cell. templates: op1, op2, agg per template; p1,
p2, template, repeats, stride per layer: see :mod:`nasseg.spaces`). Each sampled decision is fed back through an
embedding (as in Zoph & Le and ENAS). Weights are uniform in (-0.1, 0.1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ..errors import GenotypeError
from ..spaces import CELLS, SearchSpace


def space_key(space: SearchSpace) -> str:
    """A space's identity in search states: its name, and for cells any non-default cell positions
    (``cells/authors``)."""
    return getattr(space, "key", space.name)


@dataclass
class Sample:
    decisions: list[int]
    genotype: object  # the space's genotype type
    log_prob: float
    entropy: float


class Controller(nn.Module):
    def __init__(self, space: SearchSpace = CELLS, hidden: int = 100, layers: int = 2, init_range: float = 0.1):
        super().__init__()
        self.space = space
        self.sizes = space.decision_sizes()
        self.hidden = hidden
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers)
        self.start = nn.Parameter(torch.zeros(1, 1, hidden))
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in self.sizes)
        self.embeds = nn.ModuleList(nn.Embedding(n, hidden) for n in self.sizes)
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def _run(self, decisions: Optional[torch.Tensor], batch: int, generator: Optional[torch.Generator]):
        """Sample (``decisions`` None) or score given decisions (B x D). Returns decisions,
        summed log-probabilities and summed entropies, each per sequence."""
        x = self.start.expand(1, batch, self.hidden)
        state = None
        chosen, logp, ent = [], 0.0, 0.0
        for i, head in enumerate(self.heads):
            out, state = self.lstm(x, state)
            logits = head(out[0])
            dist = torch.distributions.Categorical(logits=logits)
            if decisions is None:
                probs = dist.probs.detach()
                d = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            else:
                d = decisions[:, i]
            chosen.append(d)
            logp = logp + dist.log_prob(d)
            ent = ent + dist.entropy()
            x = self.embeds[i](d).unsqueeze(0)
        return torch.stack(chosen, 1), logp, ent

    @torch.no_grad()
    def sample(self, n: int = 1, generator: Optional[torch.Generator] = None) -> list[Sample]:
        d, logp, ent = self._run(None, n, generator)
        return [Sample(row.tolist(), self.space.from_decisions(row.tolist()), float(lp), float(e))
                for row, lp, e in zip(d, logp, ent)]

    def log_prob(self, decisions: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable log-probabilities and entropies of given decision sequences."""
        rows = [list(x) for x in decisions]
        for row in rows:  # a decision outside its head (e.g. a state of another space) is the user's to fix
            bad = [(i, v, n) for i, (v, n) in enumerate(zip(row, self.sizes)) if not 0 <= v < n]
            if len(row) != len(self.sizes) or bad:
                where = f"{len(row)} decisions, {len(self.sizes)} expected" if len(row) != len(self.sizes) else \
                    ", ".join(f"decision {i} = {v} of {n} choices" for i, v, n in bad)
                raise GenotypeError(f"decisions {row} do not fit the {space_key(self.space)} search space ({where}); "
                                    "were they sampled with other search.search_space / search.cell_positions?")
        d = torch.as_tensor(rows, dtype=torch.long)
        _, logp, ent = self._run(d, len(d), None)
        return logp, ent
