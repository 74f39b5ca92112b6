"""An architecture's card: what it is, its genotype in words (its search space's
:meth:`~nasseg.spaces.base.SearchSpace.describe`), its size and cost, and a trained model's
scores.

``arch_card(spec)`` takes a zoo name (``arch0``, ``wacv_arch0``, ``refinenet_lw_mbv2``, ...),
a trained model's name ``found<k>`` (its ``card.json`` under the train output folder gives
the genotype, width, repeats and the measured mIoU and latency), or a genotype of either
search space (text or nested list). Used by ``nasseg arch show`` / ``nasseg arch list``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from ..errors import NassegError
from ..models.resolve import resolve as resolve_model
from ..models.zoo import arch_info, build_model, count_params, list_archs
from ..spaces import parse_any, parse_genotype

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


def resolve(spec, models_dir: Path = Path("models/train")) -> dict:
    """``{name, kind, description, genotype (text or None), trained (card or None)}`` of ``spec``:
    a zoo name, a trained found<k> (its card.json under ``models_dir``) or a genotype, as
    :func:`nasseg.models.resolve.resolve` reads them."""
    ref = resolve_model(spec)
    if ref.kind == "genotype":
        return {"name": parse_genotype(ref.genotype).hash(), "kind": "genotype",
                "description": f"a {ref.space} genotype", "genotype": ref.genotype, "trained": None}
    if ref.kind == "trained" and TRAINED.fullmatch(ref.name):
        card = read_trained_card(ref.name, models_dir)
        return {"name": ref.name, "kind": "trained", "description": f"trained model {Path(models_dir) / ref.name}",
                "genotype": parse_genotype(card["genotype"]).to_text(), "trained": card}
    if ref.kind != "zoo":
        raise NassegError(f"{ref.text}: a card describes a zoo name ({', '.join(list_archs())}), a trained model "
                          "found<k> (written by `nasseg train`) or a genotype; this is a "
                          f"{'checkpoint file' if ref.kind == 'checkpoint' else 'trained model without a card'}.")
    info = arch_info(ref.name)
    return {"name": ref.name, "kind": info.kind, "description": info.description, "genotype": ref.genotype,
            "trained": None}


def arch_card(spec, *, size: int = 512, width: Optional[int] = None, repeats: Optional[int] = None,
              num_classes: Optional[int] = None, models_dir: Path = Path("models/train"), measure: bool = True) -> dict:
    """The card of ``spec`` (see the module doc).

    ``width``/``repeats`` apply to genotype models (default 64/2, or a trained model's own);
    ``num_classes`` defaults to the classes the genotype's paper counts at (its space's
    ``paper_classes``; 21 for a baseline); ``measure`` builds the model to count its inference
    parameters and its MAdds and output resolution at ``size`` x ``size``."""
    if size < 32:
        raise NassegError(f"size {size}: the encoder has stride 32; give an input size of at least 32 pixels")
    r = resolve(spec, models_dir)
    trained = r.pop("trained")
    card: dict = dict(r)
    if r["genotype"]:
        space, g = parse_any(r["genotype"])
        width = width if width is not None else int((trained or {}).get("width", 64))
        repeats = repeats if repeats is not None else int((trained or {}).get("repeats", 2))
        if width < 1 or repeats < 1:
            raise NassegError(f"width {width} / repeats {repeats}: both must be positive")
        num_classes = num_classes if num_classes is not None else space.paper_classes
        card.update(space=space.name, hash=g.hash(), words=space.describe(g), width=width, repeats=repeats,
                    decoder_stride=space.output_stride(g))
    else:
        card.update(space=None, hash=None, words=None, width=None, repeats=None, decoder_stride=None)
    num_classes = num_classes if num_classes is not None else 21
    if num_classes < 1:
        raise NassegError(f"num_classes {num_classes}: give at least 1")
    card.update(num_classes=num_classes, size=size)
    if measure:
        card.update(measure_model(r["genotype"] or r["name"], size, num_classes=num_classes,
                                  **({"width": width, "repeats": repeats} if r["genotype"] else {})))
    card["trained"] = {k: trained[k] for k in TRAINED_KEYS if k in trained} if trained is not None else None
    return card


def measure_model(arch: str, size: int, **build) -> dict:
    """Inference parameters, MAdds and output resolution (and stride) of ``arch`` at ``size`` x ``size``."""
    from ..benchmark import count_madds

    model = build_model(arch, **build)
    madds, out_hw = count_madds(model, size)
    stride = size / out_hw[0] if out_hw and out_hw[0] else None
    if stride is not None and float(stride).is_integer():
        stride = int(stride)
    return {"params": count_params(model), "madds": int(madds), "output": list(out_hw), "output_stride": stride}
