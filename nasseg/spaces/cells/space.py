"""The CVPR 2019 cells space as a :class:`~nasseg.spaces.base.SearchSpace`: a shared cell
applied in 3 decoder cells over the encoder's 4 taps, with auxiliary cells or classifiers."""
from __future__ import annotations

from ..base import SearchSpace
from .decoder import Decoder
from .describe import describe, output_stride
from .draw import draw_genotype
from .genotype import CellSpace, Genotype


class CellsSearchSpace(SearchSpace):
    name = "cells"
    description = "CVPR 2019: a shared cell applied in 3 decoder cells over 4 encoder taps"
    genotype_type = Genotype
    encoder_taps = (3, 6, 13, 17)  # strides 4, 8, 16, 32
    in_channels = (24, 32, 96, 320)
    aux_kinds = ("none", "clf", "cell")
    paper_classes = 21  # PASCAL VOC
    decoder_type = Decoder
    words = staticmethod(describe)
    stride = staticmethod(output_stride)
    diagram = staticmethod(draw_genotype)


CELLS = CellsSearchSpace(CellSpace())
