"""The one Markdown table writer of the project (stage tables, cards, the report's Markdown twin).

Layout, kept byte for byte from the tables the stages have always written (DVC tracks them):
``| a | b |`` rows, a ``|---|---|`` rule (``---:|`` for a right-aligned column), an empty
cell as ``| |`` (``empty``), a ``|`` inside a cell escaped as ``\\|`` and a line break as a space.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

RULE = {"left": "---", "right": "---:", "center": ":---:"}


def markdown_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_row(cells: Iterable, empty: str = " ") -> str:
    return "|" + "|".join(f" {c} " if c else empty for c in map(markdown_cell, cells)) + "|"


def markdown_table(header: Sequence, rows: Iterable[Sequence], align: Optional[Sequence[str]] = None,
                   empty: str = " ") -> str:
    """The table as lines ending in a newline. ``align``: one of left (default), right or
    center per column; ``empty``: how an empty cell is written (the report's Markdown twin has
    always written two spaces)."""
    align = align or ["left"] * len(header)
    if len(align) != len(header):
        raise ValueError(f"markdown_table: {len(align)} alignments for {len(header)} columns")
    lines = [markdown_row(header, empty), "|" + "".join(RULE[a] + "|" for a in align)]
    lines += [markdown_row(r, empty) for r in rows]
    return "\n".join(lines) + "\n"
