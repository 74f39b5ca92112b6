"""Draw a template genotype: the templates (two operations and their aggregation), then the
layers that apply them to the pool (encoder taps and earlier layers) and the head."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..diagram import Canvas, figure, save
from .describe import pool_strides, used_templates
from .genotype import AGG_NAMES, NUM_TAPS, OP_NAMES, TemplateGenotype

SHORT = {"sep_conv_3x3": "sep 3×3", "sep_conv_5x5": "sep 5×5", "global_average_pool": "gap",
         "max_pool_3x3": "max pool 3×3", "sep_conv_5x5_dil6": "sep 5×5\nrate 6", "skip_connect": "skip"}
AGG_SHORT = {"weighted_sum": "⊕ weighted", "concat": "concat\n→ 1×1"}
INPUT_COLORS = ("#1f5fa8", "#c8621b")  # arrows into a layer's input 1 and input 2


def draw_templates(canvas: Canvas, g: TemplateGenotype) -> None:
    used = used_templates(g)
    for i, (op1, op2, agg) in enumerate(g.templates):
        x = 4.2 * i
        fill = "#fde2c8" if i in used else "#eeeeee"
        ins = [(x, 0.6), (x, -0.6)]
        ops = [(x + 1.4, 0.6), (x + 1.4, -0.6)]
        out = (x + 2.8, 0.0)
        canvas.box(out, f"T{i}\n{AGG_SHORT[AGG_NAMES[agg]]}" + ("" if i in used else "\n(unused)"), fill, w=1.0,
                   h=0.8)
        for j, (src, dst, op) in enumerate(zip(ins, ops, (op1, op2))):
            canvas.box(src, f"in {j + 1}", "#dbe9f6", w=0.6, h=0.4)
            canvas.box(dst, SHORT[OP_NAMES[op]], fill)
            canvas.arrow(src, dst, color=INPUT_COLORS[j])
            canvas.arrow(dst, out)
    canvas.frame((-0.7, 4.2 * len(g.templates) - 0.6), (-1.2, 1.2),
                 "templates (op 1 reads input 1, op 2 reads input 2; repeats feed input 2 and the output forward)")


def draw_layers(canvas: Canvas, g: TemplateGenotype) -> None:
    strides = pool_strides(g)
    pos = {0: (0.0, 0.9), 1: (0.0, -0.9)}
    for i in range(NUM_TAPS):
        canvas.box(pos[i], f"tap {i}\nstride {strides[i]}", "#dbe9f6")
    for k, (p1, p2, t, r, _) in enumerate(g.layers):
        idx = NUM_TAPS + k
        pos[idx] = (1.8 + 1.5 * (k + 1), 0.9 if k % 2 else -0.9)
        canvas.box(pos[idx], f"layer {k}\nT{t} ×{r + 1}\nstride {strides[idx]}", "#fde2c8", w=1.0, h=0.8)
        for j, src in enumerate((p1, p2)):
            far = pos[src][0] < pos[idx][0] - 2.0  # long jumps curve around the boxes between
            rad = (0.25 if j == 0 else -0.25) if p1 == p2 or far else 0.0
            canvas.arrow(pos[src], pos[idx], rad, color=INPUT_COLORS[j])
    out = (1.8 + 1.5 * (len(g.layers) + 1) + 0.4, 0.0)
    canvas.box(out, "concat\n1×1 → 3×3\nclassifier", "#d5efd5", w=1.1, h=0.8)
    for idx in g.output_indices:
        canvas.arrow(pos[idx], out)
    canvas.frame((-0.8, out[0] + 0.9), (-2.4, 2.2),
                 "layers (blue: input 1, orange: input 2; unread layers are concatenated)")


def draw_genotype(genotype: TemplateGenotype, stem: str | Path, title: str = "",
                  formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``<stem>.png`` / ``<stem>.svg``; returns the paths written."""
    fig, (top, bottom) = figure(2, (13, 7), (0.8, 1.3))
    draw_templates(Canvas(top), genotype)
    draw_layers(Canvas(bottom), genotype)
    return save(fig, stem, title or genotype.to_text(), formats)
