"""The model zoo: ``build_model(name_or_genotype, ...)`` and ``list_archs()``.

Registered: the paper's found architectures ``arch0``, ``arch1``, ``arch2`` (SPEC §3), the
WACV 2020 template architectures ``wacv_arch0``, ``wacv_arch1`` (SPEC §9) and
the baselines of Table 1: ``refinenet_lw_mbv2``, ``deeplabv3_mbv2``,
``deeplabv3_aspp_mbv2`` and ``lraspp_mbv3``. Any genotype of either search space builds too:
the object, its text or its nested Python list.
A model for depth or pose is the same model with 1 or K output channels (``num_classes``).
"""
from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn as nn

from ..errors import NassegError
from ..spaces.cells.decoder import AuxKind, Decoder
from ..spaces.cells.genotype import Genotype
from .baselines import LRASPPMobileNetV3, DeepLabV3Head, LWRefineNetDecoder, ResNetEncoder, deeplab_encoder
from .encoder import MobileNetV2Encoder, load_encoder_weights

PUBLISHED = {
    "arch0": "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]",
    "arch1": "[[2,[1,0,3,6],[0,1,2,8],[2,0,6,1]],[[2,3],[3,1],[4,4]]]",
    "arch2": "[[5,[0,0,4,1],[3,2,0,1],[5,6,5,0]],[[1,3],[4,3],[2,2]]]",
}


# WACV 2020 (SPEC §9): 19 classes, width 64, separable repeats 2. With torchvision's MobileNet-v2
# blocks (ours) they have 279,059 / 267,147 parameters; the authors' 280,147 / 268,235 include
# the 1x1 expansion conv (32->32 + BN, 1,088) their t=1 block keeps.
PUBLISHED_TEMPLATES = {
    "wacv_arch0": "[[[3,0,1],[4,1,1],[3,1,1]],[[0,1,0,0,1],[2,1,2,1,0],[3,1,1,1,0],[1,1,2,0,0],[3,0,2,0,0],"
                  "[5,3,2,1,0],[0,5,0,1,0]]]",
    "wacv_arch1": "[[[1,1,0],[1,3,0],[3,4,0]],[[1,1,0,0,0],[0,1,1,1,1],[3,1,2,3,0],[3,0,2,2,0],[0,1,2,0,0],"
                  "[2,1,1,3,0],[4,0,2,2,0]]]",
}
PUBLISHED_PARAMS = {"wacv_arch0": 279_059, "wacv_arch1": 267_147}  # ours (torchvision blocks), 19 classes


class SegmentationModel(nn.Module):
    """Encoder + decoder. ``forward(x)`` gives logits at the decoder's resolution;
    ``forward(x, return_aux=True)`` gives ``(logits, [aux logits])`` in training."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, name: str = ""):
        super().__init__()
        self.encoder, self.decoder, self.name = encoder, decoder, name

    def forward(self, x: torch.Tensor, return_aux: bool = False):
        return self.decoder(self.encoder(x), return_aux=return_aux)


class WholeModel(nn.Module):
    """A model that is not encoder + decoder (LR-ASPP); same interface."""

    def __init__(self, net: nn.Module, name: str = ""):
        super().__init__()
        self.net, self.name = net, name

    def forward(self, x, return_aux: bool = False):
        return self.net(x, return_aux=return_aux)


@dataclass(frozen=True)
class ArchInfo:
    name: str
    kind: str  # "found" or "baseline"
    description: str
    builder: Callable[..., nn.Module]


_REGISTRY: dict[str, ArchInfo] = {}


def register(name: str, kind: str, description: str):
    def deco(fn):
        _REGISTRY[name] = ArchInfo(name, kind, description, fn)
        return fn
    return deco


def list_archs(kind: Optional[str] = None) -> list[str]:
    return [n for n, a in _REGISTRY.items() if kind is None or a.kind == kind]


def arch_info(name: str) -> ArchInfo:
    if name not in _REGISTRY:
        raise NassegError(f"unknown architecture '{name}'. Registered: {', '.join(_REGISTRY)}; "
                          "or give a genotype in the nested-list notation.")
    return _REGISTRY[name]


def build_cell_model(genotype: Genotype | str, *, num_classes: int = 21, width: int = 64, repeats: int = 2,
                     aux: AuxKind = "none", name: str = "") -> SegmentationModel:
    g = genotype if isinstance(genotype, Genotype) else Genotype.from_text(genotype)
    enc = MobileNetV2Encoder()
    dec = Decoder(g, enc.out_channels, num_classes=num_classes, width=width, repeats=repeats, aux=aux)
    return SegmentationModel(enc, dec, name or g.to_text())


def build_genotype_model(genotype, *, num_classes: int = 21, width: int = 64, repeats: int = 2, aux: str = "none",
                         name: str = "") -> SegmentationModel:
    """A genotype of either search space (object, text or nested list) -> encoder (the blocks
    its space reads: all four taps for cells, the first two for templates) + its decoder."""
    from ..spaces import parse_any

    space, g = parse_any(genotype)
    enc = MobileNetV2Encoder(taps=space.encoder_taps)
    dec = space.build_decoder(g, num_classes=num_classes, width=width, repeats=repeats, aux=aux,
                              in_channels=enc.out_channels)
    return SegmentationModel(enc, dec, name or g.to_text())


for _name, _text in PUBLISHED.items():
    register(_name, "found", f"CVPR 2019 found architecture {_name}: {_text}")(
        lambda _t=_text, _n=_name, **kw: build_cell_model(_t, name=_n, **kw))


for _name, _text in PUBLISHED_TEMPLATES.items():
    register(_name, "found", f"WACV 2020 template architecture {_name[5:]}: {_text}")(
        lambda _t=_text, _n=_name, num_classes=19, **kw: build_genotype_model(_t, name=_n, num_classes=num_classes,
                                                                               **kw))


@register("refinenet_lw_mbv2", "baseline", "Light-Weight RefineNet on MobileNet-v2 (output stride 4)")
def _refinenet(*, num_classes: int = 21, decoder_width: int = 256, **_):
    enc = MobileNetV2Encoder(taps=LWRefineNetDecoder.TAPS)
    return SegmentationModel(enc, LWRefineNetDecoder(enc.out_channels, num_classes, decoder_width),
                             "refinenet_lw_mbv2")


def _refinenet_resnet(depth: int):
    def build(*, num_classes: int = 21, decoder_width: int = 256, **_):
        enc = ResNetEncoder(depth)
        dec = LWRefineNetDecoder(enc.out_channels, num_classes, decoder_width, groups=((3,), (2,), (1,), (0,)))
        return SegmentationModel(enc, dec, f"refinenet_lw_resnet{depth}")
    return build


for _depth in (18, 34, 50, 101, 152):
    register(f"refinenet_lw_resnet{_depth}", "teacher",
             f"Light-Weight RefineNet on ResNet-{_depth} (the distillation teacher; paper: ResNet-152)")(
        _refinenet_resnet(_depth))


@register("deeplabv3_mbv2", "baseline", "DeepLab-v3 on MobileNet-v2, no ASPP (output stride 8)")
def _deeplab(*, num_classes: int = 21, output_stride: int = 8, **_):
    return SegmentationModel(deeplab_encoder(output_stride), DeepLabV3Head(320, num_classes), "deeplabv3_mbv2")


@register("deeplabv3_aspp_mbv2", "baseline", "DeepLab-v3 on MobileNet-v2 with ASPP 6/12/18 (output stride 16)")
def _deeplab_aspp(*, num_classes: int = 21, output_stride: int = 16, **_):
    return SegmentationModel(deeplab_encoder(output_stride), DeepLabV3Head(320, num_classes, rates=(6, 12, 18)),
                             "deeplabv3_aspp_mbv2")


@register("lraspp_mbv3", "baseline", "torchvision LR-ASPP MobileNet-v3-Large (output stride 8)")
def _lraspp(*, num_classes: int = 21, **_):
    return WholeModel(LRASPPMobileNetV3(num_classes), "lraspp_mbv3")


def build_model(name_or_genotype: str | Genotype | list, *, num_classes: int = 21, width: int = 64, repeats: int = 2,
                aux: AuxKind = "none", encoder_weights: Optional[str] = None, **kw) -> nn.Module:
    """A registered name (``list_archs()``) or a genotype of either search space (object, text
    or nested list such as ``[[8,[0,0,5,2],...],[[3,3],...]]``) -> model.

    ``width``/``repeats`` apply to genotype models (48/1 in search, 64/2 in final models);
    ``aux`` adds training-only auxiliary heads; ``encoder_weights`` loads a MobileNet-v2
    state dict or a pretrain checkpoint into the encoder."""
    if not isinstance(name_or_genotype, str) or name_or_genotype.lstrip().startswith("["):
        model = build_genotype_model(name_or_genotype, num_classes=num_classes, width=width, repeats=repeats,
                                     aux=aux)
    else:
        info = arch_info(str(name_or_genotype))
        if info.kind == "found":
            model = info.builder(num_classes=num_classes, width=width, repeats=repeats, aux=aux)
        else:
            if aux != "none":
                raise NassegError(f"{info.name} is a {info.kind}; auxiliary heads exist only for genotype models.")
            model = info.builder(num_classes=num_classes, **kw)
    if encoder_weights:
        if not isinstance(getattr(model, "encoder", None), MobileNetV2Encoder):
            raise NassegError(f"{model.name}: has no MobileNet-v2 encoder to load weights into.")
        load_encoder_weights(model.encoder, encoder_weights)
    return model


def _drop_aux(model: nn.Module) -> tuple | None:
    """Detach the auxiliary heads of ``model``'s cell or template decoder; what to put back
    (None: it had none)."""
    dec = getattr(model, "decoder", None)
    heads = getattr(dec, "aux_heads", None)
    if heads is None:
        return None
    kept = (heads, dec.aux_kind)
    dec.aux_heads, dec.aux_kind = None, "none"
    return kept


def strip_aux(model: nn.Module) -> nn.Module:
    """A copy without auxiliary heads: the inference model (export, benchmark)."""
    m = copy.deepcopy(model)
    _drop_aux(m)
    return m


@contextmanager
def without_aux(model: nn.Module):
    """``model`` itself as its inference model while the block runs (auxiliary heads detached,
    then put back): counting and saving without :func:`strip_aux`'s deep copy (~0.1 s a model)."""
    kept = _drop_aux(model)
    try:
        yield model
    finally:
        if kept is not None:
            model.decoder.aux_heads, model.decoder.aux_kind = kept


def count_params(model: nn.Module, inference: bool = True) -> int:
    with without_aux(model) if inference else nullcontext():
        return sum(p.numel() for p in model.parameters())
