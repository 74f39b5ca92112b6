"""MobileNet-v2 encoder with the four taps the decoder reads (SPEC §2).

torchvision's ``mobilenet_v2().features`` blocks 0..17 (the 1280-channel head dropped; built by
:mod:`.backbones`, torchvision's modules and initialisation without importing torchvision);
taps after blocks 3, 6, 13, 17: strides 4, 8, 16, 32 with 24, 32, 96, 320 channels.
(The authors' variant keeps a 1x1 expansion conv in the t=1 block, 1,088 more parameters;
we use torchvision's.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from ..errors import NassegError
from .backbones import mobilenet_v2_features
from .weights import read_state_dict

TAPS = (3, 6, 13, 17)
TAP_CHANNELS = (24, 32, 96, 320)


class MobileNetV2Encoder(nn.Module):
    def __init__(self, taps: Sequence[int] = TAPS):
        super().__init__()
        self.taps = tuple(taps)
        self.features = mobilenet_v2_features()[: max(self.taps) + 1]
        self.out_channels = tuple(self._channels(i) for i in self.taps)

    def _channels(self, i: int) -> int:
        block = self.features[i]
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out


def _shorten(keys, n=5) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" … (+{len(keys) - n} more)" if len(keys) > n else "")


def load_encoder_weights(encoder: MobileNetV2Encoder, path: str | Path) -> str:
    """Load a torchvision MobileNet-v2 state dict (``features.N...`` keys; the classifier is
    ignored) or a nasseg checkpoint (``{"encoder": state_dict, ...}``). Keys are checked
    strictly. Returns the file's sha256 (for fingerprints). Files of other origins (the
    authors' MobileNet-v2, a whole model) go through :func:`nasseg.models.importers.import_encoder`
    (the pretrain stage, `nasseg import-weights --kind encoder`)."""
    path = Path(path)
    state, sha = read_state_dict(path, "encoder", "encoder weights file not found. Fix the path in params.yaml, or "
                                 "set it to null to train the encoder with the pretrain stage.")
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    own = encoder.state_dict()
    def beyond_taps(key: str) -> bool:  # blocks after the last tap (e.g. the 1280-channel head)
        parts = key.split(".")
        return key not in own and parts[0] == "features" and parts[1].isdigit() and int(parts[1]) > max(encoder.taps)

    state = {k: v for k, v in state.items() if not beyond_taps(k)}
    missing, unexpected = set(own) - set(state), set(state) - set(own)
    if missing or unexpected:
        raise NassegError(
            f"{path}: its keys do not match the MobileNet-v2 encoder "
            f"(missing: {_shorten(missing) or 'none'}; unexpected: {_shorten(unexpected) or 'none'}). "
            "Give torchvision's mobilenet_v2 state dict or a checkpoint written by `nasseg pretrain`."
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        k = bad[0]
        raise NassegError(f"{path}: tensor {k} has shape {tuple(state[k].shape)}, the encoder expects "
                          f"{tuple(own[k].shape)} ({len(bad)} mismatched).")
    encoder.load_state_dict(state, strict=True)
    return sha
