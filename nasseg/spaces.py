"""The search-space interface both systems implement (CVPR 2019 cells, WACV 2020 templates).

A search space says what the controller decides (``decision_sizes``, ``from_decisions``,
``to_decisions``, ``sample``), what a genotype is (``genotype_type``, ``parse``), how a
genotype becomes a decoder (``build_decoder``) and which encoder taps that decoder reads
(``encoder_taps``: MobileNet-v2 block indices; ``cache_taps``: their positions among the
feature cache's four taps). The controller, PPO, random search, the trial store, the
search loop and the inner training take any of them: ``search.search_space`` in params
picks one.

=========== ============================ ===================== ==========================
space       genotype                     encoder taps          decoder
=========== ============================ ===================== ==========================
cells       [[op0,[p1,p2,opA,opB]x3],    blocks 3,6,13,17      cells + aux cells
            [[a,b]x3]]                   (strides 4,8,16,32)   (nasseg.space)
templates   [[[op1,op2,agg]x3],          blocks 3,6            7 template layers
            [[p1,p2,t,r,s]x7]]           (strides 4, 8)        (nasseg.templates)
=========== ============================ ===================== ==========================
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch.nn as nn

from .models.encoder import TAP_CHANNELS, TAPS
from .space.genotype import CellSpace, Genotype, GenotypeError
from .templates.genotype import TemplateGenotype, TemplateSpace

SPACE_NAMES = ("cells", "templates")


@dataclass(frozen=True)
class SearchSpace:
    """One system's search space; see the module docstring."""

    name: str
    genotype_type: type
    space: Any  # CellSpace | TemplateSpace: the decision layout
    encoder_taps: tuple[int, ...]
    aux_kinds: tuple[str, ...]
    description: str = field(default="", compare=False)

    # --------------------------------------------------------------- decisions
    def decision_sizes(self) -> list[int]:
        return self.space.decision_sizes()

    def from_decisions(self, d: Sequence[int]):
        return self.space.from_decisions(d)

    def to_decisions(self, g) -> list[int]:
        return self.space.to_decisions(g)

    def sample(self, rng: np.random.Generator):
        return self.space.sample(rng)

    # --------------------------------------------------------------- genotypes
    def parse(self, text_or_genotype):
        if isinstance(text_or_genotype, self.genotype_type):
            return text_or_genotype
        if not isinstance(text_or_genotype, str):
            raise GenotypeError(f"a {self.name} genotype is expected, got {type(text_or_genotype).__name__}")
        return self.genotype_type.from_text(text_or_genotype)

    # --------------------------------------------------------------- models
    @property
    def in_channels(self) -> tuple[int, ...]:
        return tuple(TAP_CHANNELS[TAPS.index(t)] for t in self.encoder_taps)

    @property
    def cache_taps(self) -> tuple[int, ...]:
        """Positions of this space's taps among the feature cache's (the full encoder's) taps."""
        return tuple(TAPS.index(t) for t in self.encoder_taps)

    def check_aux(self, aux: str) -> None:
        if aux not in self.aux_kinds:
            from .errors import ConfigError

            raise ConfigError(f"aux heads {aux!r} do not exist in the {self.name} space; choose one of "
                              f"{', '.join(self.aux_kinds)} (search.aux / the variant).")

    def build_decoder(self, genotype, *, num_classes: int, width: int, repeats: int, aux: str = "none",
                      in_channels: Optional[Sequence[int]] = None) -> nn.Module:
        g = self.parse(genotype)
        self.check_aux(aux)
        chans = tuple(in_channels) if in_channels is not None else None
        if self.name == "cells":
            from .space.decoder import Decoder

            return Decoder(g, chans or TAP_CHANNELS, num_classes=num_classes, width=width, repeats=repeats, aux=aux)
        from .templates.decoder import TemplateDecoder

        return TemplateDecoder(g, chans or self.in_channels, num_classes=num_classes, width=width, repeats=repeats,
                               aux=aux)


CELLS = SearchSpace("cells", Genotype, CellSpace(), TAPS, ("none", "clf", "cell"),
                    "CVPR 2019: a shared cell applied in 3 decoder cells over 4 encoder taps")
TEMPLATES = SearchSpace("templates", TemplateGenotype, TemplateSpace(), TAPS[:2], ("none", "clf"),
                        "WACV 2020: 3 templates instantiated by 7 layers over the stride-4 and stride-8 taps")
_SPACES = {"cells": CELLS, "templates": TEMPLATES}


def get_space(name: str) -> SearchSpace:
    if name not in _SPACES:
        from .errors import ConfigError

        raise ConfigError(f"unknown search space {name!r}; choose one of {', '.join(_SPACES)} (search.search_space)")
    return _SPACES[name]


def space_of(genotype) -> SearchSpace:
    """The space a genotype object or text belongs to (told apart by the nesting of its text)."""
    if isinstance(genotype, Genotype):
        return CELLS
    if isinstance(genotype, TemplateGenotype):
        return TEMPLATES
    try:
        obj = ast.literal_eval(str(genotype).strip())
        first = obj[0][0]
    except (ValueError, SyntaxError, TypeError, IndexError, KeyError, MemoryError, RecursionError):
        raise GenotypeError(f"cannot parse genotype {genotype!r}: expected a cells genotype "
                            "[[op0,[p1,p2,opA,opB],...],[[a,b],...]] or a templates genotype "
                            "[[[op1,op2,agg],...],[[p1,p2,template,repeats-1,stride],...]]") from None
    return TEMPLATES if isinstance(first, (list, tuple)) else CELLS


def parse_genotype(genotype):
    """A genotype object of either space from its text (or the object itself)."""
    return space_of(genotype).parse(genotype)
