"""The genotype of the template-based search space (WACV 2020, SPEC §9).

Text form (the authors' nested lists)::

    [[[op1, op2, agg], ...templates], [[p1, p2, template, repeats - 1, stride_bit], ...layers]]

A *template* is two operations (indices into :data:`OP_NAMES`) and an aggregation
(:data:`AGG_NAMES`). The pool of features starts with the two encoder taps (index 0 at
stride 4, index 1 at stride 8); layer ``k`` applies template ``template`` to pool entries
``p1`` and ``p2`` (each in ``0 .. 1 + k``), ``repeats`` (1-4) times, with stride
``2 ** stride_bit``, and its output joins the pool as ``2 + k``. Only the first half of the
layers (``k < layers // 2``) may downsample; later layers have stride 1 (bit 0). The
outputs of the layers that no later layer reads are concatenated, reduced by a 1x1 to the
decoder width and classified by a 3x3.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ...errors import GenotypeError
from ..base import BaseGenotype, as_int

AUX_KINDS = ("none", "clf")  # the template decoder's auxiliary heads (training only)

OP_NAMES = ("sep_conv_3x3", "sep_conv_5x5", "global_average_pool", "max_pool_3x3", "sep_conv_5x5_dil6",
            "skip_connect")
AGG_NAMES = ("weighted_sum", "concat")
NUM_TAPS = 2
MAX_REPEATS = 4


def stride_layers(num_layers: int) -> int:
    """How many leading layers may downsample (the authors: those before floor(layers / 2))."""
    return num_layers // 2


@dataclass(frozen=True)
class TemplateGenotype(BaseGenotype):
    NOUN = "template genotype"
    FORM = "[[[op1,op2,agg],...],[[p1,p2,template,repeats-1,stride],...]]"
    HASH_PREFIX = "templates:"

    templates: tuple[tuple[int, int, int], ...]
    layers: tuple[tuple[int, int, int, int, int], ...]

    def __post_init__(self):
        try:
            object.__setattr__(self, "templates", tuple(tuple(as_int(v) for v in t) for t in self.templates))
            object.__setattr__(self, "layers", tuple(tuple(as_int(v) for v in l) for l in self.layers))
        except TypeError:
            raise GenotypeError(f"malformed template genotype (templates={self.templates!r}, layers="
                                f"{self.layers!r}): every entry must be an integer") from None
        self.validate()

    def validate(self) -> None:
        if not self.templates:
            raise GenotypeError("templates: needs at least one template [op1, op2, agg]")
        for i, t in enumerate(self.templates):
            if len(t) != 3:
                raise GenotypeError(f"template {i}: expected [op1, op2, agg], got {list(t)}")
            for name, v in zip(("op1", "op2"), t[:2]):
                if not 0 <= v < len(OP_NAMES):
                    raise GenotypeError(f"template {i}: {name}={v} is out of range; operations are 0..{len(OP_NAMES) - 1}"
                                        f" ({', '.join(f'{j}={n}' for j, n in enumerate(OP_NAMES))})")
            if not 0 <= t[2] < len(AGG_NAMES):
                raise GenotypeError(f"template {i}: agg={t[2]} is out of range; aggregations are 0=weighted_sum, "
                                    "1=concat")
        if not self.layers:
            raise GenotypeError("layers: needs at least one layer [p1, p2, template, repeats-1, stride]")
        n_stride = stride_layers(len(self.layers))
        for k, l in enumerate(self.layers):
            if len(l) != 5:
                raise GenotypeError(f"layer {k}: expected [p1, p2, template, repeats-1, stride], got {list(l)}")
            p1, p2, t, r, s = l
            for name, p in (("p1", p1), ("p2", p2)):
                if not 0 <= p < NUM_TAPS + k:
                    raise GenotypeError(f"layer {k}: position {name}={p} is out of range; layer {k} may read pool "
                                        f"entries 0..{NUM_TAPS + k - 1} (0, 1: the encoder taps; 2+j: layer j)")
            if not 0 <= t < len(self.templates):
                raise GenotypeError(f"layer {k}: template={t} is out of range; there are {len(self.templates)} "
                                    f"templates (0..{len(self.templates) - 1})")
            if not 0 <= r < MAX_REPEATS:
                raise GenotypeError(f"layer {k}: repeats field {r} is out of range; it is repeats - 1, 0..{MAX_REPEATS - 1}")
            if s not in (0, 1):
                raise GenotypeError(f"layer {k}: stride field {s} must be 0 (stride 1) or 1 (stride 2)")
            if s and k >= n_stride:
                raise GenotypeError(f"layer {k}: only the first {n_stride} layers may downsample; set its stride "
                                    "field to 0")

    # ----------------------------------------------------------------- structure
    @property
    def output_indices(self) -> list[int]:
        """Pool indices of the layers that no later layer reads: they are concatenated."""
        picked = {p for l in self.layers for p in l[:2]}
        return [NUM_TAPS + k for k in range(len(self.layers)) if NUM_TAPS + k not in picked]

    # ----------------------------------------------------------------- text
    def to_list(self) -> list:
        return [[list(t) for t in self.templates], [list(l) for l in self.layers]]

    @classmethod
    def from_list(cls, obj) -> "TemplateGenotype":
        try:
            templates, layers = obj
            rows = [*templates, *layers]
            if any(not isinstance(r, (list, tuple)) for r in rows):
                raise TypeError
            if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for r in rows for v in r):
                raise TypeError
        except (TypeError, ValueError):
            raise GenotypeError(f"malformed template genotype {obj!r}: expected {cls.FORM} of integers") from None
        return cls(tuple(tuple(t) for t in templates), tuple(tuple(l) for l in layers))

    # ----------------------------------------------------------------- identity
    def canonical(self) -> "TemplateGenotype":
        """Templates that no layer uses do not change the network: they are zeroed so that
        such genotypes share one id. (The two inputs of a layer are not symmetric: repeats
        feed the second input's branch forward.)"""
        used = {l[2] for l in self.layers}
        templates = tuple(t if i in used else (0, 0, 0) for i, t in enumerate(self.templates))
        return TemplateGenotype(templates, self.layers)


@dataclass(frozen=True)
class TemplateSpace:
    """Sizes of the template space; the controller emits decisions in :meth:`decision_sizes`
    order: op1, op2, agg per template, then p1, p2, template, repeats and (for the first
    ``layers // 2`` layers) the stride per layer."""

    num_templates: int = 3
    num_layers: int = 7
    num_ops: int = len(OP_NAMES)

    def decision_sizes(self) -> list[int]:
        sizes = [self.num_ops, self.num_ops, len(AGG_NAMES)] * self.num_templates
        for k in range(self.num_layers):
            sizes += [NUM_TAPS + k, NUM_TAPS + k, self.num_templates, MAX_REPEATS]
            if k < stride_layers(self.num_layers):
                sizes.append(2)
        return sizes

    def from_decisions(self, d: Sequence[int]) -> TemplateGenotype:
        d = [int(v) for v in d]
        if len(d) != len(self.decision_sizes()):
            raise GenotypeError(f"expected {len(self.decision_sizes())} decisions, got {len(d)}")
        templates = tuple(tuple(d[3 * i: 3 * i + 3]) for i in range(self.num_templates))
        pos, layers = 3 * self.num_templates, []
        for k in range(self.num_layers):
            strided = k < stride_layers(self.num_layers)
            n = 5 if strided else 4
            row = d[pos: pos + n] + ([] if strided else [0])
            layers.append(tuple(row))
            pos += n
        return TemplateGenotype(templates, tuple(layers))

    def to_decisions(self, g: TemplateGenotype) -> list[int]:
        out = [v for t in g.templates for v in t]
        for k, l in enumerate(g.layers):
            out += list(l if k < stride_layers(len(g.layers)) else l[:4])
        return out

    def sample(self, rng: np.random.Generator) -> TemplateGenotype:
        return self.from_decisions([int(rng.integers(n)) for n in self.decision_sizes()])
