"""Reading a weights file the user names: one place for the checks and their messages."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..errors import NassegError


def read_state_dict(path: str | Path, entry: str, missing_hint: str) -> tuple[dict, str]:
    """The state dict in ``path`` (a plain state dict, or a checkpoint holding it under
    ``entry``) and the file's sha256. Every problem is a NassegError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise NassegError(f"{path}: {missing_hint}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise NassegError(f"{path}: not a loadable PyTorch weights file ({type(err).__name__}: {err}).") from None
    state = obj.get(entry, obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise NassegError(f"{path}: expected a state dict (name -> tensor), or a checkpoint with an '{entry}' entry.")
    return state, hashlib.sha256(path.read_bytes()).hexdigest()
