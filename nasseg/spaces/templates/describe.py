"""A template genotype in words: the templates, then the layers that instantiate them.

Pool numbering follows :mod:`.genotype`: pool 0 and 1 are the encoder taps (strides 4 and
8), layer k's output is pool ``2 + k``. A layer's stride follows the decoder's rule
(:mod:`.decoder`): in the first ``layers // 2`` layers the two branches meet at the coarser
input's resolution, in the later ones at the finer; a downsampling layer halves it once.
"""
from __future__ import annotations

from .genotype import AGG_NAMES, NUM_TAPS, OP_NAMES, TemplateGenotype, stride_layers

TAP_STRIDES = (4, 8)
AGG_WORDS = {"weighted_sum": "weighted sum of", "concat": "concatenation (then BN, ReLU, 1x1) of"}


def pool_name(i: int) -> str:
    """``tap i`` for an encoder tap, ``layer k`` for layer k's output (pool ``2 + k``)."""
    return f"tap {i}" if i < NUM_TAPS else f"layer {i - NUM_TAPS}"


def pool_strides(g: TemplateGenotype) -> list[int]:
    """Output stride of every pool entry: the taps', then each layer's. The diagram draws
    these too, so words and drawing always agree."""
    s = list(TAP_STRIDES)
    n_stride = stride_layers(len(g.layers))
    for k, (p1, p2, _, _, bit) in enumerate(g.layers):
        meet = max if k < n_stride else min
        s.append(meet(s[p1], s[p2]) * 2 ** bit)
    return s


def used_templates(g: TemplateGenotype) -> set[int]:
    return {l[2] for l in g.layers}


def template_words(g: TemplateGenotype, i: int) -> str:
    op1, op2, agg = g.templates[i]
    if i not in used_templates(g):
        return f"template {i}: unused (no layer applies it)"
    return f"template {i}: {AGG_WORDS[AGG_NAMES[agg]]} {OP_NAMES[op1]}(input 1) and {OP_NAMES[op2]}(input 2)"


def layer_words(g: TemplateGenotype, k: int, strides: list[int]) -> str:
    p1, p2, t, r, bit = g.layers[k]
    times = "once" if r == 0 else f"{r + 1} times"
    down = ", downsampling x2" if bit else ""
    return (f"layer {k} -> pool {NUM_TAPS + k}: template {t} on {pool_name(p1)} (stride {strides[p1]}) and "
            f"{pool_name(p2)} (stride {strides[p2]}), {times}{down}; output at stride {strides[NUM_TAPS + k]}")


def describe(g: TemplateGenotype) -> list[str]:
    """One line per template, one per layer, then the head."""
    st = pool_strides(g)
    lines = [template_words(g, i) for i in range(len(g.templates))]
    lines += [layer_words(g, k, st) for k in range(len(g.layers))]
    if any(l[3] for l in g.layers):
        lines.append("a repeat applies the template again, to the previous input 2 and the previous output")
    lines.append("head: concat " + ", ".join(pool_name(i) for i in g.output_indices)
                 + f" (layers no later layer reads) at stride {output_stride(g)} -> ReLU -> 1x1 -> 3x3 classifier")
    return lines


def output_stride(g: TemplateGenotype) -> int:
    """Stride of the decoder's output: the finest of the concatenated layer outputs."""
    st = pool_strides(g)
    return min(st[i] for i in g.output_indices)
