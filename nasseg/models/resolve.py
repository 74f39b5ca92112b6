"""What a user may type to name a model, and the model it names: the one resolver of
``nasseg predict``, ``nasseg export`` and ``nasseg arch``.

A model is given as

* a **checkpoint file** (``model.pt`` of ``nasseg train`` / ``nasseg transfer``, ``teacher.pt``);
* a **trained name** of the pipeline, looked up under the project root: ``found<k>``
  (``models/train/found<k>/model.pt``), ``<task>/<model>`` with task ``mpii``, ``coco`` or
  ``nyu`` (``models/transfer/<task>/<model>/model.pt``, e.g. ``nyu/found0``,
  ``coco/refinenet_lw_mbv2``) and ``teacher`` (``models/teacher/teacher.pt``);
* a **zoo name** (``list_archs()``: the published architectures and the baselines);
* a **genotype** of either search space, as text in the nested-list notation.

:func:`resolve` says which of these a text is (a :class:`ModelRef`, without loading
anything); :func:`load_model` builds the model: a checkpoint with its weights, a zoo name or
a genotype with random weights (seeded, and only when the caller accepts untrained models).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from ..errors import NassegError
from .zoo import PUBLISHED, PUBLISHED_TEMPLATES, list_archs

TRANSFER_TASKS = ("mpii", "coco", "nyu")
KINDS = ("checkpoint", "trained", "zoo", "genotype")

TRAINED = {  # kind of trained name -> (path under the root, the command that writes it)
    "found": ("models/train/{name}/model.pt", "`nasseg train` (or `dvc repro train`)"),
    "teacher": ("models/teacher/teacher.pt", "`nasseg teacher` (or `dvc repro teacher`)"),
    "transfer": ("models/transfer/{name}/model.pt", "`nasseg transfer` (or `dvc repro transfer`)"),
}
FOUND = re.compile(r"found\d+")


@dataclass(frozen=True)
class ModelRef:
    """A model named by a user (see the module doc).

    ``name`` is what outputs are called after: the trained name, the zoo name,
    ``genotype-<hash8>``, or for a checkpoint file its folder (``found0`` for
    ``models/train/found0/model.pt``) or, for any other file name, its stem. ``path`` is the
    checkpoint of a file or trained name (which may not exist yet: :func:`load_model` says
    which command writes it); ``genotype`` the canonical genotype text of a genotype or of a
    published zoo architecture, ``space`` the name of its search space."""

    text: str
    kind: str
    name: str
    path: Optional[Path] = None
    genotype: Optional[str] = None
    stage: Optional[str] = None
    space: Optional[str] = None  # the search space of ``genotype``


def is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return False


def trained_file(text: str) -> Optional[tuple[str, str]]:
    """(path relative to the project root, the command that writes it) of a trained name, or None."""
    if FOUND.fullmatch(text):
        path, stage = TRAINED["found"]
        return path.format(name=text), stage
    if text == "teacher":
        return TRAINED["teacher"]
    task, sep, model = text.partition("/")
    if sep and task in TRANSFER_TASKS and model and "/" not in model and not model.lstrip().startswith("["):
        path, stage = TRAINED["transfer"]
        return path.format(name=text), stage
    return None


def trained_names(root: Path = Path(".")) -> list[str]:
    """The trained names whose checkpoint exists under ``root``."""
    root = Path(root)
    names = sorted((p.parent.name for p in (root / "models" / "train").glob("found*/model.pt")),
                   key=lambda n: (len(n), n))
    names += sorted(f"{p.parent.parent.name}/{p.parent.name}" for t in TRANSFER_TASKS
                    for p in (root / "models" / "transfer" / t).glob("*/model.pt"))
    if (root / TRAINED["teacher"][0]).is_file():
        names.append("teacher")
    return names


def choices(root: Path = Path(".")) -> str:
    """What may be given, for error messages."""
    return (f"a model.pt, a trained name (found<k>, <mpii|coco|nyu>/<model>, teacher; under {root}: "
            f"{', '.join(trained_names(root)) or 'none yet'}), a zoo name ({', '.join(list_archs())}) or a genotype "
            f"in the nested-list notation, e.g. '{PUBLISHED['arch2']}'")


def space_name(genotype) -> str:
    from ..spaces import parse_any

    return parse_any(genotype)[0].name


def genotype_ref(genotype, text: str) -> ModelRef:
    """The ref of a genotype given as an object, its text or its nested list (either space)."""
    from ..spaces import GenotypeError, parse_any

    try:
        space, g = parse_any(genotype)
    except GenotypeError as err:
        raise GenotypeError(f"{text!r}: malformed genotype ({err}).") from None
    return ModelRef(text, "genotype", f"genotype-{g.hash()[:8]}", genotype=g.to_text(), space=space.name)


def resolve(spec, *, root: Path = Path(".")) -> ModelRef:
    """Which model ``spec`` (a text, a path, or a genotype object or nested list) names (see the
    module doc); loads nothing. A NassegError says what to give instead when it names none."""
    if not isinstance(spec, (str, Path)):  # a genotype object or its nested list
        return genotype_ref(spec, repr(spec))
    text = str(spec).strip()
    root = Path(root)
    if is_file(text):
        p = Path(text).resolve()
        return ModelRef(text, "checkpoint", (p.parent.name or p.stem) if p.name == "model.pt" else p.stem, Path(text))
    if text.endswith((".pt", ".pth")):
        raise NassegError(f"{text}: no such file. Give {choices(root)}.")
    trained = trained_file(text)
    if trained is not None:
        return ModelRef(text, "trained", text, root / trained[0], stage=trained[1])
    if text.startswith("["):
        return genotype_ref(text, text)
    if text in list_archs():
        published = PUBLISHED.get(text) or PUBLISHED_TEMPLATES.get(text)
        return ModelRef(text, "zoo", text, genotype=published, space=space_name(published) if published else None)
    raise NassegError(f"{text!r}: neither a checkpoint file nor a model name. Give {choices(root)}.")


def load_model(spec, *, root: Path = Path("."), allow_untrained: bool = False, num_classes: int = 21, width: int = 64,
               repeats: int = 2, seed: int = 0) -> tuple[nn.Module, dict]:
    """(model in eval mode, info) of ``spec`` (a text or a :class:`ModelRef`).

    ``info`` is ``{"arch", "meta", "ref"}``: a checkpoint's own arch and meta, or for a zoo
    name or genotype (random weights drawn after ``torch.manual_seed(seed)``, without touching
    the caller's random state; only with ``allow_untrained``) the arch it was built from and
    ``meta={"untrained": True}``. ``num_classes``, ``width`` and ``repeats`` apply to zoo names
    and genotypes only; a checkpoint knows its own."""
    from .checkpoint import arch_of, load_checkpoint
    from .zoo import build_model

    ref = spec if isinstance(spec, ModelRef) else resolve(spec, root=root)
    if ref.kind in ("checkpoint", "trained"):
        if not ref.path.is_file():
            raise NassegError(f"{ref.text}: no trained checkpoint at {ref.path}; it is written by {ref.stage}. Run "
                              f"that stage first, or pass --root to the project that has it. Trained names under "
                              f"{root}: {', '.join(trained_names(root)) or 'none'}.")
        model, info = load_checkpoint(ref.path)
        return model, {**info, "ref": ref}
    if not allow_untrained:
        raise NassegError(f"{ref.text}: has no trained weights (a zoo name or genotype builds with random weights, and "
                          "its outputs would be noise). Give a trained name (found<k>, <mpii|coco|nyu>/<model>, "
                          f"teacher; here: {', '.join(trained_names(root)) or 'none'}) or a model.pt, or pass "
                          "--untrained to run it untrained anyway.")
    size = {"num_classes": num_classes, "width": width, "repeats": repeats}
    if ref.kind == "genotype":
        arch = arch_of(genotype=ref.genotype, **size)
    elif ref.genotype:
        arch = {"name": ref.name, **arch_of(genotype=ref.genotype, **size)}
    else:
        arch = arch_of(name=ref.name, num_classes=num_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(ref.genotype if ref.kind == "genotype" else ref.name, **size)
    return model.eval(), {"arch": arch, "meta": {"untrained": True}, "ref": ref}
