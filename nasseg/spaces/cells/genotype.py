"""The decoder genotype of the CVPR 2019 search space (SPEC §3).

Text form (the paper's nested lists)::

    [[op0, [p1, p2, opA, opB], [p1, p2, opA, opB], [p1, p2, opA, opB]], [[a, b], [a, b], [a, b]]]

Cell: node 0 is the cell input, node 1 = op0(input). Layer k (0-based) picks two positions
among the ``2 + 3k`` nodes that exist and adds three nodes: ``opA(node[p1])``,
``opB(node[p2])`` and their sum. The cell output is the sum of the summation nodes (node 1
and every a+b) that no later layer picked.

Decoder: the pool starts with the 4 encoder taps (indices 0..3); decoder cell b picks two
pool indices among ``4 + b`` (repeats allowed) and its result joins the pool as ``4 + b``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...errors import GenotypeError
from ..base import BaseGenotype, as_int

# The operations by genotype index (their modules: :data:`.ops.OPS`, built in this order).
OP_NAMES = ("conv1x1", "conv3x3", "sep3x3", "sep5x5", "gap", "conv3x3_d3", "conv3x3_d12", "sep3x3_d3", "sep5x5_d6",
            "skip", "zero")
NUM_OPS = len(OP_NAMES)

NUM_TAPS = 4


@dataclass(frozen=True)
class Genotype(BaseGenotype):
    FORM = "[[op0,[p1,p2,opA,opB],...],[[a,b],...]]"

    op0: int
    layers: tuple[tuple[int, int, int, int], ...]
    connections: tuple[tuple[int, int], ...]

    def __post_init__(self):
        try:
            object.__setattr__(self, "op0", as_int(self.op0))
            object.__setattr__(self, "layers", tuple(tuple(as_int(v) for v in l) for l in self.layers))
            object.__setattr__(self, "connections", tuple(tuple(as_int(v) for v in c) for c in self.connections))
        except TypeError:
            raise GenotypeError(f"malformed genotype (op0={self.op0!r}, layers={self.layers!r}, connections="
                                f"{self.connections!r}): every entry must be an integer") from None
        self.validate()

    # ----------------------------------------------------------------- checks
    def validate(self) -> None:
        def op_ok(v, where):
            if not 0 <= v < NUM_OPS:
                raise GenotypeError(f"{where}: operation index {v} is out of range; ops are 0..{NUM_OPS - 1} "
                                    f"({', '.join(f'{i}={n}' for i, n in enumerate(OP_NAMES))})")

        op_ok(self.op0, "cell op0")
        if not self.layers:
            raise GenotypeError("cell: needs at least one layer [p1, p2, opA, opB]")
        for k, layer in enumerate(self.layers):
            if len(layer) != 4:
                raise GenotypeError(f"cell layer {k}: expected [p1, p2, opA, opB], got {list(layer)}")
            n_nodes = 2 + 3 * k
            for name, p in zip(("p1", "p2"), layer[:2]):
                if not 0 <= p < n_nodes:
                    raise GenotypeError(f"cell layer {k}: position {name}={p} is out of range; "
                                        f"layer {k} may pick nodes 0..{n_nodes - 1}")
            op_ok(layer[2], f"cell layer {k} opA")
            op_ok(layer[3], f"cell layer {k} opB")
        if not self.connections:
            raise GenotypeError("connections: needs at least one decoder cell [a, b]")
        for b, conn in enumerate(self.connections):
            if len(conn) != 2:
                raise GenotypeError(f"decoder cell {b}: expected [a, b], got {list(conn)}")
            for name, v in zip("ab", conn):
                if not 0 <= v < NUM_TAPS + b:
                    raise GenotypeError(f"decoder cell {b}: input {name}={v} is out of range; "
                                        f"decoder cell {b} may pick pool indices 0..{NUM_TAPS + b - 1}")

    # ----------------------------------------------------------------- structure
    @property
    def cell_summation_nodes(self) -> list[int]:
        return [1] + [4 + 3 * k for k in range(len(self.layers))]

    @property
    def cell_output_nodes(self) -> list[int]:
        """Summation nodes that no later layer picked: their sum is the cell output."""
        picked = {p for l in self.layers for p in l[:2]}
        return [n for n in self.cell_summation_nodes if n not in picked]

    @property
    def decoder_output_indices(self) -> list[int]:
        """Decoder-cell outputs (pool indices) that no later decoder cell picked."""
        picked = {v for c in self.connections for v in c}
        return [NUM_TAPS + b for b in range(len(self.connections)) if NUM_TAPS + b not in picked]

    # ----------------------------------------------------------------- text
    def to_list(self) -> list:
        return [[self.op0, *[list(l) for l in self.layers]], [list(c) for c in self.connections]]

    @classmethod
    def from_list(cls, obj) -> "Genotype":
        try:
            cell, conns = obj
            op0, *layers = cell
            if isinstance(op0, (list, tuple)) or any(not isinstance(l, (list, tuple)) for l in layers):
                raise TypeError
            if any(not isinstance(c, (list, tuple)) for c in conns):
                raise TypeError
            vals = [op0, *[v for l in layers for v in l], *[v for c in conns for v in c]]
            if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in vals):
                raise TypeError
        except (TypeError, ValueError):
            raise GenotypeError(f"malformed genotype {obj!r}: expected {cls.FORM} of integers") from None
        return cls(int(op0), tuple(tuple(l) for l in layers), tuple(tuple(c) for c in conns))

    # ----------------------------------------------------------------- identity
    def canonical(self) -> "Genotype":
        """The representative of this genotype's symmetry class: within a cell layer the two
        branches (p1, opA) and (p2, opB) may swap (later references to the two branch nodes
        swap with them), and a decoder cell's two inputs may swap. Of the 2^layers ways to
        swap, the lexicographically smallest result is the representative (this also covers
        layers whose two branches are identical, where only the later references differ)."""
        best = None
        for mask in range(1 << len(self.layers)):
            rename, layers = {}, []
            for k, (p1, p2, oa, ob) in enumerate(self.layers):
                p1, p2 = rename.get(p1, p1), rename.get(p2, p2)
                if mask >> k & 1:
                    p1, p2, oa, ob = p2, p1, ob, oa
                    rename[2 + 3 * k], rename[3 + 3 * k] = 3 + 3 * k, 2 + 3 * k
                layers.append((p1, p2, oa, ob))
            if best is None or layers < best:
                best = layers
        conns = tuple(tuple(sorted(c)) for c in self.connections)
        return Genotype(self.op0, tuple(best), conns)


# Input positions the controller offers cell layer k (0-based), by ``search.cell_positions``:
#   nasseg:  2 + 3k (2, 5, 8): every node that exists, as the paper describes ("two locations out of
#            two" for the first layer), the authors' first controller had (DrSleep/nas-segm-pytorch
#            1a74410, rl/micro_controllers.py: heads of l*3-4 outputs for l = 2..4) and their
#            published arch1 needs (its layer 0 picks node 1);
#   authors: 1 + 3k (1, 4, 7): the authors' refactored controller (8175e93: heads of 1 + 3i outputs),
#            one fewer than their cell accepts, so the newest node (node 1 = op0(x) for layer 0, the
#            previous layer's sum after that) is never an input.
# Positions keep their node numbering in both, so a genotype means the same cell in either space.
CELL_POSITIONS = ("nasseg", "authors")


def layer_positions(k: int, positions: str = "nasseg") -> int:
    """How many input positions cell layer ``k`` (0-based) offers under ``positions``."""
    if positions not in CELL_POSITIONS:
        raise GenotypeError(f"unknown cell positions {positions!r}; choose {' or '.join(CELL_POSITIONS)} "
                            "(search.cell_positions)")
    return 2 + 3 * k - (positions == "authors")


@dataclass(frozen=True)
class CellSpace:
    """Sizes of the CVPR 2019 space; the controller emits decisions in :meth:`decision_sizes` order
    (op0, then p1, p2, opA, opB per cell layer, then a, b per decoder cell). ``positions``: which
    input positions a cell layer offers (see :data:`CELL_POSITIONS`)."""

    num_layers: int = 3
    num_cells: int = 3
    num_ops: int = NUM_OPS
    positions: str = "nasseg"

    def __post_init__(self):
        layer_positions(0, self.positions)  # an unknown name fails here

    def decision_sizes(self) -> list[int]:
        sizes = [self.num_ops]
        for k in range(self.num_layers):
            n = layer_positions(k, self.positions)
            sizes += [n, n, self.num_ops, self.num_ops]
        for b in range(self.num_cells):
            sizes += [NUM_TAPS + b, NUM_TAPS + b]
        return sizes

    def from_decisions(self, d: Sequence[int]) -> Genotype:
        d = list(d)
        if len(d) != len(self.decision_sizes()):
            raise GenotypeError(f"expected {len(self.decision_sizes())} decisions, got {len(d)}")
        layers = tuple(tuple(d[1 + 4 * k: 5 + 4 * k]) for k in range(self.num_layers))
        off = 1 + 4 * self.num_layers
        conns = tuple(tuple(d[off + 2 * b: off + 2 * b + 2]) for b in range(self.num_cells))
        g = Genotype(d[0], layers, conns)
        self.check(g)
        return g

    def check(self, g: Genotype) -> None:
        """Raise GenotypeError when ``g`` lies outside this space: with ``authors`` positions, a
        cell layer that takes the newest node as an input (the authors' controller never offers it)."""
        for k, layer in enumerate(g.layers):
            n = layer_positions(k, self.positions)
            for name, p in zip(("p1", "p2"), layer[:2]):
                if p >= n:
                    raise GenotypeError(
                        f"cell layer {k}: position {name}={p} is outside the {self.positions!r} cell positions, "
                        f"which offer layer {k} nodes 0..{n - 1} (search.cell_positions: {self.positions}; "
                        f"'nasseg' offers every node, 0..{layer_positions(k) - 1})")

    @staticmethod
    def to_decisions(g: Genotype) -> list[int]:
        return [g.op0, *[v for l in g.layers for v in l], *[v for c in g.connections for v in c]]

    def sample(self, rng: np.random.Generator) -> Genotype:
        """A uniformly random genotype (every decision uniform over its legal values)."""
        return self.from_decisions([int(rng.integers(n)) for n in self.decision_sizes()])
