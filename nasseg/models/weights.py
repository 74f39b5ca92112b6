"""Reading a weights file the user names, and renaming its keys: one place for the checks and
their messages. The layouts themselves (which origin names what how) are the tables of
:mod:`nasseg.models.importers`."""
from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from ..errors import NassegError


def read_state_dict(path: str | Path, entry: str, missing_hint: str) -> tuple[dict, str]:
    """The state dict in ``path`` (a plain state dict, or a checkpoint holding it under
    ``entry``) and the file's sha256. Every problem is a NassegError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise NassegError(f"{path}: {missing_hint}")
    obj = _load(path)
    state = obj.get(entry, obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise NassegError(f"{path}: expected a state dict (name -> tensor), or a checkpoint with an '{entry}' entry.")
    return state, hashlib.sha256(path.read_bytes()).hexdigest()


# Checkpoint entries that hold a model's state dict, in the order they are tried: nasseg's own
# ("model", "encoder"), the authors' training scripts ("segmenter", saved from nn.DataParallel),
# and the common "state_dict".
STATE_ENTRIES = ("model", "encoder", "segmenter", "state_dict")


def _numpy_scalar_globals() -> list:
    """What a pickled numpy scalar needs (the authors' checkpoints store ``best_val`` as one):
    plain data, allowed explicitly so that the file still loads with ``weights_only=True``."""
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar
    dtypes = [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    return [(scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"), np.dtype, *dtypes]


def _load(path: Path):
    """``torch.load`` restricted to tensors, plain containers and numpy scalars; every failure
    becomes one line saying what the file is not."""
    try:
        with torch.serialization.safe_globals(_numpy_scalar_globals()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on pickle protocols: the error below says what matters
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        text = str(err)
        if "Unsupported operand" in text:
            raise NassegError(f"{path}: a pickle that is not a torch.save file (written by pickle.dump?); only files "
                              "written by torch.save are read. Re-save the weights with torch.save.") from None
        if "Unsupported global" in text:
            raise NassegError(
                f"{path}: holds Python objects besides tensors (a whole pickled model or custom classes), which "
                "are not loaded because unpickling them can run code. Save the model's state_dict() in the "
                "environment that wrote it (torch.save(model.state_dict(), 'weights.pth')) and give that file."
            ) from None
        raise NassegError(f"{path}: not a PyTorch weights file (torch.load could not read it: "
                          f"{type(err).__name__}). Give a .pth/.pt file written by torch.save.") from None


def _is_state(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                      for k, v in obj.items())


def read_weights(path: str | Path, missing_hint: str) -> tuple[dict, str, dict]:
    """(state dict, sha256, how it was found) from a weights file of any origin: a plain state
    dict, or a checkpoint holding one under one of :data:`STATE_ENTRIES`; the ``module.``
    prefix of ``nn.DataParallel`` is removed. ``how`` is ``{"entry": name or None,
    "stripped_prefix": "module." or None}``. Every problem is one NassegError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise NassegError(f"{path}: {missing_hint}")
    obj = _load(path)
    entry = None
    if not _is_state(obj):
        if not isinstance(obj, dict):
            raise NassegError(f"{path}: holds a {type(obj).__name__}, not a state dict (name -> tensor) or a "
                              f"checkpoint dict with one of the entries {', '.join(STATE_ENTRIES)}.")
        entry = next((e for e in STATE_ENTRIES if _is_state(obj.get(e))), None)
        if entry is None:
            keys = ", ".join(sorted(map(str, obj))[:8]) or "none"
            raise NassegError(f"{path}: a dict without tensors to import (its entries: {keys}); expected a state "
                              f"dict or a checkpoint with one of the entries {', '.join(STATE_ENTRIES)}.")
        obj = obj[entry]
    prefix = None
    if all(k.startswith("module.") for k in obj):
        obj, prefix = {k[len("module."):]: v for k, v in obj.items()}, "module."
    return dict(obj), hashlib.sha256(path.read_bytes()).hexdigest(), {"entry": entry, "stripped_prefix": prefix}


# --------------------------------------------------------------------------------------------
# Layouts: one origin's key naming, renamed to ours and checked (the tables: importers.py)
# --------------------------------------------------------------------------------------------

def shorten(keys, n=5) -> str:
    """The first ``n`` of the sorted keys, and how many more."""
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" … (+{len(keys) - n} more)" if len(keys) > n else "")


@dataclass(frozen=True)
class Layout:
    """One origin's key naming (see :mod:`nasseg.models.importers`)."""

    name: str
    title: str
    signature: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]
    excludes: tuple[str, ...] = ()
    ignored: tuple[tuple[str, str], ...] = ()
    unsupported: tuple[tuple[str, str], ...] = ()
    covers: tuple[str, ...] = ("encoder",)  # which of encoder / decoder it provides
    builds: Optional[str] = None  # the model a --kind model import builds: "rf_lw" or "lw_mbv2"
    differs: str = ""  # how the origin's model differs from ours beyond the names

    def matches(self, keys) -> bool:
        return (all(any(re.search(s, k) for k in keys) for s in self.signature)
                and not any(re.search(s, k) for s in self.excludes for k in keys))




def _expand(template: str, m: re.Match) -> str:
    """``{k}`` -> group k; ``{k-}``, ``{k--}``, ... -> group k minus the number of dashes."""
    return re.sub(r"\{(\d+)(-*)\}", lambda t: str(int(m.group(int(t.group(1)))) - len(t.group(2)))
                  if t.group(2) else m.group(int(t.group(1))), template)


def rename(layout: Layout, key: str) -> Optional[str]:
    """Our name for their ``key`` by the first rule that matches, or None."""
    for pattern, template in layout.rules:
        m = re.match(pattern, key)
        if m:
            return _expand(template, m)
    return None


def detect(layouts: dict[str, "Layout"], keys, path: Path | str = "", format: Optional[str] = None) -> "Layout":
    """The one layout of ``layouts`` whose signature the keys match; ``format`` (a name) overrides."""
    if format is not None:
        if format not in layouts:
            raise NassegError(f"unknown weights format {format!r}; the formats are {', '.join(layouts)}.")
        return layouts[format]
    found = [lay for lay in layouts.values() if lay.matches(keys)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NassegError(f"{path}: its keys match no known layout (first keys: {shorten(keys, 4)}). Known: "
                          + "; ".join(f"{lay.name} ({lay.title})" for lay in layouts.values()) + ".")
    raise NassegError(f"{path}: its keys match several layouts ({', '.join(lay.name for lay in found)}); name one "
                      "with `nasseg import-weights --format NAME` and point the params at the converted file.")


@dataclass
class ImportReport:
    """What an import did: the detected layout, the file's sha256, the tensors mapped and the
    keys ignored by group. ``meta()`` is what a stage records."""

    path: str
    layout: str
    sha256: str
    mapped: int
    ignored: dict[str, int] = field(default_factory=dict)
    entry: Optional[str] = None
    stripped_prefix: Optional[str] = None
    scope: str = "full"  # "full": everything the target holds; "encoder": the encoder only
    decoder_layout: Optional[str] = None  # "lw-refinenet" when the authors' decoder layout was built

    def meta(self) -> dict:
        return {k: v for k, v in {
            "file": self.path, "sha256": self.sha256, "layout": self.layout, "tensors": self.mapped,
            "ignored": self.ignored or None, "entry": self.entry, "stripped_prefix": self.stripped_prefix,
            "scope": self.scope, "decoder_layout": self.decoder_layout}.items() if v is not None}

    def summary(self) -> str:
        ign = ", ".join(f"{n} {g}" for g, n in self.ignored.items()) or "none"
        return (f"{self.layout}: {self.mapped} tensors mapped ({self.scope}); ignored: {ign}"
                + (f"; entry '{self.entry}'" if self.entry else "")
                + (f"; '{self.stripped_prefix}' prefix removed" if self.stripped_prefix else ""))


def convert(state: dict, layout: Layout, own: dict, path: Path | str, *, extra_ignored=(),
            hint: str = "") -> tuple[dict, dict[str, int]]:
    """``state`` renamed by ``layout`` and checked against ``own`` (our state dict, whole-model
    names). ``extra_ignored``: (regex on our name, group) pairs the target drops (blocks past the
    last tap, a decoder when only the encoder is wanted). Returns (our state, ignored counts)."""
    out, origin, ignored, unsupported, unknown = {}, {}, {}, {}, []
    for key, value in state.items():
        group = next((g for pat, g in layout.ignored if re.search(pat, key)), None)
        if group is None:
            why = next((w for pat, w in layout.unsupported if re.search(pat, key)), None)
            if why is not None:
                unsupported.setdefault(why, []).append(key)
                continue
            ours = rename(layout, key)
            if ours is None:
                unknown.append(key)
                continue
            group = next((g for pat, g in extra_ignored if re.search(pat, ours)), None)
            if group is None:
                out[ours], origin[ours] = value, key
                continue
        ignored[group] = ignored.get(group, 0) + 1
    missing = sorted(set(own) - set(out))
    unexpected = sorted(origin[k] for k in set(out) - set(own)) + sorted(unknown)
    wrong = [f"{origin[k]} -> {k}: file {tuple(out[k].shape)}, ours {tuple(own[k].shape)}"
             for k in own if k in out and out[k].shape != own[k].shape]
    if unsupported or missing or unexpected or wrong:
        parts = [f"no counterpart here for {shorten(keys)}: {why}" for why, keys in unsupported.items()]
        if missing:
            parts.append(f"missing (ours, not in the file): {shorten(missing)}")
        if unexpected:
            parts.append(f"unexpected (theirs, no place here): {shorten(unexpected)}")
        if wrong:
            parts.append(f"wrong shape: {'; '.join(wrong[:3])}" + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3
                                                                     else ""))
        raise NassegError(f"{path}: {layout.title} ({layout.name}) does not fit: " + "; ".join(parts) + "."
                          + (f" {hint}" if hint else ""))
    return out, ignored


# --------------------------------------------------------------------------------------------
