"""The CVPR 2019 decoder search space: operations, genotype, cell and decoder."""
from .genotype import CellSpace, Genotype, GenotypeError
from .ops import NUM_OPS, OP_NAMES, make_op

__all__ = ["CellSpace", "Genotype", "GenotypeError", "NUM_OPS", "OP_NAMES", "make_op"]
