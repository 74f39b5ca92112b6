"""Rich progress bars and summary tables shared by the stages."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

# Wide enough for the summary tables when output goes to a file or a DVC log.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def _disabled() -> bool:
    return bool(os.environ.get("NASSEG_NO_PROGRESS")) or not sys.stderr.isatty() and bool(os.environ.get("CI"))


@contextlib.contextmanager
def progress_bars() -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """Yields ``task(name, total)`` that returns an ``advance()`` callable: one bar per task."""
    with Progress(TextColumn("[bold]{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=_disabled(),
                  transient=False) as prog:
        def task(name: str, total: int) -> Callable[[], None]:
            tid = prog.add_task(name, total=total)
            return lambda: prog.advance(tid)

        yield task


def table(title: str, columns: list[str], rows: list[list]) -> Table:
    """A summary table; columns whose values are all numbers are right-aligned."""
    t = Table(title=title, title_justify="left")
    for i, c in enumerate(columns):
        numeric = all(isinstance(r[i], (int, float)) for r in rows) and rows
        t.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    return t
