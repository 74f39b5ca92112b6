"""Draw a genotype like the paper's Fig. 6: encoder-decoder connectivity, then the cell."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..diagram import Canvas, figure, save
from .describe import pool_strides
from .genotype import NUM_TAPS, OP_NAMES, Genotype

TAP_LABELS = ("tap 0\nstride 4", "tap 1\nstride 8", "tap 2\nstride 16", "tap 3\nstride 32")
SHORT = {"conv1x1": "conv 1×1", "conv3x3": "conv 3×3", "sep3x3": "sep 3×3", "sep5x5": "sep 5×5", "gap": "gap",
         "conv3x3_d3": "conv 3×3\nrate 3", "conv3x3_d12": "conv 3×3\nrate 12", "sep3x3_d3": "sep 3×3\nrate 3",
         "sep5x5_d6": "sep 5×5\nrate 6", "skip": "skip", "zero": "zero"}


def draw_genotype(genotype: Genotype, stem: str | Path, title: str = "", formats: Sequence[str] = ("png", "svg")):
    """Write ``<stem>.png`` / ``<stem>.svg``; returns the paths written."""
    g = genotype
    fig, (top_ax, bottom_ax) = figure(2, (10, 8), (1, 1))
    # ---- connectivity
    top = Canvas(top_ax)
    strides = pool_strides(g)
    pos = {i: (0.0, 3 - i) for i in range(NUM_TAPS)}
    for i in range(NUM_TAPS):
        top.box(pos[i], TAP_LABELS[i], "#dbe9f6")
    for b, (ia, ib) in enumerate(g.connections):
        idx = NUM_TAPS + b
        pos[idx] = (2.0 + 1.6 * b, 1.5 + (0.9 if b % 2 else -0.9))
        top.box(pos[idx], f"block {idx}\n⊕ stride {strides[idx]}", "#fde2c8")
        for k, src in enumerate((ia, ib)):
            rad = 0.0 if ia != ib else (0.25 if k == 0 else -0.25)
            top.arrow(pos[src], pos[idx], rad)
    out_x = 2.0 + 1.6 * len(g.connections) + 0.6
    out = (out_x, 1.5)
    top.box(out, "concat\n1×1 → 3×3\nclassifier", "#d5efd5", w=1.1, h=0.8)
    for idx in g.decoder_output_indices:
        top.arrow(pos[idx], out)
    top.frame((-0.8, out_x + 0.9), (-0.7, 3.7),
              "connectivity (each arrow applies its own copy of the cell, then 1×1; ⊕ sums at the finer stride)")
    # ---- cell
    bottom = Canvas(bottom_ax)
    npos = {0: (0.0, 0.0), 1: (1.3, 0.0)}
    bottom.box(npos[0], "x", "#dbe9f6", w=0.6)
    bottom.box(npos[1], SHORT[OP_NAMES[g.op0]], "#fde2c8")
    bottom.arrow(npos[0], npos[1])
    for k, (p1, p2, oa, ob) in enumerate(g.layers):
        x = 2.9 + 2.2 * k
        a, b, s = 2 + 3 * k, 3 + 3 * k, 4 + 3 * k
        npos[a], npos[b], npos[s] = (x, 1.0), (x, -1.0), (x + 1.0, 0.0)
        bottom.box(npos[a], SHORT[OP_NAMES[oa]], "#fde2c8")
        bottom.box(npos[b], SHORT[OP_NAMES[ob]], "#fde2c8")
        bottom.box(npos[s], "⊕", "#eeeeee", w=0.45, h=0.45, fontsize=11)
        for src, dst in ((p1, a), (p2, b)):
            far = npos[src][0] < npos[dst][0] - 1.5  # long jumps curve around the boxes between
            bottom.arrow(npos[src], npos[dst], rad=(0.25 if dst == b else -0.25) if far else 0.0)
        bottom.arrow(npos[a], npos[s])
        bottom.arrow(npos[b], npos[s])
    end = (2.9 + 2.2 * len(g.layers) + 0.5, 0.0)
    bottom.box(end, "Σ out", "#d5efd5", w=0.7)
    for n in g.cell_output_nodes:
        bottom.arrow(npos[n], end, rad=-0.3 if n < 4 + 3 * (len(g.layers) - 1) else 0.0)
    bottom.frame((-0.6, end[0] + 0.7), (-1.8, 1.8), "cell (unused summation nodes are summed into the output)")
    return save(fig, stem, title or g.to_text(), formats)
