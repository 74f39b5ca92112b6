"""The ``nasseg`` command: one sub-command per DVC stage (see dvc.yaml), plus tools.

Each stage module in this package is a page of option parsing that reads its section of
params.yaml and calls the library. Errors the user can fix are printed without a traceback.
"""
from __future__ import annotations

import sys

import typer
from rich.markup import escape

from nasseg.errors import NassegError
from nasseg.progress import console

from . import bench_cache, benchmark, draw, evaluate, export, posthoc, precompute, prepare, predict, pretrain, report, search, transfer, trials

app = typer.Typer(
    name="nasseg",
    help="Fast NAS of compact semantic segmentation models via auxiliary cells (CVPR 2019), "
    "as a DVC pipeline. Every stage reads its section of params.yaml; `dvc repro` runs them all "
    "in order, and each stage also runs alone as `nasseg <stage>`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Keeps `nasseg <command>` a group even while few commands exist."""


app.command("prepare")(prepare.main)
app.command("pretrain")(pretrain.pretrain)
app.command("teacher")(pretrain.teacher)
app.command("precompute")(precompute.main)
app.command("search")(search.main)
app.command("search-report")(search.report)
app.command("tricks")(search.tricks)
app.command("ablate")(posthoc.ablate)
app.command("correlate")(posthoc.correlate)
app.command("train")(posthoc.train)
app.command("transfer")(transfer.main)
app.command("report")(report.main)
app.command("trials")(trials.trials)
app.add_typer(trials.arch_app, name="arch")
app.command("evaluate")(evaluate.main)
app.command("predict")(predict.main)
app.command("export")(export.main)
app.command("benchmark")(benchmark.main)
app.command("draw")(draw.main)
app.command("bench-cache")(bench_cache.main)


def entry(argv: list[str] | None = None) -> None:
    """Console-script entry: user errors become one red line and exit code 2."""
    try:
        app(args=argv)
    except NassegError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    entry()
