"""`nasseg trials`: browse a search's trial store (read-only; safe while the search runs)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from nasseg.errors import NassegError
from nasseg.progress import console, table

from .arch import diagram_stem, say, show_genotype


def num(v, fmt: str = "{:.4f}") -> str:
    from nasseg.tools.trials import finite

    return "-" if finite(v) is None else fmt.format(v)


def duration(s: Optional[float]) -> str:
    if s is None:
        return "-"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.2f} h"


def failure(r: dict) -> str:
    """``kind: first line of the traceback`` of a failed trial, ``running`` or nothing."""
    if r["status"] != "failed":
        return "running" if r["status"] == "running" else ""
    line = next((l.strip() for l in (r.get("traceback") or "").splitlines() if l.strip()), "")
    return f"{r.get('failure') or 'failed'}: {line if len(line) <= 90 else line[:89] + '…'}"


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    """A console table of plain-text cells (genotypes and tracebacks hold brackets, not markup)."""
    cells = [[v if isinstance(v, (int, float)) else escape("-" if v is None else str(v)) for v in r] for r in rows]
    console.print(table(title, columns, cells))


def summary_rows(summ: dict) -> list[list]:
    return [[s, v["trials"], v["done"], v["failed"], v["running"], v["ran_stage2"],
             ", ".join(f"{k} {n}" for k, n in v["failures"].items()) or "-", num(v["best_reward"]), v["best_id"],
             v["best_genotype"], num(v["mean_reward"]), num(v["mean_last_quarter"]), duration(v["wall_seconds"]),
             num(v["trials_per_hour"], "{:.1f}")] for s, v in summ.items()]


def top_rows(rows: list[dict]) -> tuple[list[str], list[list]]:
    from nasseg.tools.trials import trial_seconds

    show_fail = any(r["status"] != "done" for r in rows)
    cols = ["rank", "strategy", "id", "step", "reward", "stage1", "stage2", "params M", "MAdds B", "time s", "hash",
            "genotype"] + (["failure"] if show_fail else [])
    out = [[i, r["strategy"], r["id"], r["step"], num(r.get("reward")), num(r.get("stage1_reward")),
            num(r.get("stage2_reward")), num(None if r.get("params") is None else r["params"] / 1e6, "{:.2f}"),
            num(None if r.get("madds") is None else r["madds"] / 1e9, "{:.2f}"), num(trial_seconds(r), "{:.0f}"),
            (r.get("hash") or "")[:10], r["genotype"]] + ([failure(r)] if show_fail else [])
           for i, r in enumerate(rows, 1)]
    return cols, out


def described(r: dict) -> dict:
    """A trial row with its genotype's space and description in words."""
    from nasseg.spaces import parse_any

    space, g = parse_any(r["genotype"])
    return dict(r, space=space.name, description=space.describe(g))


def show_trial(r: dict, out: Optional[Path], draw: bool) -> None:
    """One trial in full: every column, metrics per stage, decisions, the traceback of a
    failure, the genotype in words and its diagram."""
    from nasseg.tools.trials import trial_seconds

    say(f"trial {r['strategy']}:{r['id']}  ({r['store']})", style="bold")
    cells = []
    for k, v in r.items():
        if k in ("started", "finished") and v is not None:
            v = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(v))}  ({v:.3f})"
        elif k in ("params", "madds") and v is not None:
            v = f"{v:,}"
        elif isinstance(v, float):
            v = f"{v:.6g}"
        if k not in ("metrics", "decisions", "traceback", "store"):
            cells.append([k, v])
    print_table("columns", ["column", "value"], cells + [["training time", duration(trial_seconds(r))]])
    staged: dict[str, dict] = {}
    other = []
    for k, v in (r.get("metrics") or {}).items():
        stage, _, name = k.partition("_")
        if stage in ("stage1", "stage2") and name:
            staged.setdefault(name, {})[stage] = v
        else:
            other.append([k, v])
    if staged:
        print_table("metrics per stage", ["metric", "stage 1", "stage 2"],
                    [[n, num(v.get("stage1")), num(v.get("stage2"))] for n, v in staged.items()])
    if other:
        print_table("other metrics", ["metric", "value"], other)
    if not r.get("metrics"):
        say("metrics: none recorded")
    say(f"decisions: {r.get('decisions')}")
    if r.get("traceback"):
        say(f"failed ({r.get('failure') or 'unknown'}); traceback:", style="red")
        say(r["traceback"])
    name = f"trial-{r['strategy']}-{r['id']}"
    try:
        show_genotype(r["genotype"], diagram_stem(out, name) if draw else None,
                      f"{r['strategy']}:{r['id']}: {r['genotype']}", indent="")
    except NassegError as err:
        say(f"cannot decode the stored genotype: {err}", style="red")
    say()


def main(
    store: Path = typer.Argument(Path("results/search"), help="a search output folder (its <strategy>/trials.db "
                                 "files), a strategy folder or a trials.db"),
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="only this strategy (ppo, random, ...); "
                                           "default every store present"),
    top: int = typer.Option(10, "--top", "-k", help="how many trials to list"),
    stage: Optional[int] = typer.Option(None, "--stage", help="1: every trial with a stage-1 reward, ranked by it; "
                                        "2: only trials that ran stage 2, ranked by its reward"),
    status: Optional[str] = typer.Option(None, "--status", help="running | done | failed"),
    failure_kind: Optional[str] = typer.Option(None, "--failure", help="failed trials of this kind: oom | nan | "
                                               "error | worker | any"),
    min_reward: Optional[float] = typer.Option(None, "--min-reward", help="keep trials whose (ranked) reward is at "
                                               "least this"),
    sort: Optional[str] = typer.Option(None, "--sort", help="reward | stage1 | stage2 | objective (best first), "
                                       "params | madds | time (smallest first), id; default the stage's reward"),
    genotype: Optional[str] = typer.Option(None, "--genotype", "-g", help="show one trial in full: an id (7 or "
                                           "ppo:7), a hash prefix or a genotype text"),
    out: Optional[Path] = typer.Option(None, "--out", help="with --genotype: the diagram's folder (or path without "
                                       "suffix); default results/arch/trial-<strategy>-<id>"),
    no_draw: bool = typer.Option(False, "--no-draw", help="with --genotype: write no diagram"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout instead of tables"),
) -> None:
    """Browse a search's trial store (read-only; safe while the search runs).

    Prints a summary per strategy (trials done / failed / running, failures by kind, best and
    mean reward, mean of the last quarter, wall time, trials per hour) and the top trials
    after the filters. --genotype shows one trial in full: every column, metrics per stage,
    decisions, the traceback of a failure, the genotype in words and its diagram.
    """
    from nasseg.tools.trials import find, jsonable, open_store, query, store_paths, summary

    paths = store_paths(store, strategy)
    rows = open_store(store, strategy)
    if genotype is not None:
        hits = find(rows, genotype)
        if not hits:
            raise NassegError(f"no trial matches {genotype!r} in {', '.join(map(str, paths))}: give an id (7, or "
                              "ppo:7), a hash prefix (see the hash column) or a genotype text.")
        if as_json:
            typer.echo(json.dumps(jsonable({"matches": [described(r) for r in hits]}), indent=1))
            return
        if len(hits) > 1:
            say(f"{len(hits)} trials match {genotype!r}:", style="bold")
        for r in hits:
            show_trial(r, out, not no_draw)
        return
    picked = query(rows, strategy=strategy, status=status, failure=failure_kind, stage=stage, min_reward=min_reward,
                   top=top, sort=sort)
    summ = summary(rows)
    by = sort or {1: "stage1", 2: "stage2"}.get(stage, "reward")
    if as_json:
        filters = {"strategy": strategy, "stage": stage, "status": status, "failure": failure_kind,
                   "min_reward": min_reward, "sort": by, "top": top}
        typer.echo(json.dumps(jsonable({"stores": paths, "filters": filters, "summary": summ, "trials": picked}),
                              indent=1))
        return
    if not rows:
        say(f"{', '.join(map(str, paths))}: no trials yet.")
        return
    print_table("search summary", ["strategy", "trials", "done", "failed", "running", "stage 2", "failures",
                                   "best reward", "best id", "best genotype", "mean", "mean last ¼", "wall time",
                                   "trials/h"], summary_rows(summ))
    what = {1: " with a stage-1 reward", 2: " that ran stage 2"}.get(stage, "")
    extra = ", ".join(f"{k} {v}" for k, v in (("status", status), ("failure", failure_kind),
                                               ("min reward", min_reward)) if v is not None)
    extra = f" ({extra})" if extra else ""
    if not picked:
        say(f"no trials{what} match the filters{extra}.")
        return
    print_table(f"top {len(picked)} trials{what} by {by}{extra}", *top_rows(picked))
