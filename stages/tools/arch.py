"""`nasseg arch show|list`: an architecture's card (genotype in words, params, MAdds, a trained
model's scores) and its diagram, for genotypes of either search space."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from nasseg.progress import console, table

app = typer.Typer(help="Architectures: a card per architecture (genotype in words, params, MAdds, the trained "
                  "model's scores) and its diagram.", no_args_is_help=True)

MODELS = typer.Option(Path("models/train"), "--models", help="where trained models found<k>/card.json live "
                      "(train.out)")


def say(text: str = "", style: str = "") -> None:
    """Print ``text`` as it is (genotypes and tracebacks hold brackets, not markup)."""
    console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False, soft_wrap=True)


def show_genotype(genotype, stem: Optional[Path], title: str, indent: str = "  ") -> None:
    """Print a genotype in words (its space's description) and, unless ``stem`` is None, write
    its diagram as ``<stem>.png`` / ``<stem>.svg`` and print the paths."""
    from nasseg.spaces import parse_any

    space, g = parse_any(genotype)
    say(f"{indent}genotype in words ({space.name} space)")
    for line in space.describe(g):
        say(f"{indent}  {line}")
    if stem is not None:
        for p in space.draw(g, stem, title):
            say(f"wrote {p}")


def diagram_stem(out: Optional[Path], name: str) -> Path:
    """Where ``name``'s diagram goes: ``out`` (a path without suffix, or a folder to hold
    ``name``), by default results/arch/``name``."""
    if out is None:
        return Path("results/arch") / name
    return out / name if out.is_dir() else out


@app.command("show")
def show(
    arch: str = typer.Argument(..., help="a zoo name (arch0, wacv_arch0, refinenet_lw_mbv2, ...; see `nasseg arch "
                               "list`), a trained model found<k>, or a genotype text of either search space such "
                               "as '[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]'"),
    out: Optional[Path] = typer.Option(None, "--out", help="diagram path without suffix (.png and .svg are "
                                       "written), or a folder; default results/arch/<name>"),
    size: int = typer.Option(512, "--size", help="input size (pixels, square) for MAdds and output resolution"),
    width: Optional[int] = typer.Option(None, "--width", help="decoder width of genotype models [default: 64, "
                                        "or a trained model's]"),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="separable-conv repeats of genotype models "
                                          "[default: 2, or a trained model's]"),
    num_classes: Optional[int] = typer.Option(None, "--num-classes", help="output channels [default: the paper's: "
                                              "21 for cells and baselines, 19 for templates]"),
    no_draw: bool = typer.Option(False, "--no-draw", help="print the card only, write no diagram"),
    models: Path = MODELS,
) -> None:
    """Print an architecture's card and write its diagram (PNG and SVG).

    The card: name, genotype and hash, the genotype in words (cells: the cell layer by layer
    and the decoder's connectivity; templates: the templates and the layers), inference
    parameters, MAdds and output resolution at --size, and for a trained found<k> its card's
    mIoU and latency. Baselines have no genotype: their card has no words and no diagram.
    """
    from nasseg.tools.cards import arch_card

    card = arch_card(arch, size=size, width=width, repeats=repeats, num_classes=num_classes, models_dir=models)
    say(f"{card['name']}  ({card['kind']}): {card['description']}", style="bold")
    if card["genotype"]:
        say(f"  genotype      {card['genotype']}")
        say(f"  hash          {card['hash']}")
        cfg = f"width {card['width']}, repeats {card['repeats']}, {card['num_classes']} classes"
    else:
        say("  genotype      none (a baseline: no genotype, no diagram)")
        cfg = f"{card['num_classes']} classes"
    say(f"  params        {card['params']:,} (inference, aux heads removed; {cfg})")
    say(f"  MAdds         {card['madds'] / 1e9:.2f} B ({card['madds']:,}) at {size}x{size}")
    h, w = card["output"]
    say(f"  output        {h}x{w} (stride {card['output_stride']})")
    show_trained(card.get("trained"), card["params"])
    if not card["genotype"]:
        if not no_draw:
            say(f"no diagram: {card['name']} is a {card['kind']} without a genotype.")
        return
    title = card["genotype"] if card["kind"] == "genotype" else f"{card['name']}: {card['genotype']}"
    show_genotype(card["genotype"], None if no_draw else diagram_stem(out, card["name"]), title)


def show_trained(t: Optional[dict], params: int) -> None:
    """The trained model's scores from its card, if any."""
    if not t:
        return
    if "mean_iou" in t:
        extra = f" (ablation, aux cell: {t['ablation_cell_miou']:.4f})" if "ablation_cell_miou" in t else ""
        say(f"  trained       {t.get('val_set', 'val')} mIoU {t['mean_iou']:.4f}{extra}")
    if "latency_ms" in t:
        say(f"  latency       {t['latency_ms']:.1f} ± {t.get('latency_std_ms', 0):.1f} ms "
            f"({t.get('latency_device', '?')}, {t.get('threads', '?')} threads, {t.get('latency_runs', '?')} "
            f"runs, {t.get('input', '?')}x{t.get('input', '?')})")
    if "params" in t and t["params"] != params:
        say(f"  note          the trained card records {t['params']:,} params", style="yellow")


@app.command("list")
def list_(models: Path = MODELS) -> None:
    """List the zoo's architectures (and the trained found<k> models) with kind and description."""
    from nasseg.models.zoo import arch_info, list_archs
    from nasseg.tools.cards import read_trained_card, trained_names

    rows = [[n, arch_info(n).kind, arch_info(n).description] for n in list_archs()]
    for n in trained_names(models):
        c = read_trained_card(n, models)
        miou = f", {c.get('val_set', 'val')} mIoU {c['mean_iou']:.4f}" if "mean_iou" in c else ""
        rows.append([n, "trained", f"{models / n}: {c['genotype']}{miou}"])
    console.print(table("architectures (`nasseg arch show NAME`)", ["name", "kind", "description"],
                        [[escape(str(v)) for v in r] for r in rows]))
