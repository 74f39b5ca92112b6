"""`nasseg report`: the pipeline's results on one page."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.progress import console, table


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; the report reads every "
                                "section's output paths and `report`."),
    screenshot: Optional[Path] = typer.Option(None, "--screenshot", help="also render the page to this PNG in "
                                              "headless Chromium (e.g. docs/report.png)"),
    width: int = typer.Option(1280, help="screenshot width in CSS pixels"),
    height: int = typer.Option(2400, help="screenshot height in CSS pixels"),
) -> None:
    """One self-contained HTML page (and a Markdown twin) of every stage's results.

    Reads: the outputs of all stages (Table 1 cards of `nasseg train`, the benchmark table,
    the search stores, Figs. 2-5 of search-report / tricks / ablate / correlate, Tables 2-3
    of `nasseg transfer`, histories) and the trained models for Fig. 7. Writes:
    <report.out>/report.html (figures inlined: one file to share), report.md (links
    figures), figures/ (Fig. 6, Fig. 7, search progress, training curves), plots/ (TSVs that
    `dvc plots show` draws) and summary.json. A missing input is shown on the page with the
    command that writes it, not an error.
    """
    from nasseg.report import build_report

    p = load_params(params)
    s = build_report(p, params)
    rows = [["tables", ", ".join(s["tables"])], ["figures", ", ".join(s["figures"])],
            ["also", ", ".join(s["extra"])], ["missing inputs", str(len(s["missing"]))],
            ["HTML", f"{s['html']} ({s['html_bytes'] / 1e6:.1f} MB)"], ["Markdown", s["markdown"]]]
    console.print(table("report", ["", ""], rows))
    for m in s["missing"]:
        console.print(f"[yellow]missing:[/] {m['what']}: {m['path']} (run `{m['command']}`)", highlight=False)
    if screenshot:
        from nasseg.report.screenshot import screenshot as shoot

        console.print(f"wrote {shoot(Path(s['html']), screenshot, width=width, height=height)}")
