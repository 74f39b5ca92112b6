"""The WACV 2020 template space as a :class:`~nasseg.spaces.base.SearchSpace`: 3 templates
instantiated by 7 layers over the encoder's stride-4 and stride-8 taps."""
from __future__ import annotations

from ..base import SearchSpace
from .describe import describe, output_stride
from .draw import draw_genotype
from .genotype import AUX_KINDS, TemplateGenotype, TemplateSpace


class TemplatesSearchSpace(SearchSpace):
    name = "templates"
    description = "WACV 2020: 3 templates instantiated by 7 layers over the stride-4 and stride-8 taps"
    genotype_type = TemplateGenotype
    encoder_taps = (3, 6)  # strides 4, 8
    in_channels = (24, 32)
    aux_kinds = AUX_KINDS
    paper_classes = 19  # Cityscapes (the published 279,059 / 267,147 parameters)
    words = staticmethod(describe)
    stride = staticmethod(output_stride)
    diagram = staticmethod(draw_genotype)

    @property
    def decoder_type(self) -> type:
        from .decoder import TemplateDecoder  # here: parsing and sampling genotypes needs no torch

        return TemplateDecoder


TEMPLATES = TemplatesSearchSpace(TemplateSpace())
