"""`nasseg draw`: a genotype of either search space as a diagram (cells: like the paper's Fig. 6)."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.errors import NassegError

from .arch import say


def main(
    arch: str = typer.Argument(..., help="a zoo architecture with a genotype (arch0..arch2, wacv_arch0, wacv_arch1) "
                               "or a genotype text of either search space, e.g. "
                               "'[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]'"),
    out: Path = typer.Option(Path("results/arch"), help="output path without suffix; .png and .svg are written"),
) -> None:
    """Draw a genotype (PNG and SVG): for cells the encoder-decoder connectivity and the cell,
    for templates the templates and the layers that apply them."""
    from nasseg.spaces import parse_any
    from nasseg.tools.cards import resolve

    r = resolve(arch)
    if not r["genotype"]:
        raise NassegError(f"{arch} is a {r['kind']} without a genotype: nothing to draw. Give a found architecture "
                          "or a genotype text.")
    space, g = parse_any(r["genotype"])
    title = g.to_text() if r["kind"] == "genotype" else f"{arch}: {g.to_text()}"
    for p in space.draw(g, out, title):
        say(f"wrote {p}")
