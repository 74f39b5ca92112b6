"""The CVPR 2019 cells space as a :class:`~nasseg.spaces.base.SearchSpace`: a shared cell
applied in 3 decoder cells over the encoder's 4 taps, with auxiliary cells or classifiers."""
from __future__ import annotations

from ...errors import ConfigError
from ..base import SearchSpace
from .describe import describe, output_stride
from .draw import draw_genotype
from .genotype import CELL_POSITIONS, CellSpace, Genotype


class CellsSearchSpace(SearchSpace):
    name = "cells"
    description = "CVPR 2019: a shared cell applied in 3 decoder cells over 4 encoder taps"
    genotype_type = Genotype
    encoder_taps = (3, 6, 13, 17)  # strides 4, 8, 16, 32
    in_channels = (24, 32, 96, 320)
    aux_kinds = ("none", "clf", "cell")
    paper_classes = 21  # PASCAL VOC
    words = staticmethod(describe)
    stride = staticmethod(output_stride)
    diagram = staticmethod(draw_genotype)

    @property
    def decoder_type(self) -> type:
        from .decoder import Decoder  # here: parsing and sampling genotypes needs no torch

        return Decoder

    @property
    def positions(self) -> str:
        """Which input positions the cell layers offer (``search.cell_positions``)."""
        return self.layout.positions

    @property
    def key(self) -> str:
        """The space's identity in search states and fingerprints: ``cells``, or
        ``cells/authors`` with the authors' cell positions."""
        return self.name if self.positions == "nasseg" else f"{self.name}/{self.positions}"

    def with_positions(self, positions: str) -> "CellsSearchSpace":
        """This space with the cell positions ``positions`` (``nasseg`` | ``authors``)."""
        if positions not in CELLS_BY_POSITIONS:
            raise ConfigError(f"unknown cell positions {positions!r}; choose {' or '.join(CELL_POSITIONS)} "
                              "(search.cell_positions)")
        return CELLS_BY_POSITIONS[positions]

    def __repr__(self) -> str:
        return f"<{self.key} search space: {self.description}>"


CELLS = CellsSearchSpace(CellSpace())
CELLS_AUTHORS = CellsSearchSpace(CellSpace(positions="authors"))  # the authors' refactored controller's 1/4/7
CELLS_BY_POSITIONS = {"nasseg": CELLS, "authors": CELLS_AUTHORS}
