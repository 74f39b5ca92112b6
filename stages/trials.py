"""`nasseg trials` (browse a search's trial store) and `nasseg arch show|list` (architecture cards)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from nasseg.errors import NassegError
from nasseg.progress import console


def _say(s: str = "", style: Optional[str] = None) -> None:
    console.print(Text(s, style=style or ""), highlight=False, soft_wrap=True)


def _tab(title: str, columns: list[str], rows: list[list], right: tuple[str, ...] = ()) -> Table:
    """A table whose cells are plain text (genotypes and tracebacks hold brackets, not markup)."""
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="right" if c in right else "left")
    for r in rows:
        t.add_row(*[x if isinstance(x, Text) else Text("" if x is None else str(x)) for x in r])
    return t


def _f(v, fmt: str = "{:.4f}") -> str:
    import math

    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return fmt.format(v)


def _duration(s: Optional[float]) -> str:
    if s is None:
        return "-"
    s = float(s)
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _when(t: Optional[float]) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _first_line(text: Optional[str], limit: int = 90) -> str:
    line = next((l.strip() for l in (text or "").splitlines() if l.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure(r: dict) -> str:
    if r["status"] == "running":
        return "running"
    if r["status"] != "failed":
        return ""
    return f"{r.get('failure') or 'failed'}: {_first_line(r.get('traceback'))}"


# --------------------------------------------------------------------------- nasseg trials
def _summary_table(summ: dict) -> Table:
    rows = []
    for s, v in summ.items():
        fails = ", ".join(f"{k} {n}" for k, n in v["failures"].items()) or "-"
        rows.append([s, v["trials"], v["done"], v["failed"], v["running"], v["ran_stage2"], fails,
                     _f(v["best_reward"]), "-" if v["best_id"] is None else v["best_id"],
                     v["best_genotype"] or "-", _f(v["mean_reward"]), _f(v["mean_last_quarter"]),
                     _duration(v["wall_seconds"]), _f(v["trials_per_hour"], "{:.1f}")])
    cols = ["strategy", "trials", "done", "failed", "running", "stage 2", "failures", "best reward", "best id",
            "best genotype", "mean", "mean last ¼", "wall time", "trials/h"]
    return _tab("search summary", cols, rows, right=("trials", "done", "failed", "running", "stage 2",
                                                      "best reward", "best id", "mean", "mean last ¼", "trials/h"))


def _top_table(rows: list[dict], title: str) -> Table:
    from nasseg.browse import trial_seconds

    show_fail = any(r["status"] != "done" for r in rows)
    cols = ["rank", "strategy", "id", "step", "reward", "stage1", "stage2", "params M", "MAdds B", "time s", "hash",
            "genotype"] + (["failure"] if show_fail else [])
    out = []
    for i, r in enumerate(rows, 1):
        line = [i, r["strategy"], r["id"], r["step"], _f(r.get("reward")), _f(r.get("stage1_reward")),
                _f(r.get("stage2_reward")), _f(None if r.get("params") is None else r["params"] / 1e6, "{:.2f}"),
                _f(None if r.get("madds") is None else r["madds"] / 1e9, "{:.2f}"),
                _f(trial_seconds(r), "{:.0f}"), (r.get("hash") or "")[:10], r["genotype"]]
        if show_fail:
            line.append(Text(_failure(r), style="red" if r["status"] == "failed" else ""))
        out.append(line)
    return _tab(title, cols, out, right=("rank", "id", "step", "reward", "stage1", "stage2", "params M", "MAdds B",
                                         "time s"))


def _show_trial(r: dict) -> None:
    from nasseg.browse import trial_seconds
    from nasseg.cards import describe

    _say(f"trial {r['strategy']}:{r['id']}  ({r['store']})", style="bold")
    skip = {"metrics", "decisions", "traceback", "store"}
    rows = []
    for k, v in r.items():
        if k in skip:
            continue
        if k in ("started", "finished") and v is not None:
            v = f"{_when(v)}  ({v:.3f})"
        elif k in ("params", "madds") and v is not None:
            v = f"{v:,}"
        elif isinstance(v, float):
            v = f"{v:.6g}"
        rows.append([k, "-" if v is None else v])
    rows.append(["training time", _duration(trial_seconds(r))])
    console.print(_tab("columns", ["column", "value"], rows))
    metrics = r.get("metrics") or {}
    staged: dict[str, dict] = {}
    other = []
    for k, v in metrics.items():
        stage, _, name = k.partition("_")
        if stage in ("stage1", "stage2") and name:
            staged.setdefault(name, {})[stage] = v
        else:
            other.append([k, v])
    if staged:
        console.print(_tab("metrics per stage", ["metric", "stage 1", "stage 2"],
                           [[n, _f(v.get("stage1")), _f(v.get("stage2"))] for n, v in staged.items()],
                           right=("stage 1", "stage 2")))
    if other:
        console.print(_tab("other metrics", ["metric", "value"], other))
    if not metrics:
        _say("metrics: none recorded")
    _say(f"decisions: {r.get('decisions')}")
    if r.get("traceback"):
        _say(f"failed ({r.get('failure') or 'unknown'}); traceback:", style="red")
        _say(r["traceback"])
    _say("genotype in words:")
    try:
        for line in describe(r["genotype"]):
            _say(f"  {line}")
    except NassegError as err:
        _say(f"  cannot decode the stored genotype: {err}", style="red")
    _say()


def trials(
    store: Path = typer.Argument(Path("results/search"), help="a search output folder (its <strategy>/trials.db "
                                 "files), a strategy folder or a trials.db"),
    strategy: Optional[str] = typer.Option(None, "--strategy", "-s", help="only this strategy (ppo, random, ...); "
                                           "default every store present"),
    top: int = typer.Option(10, "--top", "-k", help="how many trials to list"),
    stage: Optional[int] = typer.Option(None, "--stage", help="1: every trial with a stage-1 reward, ranked by it; "
                                        "2: only trials that ran stage 2, ranked by its reward"),
    status: Optional[str] = typer.Option(None, "--status", help="running | done | failed"),
    failure: Optional[str] = typer.Option(None, "--failure", help="failed trials of this kind: oom | nan | error | "
                                          "worker | any"),
    min_reward: Optional[float] = typer.Option(None, "--min-reward", help="keep trials whose (ranked) reward is at "
                                               "least this"),
    sort: Optional[str] = typer.Option(None, "--sort", help="reward | stage1 | stage2 | objective (best first), "
                                       "params | madds | time (smallest first), id; default the stage's reward"),
    genotype: Optional[str] = typer.Option(None, "--genotype", "-g", help="show one trial in full: an id (7 or "
                                           "ppo:7), a hash prefix or a genotype text"),
    as_json: bool = typer.Option(False, "--json", help="print JSON on stdout instead of tables"),
) -> None:
    """Browse a search's trial store (read-only; safe while the search runs).

    Prints a summary per strategy (trials done / failed / running, failures by kind, best and
    mean reward, mean of the last quarter, wall time, trials per hour) and the top trials
    after the filters. --genotype shows one trial in full: every column, metrics per stage,
    decisions, the traceback of a failure and the genotype in words.
    """
    from nasseg.browse import find, jsonable, open_store, query, store_paths, summary

    paths = store_paths(store, strategy)
    rows = open_store(store, strategy)
    if genotype is not None:
        hits = find(rows, genotype)
        if not hits:
            raise NassegError(f"no trial matches {genotype!r} in {', '.join(map(str, paths))}: give an id (7, or "
                              "ppo:7), a hash prefix (see the hash column) or a genotype text.")
        if as_json:
            from nasseg.cards import describe

            typer.echo(json.dumps(jsonable({"matches": [dict(r, description=describe(r["genotype"])) for r in hits]}),
                                  indent=1))
            return
        if len(hits) > 1:
            _say(f"{len(hits)} trials match {genotype!r}:", style="bold")
        for r in hits:
            _show_trial(r)
        return

    picked = query(rows, strategy=strategy, status=status, failure=failure, stage=stage, min_reward=min_reward,
                   top=top, sort=sort)
    summ = summary(rows)
    by = sort or {1: "stage1", 2: "stage2"}.get(stage, "reward")
    if as_json:
        filters = {"strategy": strategy, "stage": stage, "status": status, "failure": failure,
                   "min_reward": min_reward, "sort": by, "top": top}
        typer.echo(json.dumps(jsonable({"stores": paths, "filters": filters, "summary": summ, "trials": picked}),
                              indent=1))
        return
    if not rows:
        _say(f"{', '.join(map(str, paths))}: no trials yet.")
        return
    console.print(_summary_table(summ))
    what = {1: " with a stage-1 reward", 2: " that ran stage 2"}.get(stage, "")
    extra = ", ".join(f"{k} {v}" for k, v in (("status", status), ("failure", failure), ("min reward", min_reward))
                      if v is not None)
    title = f"top {len(picked)} trials{what} by {by}" + (f" ({extra})" if extra else "")
    if not picked:
        _say(f"no trials{what} match the filters" + (f" ({extra})" if extra else "") + ".")
        return
    console.print(_top_table(picked, title))


# --------------------------------------------------------------------------- nasseg arch
arch_app = typer.Typer(help="Architectures: a card per architecture (genotype in words, params, MAdds, the "
                       "trained model's scores) and its diagram.", no_args_is_help=True)

_MODELS = typer.Option(Path("models/train"), "--models", help="where trained models found<k>/card.json live "
                       "(train.out)")


@arch_app.command("show")
def show(
    arch: str = typer.Argument(..., help="a zoo name (arch0, refinenet_lw_mbv2, ...; see `nasseg arch list`), a "
                               "trained model found<k>, or a genotype text such as "
                               "'[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]'"),
    out: Optional[Path] = typer.Option(None, "--out", help="diagram path without suffix (.png and .svg are "
                                       "written), or a folder; default results/arch/<name>"),
    size: int = typer.Option(512, "--size", help="input size (pixels, square) for MAdds and output resolution"),
    width: Optional[int] = typer.Option(None, "--width", help="decoder width of genotype models [default: 64, "
                                        "or a trained model's]"),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="separable-conv repeats of genotype models "
                                          "[default: 2, or a trained model's]"),
    num_classes: int = typer.Option(21, "--num-classes", help="output channels"),
    no_draw: bool = typer.Option(False, "--no-draw", help="print the card only, write no diagram"),
    models: Path = _MODELS,
) -> None:
    """Print an architecture's card and write its diagram (PNG and SVG).

    The card: name, genotype and hash, the cell layer by layer and the decoder's
    connectivity in words, inference parameters, MAdds and output resolution at --size,
    and for a trained found<k> its card's mIoU and latency. Baselines have no genotype:
    their card has no cell and no diagram.
    """
    from nasseg.cards import arch_card

    card = arch_card(arch, size=size, width=width, repeats=repeats, num_classes=num_classes, models_dir=models)
    _say(f"{card['name']}  ({card['kind']}): {card['description']}", style="bold")
    if card["genotype"]:
        _say(f"  genotype      {card['genotype']}")
        _say(f"  hash          {card['hash']}")
        _say("  cell")
        for line in card["cell"]:
            _say(f"    {line}")
        _say("  connectivity")
        for line in card["connectivity"]:
            _say(f"    {line}")
        cfg = f"width {card['width']}, repeats {card['repeats']}, {card['num_classes']} classes"
    else:
        _say("  genotype      none (a baseline: no cell, no diagram)")
        cfg = f"{card['num_classes']} classes"
    _say(f"  params        {card['params']:,} (inference, aux heads removed; {cfg})")
    _say(f"  MAdds         {card['madds'] / 1e9:.2f} B ({card['madds']:,}) at {size}x{size}")
    h, w = card["output"]
    _say(f"  output        {h}x{w} (stride {card['output_stride']})")
    t = card.get("trained")
    if t:
        if "mean_iou" in t:
            extra = f" (ablation, aux cell: {t['ablation_cell_miou']:.4f})" if "ablation_cell_miou" in t else ""
            _say(f"  trained       {t.get('val_set', 'val')} mIoU {t['mean_iou']:.4f}{extra}")
        if "latency_ms" in t:
            _say(f"  latency       {t['latency_ms']:.1f} ± {t.get('latency_std_ms', 0):.1f} ms "
                 f"({t.get('latency_device', '?')}, {t.get('threads', '?')} threads, {t.get('latency_runs', '?')} "
                 f"runs, {t.get('input', '?')}x{t.get('input', '?')})")
        if "params" in t and t["params"] != card["params"]:
            _say(f"  note          the trained card records {t['params']:,} params", style="yellow")
    if no_draw:
        return
    if not card["genotype"]:
        _say(f"no diagram: {card['name']} is a {card['kind']} without a genotype.")
        return
    from nasseg.space import Genotype
    from nasseg.space.draw import draw_genotype

    stem = out if out is not None else Path("results/arch") / card["name"]
    if stem.is_dir():
        stem = stem / card["name"]
    title = card["genotype"] if card["kind"] == "genotype" else f"{card['name']}: {card['genotype']}"
    for p in draw_genotype(Genotype.from_text(card["genotype"]), stem, title):
        _say(f"wrote {p}")


@arch_app.command("list")
def list_(models: Path = _MODELS) -> None:
    """List the zoo's architectures (and the trained found<k> models) with kind and description."""
    from nasseg.cards import read_trained_card, trained_names
    from nasseg.models.zoo import arch_info, list_archs

    rows = [[n, arch_info(n).kind, arch_info(n).description] for n in list_archs()]
    for n in trained_names(models):
        c = read_trained_card(n, models)
        miou = f", {c.get('val_set', 'val')} mIoU {c['mean_iou']:.4f}" if "mean_iou" in c else ""
        rows.append([n, "trained", f"{models / n}: {c['genotype']}{miou}"])
    console.print(_tab("architectures (`nasseg arch show NAME`)", ["name", "kind", "description"], rows))
