"""Disk and memory: the feature cache's bytes (samples x tap shapes x dtype) and the PPO
controller's parameters (its state.pt)."""
from __future__ import annotations

import torch

from ..config import Params
from .work import Sets

_TAPS: list = []


def tap_shapes() -> list[tuple[int, int]]:
    """(channels, stride) of the full encoder's four taps (measured once at 64²)."""
    if not _TAPS:
        from ..models.encoder import MobileNetV2Encoder

        with torch.no_grad():
            taps = MobileNetV2Encoder().eval()(torch.zeros(1, 3, 64, 64))
        _TAPS.extend((t.shape[1], 64 // t.shape[2]) for t in taps)
    return list(_TAPS)


def cache_bytes(p: Params, sets: Sets, wacv: bool = False) -> float:
    """Bytes of the feature cache precompute writes: train samples and meta-val images, taps x dtype."""
    pc = p.precompute
    size = 2 if pc.dtype == "float16" else 4
    shapes = tap_shapes()
    crop = pc.augment.crop
    per = sum(c * (crop // s) ** 2 for c, s in shapes) * size + (crop // pc.label_stride) ** 2
    if pc.teacher:
        per += p.data.num_classes * (crop // 4) ** 2 * size
    m = sets.sizes["camvid_val"] if wacv else sets.n("meta_val")
    return pc.n * per + m * (sum(c * (pc.val_size // s) ** 2 for c, s in shapes) * size + pc.val_size ** 2)


def controller_params(space_name: str, hidden: int) -> int:
    """Parameters of the PPO controller over ``space_name`` (its state.pt)."""
    from ..search.controller import Controller
    from ..spaces import get_space

    return sum(q.numel() for q in Controller(get_space(space_name), hidden=hidden).parameters())


__all__ = ["cache_bytes", "controller_params", "tap_shapes"]
