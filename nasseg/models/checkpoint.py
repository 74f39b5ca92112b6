"""Model checkpoints that rebuild themselves: ``{"model": state dict, "arch": {...}, "meta": {...}}``.

``arch`` names what to build: ``{"genotype": text, "width", "repeats", "num_classes"}`` for a
searched architecture, or ``{"name": zoo name, "num_classes", "decoder_width"}``. The
teacher file of ``nasseg teacher`` (``meta`` with ``model``, ``decoder_width``,
``num_classes``) loads too.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import NassegError
from .zoo import build_model, without_aux


def arch_of(genotype: str | None = None, *, name: str | None = None, num_classes: int, width: int = 64,
            repeats: int = 2, decoder_width: int | None = None) -> dict:
    if genotype is not None:
        return {"genotype": genotype, "width": width, "repeats": repeats, "num_classes": num_classes}
    return {"name": name, "num_classes": num_classes, **({"decoder_width": decoder_width} if decoder_width else {})}


def build_from_arch(arch: dict) -> torch.nn.Module:
    if arch.get("genotype"):
        return build_model(arch["genotype"], num_classes=arch["num_classes"], width=arch["width"],
                           repeats=arch["repeats"])
    kw = {"decoder_width": arch["decoder_width"]} if arch.get("decoder_width") else {}
    return build_model(arch["name"], num_classes=arch["num_classes"], **kw)


def save_checkpoint(model: torch.nn.Module, arch: dict, meta: dict, path: Path) -> None:
    """The inference model (aux heads removed) with what rebuilds it."""
    from ..training.fit import save_atomic

    with without_aux(model):  # no copy of the model
        state = model.state_dict()
    save_atomic({"model": state, "arch": arch, "meta": meta}, Path(path))


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, the checkpoint's arch + meta) from a file written by ``nasseg train``
    or ``nasseg teacher``."""
    path = Path(path)
    if not path.is_file():
        raise NassegError(f"{path}: checkpoint not found. Give a model.pt written by `nasseg train` "
                          "(models/train/<name>/model.pt) or `nasseg teacher` (models/teacher/teacher.pt).")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise NassegError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err}).") from None
    if not isinstance(ck, dict) or "model" not in ck:
        if isinstance(ck, dict) and "encoder" in ck:
            raise NassegError(f"{path}: an encoder-only checkpoint (from `nasseg pretrain`); evaluation needs a "
                              "whole model, e.g. models/train/<name>/model.pt.")
        raise NassegError(f"{path}: no 'model' entry; give a checkpoint written by `nasseg train` or `nasseg teacher`.")
    arch = ck.get("arch")
    meta = ck.get("meta", {})
    if arch is None and "model" in meta and "num_classes" in meta:  # a teacher.pt
        arch = arch_of(name=meta["model"], num_classes=meta["num_classes"], decoder_width=meta.get("decoder_width"))
    if arch is None:
        raise NassegError(f"{path}: does not say which architecture it holds (no 'arch' entry); "
                          "only checkpoints of `nasseg train` and `nasseg teacher` rebuild themselves.")
    model = build_from_arch(arch)
    state = ck["model"]
    from .importers import use_decoder_layout  # the authors' RefineNet decoder layout, when imported

    use_decoder_layout(model, state)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise NassegError(f"{path}: weights do not fit the architecture it names ({str(err).splitlines()[0]}).") from None
    return model.eval(), {"arch": arch, "meta": meta}
