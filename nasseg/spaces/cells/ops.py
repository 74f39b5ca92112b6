"""The 11 decoder operations of the paper (SPEC §3), in their index order.

All keep the channel count and the resolution. Separable convolutions are depthwise then
pointwise with no BN/ReLU in between, repeated ``repeats`` times (1 in search, 2 in final
models). Every BN is affine.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotype import NUM_OPS, OP_NAMES


def conv_bn_relu(c_in: int, c_out: int, k: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, padding=dilation * (k - 1) // 2, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=False),
    )


class SepConv(nn.Sequential):
    def __init__(self, c: int, k: int, dilation: int = 1, repeats: int = 1):
        layers: list[nn.Module] = []
        for _ in range(repeats):
            layers += [
                nn.Conv2d(c, c, k, padding=dilation * (k - 1) // 2, dilation=dilation, groups=c, bias=False),
                nn.Conv2d(c, c, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=False),
            ]
        super().__init__(*layers)


class GlobalPool(nn.Module):
    """Mean over H, W -> 1x1 conv-BN-ReLU -> bilinear upsampling back to H x W."""

    def __init__(self, c: int):
        super().__init__()
        self.proj = conv_bn_relu(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x.mean((2, 3), keepdim=True))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


# (name, builder(channels, repeats)); the index in this tuple is the genotype's op index.
OPS: tuple[tuple[str, Callable[[int, int], nn.Module]], ...] = (
    ("conv1x1", lambda c, r: conv_bn_relu(c, c, 1)),
    ("conv3x3", lambda c, r: conv_bn_relu(c, c, 3)),
    ("sep3x3", lambda c, r: SepConv(c, 3, 1, r)),
    ("sep5x5", lambda c, r: SepConv(c, 5, 1, r)),
    ("gap", lambda c, r: GlobalPool(c)),
    ("conv3x3_d3", lambda c, r: conv_bn_relu(c, c, 3, 3)),
    ("conv3x3_d12", lambda c, r: conv_bn_relu(c, c, 3, 12)),
    ("sep3x3_d3", lambda c, r: SepConv(c, 3, 3, r)),
    ("sep5x5_d6", lambda c, r: SepConv(c, 5, 6, r)),
    ("skip", lambda c, r: nn.Identity()),
    ("zero", lambda c, r: Zero()),
)
assert len(OPS) == NUM_OPS and tuple(name for name, _ in OPS) == OP_NAMES, "OPS and OP_NAMES differ"


def make_op(index: int, channels: int, repeats: int = 1) -> nn.Module:
    return OPS[index][1](channels, repeats)
