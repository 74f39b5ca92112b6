"""A cells genotype in words: the cell layer by layer, then the decoder's connectivity.

Node and pool numbering follow :mod:`.genotype`: in the cell, node 0 is the input and node 1
is ``op0(input)``; layer k adds its two branches as nodes ``2 + 3k`` and ``3 + 3k`` and their
sum as node ``4 + 3k``. In the decoder, pool indices 0..3 are the encoder taps (strides 4,
8, 16, 32) and decoder cell b adds pool index ``4 + b`` (``block 4 + b`` in the diagram of
:mod:`.draw`).
"""
from __future__ import annotations

from .genotype import NUM_TAPS, OP_NAMES, Genotype

TAP_STRIDES = (4, 8, 16, 32)


def node_name(n: int) -> str:
    """``node 5 (layer 1 branch a)``-style label of a cell node."""
    if n == 0:
        return "node 0 (input)"
    if n == 1:
        return "node 1 (op0)"
    k, r = divmod(n - 2, 3)
    return f"node {n} (layer {k} " + ("branch a)", "branch b)", "sum)")[r]


def pool_strides(g: Genotype) -> list[int]:
    """Output stride of every pool index: the taps', then each decoder cell's (its finer input).
    The diagram draws these too, so words and drawing always agree."""
    s = list(TAP_STRIDES)
    for a, b in g.connections:
        s.append(min(s[a], s[b]))
    return s


def pool_name(i: int) -> str:
    """``tap i`` for an encoder tap, ``block i`` for a decoder cell's output (as in the diagram)."""
    return f"tap {i}" if i < NUM_TAPS else f"block {i}"


def describe_cell(g: Genotype) -> list[str]:
    """The cell, one line per node group."""
    lines = [f"op0 = {OP_NAMES[g.op0]}: node 1 = {OP_NAMES[g.op0]}(node 0 = cell input)"]
    for k, (p1, p2, oa, ob) in enumerate(g.layers):
        a, b, s = 2 + 3 * k, 3 + 3 * k, 4 + 3 * k
        lines.append(f"layer {k}: {node_name(p1)} via {OP_NAMES[oa]} + {node_name(p2)} via {OP_NAMES[ob]}"
                     f" -> nodes {a}, {b}, sum node {s}")
    outs = g.cell_output_nodes
    lines.append("cell output = " + " + ".join(f"node {n}" for n in outs)
                 + " (summation nodes no later layer picked)")
    return lines


def describe_connectivity(g: Genotype) -> list[str]:
    """The decoder: which pool entries each decoder cell sums, at which stride, and the head."""
    st = pool_strides(g)
    lines = []
    for b, (ia, ib) in enumerate(g.connections):
        idx = NUM_TAPS + b
        lines.append(f"decoder cell {b} -> block {idx}: cell({pool_name(ia)}, stride {st[ia]}) + "
                     f"cell({pool_name(ib)}, stride {st[ib]}) summed at stride {st[idx]}")
    lines.append("head: concat " + ", ".join(pool_name(i) for i in g.decoder_output_indices)
                 + f" (blocks no later cell picked) at stride {output_stride(g)} -> 1x1 -> 3x3 classifier")
    return lines


def describe(g: Genotype) -> list[str]:
    """Every line of :func:`describe_cell` then :func:`describe_connectivity`."""
    return describe_cell(g) + describe_connectivity(g)


def output_stride(g: Genotype) -> int:
    """Stride of the decoder's output (the finest decoder-cell output that reaches the head)."""
    st = pool_strides(g)
    return min(st[i] for i in g.decoder_output_indices)
