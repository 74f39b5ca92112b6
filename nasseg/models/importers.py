"""Importers for weights made elsewhere: torchvision, the authors' code, and nasseg itself.

A :class:`Layout` is one origin's naming of its tensors:

* a **signature** (regexes that must each match a key, and ones that must match none) by
  which :func:`detect` recognises it from the keys alone;
* an ordered table of **rename rules**, their key -> ours, in the namespace of a whole
  :class:`~nasseg.models.zoo.SegmentationModel` (``encoder.*``, ``decoder.*``). In a
  replacement, ``{k}`` is regex group k and ``{k-}`` is group k minus one (their 1-based
  indices become our 0-based ones);
* the groups of their keys **ignored** on purpose (an ImageNet classifier), with a name;
* the keys that have **no counterpart** here, with the reason (the import then fails and
  says so, naming the keys).

:func:`convert` renames a state dict and checks it strictly against the model it fills: every
tensor of the file is mapped or ignored by name, none of ours is missing, every shape is
equal. Anything else is one :class:`~nasseg.errors.NassegError` naming the file and the keys.
The machinery (reading, :class:`Layout`, renaming, checking) is in :mod:`nasseg.models.weights`;
this module holds the tables and the models they fill.

The authors' layouts were read off their public code (module names, nesting, shapes, how
checkpoints are saved), none of which is copied here:

* ``DrSleep/light-weight-refinenet``: ``models/resnet.py`` (``rf_lw50/101/152``:
  torchvision-named ResNet, then ``p_ims1d2_outl{1..4}_dimred``,
  ``adapt_stage{2..4}_b2_joint_varout_dimred``, ``mflow_conv_g{1..4}_pool.0.{1..4}_outvar_dimred``
  (CRP), ``mflow_conv_g{1..3}_b3_joint_varout_dimred``, ``clf_conv``), ``models/mobilenet.py``
  (``mbv2``: ``layer1``..``layer8`` of ``output.{0,1,2}`` conv-BN blocks, ``conv3..conv8``,
  ``crp1..crp4``, ``conv_adapt2..4``, ``segm``). Its released files are plain state dicts; its
  training script saves ``{"segmenter": DataParallel state dict ("module." prefix),
  "epoch_start", "best_val"}``.
* ``DrSleep/nas-segm-pytorch``: ``src/nn/encoders.py`` (MobileNet-v2 ``layer1``..``layer8`` of
  ``conv.{0,1,3,4,6,7}`` blocks), ``src/nn/micro_decoders.py`` (``MicroDecoder``: ``adapt1..4``,
  ``cells.N.op_1/op_2._ops``, ``agg.branch_1/2``, ``aux_clfs``, ``pre_clf``, ``conv_clf``),
  ``src/kd/rf_lw/model_lw_v2.py`` (the RefineNet-152 teacher: the ``rf_lw`` names above).
  Its search wraps ``Segmenter(encoder, decoder)`` in ``nn.DataParallel``
  (``module.encoder.*``, ``module.decoder.*``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn

from ..errors import NassegError
from .baselines import LWRefineNetDecoder, ResNetEncoder
from .encoder import MobileNetV2Encoder
from .weights import ImportReport, Layout, convert, read_weights, rename
from .weights import detect as detect_in

KINDS = ("encoder", "teacher", "model")

# --------------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------------

# torchvision ResNet names -> our ResNetEncoder (stem = conv1, bn1, relu, maxpool; layers = layer1..4).
_RESNET_RULES = (
    (r"^conv1\.(.+)$", "encoder.stem.0.{1}"),
    (r"^bn1\.(.+)$", "encoder.stem.1.{1}"),
    (r"^layer([1-4])\.(.+)$", "encoder.layers.{1-}.{2}"),
)

# The authors' ResNet Light-Weight RefineNet decoder -> our LWRefineNetDecoder built with
# ``top_width=512, lateral_adapt=True, align_corners=True`` (groups coarsest first: layer4..1).
# Their g1..g4 / outl1..4 count from the coarsest group; our taps count from the finest.
_RF_LW_DECODER_RULES = (
    (r"^p_ims1d2_outl1_dimred\.(.+)$", "decoder.reduce.3.{1}"),
    (r"^p_ims1d2_outl2_dimred\.(.+)$", "decoder.reduce.2.{1}"),
    (r"^p_ims1d2_outl3_dimred\.(.+)$", "decoder.reduce.1.{1}"),
    (r"^p_ims1d2_outl4_dimred\.(.+)$", "decoder.reduce.0.{1}"),
    (r"^adapt_stage([2-4])_b2_joint_varout_dimred\.(.+)$", "decoder.lateral.{1--}.{2}"),  # stage 2 -> lateral 0
    (r"^mflow_conv_g([1-4])_pool\.0\.([1-4])_outvar_dimred\.(.+)$", "decoder.crp.{1-}.convs.{2-}.{3}"),
    (r"^mflow_conv_g([1-3])_b3_joint_varout_dimred\.(.+)$", "decoder.adapt.{1-}.{2}"),
    (r"^clf_conv\.(.+)$", "decoder.classifier.{1}"),
)

# torchvision mobilenet_v2 ``features`` index of each of the authors' blocks (layerL.b).
_MBV2_BLOCKS = {
    "layer2.0": 1, "layer3.0": 2, "layer3.1": 3, "layer4.0": 4, "layer4.1": 5, "layer4.2": 6,
    "layer5.0": 7, "layer5.1": 8, "layer5.2": 9, "layer5.3": 10, "layer6.0": 11, "layer6.1": 12,
    "layer6.2": 13, "layer7.0": 14, "layer7.1": 15, "layer7.2": 16, "layer8.0": 17,
}
# Inside a block: the authors' sub-module -> torchvision's. Blocks with expansion 6
# (pw conv-BN-ReLU6, dw conv-BN-ReLU6, pw-linear conv-BN) have the same tensors under other
# names. The t=1 block (layer2.0) differs: theirs keeps the 1x1 expansion conv + BN, ours
# (torchvision's) starts at the depthwise conv.
_LW_MBV2_INNER = (("output.0.0", "conv.0.0"), ("output.0.1", "conv.0.1"), ("output.1.0", "conv.1.0"),
                  ("output.1.1", "conv.1.1"), ("output.2.0", "conv.2"), ("output.2.1", "conv.3"))
_LW_MBV2_INNER_T1 = (("output.1.0", "conv.0.0"), ("output.1.1", "conv.0.1"), ("output.2.0", "conv.1"),
                     ("output.2.1", "conv.2"))
_NAS_MBV2_INNER = (("conv.0", "conv.0.0"), ("conv.1", "conv.0.1"), ("conv.3", "conv.1.0"),
                   ("conv.4", "conv.1.1"), ("conv.6", "conv.2"), ("conv.7", "conv.3"))
_NAS_MBV2_INNER_T1 = (("conv.3", "conv.0.0"), ("conv.4", "conv.0.1"), ("conv.6", "conv.1"), ("conv.7", "conv.2"))

_T1_WHY = ("the authors' MobileNet-v2 keeps a 1x1 expansion conv + BN (32->32, 1,088 parameters) in its first "
           "(t=1) block; torchvision's, which this project uses, has none, and the block cannot be dropped "
           "without changing every later output")


def _mbv2_rules(prefix: str, inner: tuple, inner_t1: tuple) -> tuple:
    """Rename rules for an authors' MobileNet-v2 whose blocks are ``<prefix>layerL.b.<inner>``."""
    p = re.escape(prefix)
    rules = [(rf"^{p}layer1\.([01])\.(.+)$", "encoder.features.0.{1}.{2}")]
    for block, idx in _MBV2_BLOCKS.items():
        table = inner_t1 if block == "layer2.0" else inner
        for theirs, ours in table:
            rules.append((rf"^{p}{re.escape(block)}\.{re.escape(theirs)}\.(.+)$",
                          f"encoder.features.{idx}.{ours}.{{1}}"))
    return tuple(rules)


# The authors' mbv2 Light-Weight RefineNet decoder -> our LWRefineNetDecoder on the six taps
# (3, 6, 10, 13, 16, 17): conv3..conv8 reduce taps 0..5, crp4..crp1 are our groups 0..3.
_LW_MBV2_DECODER_RULES = (
    (r"^conv([3-8])\.(.+)$", "decoder.reduce.{1---}.{2}"),
    (r"^crp4\.0\.([1-4])_outvar_dimred\.(.+)$", "decoder.crp.0.convs.{1-}.{2}"),
    (r"^crp3\.0\.([1-4])_outvar_dimred\.(.+)$", "decoder.crp.1.convs.{1-}.{2}"),
    (r"^crp2\.0\.([1-4])_outvar_dimred\.(.+)$", "decoder.crp.2.convs.{1-}.{2}"),
    (r"^crp1\.0\.([1-4])_outvar_dimred\.(.+)$", "decoder.crp.3.convs.{1-}.{2}"),
    (r"^conv_adapt4\.(.+)$", "decoder.adapt.0.{1}"),
    (r"^conv_adapt3\.(.+)$", "decoder.adapt.1.{1}"),
    (r"^conv_adapt2\.(.+)$", "decoder.adapt.2.{1}"),
    (r"^segm\.(.+)$", "decoder.classifier.{1}"),
)


LAYOUTS: dict[str, Layout] = {}


def detect(keys, path: Path | str = "", format: Optional[str] = None) -> Layout:
    """The layout of a state dict's keys among :data:`LAYOUTS`; ``format`` (a name) overrides."""
    return detect_in(LAYOUTS, keys, path, format)


def _register(layout: Layout) -> Layout:
    LAYOUTS[layout.name] = layout
    return layout


_register(Layout(
    "nasseg-model", "a nasseg model checkpoint (teacher.pt / model.pt)",
    signature=(r"^encoder\.", r"^decoder\."), excludes=(r"^encoder\.layer[1-8]\.",),  # nas-segm's Segmenter
    rules=((r"^((?:encoder|decoder)\..+)$", "{1}"),),
    covers=("encoder", "decoder")))
_register(Layout(
    "mobilenet_v2", "torchvision's mobilenet_v2 state dict, or a nasseg encoder checkpoint (same names)",
    signature=(r"^features\.0\.0\.weight$",), rules=((r"^(features\..+)$", "encoder.{1}"),),
    ignored=((r"^classifier\.", "ImageNet classifier (classifier.*)"),)))
_register(Layout(
    "torchvision-resnet", "torchvision's ResNet-18/34/50/101/152 state dict",
    signature=(r"^conv1\.weight$", r"^layer4\.0\."), excludes=(r"^p_ims1d2_outl", r"^clf_conv\."),
    rules=_RESNET_RULES, ignored=((r"^fc\.", "ImageNet classifier (fc.*)"),)))
_register(Layout(
    "lw-refinenet-resnet", "the authors' Light-Weight RefineNet on ResNet-50/101/152 (rf_lw50/101/152)",
    signature=(r"^conv1\.weight$", r"^p_ims1d2_outl1_dimred\.", r"^clf_conv\."),
    rules=_RESNET_RULES + _RF_LW_DECODER_RULES, covers=("encoder", "decoder"), builds="rf_lw",
    differs=("their decoder runs the coarsest group at 512 channels (p_ims1d2_outl1_dimred 2048->512, "
             "mflow_conv_g1_pool at 512, mflow_conv_g1_b3_joint_varout_dimred 512->256), adds a second 1x1 conv "
             "to each finer lateral (adapt_stage2..4_b2_joint_varout_dimred) and upsamples with "
             "align_corners=True; the teacher stage's own decoder has one width (teacher.decoder_width), one 1x1 "
             "conv per lateral and align_corners=False. The import therefore builds their layout "
             "(LWRefineNetDecoder(top_width=512, lateral_adapt=True, align_corners=True))")))
_register(Layout(
    "lw-refinenet-mbv2", "the authors' Light-Weight RefineNet on MobileNet-v2 (mbv2)",
    signature=(r"^layer1\.0\.weight$", r"^layer2\.0\.output\.", r"^segm\."),
    rules=_mbv2_rules("", _LW_MBV2_INNER, _LW_MBV2_INNER_T1) + _LW_MBV2_DECODER_RULES,
    unsupported=((r"^layer2\.0\.output\.0\.", _T1_WHY),), covers=("encoder", "decoder"), builds="lw_mbv2",
    differs=("besides the t=1 block, their decoder uses ReLU6 before each CRP and align_corners=True "
             "upsampling, ours ReLU and align_corners=False")))
_register(Layout(
    "nas-segm-mbv2", "nas-segm-pytorch's MobileNet-v2 encoder (src/nn/encoders.py)",
    signature=(r"^(encoder\.)?layer1\.0\.weight$", r"^(encoder\.)?layer2\.0\.conv\."),
    rules=_mbv2_rules("", _NAS_MBV2_INNER, _NAS_MBV2_INNER_T1) + _mbv2_rules("encoder.", _NAS_MBV2_INNER,
                                                                             _NAS_MBV2_INNER_T1),
    unsupported=((r"^(encoder\.)?layer2\.0\.conv\.[01]\.", _T1_WHY),),
    ignored=((r"^decoder\.", "nas-segm cell decoder (decoder.*; not mapped, see nas-segm-decoder)"),),
    differs="their encoder is otherwise torchvision's MobileNet-v2 under other names"))
_register(Layout(
    "nas-segm-decoder", "nas-segm-pytorch's searched cell decoder (MicroDecoder, e.g. arch0/arch1)",
    signature=(r"^adapt1\.0\.weight$", r"^conv_clf\."), rules=(),
    unsupported=((r".", "nas-segm-pytorch's cell decoder (MicroDecoder) is not mapped: its cells keep each "
                        "branch's ops in one flat list with their sums, ours in per-layer pairs, and no mapping "
                        "has been verified against their code; train arch0/arch1 here (`nasseg train`)"),),
    covers=("decoder",)))


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------

_RESNET_DEPTHS = {((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34, ((3, 4, 6, 3), True): 50,
                  ((3, 4, 23, 3), True): 101, ((3, 8, 36, 3), True): 152}


def resnet_depth(state: dict) -> Optional[int]:
    """The ResNet depth of a state dict in our names (``encoder.layers.i.b.*``), or None."""
    blocks = []
    for i in range(4):
        ids = {int(m.group(1)) for k in state if (m := re.match(rf"^encoder\.layers\.{i}\.(\d+)\.", k))}
        blocks.append(max(ids) + 1 if ids else 0)
    bottleneck = any(re.match(r"^encoder\.layers\.0\.0\.conv3\.", k) for k in state)
    return _RESNET_DEPTHS.get((tuple(blocks), bottleneck))


def authors_teacher_decoder(in_channels, num_classes: int, width: int = 256, top_width: int = 512
                            ) -> LWRefineNetDecoder:
    """The decoder of the authors' ``rf_lw`` models, in our modules."""
    return LWRefineNetDecoder(in_channels, num_classes, width, groups=((3,), (2,), (1,), (0,)),
                              top_width=top_width, lateral_adapt=True, align_corners=True)


def use_decoder_layout(model: nn.Module, state: dict) -> Optional[str]:
    """When ``state`` (our names) holds the authors' ResNet decoder layout (``decoder.lateral.*``),
    replace ``model.decoder`` by that layout, keeping the model's width and classes (the coarsest
    group's width is read off the file); returns the layout's name."""
    if ("decoder.lateral.0.weight" not in state or "decoder.reduce.3.weight" not in state
            or not isinstance(getattr(model, "encoder", None), ResNetEncoder)):
        return None
    clf = model.decoder.classifier
    model.decoder = authors_teacher_decoder(model.encoder.out_channels, clf.out_channels, clf.in_channels,
                                            state["decoder.reduce.3.weight"].shape[0])
    return "lw-refinenet"


def _teacher_hint(model: nn.Module, ours: dict) -> str:
    depth = resnet_depth(ours)
    own_depth = resnet_depth(model.state_dict())
    if depth and own_depth and depth != own_depth:
        return f"The file holds a ResNet-{depth}; the teacher is a ResNet-{own_depth}: set teacher.depth: {depth}."
    return "Check teacher.depth, teacher.decoder_width and data.num_classes against the file."


def import_teacher(model: nn.Module, path: str | Path, format: Optional[str] = None) -> ImportReport:
    """Load ``path`` into the teacher ``model`` (ResNetEncoder + LWRefineNetDecoder). A file with
    a decoder (nasseg, the authors' ``rf_lw``) must fill the whole model; a classification
    ResNet fills the encoder only (``scope="encoder"``: the decoder is then trained). The
    authors' decoder layout replaces ``model.decoder`` (see :func:`use_decoder_layout`)."""
    state, sha, how = read_weights(path, "teacher weights file not found. Fix teacher.weights in params.yaml, or set "
                                         "it to null to train the teacher.")
    layout = detect(state, path, format)
    if "encoder" not in layout.covers and layout.unsupported:
        convert(state, layout, {}, path)  # raises, naming the reason
    renamed = {k2: v for k, v in state.items() if (k2 := rename(layout, k))}
    decoder_layout = use_decoder_layout(model, renamed)
    own = model.state_dict()
    full = "decoder" in layout.covers
    keep = own if full else {k: v for k, v in own.items() if k.startswith("encoder.")}
    ours, ignored = convert(state, layout, keep, path, hint=_teacher_hint(model, renamed))
    if full:
        model.load_state_dict(ours, strict=True)
    else:
        model.encoder.load_state_dict({k[len("encoder."):]: v for k, v in ours.items()}, strict=True)
    return ImportReport(str(path), layout.name, sha, len(ours), ignored, how["entry"], how["stripped_prefix"],
                        "full" if full else "encoder", decoder_layout)


def import_encoder(encoder: MobileNetV2Encoder, path: str | Path, format: Optional[str] = None) -> ImportReport:
    """Load a MobileNet-v2 encoder from any layout that holds one; blocks past the last tap and
    any decoder are ignored (and counted)."""
    state, sha, how = read_weights(path, "encoder weights file not found. Fix the path in params.yaml, or set it to "
                                         "null to train the encoder with the pretrain stage.")
    layout = detect(state, path, format)
    beyond = "|".join(str(i) for i in range(max(encoder.taps) + 1, 100))
    own = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    extra = ((rf"^encoder\.features\.({beyond})\.", "MobileNet-v2 blocks after the last tap"),
             (r"^decoder\.", "decoder (only the encoder is imported)"))
    hint = ("Give torchvision's mobilenet_v2 state dict or a checkpoint written by `nasseg pretrain`."
            if "encoder" in layout.covers else "This file holds no MobileNet-v2 encoder.")
    ours, ignored = convert(state, layout, own, path, extra_ignored=extra, hint=hint)
    encoder.load_state_dict({k[len("encoder."):]: v for k, v in ours.items()}, strict=True)
    return ImportReport(str(path), layout.name, sha, len(ours), ignored, how["entry"], how["stripped_prefix"],
                        "encoder")


def import_model(path: str | Path, format: Optional[str] = None) -> tuple[nn.Module, ImportReport, dict]:
    """The whole model an authors' file describes, built in our modules and loaded: (model,
    report, arch record with ``name``, ``num_classes``, ``decoder_width``, ``decoder_layout``)."""
    from .zoo import SegmentationModel, build_model

    state, sha, how = read_weights(path, "weights file not found.")
    layout = detect(state, path, format)
    if layout.builds is None:
        raise NassegError(f"{path}: {layout.title} ({layout.name}) is not a whole segmentation model of another "
                          "origin; import it with --kind encoder or --kind teacher.")
    renamed = {k2: v for k, v in state.items() if (k2 := rename(layout, k))}
    num_classes = renamed["decoder.classifier.weight"].shape[0] if "decoder.classifier.weight" in renamed else 21
    if layout.builds == "rf_lw":
        depth = resnet_depth(renamed)
        if depth is None:
            raise NassegError(f"{path}: its ResNet has no known depth (the blocks of layer1..4 match none of "
                              "ResNet-18/34/50/101/152).")
        enc = ResNetEncoder(depth)
        width = renamed["decoder.lateral.0.weight"].shape[0] if "decoder.lateral.0.weight" in renamed else 256
        top = renamed["decoder.reduce.3.weight"].shape[0] if "decoder.reduce.3.weight" in renamed else 512
        model = SegmentationModel(enc, authors_teacher_decoder(enc.out_channels, num_classes, width, top),
                                  f"refinenet_lw_resnet{depth}")
        arch = {"name": model.name, "num_classes": num_classes, "decoder_width": width,
                "decoder_layout": "lw-refinenet"}
    else:
        model = build_model("refinenet_lw_mbv2", num_classes=num_classes)
        arch = {"name": "refinenet_lw_mbv2", "num_classes": num_classes, "decoder_width": 256}
    ours, ignored = convert(state, layout, model.state_dict(), path, hint=layout.differs + "." if layout.differs
                            else "")
    model.load_state_dict(ours, strict=True)
    report = ImportReport(str(path), layout.name, sha, len(ours), ignored, how["entry"], how["stripped_prefix"],
                          "full", arch.get("decoder_layout"))
    return model.eval(), report, arch


def converted(src: str | Path, kind: str, format: Optional[str] = None) -> tuple[dict, ImportReport]:
    """A foreign weights file as the nasseg checkpoint of ``kind`` (to save with ``torch.save``):

    * ``encoder``: ``{"encoder": MobileNet-v2 state dict, "meta"}``, the file of ``nasseg
      pretrain`` (use it as ``pretrain.weights``);
    * ``teacher``: ``{"model", "meta"}``, the file of ``nasseg teacher`` (``teacher.weights``);
    * ``model``: ``{"model", "arch", "meta"}``, for ``nasseg evaluate / predict / export``.

    ``teacher`` and ``model`` need a whole segmentation model (the authors' ``rf_lw`` files);
    an encoder-only ResNet goes to ``teacher.weights`` as it is (the teacher stage then
    trains the decoder)."""
    if kind not in KINDS:
        raise NassegError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}.")
    if kind == "encoder":
        enc = MobileNetV2Encoder()
        report = import_encoder(enc, src, format)
        return {"encoder": enc.state_dict(), "meta": {"source": "imported", **report.meta()}}, report
    state, _, _ = read_weights(src, "weights file not found.")
    layout = detect(state, src, format)
    if layout.name == "nasseg-model":
        raise NassegError(f"{src}: already a nasseg checkpoint; use it as it is.")
    if layout.builds is None:
        raise NassegError(f"{src}: {layout.title} ({layout.name}) holds no decoder; "
                          + ("give it as teacher.weights as it is: the teacher stage trains a decoder on it."
                             if kind == "teacher" else "a whole model cannot be made of it; try --kind encoder."))
    model, report, arch = import_model(src, format)
    meta = {"source": "imported", **report.meta()}
    if kind == "model":
        return {"model": model.state_dict(), "arch": arch, "meta": meta}, report
    if not arch["name"].startswith("refinenet_lw_resnet"):
        raise NassegError(f"{src}: {arch['name']} is not a teacher (a Light-Weight RefineNet on a ResNet).")
    meta.update({"model": arch["name"], "depth": int(arch["name"].rsplit("resnet", 1)[1]),
                 "decoder_width": arch["decoder_width"], "num_classes": arch["num_classes"]})
    return {"model": model.state_dict(), "meta": meta}, report
