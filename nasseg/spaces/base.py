"""The search-space protocol both systems implement (CVPR 2019 cells, WACV 2020 templates).

A search space says what the controller decides (``decision_sizes``, ``from_decisions``,
``to_decisions``, ``sample``), what a genotype is (``genotype_type``, ``parse``: the object,
its text or its nested Python list), how a genotype becomes a decoder (``build_decoder``),
which encoder taps that decoder reads (``encoder_taps``: MobileNet-v2 block indices, a prefix
of the encoder's four taps; ``in_channels``: their channels; ``cache_taps``: their positions
among the feature cache's taps), and how to show a genotype to people (``describe``: lines in
words; ``draw``: a diagram). The controller, PPO, random search, the trial store, the search
loop, the inner training and the tools take any of them: ``search.search_space`` in params
picks one, and :mod:`nasseg.spaces` tells which space a given genotype belongs to.

Each space is a subclass of :class:`SearchSpace` with its own decoder, words and diagram;
each genotype class derives from :class:`BaseGenotype` (text form, parsing, id).
"""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional, Sequence

import numpy as np

from ..errors import ConfigError, GenotypeError


def as_int(v) -> int:
    """Integers only: a float or bool in a genotype is a mistake, not a value to truncate."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(v)
    return int(v)


class BaseGenotype:
    """What every space's genotype shares. Its text is the compact JSON of its nested list
    (:meth:`to_list`); it parses from that text (:meth:`from_text`) or list (:meth:`from_list`);
    its id (:meth:`hash`) hashes its canonical form, so symmetric duplicates share one."""

    NOUN: ClassVar[str] = "genotype"  # what error messages call it
    FORM: ClassVar[str] = ""  # its nested-list notation, for error messages
    HASH_PREFIX: ClassVar[str] = ""  # keeps the ids of different spaces apart

    def to_list(self) -> list:
        raise NotImplementedError

    @classmethod
    def from_list(cls, obj):
        raise NotImplementedError

    def canonical(self):
        raise NotImplementedError

    def to_text(self) -> str:
        return json.dumps(self.to_list(), separators=(",", ":"))

    def __str__(self) -> str:
        return self.to_text()

    @classmethod
    def from_text(cls, text: str):
        try:
            obj = ast.literal_eval(str(text).strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise GenotypeError(f"cannot parse {cls.NOUN} text {text!r}: expected the nested-list notation "
                                f"{cls.FORM}") from None
        return cls.from_list(obj)

    def hash(self) -> str:
        """A short stable id shared by all symmetric duplicates."""
        return hashlib.sha1((self.HASH_PREFIX + self.canonical().to_text()).encode()).hexdigest()[:16]


class SearchSpace:
    """One system's search space; see the module docstring. A space is a subclass that names
    its parts (the class attributes below); ``layout`` holds the decision layout (sizes,
    decisions <-> genotype, sampling)."""

    name: ClassVar[str]
    description: ClassVar[str]
    genotype_type: ClassVar[type]
    # The MobileNet-v2 blocks the decoder reads and their channels: a prefix of the encoder's taps
    # (nasseg.models.encoder.TAPS / TAP_CHANNELS; spaces import nothing of the models, which build on them).
    encoder_taps: ClassVar[tuple[int, ...]]
    in_channels: ClassVar[tuple[int, ...]]
    aux_kinds: ClassVar[tuple[str, ...]]
    paper_classes: ClassVar[int]  # the classes of the dataset the paper counts its published models at
    # (genotype, in_channels, *, num_classes, width, repeats, aux) -> the decoder module
    decoder_type: ClassVar[type]
    # genotype -> lines in words; genotype -> output stride; (genotype, stem, title, formats) -> paths
    words: ClassVar[Callable[[Any], list[str]]]
    stride: ClassVar[Callable[[Any], int]]
    diagram: ClassVar[Callable[..., list[Path]]]

    def __init__(self, layout: Any):
        self.layout = layout

    def __repr__(self) -> str:
        return f"<{self.name} search space: {self.description}>"

    # --------------------------------------------------------------- decisions
    def decision_sizes(self) -> list[int]:
        return self.layout.decision_sizes()

    def from_decisions(self, d: Sequence[int]):
        return self.layout.from_decisions(d)

    def to_decisions(self, g) -> list[int]:
        return self.layout.to_decisions(g)

    def sample(self, rng: np.random.Generator):
        return self.layout.sample(rng)

    # --------------------------------------------------------------- genotypes
    def parse(self, genotype):
        """This space's genotype from the object itself, its text or its nested list."""
        if isinstance(genotype, self.genotype_type):
            return genotype
        if isinstance(genotype, str):
            return self.genotype_type.from_text(genotype)
        if isinstance(genotype, (list, tuple)):
            return self.genotype_type.from_list(genotype)
        raise GenotypeError(f"a {self.name} genotype is expected (the object, its text or its nested list "
                            f"{self.genotype_type.FORM}), got {type(genotype).__name__}")

    # --------------------------------------------------------------- models
    @property
    def cache_taps(self) -> tuple[int, ...]:
        """Positions of this space's taps among the feature cache's (the full encoder's) taps."""
        return tuple(range(len(self.encoder_taps)))

    def check_aux(self, aux: str) -> None:
        if aux not in self.aux_kinds:
            raise ConfigError(f"aux heads {aux!r} do not exist in the {self.name} space; choose one of "
                              f"{', '.join(self.aux_kinds)} (search.aux / the variant).")

    def build_decoder(self, genotype, *, num_classes: int, width: int, repeats: int, aux: str = "none",
                      in_channels: Optional[Sequence[int]] = None):
        """The decoder of ``genotype`` over taps of ``in_channels`` (default: this space's)."""
        g = self.parse(genotype)
        self.check_aux(aux)
        chans = tuple(in_channels) if in_channels is not None else self.in_channels
        return self.decoder_type(g, chans, num_classes=num_classes, width=width, repeats=repeats, aux=aux)

    def output_stride(self, genotype) -> int:
        """Stride of the decoder's output with respect to the input image."""
        return self.stride(self.parse(genotype))

    # --------------------------------------------------------------- people
    def describe(self, genotype) -> list[str]:
        """The genotype in words, one line per part."""
        return self.words(self.parse(genotype))

    def draw(self, genotype, stem: str | Path, title: str = "",
             formats: Sequence[str] = ("png", "svg")) -> list[Path]:
        """Write the genotype's diagram as ``<stem>.<format>``; returns the paths written."""
        return self.diagram(self.parse(genotype), stem, title, formats)
