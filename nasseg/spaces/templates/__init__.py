"""The WACV 2020 template search space (SPEC §9): operations, templates, genotype, decoder.

Importing it does not import torch (see :mod:`nasseg.spaces.cells`); ``TemplateDecoder`` loads
when asked."""
from .genotype import AGG_NAMES, OP_NAMES, TemplateGenotype, TemplateSpace

__all__ = ["AGG_NAMES", "OP_NAMES", "TemplateDecoder", "TemplateGenotype", "TemplateSpace"]


def __getattr__(name: str):
    if name == "TemplateDecoder":
        from .decoder import TemplateDecoder

        return TemplateDecoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
