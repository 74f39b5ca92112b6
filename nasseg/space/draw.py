"""Draw a genotype like the paper's Fig. 6: encoder-decoder connectivity, then the cell."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .genotype import NUM_TAPS, Genotype
from .ops import OP_NAMES

TAP_LABELS = ("tap 0\nstride 4", "tap 1\nstride 8", "tap 2\nstride 16", "tap 3\nstride 32")
SHORT = {"conv1x1": "conv 1×1", "conv3x3": "conv 3×3", "sep3x3": "sep 3×3", "sep5x5": "sep 5×5", "gap": "gap",
         "conv3x3_d3": "conv 3×3\nrate 3", "conv3x3_d12": "conv 3×3\nrate 12", "sep3x3_d3": "sep 3×3\nrate 3",
         "sep5x5_d6": "sep 5×5\nrate 6", "skip": "skip", "zero": "zero"}


def _box(ax, xy, text, color, w=0.9, h=0.55, fontsize=8):
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=color, ec="#333",
                           lw=0.8, zorder=2)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    _PATCHES[(id(ax), xy)] = patch


_PATCHES: dict = {}


def _arrow(ax, a, b, rad=0.0, color="#444"):
    """An arrow from box centre ``a`` to box centre ``b``, clipped at the two boxes."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, lw=0.8, color=color,
                                 connectionstyle=f"arc3,rad={rad}", patchA=_PATCHES.get((id(ax), a)),
                                 patchB=_PATCHES.get((id(ax), b)), shrinkA=1, shrinkB=1, zorder=4))


def _strides(g: Genotype) -> list[int]:
    s = [4, 8, 16, 32]
    for a, b in g.connections:
        s.append(min(s[a], s[b]))
    return s


def draw_genotype(genotype: Genotype, stem: str | Path, title: str = "", formats: Sequence[str] = ("png", "svg")):
    """Write ``<stem>.png`` / ``<stem>.svg``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = genotype
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), gridspec_kw={"height_ratios": [1, 1]})
    # ---- connectivity
    strides = _strides(g)
    pos = {i: (0.0, 3 - i) for i in range(NUM_TAPS)}
    for i in range(NUM_TAPS):
        _box(top, pos[i], TAP_LABELS[i], "#dbe9f6")
    for b, (ia, ib) in enumerate(g.connections):
        idx = NUM_TAPS + b
        pos[idx] = (2.0 + 1.6 * b, 1.5 + (0.9 if b % 2 else -0.9))
        _box(top, pos[idx], f"block {idx}\n⊕ stride {strides[idx]}", "#fde2c8")
        for k, src in enumerate((ia, ib)):
            rad = 0.0 if ia != ib else (0.25 if k == 0 else -0.25)
            _arrow(top, pos[src], pos[idx], rad)
    out_x = 2.0 + 1.6 * len(g.connections) + 0.6
    out = (out_x, 1.5)
    _box(top, out, "concat\n1×1 → 3×3\nclassifier", "#d5efd5", w=1.1, h=0.8)
    for idx in g.decoder_output_indices:
        _arrow(top, pos[idx], out)
    top.set_xlim(-0.8, out_x + 0.9)
    top.set_ylim(-0.7, 3.7)
    top.set_title("connectivity (each arrow applies its own copy of the cell, then 1×1; ⊕ sums at the finer stride)",
                  fontsize=9)
    top.axis("off")
    # ---- cell
    npos = {0: (0.0, 0.0), 1: (1.3, 0.0)}
    _box(bottom, npos[0], "x", "#dbe9f6", w=0.6)
    _box(bottom, npos[1], SHORT[OP_NAMES[g.op0]], "#fde2c8")
    _arrow(bottom, npos[0], npos[1])
    for k, (p1, p2, oa, ob) in enumerate(g.layers):
        x = 2.9 + 2.2 * k
        a, b, s = 2 + 3 * k, 3 + 3 * k, 4 + 3 * k
        npos[a], npos[b], npos[s] = (x, 1.0), (x, -1.0), (x + 1.0, 0.0)
        _box(bottom, npos[a], SHORT[OP_NAMES[oa]], "#fde2c8")
        _box(bottom, npos[b], SHORT[OP_NAMES[ob]], "#fde2c8")
        _box(bottom, npos[s], "⊕", "#eeeeee", w=0.45, h=0.45, fontsize=11)
        for src, dst in ((p1, a), (p2, b)):
            far = npos[src][0] < npos[dst][0] - 1.5  # long jumps curve around the boxes between
            _arrow(bottom, npos[src], npos[dst], rad=(0.25 if dst == b else -0.25) if far else 0.0)
        _arrow(bottom, npos[a], npos[s])
        _arrow(bottom, npos[b], npos[s])
    end = (2.9 + 2.2 * len(g.layers) + 0.5, 0.0)
    _box(bottom, end, "Σ out", "#d5efd5", w=0.7)
    for n in g.cell_output_nodes:
        _arrow(bottom, npos[n], end, rad=-0.3 if n < 4 + 3 * (len(g.layers) - 1) else 0.0)
    bottom.set_xlim(-0.6, end[0] + 0.7)
    bottom.set_ylim(-1.8, 1.8)
    bottom.set_title("cell (unused summation nodes are summed into the output)", fontsize=9)
    bottom.axis("off")
    fig.suptitle(title or g.to_text(), fontsize=10)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = stem.with_suffix(f".{fmt}")
        fig.savefig(p, dpi=120)
        paths.append(p)
    plt.close(fig)
    _PATCHES.clear()
    return paths
