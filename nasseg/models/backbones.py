"""MobileNet-v2 and ResNet backbones, module for module torchvision's.

The same sub-module names (so torchvision state dicts load as they are), the same
construction order and the same weight initialisation, so that under one seed they draw the
same random numbers and hold the same weights as ``torchvision.models.mobilenet_v2()`` and
``resnet18..152()`` (tests/test_backbones.py checks both against torchvision). They are ours
so that a stage's process does not import torchvision at start: its import pulls in
torch._dynamo, sympy and triton, ~1.6 s of every ``nasseg`` command.
"""
from __future__ import annotations

import torch.nn as nn

# MobileNet-v2's inverted residual blocks: expansion t, channels c, repeats n, first stride s
MOBILENET_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1))
RESNET_BLOCKS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                 101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


class ConvBNAct(nn.Sequential):
    """Conv (no bias), BatchNorm, activation: torchvision's ``Conv2dNormActivation`` layout."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] = nn.ReLU6):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), act(inplace=True))
        self.out_channels = c_out


class InvertedResidual(nn.Module):
    """1x1 expansion (when t > 1), 3x3 depthwise, 1x1 linear projection; residual when the
    shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int):
        super().__init__()
        hidden = int(round(c_in * expand))
        self.stride = stride
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = [ConvBNAct(c_in, hidden, 1)] if expand != 1 else []
        layers += [ConvBNAct(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, c_out, 1, 1, 0, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = c_out

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def mobilenet_v2_features() -> nn.Sequential:
    """``mobilenet_v2(weights=None).features`` (blocks 0..18). The classifier is built and
    initialised too, then dropped, so that the random stream matches torchvision's."""
    c_in = 32
    features: list[nn.Module] = [ConvBNAct(3, c_in, stride=2)]
    for t, c, n, s in MOBILENET_V2_BLOCKS:
        for i in range(n):
            features.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
            c_in = c
    features.append(ConvBNAct(c_in, 1280, 1))
    full = nn.Sequential()
    full.features = nn.Sequential(*features)
    full.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))
    for m in full.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return full.features


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(c_in, planes, stride), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv3x3(planes, planes), nn.BatchNorm2d(planes)
        self.downsample, self.stride = downsample, stride

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """torchvision's (ResNet v1.5): the stride on the 3x3 conv."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        out = planes * self.expansion
        self.conv1, self.bn1 = nn.Conv2d(c_in, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = _conv3x3(planes, planes, stride), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample, self.stride = downsample, stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += x if self.downsample is None else self.downsample(x)
        return self.relu(out)


class ResNet(nn.Module):
    """``resnet{depth}(weights=None)``: conv1, bn1, relu, maxpool, layer1..4, avgpool, fc."""

    def __init__(self, depth: int = 50):
        super().__init__()
        if depth not in RESNET_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(RESNET_BLOCKS)}, got {depth}")
        kind, repeats = RESNET_BLOCKS[depth]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), repeats)):
            stride, out = (1 if i == 0 else 2), planes * block.expansion
            # the shortcut's conv is built before the block's own (the random stream's order)
            down = (nn.Sequential(nn.Conv2d(c_in, out, 1, stride, bias=False), nn.BatchNorm2d(out))
                    if stride != 1 or c_in != out else None)
            blocks = [block(c_in, planes, stride, down)] + [block(out, planes) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c_in = out
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, 1000)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))
