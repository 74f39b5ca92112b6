"""`nasseg draw`: a genotype as a diagram like the paper's Fig. 6."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.models.zoo import PUBLISHED
from nasseg.progress import console
from nasseg.space import Genotype
from nasseg.space.draw import draw_genotype


def main(
    arch: str = typer.Argument(..., help="a found architecture (arch0, arch1, arch2) or a genotype text, e.g. "
                               "'[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]'"),
    out: Path = typer.Option(Path("results/arch"), help="output path without suffix; .png and .svg are written"),
) -> None:
    """Draw the encoder-decoder connectivity and the cell of a genotype (PNG and SVG)."""
    text = PUBLISHED.get(arch, arch)
    g = Genotype.from_text(text)
    title = f"{arch}: {g.to_text()}" if arch in PUBLISHED else g.to_text()
    for p in draw_genotype(g, out, title):
        console.print(f"wrote {p}")
