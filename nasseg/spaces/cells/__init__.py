"""The CVPR 2019 decoder search space: operations, genotype, cell and decoder, words, diagram.

Importing it (or :mod:`nasseg.spaces`) does not import torch: genotypes are parsed, sampled and
described without it (a toy search's Ray workers); ``make_op`` loads the modules when asked."""
from .genotype import NUM_OPS, OP_NAMES, CellSpace, Genotype

__all__ = ["CellSpace", "Genotype", "NUM_OPS", "OP_NAMES", "make_op"]


def __getattr__(name: str):
    if name == "make_op":
        from .ops import make_op

        return make_op
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
