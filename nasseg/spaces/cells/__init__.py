"""The CVPR 2019 decoder search space: operations, genotype, cell and decoder, words, diagram."""
from .genotype import CellSpace, Genotype
from .ops import NUM_OPS, OP_NAMES, make_op

__all__ = ["CellSpace", "Genotype", "NUM_OPS", "OP_NAMES", "make_op"]
