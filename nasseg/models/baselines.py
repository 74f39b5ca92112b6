"""Hand-designed baselines of the paper's Table 1, on the same MobileNet-v2 encoder.

* Light-Weight RefineNet (Nekrasov et al., BMVC 2018): six encoder outputs, 1x1 convs to
  256, chained residual pooling (4 stages of 5x5 max-pool + 1x1 conv), output stride 4.
* DeepLab-v3 (as in the MobileNet-v2 paper): dilated encoder, image pooling + 1x1 branch;
  with ASPP (rates 6, 12, 18) at output stride 16, without it at output stride 8 (the
  output resolutions of the paper's Table 1: 32x32 and 64x64 for a 512x512 input).
* torchvision's LR-ASPP MobileNet-v3-Large, returning logits at its own stride 8.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spaces.cells.ops import conv_bn_relu
from .backbones import ResNet
from .encoder import MobileNetV2Encoder


def conv1x1(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, bias=False)


class CRP(nn.Module):
    """Chained residual pooling: x + sum of a chain of (5x5 max-pool, 1x1 conv)."""

    def __init__(self, c: int, stages: int = 4):
        super().__init__()
        self.convs = nn.ModuleList(conv1x1(c, c) for _ in range(stages))

    def forward(self, x):
        top = x
        for conv in self.convs:
            top = conv(F.max_pool2d(top, 5, stride=1, padding=2))
            x = x + top
        return x


class LWRefineNetDecoder(nn.Module):
    """Light-Weight RefineNet decoder over groups of encoder taps, coarsest group first.

    Each group's taps go through 1x1 convs to ``width`` and are summed with the upsampled
    result of the previous group, then ReLU and chained residual pooling; a 1x1 adaptation
    precedes each upsampling, and a 3x3 classifier follows the finest group. The default
    groups are those of MobileNet-v2 (taps at blocks 3, 6, 10, 13, 16, 17)."""

    TAPS = (3, 6, 10, 13, 16, 17)
    MBV2_GROUPS = ((5, 4), (3, 2), (1,), (0,))

    def __init__(self, in_channels, num_classes: int = 21, width: int = 256, groups=MBV2_GROUPS, *,
                 top_width: int | None = None, lateral_adapt: bool = False, align_corners: bool = False):
        """``top_width``, ``lateral_adapt`` and ``align_corners`` give the layout of the authors'
        ResNet Light-Weight RefineNet (``rf_lw50/101/152``: the coarsest group at 512 channels,
        a second 1x1 conv on each finer group's lateral, ``align_corners=True`` upsampling), so
        that their checkpoints load exactly (:mod:`nasseg.models.importers`). The defaults are
        this project's decoder."""
        super().__init__()
        self.groups = tuple(tuple(g) for g in groups)
        top = top_width or width
        self.top_width, self.align_corners = top, align_corners
        self.reduce = nn.ModuleList(conv1x1(c, top if i in self.groups[0] else width)
                                    for i, c in enumerate(in_channels))
        self.crp = nn.ModuleList(CRP(top if i == 0 else width) for i in range(len(self.groups)))
        self.adapt = nn.ModuleList(conv1x1(top if i == 0 else width, width) for i in range(len(self.groups) - 1))
        self.lateral = nn.ModuleList(conv1x1(width, width) for _ in self.groups[1:]) if lateral_adapt else None
        self.classifier = nn.Conv2d(top if len(self.groups) == 1 else width, num_classes, 3, padding=1, bias=True)

    def forward(self, feats, return_aux: bool = False):
        x = None
        for i, group in enumerate(self.groups):
            s = self.reduce[group[0]](feats[group[0]])
            for j in group[1:]:
                s = s + self.reduce[j](feats[j])
            if x is not None:
                if self.lateral is not None:
                    s = self.lateral[i - 1](s)
                s = s + F.interpolate(x, size=s.shape[2:], mode="bilinear", align_corners=self.align_corners)
            x = self.crp[i](F.relu(s))
            if i < len(self.groups) - 1:
                x = self.adapt[i](x)
        logits = self.classifier(x)
        return (logits, []) if return_aux else logits


class ResNetEncoder(nn.Module):
    """torchvision ResNet (18/34/50/101/152) up to layer4; taps after layer1..layer4
    (strides 4, 8, 16, 32)."""

    def __init__(self, depth: int = 50):
        super().__init__()
        r = ResNet(depth)  # torchvision's resnet{depth}(weights=None), without importing torchvision
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool)
        self.layers = nn.ModuleList([r.layer1, r.layer2, r.layer3, r.layer4])
        expansion = 4 if depth >= 50 else 1
        self.out_channels = tuple(c * expansion for c in (64, 128, 256, 512))

    def forward(self, x):
        x = self.stem(x)
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


def dilate_mobilenet_(features: nn.Sequential, output_stride: int) -> None:
    """Replace strides past ``output_stride`` by dilation (in place), as DeepLab does."""
    stride, dilation = 2, 1  # features[0] is the stride-2 stem
    for block in list(features)[1:]:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
        for conv in convs:
            if conv.stride[0] == 2:
                if stride >= output_stride:
                    conv.stride = (1, 1)
                    conv.dilation = (dilation, dilation)
                    conv.padding = (dilation, dilation)
                    dilation *= 2
                    continue
                stride *= 2
            conv.dilation = (dilation, dilation)
            conv.padding = (dilation, dilation)


class DeepLabV3Head(nn.Module):
    def __init__(self, c_in: int, num_classes: int = 21, width: int = 256, rates=()):
        super().__init__()
        self.branches = nn.ModuleList([conv_bn_relu(c_in, width, 1)] +
                                      [conv_bn_relu(c_in, width, 3, r) for r in rates])
        self.pool = conv_bn_relu(c_in, width, 1)
        self.project = conv_bn_relu(width * (len(rates) + 2), width, 1)
        self.classifier = nn.Conv2d(width, num_classes, 1, bias=True)

    def forward(self, feats, return_aux: bool = False):
        x = feats[-1]
        pooled = F.interpolate(self.pool(x.mean((2, 3), keepdim=True)), size=x.shape[2:], mode="bilinear",
                               align_corners=False)
        y = torch.cat([b(x) for b in self.branches] + [pooled], 1)
        logits = self.classifier(self.project(y))
        return (logits, []) if return_aux else logits


def deeplab_encoder(output_stride: int) -> MobileNetV2Encoder:
    enc = MobileNetV2Encoder(taps=(17,))
    dilate_mobilenet_(enc.features, output_stride)
    return enc


class LRASPPMobileNetV3(nn.Module):
    """torchvision's LR-ASPP MobileNet-v3-Large; logits at stride 8 (no final upsampling)."""

    def __init__(self, num_classes: int = 21):
        super().__init__()
        import torchvision  # here, not at the top: its import costs every process ~1.6 s (see .backbones)

        m = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                      num_classes=num_classes)
        self.backbone, self.classifier = m.backbone, m.classifier

    def forward(self, x, return_aux: bool = False):
        logits = self.classifier(self.backbone(x))
        return (logits, []) if return_aux else logits
