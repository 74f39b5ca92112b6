"""The template decoder (WACV 2020, SPEC §9) built from a :class:`TemplateGenotype`.

Channel bookkeeping follows the authors' layout (the published parameter counts depend on
it): a layer's operations in its first repetition map ``C -> C x stride`` (a stride-2 layer
doubles the channels of what it reads); later repetitions keep their channels; the
aggregation's output has ``max`` of its two inputs' channels, a 1x1 conv + BN + ReLU adapts
the narrower input, and the two are resized to one resolution (the smaller one in the first
``layers // 2`` layers, the larger one after). In repetition ``r > 0`` the first operation
reads the second input of repetition ``r - 1`` and the second operation reads its output.
No 1x1 adaptation of the encoder taps: the 24- and 32-channel taps are read as they are.

Operations (``C_in -> C_out``, separable repeats ``R``):

* ``sep_conv_3x3`` / ``sep_conv_5x5`` / ``sep_conv_5x5_dil6``: ``R`` x (depthwise k x k,
  pointwise, BN, ReLU);
* ``global_average_pool``: global mean, 1x1 conv + BN + ReLU, broadcast back;
* ``max_pool_3x3``: 1x1 conv + BN, then 3x3 max pooling;
* ``skip_connect``: identity (channels tiled ``C_out / C_in`` times), no parameters.

Strides (our choice where the authors' code compounds them): a stride-2 layer halves the
resolution once, in its first repetition and in the first depthwise conv of a separable
op; the pooling op pools with stride 2, the skip and global-pooling ops subsample.
Parameters do not depend on this, so the published counts are reproduced either way.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotype import AUX_KINDS, NUM_TAPS, TemplateGenotype, stride_layers


def _conv_bn(cin: int, cout: int, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=False)) if relu else nn.Sequential(*layers)


class SepConv(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, stride: int, dilation: int = 1, repeats: int = 1):
        layers = []
        for r in range(repeats):
            c = cin if r == 0 else cout
            layers += [nn.Conv2d(c, c, k, stride=stride if r == 0 else 1, padding=dilation * (k // 2),
                                 dilation=dilation, groups=c, bias=False),
                       nn.Conv2d(c, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=False)]
        super().__init__(*layers)


class GlobalPool(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv = _conv_bn(cin, cout)

    def forward(self, x):
        h, w = x.shape[2:]
        size = ((h - 1) // self.stride + 1, (w - 1) // self.stride + 1)
        return self.conv(x.mean((2, 3), keepdim=True)).expand(-1, -1, *size)


class MaxPool(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv = _conv_bn(cin, cout, relu=False)
        self.pool = nn.MaxPool2d(3, stride=stride, padding=1)

    def forward(self, x):
        return self.pool(self.conv(x))


class Skip(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.times, self.stride = cout // cin, stride

    def forward(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return x.repeat(1, self.times, 1, 1) if self.times > 1 else x


def make_template_op(index: int, cin: int, cout: int, stride: int, repeats: int) -> nn.Module:
    if index == 0:
        return SepConv(cin, cout, 3, stride, repeats=repeats)
    if index == 1:
        return SepConv(cin, cout, 5, stride, repeats=repeats)
    if index == 2:
        return GlobalPool(cin, cout, stride)
    if index == 3:
        return MaxPool(cin, cout, stride)
    if index == 4:
        return SepConv(cin, cout, 5, stride, dilation=6, repeats=repeats)
    if index == 5:
        return Skip(cin, cout, stride)
    raise ValueError(f"template operation index {index} is out of range 0..5")


def _resize(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class Aggregate(nn.Module):
    """Two inputs -> one: adapt the narrower (1x1 conv + BN + ReLU), resize both to the
    larger (``larger``) or smaller resolution, then a weighted sum with per-channel weights
    (``kind`` 0) or concatenation -> BN -> ReLU -> 1x1 (``kind`` 1)."""

    def __init__(self, kind: int, c0: int, c1: int, larger: bool):
        super().__init__()
        self.kind, self.larger = kind, larger
        self.cout = cout = max(c0, c1)
        self.adapt0 = _conv_bn(c0, cout) if c0 != cout else nn.Identity()
        self.adapt1 = _conv_bn(c1, cout) if c1 != cout else nn.Identity()
        if kind == 0:
            self.a = nn.Parameter(torch.ones(cout))
            self.b = nn.Parameter(torch.ones(cout))
        else:
            self.reduce = nn.Sequential(nn.BatchNorm2d(2 * cout), nn.ReLU(inplace=False),
                                        nn.Conv2d(2 * cout, cout, 1, bias=False))

    def forward(self, x, y):
        x, y = self.adapt0(x), self.adapt1(y)
        pick = max if self.larger else min
        size = pick(tuple(x.shape[2:]), tuple(y.shape[2:]))
        x, y = _resize(x, size), _resize(y, size)
        if self.kind == 0:
            return self.a.view(1, -1, 1, 1) * x + self.b.view(1, -1, 1, 1) * y
        return self.reduce(torch.cat([x, y], 1))


class TemplateLayer(nn.Module):
    """One layer: a template applied ``repeats`` times to two pool entries."""

    def __init__(self, template: tuple[int, int, int], c1: int, c2: int, repeats: int, stride: int, larger: bool,
                 sep_repeats: int):
        super().__init__()
        op1, op2, agg = template
        self.steps = nn.ModuleList()
        in1, in2 = c1, c2
        for r in range(repeats):
            s = stride if r == 0 else 1
            o1, o2 = (in1 * s, in2 * s) if r == 0 else (in1, in2)
            a = make_template_op(op1, in1, o1, s, sep_repeats)
            b = make_template_op(op2, in2, o2, s, sep_repeats)
            g = Aggregate(agg, o1, o2, larger)
            self.steps.append(nn.ModuleList([a, b, g]))
            in1, in2 = in2, g.cout  # next: op1 reads this repetition's 2nd input, op2 its output
        self.out_channels = in2

    def forward(self, x1, x2):
        for a, b, g in self.steps:
            x1, x2 = x2, g(a(x1), b(x2))
        return x2


class TemplateDecoder(nn.Module):
    """Encoder taps (strides 4 and 8; the first two of ``feats``) -> 7 template layers ->
    concatenation of the unread layer outputs -> ReLU -> 1x1 conv + BN + ReLU to ``width``
    -> 3x3 classifier. ``aux="clf"`` adds a training-only 3x3 classifier on every layer
    output (``forward(..., return_aux=True)``); ``aux="none"`` has none."""

    AUX_KINDS = AUX_KINDS

    def __init__(self, genotype: TemplateGenotype, in_channels: Sequence[int] = (24, 32), *, num_classes: int = 19,
                 width: int = 64, repeats: int = 2, aux: str = "none"):
        super().__init__()
        if len(in_channels) < NUM_TAPS:
            raise ValueError(f"the template decoder reads {NUM_TAPS} encoder taps, got {len(in_channels)}")
        if aux not in self.AUX_KINDS:
            raise ValueError(f"the template decoder's aux heads are 'none' or 'clf', got {aux!r}")
        self.genotype, self.aux_kind = genotype, aux
        channels = list(in_channels[:NUM_TAPS])
        n_stride = stride_layers(len(genotype.layers))
        self.layers = nn.ModuleList()
        for k, (p1, p2, t, r, s) in enumerate(genotype.layers):
            layer = TemplateLayer(genotype.templates[t], channels[p1], channels[p2], r + 1, 2 ** s,
                                  larger=k >= n_stride, sep_repeats=repeats)
            self.layers.append(layer)
            channels.append(layer.out_channels)
        self.outputs = genotype.output_indices
        self.fuse = nn.Sequential(nn.Conv2d(sum(channels[i] for i in self.outputs), width, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=False))
        self.classifier = nn.Conv2d(width, num_classes, 3, padding=1, bias=True)
        self.aux_heads = None if aux == "none" else nn.ModuleList(
            nn.Conv2d(channels[NUM_TAPS + k], num_classes, 3, padding=1, bias=True) for k in range(len(self.layers)))

    def forward(self, feats: Sequence[torch.Tensor], return_aux: bool = False):
        pool = list(feats[:NUM_TAPS])
        aux_out = []
        for k, ((p1, p2, *_), layer) in enumerate(zip(self.genotype.layers, self.layers)):
            pool.append(layer(pool[p1], pool[p2]))
            if return_aux and self.aux_heads is not None:
                aux_out.append(self.aux_heads[k](pool[-1]))
        outs = [pool[i] for i in self.outputs]
        size = max(tuple(o.shape[2:]) for o in outs)
        x = torch.cat([_resize(o, size) for o in outs], 1)
        logits = self.classifier(self.fuse(F.relu(x)))
        return (logits, aux_out) if return_aux else logits
