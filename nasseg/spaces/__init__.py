"""The search spaces: the protocol (:mod:`.base`), one subpackage per space, and a registry.

=========== ============================ ===================== ==========================
space       genotype                     encoder taps          decoder
=========== ============================ ===================== ==========================
cells       [[op0,[p1,p2,opA,opB]x3],    blocks 3,6,13,17      cells + aux cells
            [[a,b]x3]]                   (strides 4,8,16,32)   (:mod:`.cells`)
templates   [[[op1,op2,agg]x3],          blocks 3,6            7 template layers
            [[p1,p2,t,r,s]x7]]           (strides 4, 8)        (:mod:`.templates`)
=========== ============================ ===================== ==========================

``get_space(name)`` gives a registered space (``search.search_space`` in params names one);
``space_of(genotype)`` asks every registered space to parse a genotype (object, text or
nested list) and returns the one that accepts it; ``parse_genotype`` returns the parsed
genotype itself.
"""
from __future__ import annotations

from ..errors import ConfigError, GenotypeError
from .base import SearchSpace
from .cells.space import CELLS
from .templates.space import TEMPLATES

_SPACES: dict[str, SearchSpace] = {}


def register(space: SearchSpace) -> SearchSpace:
    """Add a space to the registry (its ``name`` must be new)."""
    if space.name in _SPACES:
        raise ValueError(f"a search space named {space.name!r} is already registered")
    _SPACES[space.name] = space
    return space


register(CELLS)
register(TEMPLATES)
SPACE_NAMES = tuple(_SPACES)  # the built-in spaces


def get_space(name: str) -> SearchSpace:
    if name not in _SPACES:
        raise ConfigError(f"unknown search space {name!r}; choose one of {', '.join(_SPACES)} (search.search_space)")
    return _SPACES[name]


def parse_any(genotype):
    """``(space, genotype)``: the one registered space whose parser accepts ``genotype``."""
    accepted, refusals = [], []
    for space in _SPACES.values():
        try:
            accepted.append((space, space.parse(genotype)))
        except GenotypeError as err:
            refusals.append(f"  as a {space.name} genotype {space.genotype_type.FORM}: {err}")
    if len(accepted) == 1:
        return accepted[0]
    if accepted:
        raise GenotypeError(f"genotype {genotype!r} parses in more than one search space "
                            f"({', '.join(s.name for s, _ in accepted)}); give the space by name")
    raise GenotypeError(f"genotype {genotype!r} fits no search space:\n" + "\n".join(refusals))


def space_of(genotype) -> SearchSpace:
    """The registered space a genotype (object, text or nested list) belongs to."""
    return parse_any(genotype)[0]


def parse_genotype(genotype):
    """A genotype object of its space from the object itself, its text or its nested list."""
    return parse_any(genotype)[1]


__all__ = ["CELLS", "TEMPLATES", "SPACE_NAMES", "GenotypeError", "SearchSpace", "get_space", "parse_any",
           "parse_genotype", "register", "space_of"]
