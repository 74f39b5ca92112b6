"""Boxes and arrows on matplotlib axes, shared by the spaces' genotype diagrams (headless: Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence


def figure(rows: int, figsize: tuple[float, float], height_ratios: Sequence[float]):
    """A headless figure of ``rows`` axes stacked vertically: ``(fig, axes)``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, 1, figsize=figsize, gridspec_kw={"height_ratios": list(height_ratios)})


class Canvas:
    """Rounded boxes with centred text, and arrows clipped at the boxes they join (a box is
    named by its centre)."""

    def __init__(self, ax):
        self.ax = ax
        self.patches: dict = {}

    def box(self, xy, text: str, color: str, w: float = 0.9, h: float = 0.55, fontsize: int = 8) -> None:
        from matplotlib.patches import FancyBboxPatch

        x, y = xy
        patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=color, ec="#333",
                               lw=0.8, zorder=2)
        self.ax.add_patch(patch)
        self.ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)
        self.patches[xy] = patch

    def arrow(self, a, b, rad: float = 0.0, color: str = "#444") -> None:
        """An arrow from box centre ``a`` to box centre ``b``."""
        from matplotlib.patches import FancyArrowPatch

        self.ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, lw=0.8, color=color,
                                          connectionstyle=f"arc3,rad={rad}", patchA=self.patches.get(a),
                                          patchB=self.patches.get(b), shrinkA=1, shrinkB=1, zorder=4))

    def frame(self, xlim, ylim, title: str) -> None:
        self.ax.set_xlim(*xlim)
        self.ax.set_ylim(*ylim)
        self.ax.set_title(title, fontsize=9)
        self.ax.axis("off")


def save(fig, stem: str | Path, title: str, formats: Sequence[str]) -> list[Path]:
    """Title, lay out and write ``<stem>.<format>`` for each format; closes the figure."""
    import matplotlib.pyplot as plt

    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = stem.with_suffix(f".{fmt}")
        fig.savefig(p, dpi=120)
        paths.append(p)
    plt.close(fig)
    return paths
