"""The WACV 2020 template search space (SPEC §9): operations, templates, genotype, decoder."""
from .decoder import TemplateDecoder
from .genotype import AGG_NAMES, OP_NAMES, TemplateGenotype, TemplateSpace

__all__ = ["AGG_NAMES", "OP_NAMES", "TemplateDecoder", "TemplateGenotype", "TemplateSpace"]
