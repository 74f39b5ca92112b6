"""`nasseg import-weights`: a weights file made elsewhere as a nasseg checkpoint, with what was mapped."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.models.importers import KINDS, LAYOUTS, converted
from nasseg.training.fit import save_atomic
from nasseg.progress import console, table


def main(
    src: Path = typer.Argument(..., help="the weights file: a state dict, or a checkpoint holding one under "
                               "'model', 'encoder', 'segmenter' or 'state_dict' ('module.' prefixes are removed)"),
    kind: str = typer.Option(..., "--kind", "-k", help="encoder: a MobileNet-v2 encoder (pretrain.weights); "
                             "teacher: a RefineNet-on-ResNet teacher (teacher.weights); model: a whole model "
                             "(nasseg evaluate / predict / export)"),
    out: Path = typer.Option(..., "--out", "-o", help="the nasseg checkpoint to write"),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="the file's layout, when detecting it from "
                                         "the keys is ambiguous: " + ", ".join(LAYOUTS)),
) -> None:
    """Convert a foreign weights file into a nasseg checkpoint and print how its tensors were mapped.

    Reads torchvision's mobilenet_v2 and ResNet-18/34/50/101/152 state dicts, the authors'
    Light-Weight RefineNet files (rf_lw50/101/152 on ResNet; mbv2) and nas-segm-pytorch's
    MobileNet-v2 encoder; the layout is detected from the keys (or named with --format).
    Keys and shapes are checked strictly: a file that does not fit fails naming the keys, and
    files the project cannot reproduce exactly (the authors' MobileNet-v2 keeps a 1x1 conv in
    its first block that torchvision's has not) fail saying so. Only tensors are read; a file
    holding pickled Python objects is refused.
    """
    if kind not in KINDS:
        raise typer.BadParameter(f"must be one of {', '.join(KINDS)}", param_hint="--kind")
    ckpt, report = converted(src, kind, format)
    save_atomic(ckpt, out)
    rows = [["layout", report.layout], ["tensors mapped", report.mapped], ["scope", report.scope]]
    rows += [[f"ignored: {group}", n] for group, n in report.ignored.items()]
    if report.entry:
        rows.append(["read from entry", report.entry])
    if report.stripped_prefix:
        rows.append(["prefix removed", report.stripped_prefix])
    if report.decoder_layout:
        rows.append(["decoder layout", report.decoder_layout])
    console.print(table(f"{src} -> {out} ({kind})", ["", ""], rows))
    print(report.summary())
