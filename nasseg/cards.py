"""Architectures described for people: a genotype in words (the cell layer by layer and the
decoder's connectivity) and an architecture's card (what it is, its size and cost).

Node and pool numbering follow :mod:`nasseg.space.genotype`: in the cell, node 0 is the
input and node 1 is ``op0(input)``; layer k adds its two branches as nodes ``2 + 3k`` and
``3 + 3k`` and their sum as node ``4 + 3k``. In the decoder, pool indices 0..3 are the
encoder taps (strides 4, 8, 16, 32) and decoder cell b adds pool index ``4 + b``
(``block 4 + b`` in the diagram of :mod:`nasseg.space.draw`).

``arch_card(spec)`` takes a zoo name (``arch0``, ``refinenet_lw_mbv2``, ...), a trained
model's name ``found<k>`` (its ``card.json`` under the train output folder gives the
genotype, width, repeats and the measured mIoU and latency), or a genotype text. Used by
``nasseg arch show`` / ``nasseg arch list`` and ``nasseg trials --genotype``. (Kept outside
``nasseg/space`` and ``nasseg/models``, which pipeline stages depend on: a change here
reruns no stage.)
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from .errors import NassegError
from .models.zoo import PUBLISHED, arch_info, build_model, count_params, list_archs
from .space.genotype import NUM_TAPS, Genotype, GenotypeError
from .space.ops import OP_NAMES


def node_name(n: int) -> str:
    """``node 5 (layer 1 branch a)``-style label of a cell node."""
    if n == 0:
        return "node 0 (input)"
    if n == 1:
        return "node 1 (op0)"
    k, r = divmod(n - 2, 3)
    return f"node {n} (layer {k} " + ("branch a)", "branch b)", "sum)")[r]


def pool_strides(g: Genotype) -> list[int]:
    """Output stride of every pool index: the taps', then each decoder cell's (its finer input);
    the diagram's own rule, so card and drawing always agree."""
    from .space.draw import _strides

    return _strides(g)


def pool_name(i: int) -> str:
    """``tap i`` for an encoder tap, ``block i`` for a decoder cell's output (as in the diagram)."""
    return f"tap {i}" if i < NUM_TAPS else f"block {i}"


def describe_cell(g: Genotype) -> list[str]:
    """The cell, one line per node group."""
    lines = [f"op0 = {OP_NAMES[g.op0]}: node 1 = {OP_NAMES[g.op0]}(node 0 = cell input)"]
    for k, (p1, p2, oa, ob) in enumerate(g.layers):
        a, b, s = 2 + 3 * k, 3 + 3 * k, 4 + 3 * k
        lines.append(f"layer {k}: {node_name(p1)} via {OP_NAMES[oa]} + {node_name(p2)} via {OP_NAMES[ob]}"
                     f" -> nodes {a}, {b}, sum node {s}")
    outs = g.cell_output_nodes
    lines.append("cell output = " + " + ".join(f"node {n}" for n in outs)
                 + " (summation nodes no later layer picked)")
    return lines


def describe_connectivity(g: Genotype) -> list[str]:
    """The decoder: which pool entries each decoder cell sums, at which stride, and the head."""
    st = pool_strides(g)
    lines = []
    for b, (ia, ib) in enumerate(g.connections):
        idx = NUM_TAPS + b
        lines.append(f"decoder cell {b} -> block {idx}: cell({pool_name(ia)}, stride {st[ia]}) + "
                     f"cell({pool_name(ib)}, stride {st[ib]}) summed at stride {st[idx]}")
    outs = g.decoder_output_indices
    lines.append("head: concat " + ", ".join(pool_name(i) for i in outs)
                 + f" (blocks no later cell picked) at stride {min(st[i] for i in outs)} -> 1x1 -> 3x3 classifier")
    return lines


def describe(genotype: Genotype | str) -> list[str]:
    """Every line of :func:`describe_cell` then :func:`describe_connectivity`."""
    g = genotype if isinstance(genotype, Genotype) else Genotype.from_text(genotype)
    return describe_cell(g) + describe_connectivity(g)


def output_stride(genotype: Genotype | str) -> int:
    """Stride of the decoder's output (the finest decoder-cell output that reaches the head)."""
    g = genotype if isinstance(genotype, Genotype) else Genotype.from_text(genotype)
    st = pool_strides(g)
    return min(st[i] for i in g.decoder_output_indices)


TRAINED = re.compile(r"found\d+")
TRAINED_KEYS = ("val_set", "mean_iou", "ablation_cell_miou", "latency_ms", "latency_std_ms", "latency_device",
                "threads", "latency_runs", "params", "madds", "input", "train_seconds", "command")


def trained_names(models_dir: Path) -> list[str]:
    d = Path(models_dir)
    if not d.is_dir():
        return []
    names = [p.name for p in d.iterdir() if TRAINED.fullmatch(p.name) and (p / "card.json").is_file()]
    return sorted(names, key=lambda n: int(n[5:]))


def read_trained_card(name: str, models_dir: Path) -> dict:
    path = Path(models_dir) / name / "card.json"
    if not path.is_file():
        have = trained_names(models_dir)
        raise NassegError(f"{path}: no card for trained model {name!r}; `nasseg train` writes "
                          f"<train.out>/found<k>/card.json" + (f" (present: {', '.join(have)})" if have else "") + ".")
    try:
        card = json.loads(path.read_text())
    except ValueError as err:
        raise NassegError(f"{path}: not valid JSON ({err}); rerun `nasseg train` to rewrite it.") from None
    if not isinstance(card, dict) or "genotype" not in card:
        raise NassegError(f"{path}: has no 'genotype'; rerun `nasseg train` to rewrite it.")
    return card


def resolve(spec: str, models_dir: Path = Path("models/train")) -> dict:
    """``{name, kind, description, genotype (text or None), trained (card or None)}`` of ``spec``."""
    spec = str(spec).strip()
    if spec.startswith("["):
        try:
            g = Genotype.from_text(spec)
        except GenotypeError as err:
            raise GenotypeError(f"genotype {spec!r}: {err}") from None
        return {"name": g.hash(), "kind": "genotype", "description": "a genotype given as text",
                "genotype": g.to_text(), "trained": None}
    if TRAINED.fullmatch(spec) and spec not in list_archs():
        card = read_trained_card(spec, models_dir)
        g = Genotype.from_text(card["genotype"])
        return {"name": spec, "kind": "trained", "description": f"trained model {Path(models_dir) / spec}",
                "genotype": g.to_text(), "trained": card}
    if spec not in list_archs():
        trained = trained_names(models_dir)
        raise NassegError(f"unknown architecture {spec!r}: give a zoo name ({', '.join(list_archs())})"
                          + (f", a trained model ({', '.join(trained)})" if trained else
                             ", a trained model found<k> (written by `nasseg train`)")
                          + " or a genotype text such as '[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]'.")
    info = arch_info(spec)
    text = PUBLISHED.get(spec)
    return {"name": spec, "kind": info.kind, "description": info.description,
            "genotype": Genotype.from_text(text).to_text() if text else None, "trained": None}


def arch_card(spec: str, *, size: int = 512, width: Optional[int] = None, repeats: Optional[int] = None,
              num_classes: int = 21, models_dir: Path = Path("models/train"), measure: bool = True) -> dict:
    """The card of ``spec`` (see the module doc).

    ``width``/``repeats`` apply to genotype models (default 64/2, or a trained model's own);
    ``measure`` builds the model to count its inference parameters and its MAdds and output
    resolution at ``size`` x ``size``."""
    if size < 32:
        raise NassegError(f"size {size}: the encoder has stride 32; give an input size of at least 32 pixels")
    if num_classes < 1:
        raise NassegError(f"num_classes {num_classes}: give at least 1")
    r = resolve(spec, models_dir)
    trained = r.pop("trained")
    card: dict = dict(r)
    if r["genotype"]:
        g = Genotype.from_text(r["genotype"])
        width = width if width is not None else int((trained or {}).get("width", 64))
        repeats = repeats if repeats is not None else int((trained or {}).get("repeats", 2))
        if width < 1 or repeats < 1:
            raise NassegError(f"width {width} / repeats {repeats}: both must be positive")
        card.update(hash=g.hash(), cell=describe_cell(g), connectivity=describe_connectivity(g), width=width,
                    repeats=repeats, decoder_stride=output_stride(g))
    else:
        card.update(hash=None, cell=None, connectivity=None, width=None, repeats=None, decoder_stride=None)
    card.update(num_classes=num_classes, size=size)
    if measure:
        from .benchmark import count_madds

        model = build_model(r["genotype"] or spec, num_classes=num_classes,
                            **({"width": width, "repeats": repeats} if r["genotype"] else {}))
        madds, out_hw = count_madds(model, size)
        card.update(params=count_params(model), madds=int(madds), output=list(out_hw),
                    output_stride=size / out_hw[0] if out_hw and out_hw[0] else None)
        if card["output_stride"] is not None and float(card["output_stride"]).is_integer():
            card["output_stride"] = int(card["output_stride"])
    if trained is not None:
        card["trained"] = {k: trained[k] for k in TRAINED_KEYS if k in trained}
    else:
        card["trained"] = None
    return card
