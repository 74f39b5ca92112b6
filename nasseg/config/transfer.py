"""``transfer``: Sect. 4.5 / Tables 2 and 3, pose estimation and depth prediction."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, model_validator

from .base import Section
from .data import EmbeddedSizes
from .schedule import EvalParams, PhaseParams, ScheduleParams


class COCOKeypointSource(Section):
    """Real COCO keypoints: images folders and person_keypoints_*.json files."""

    train_images: Path
    train_annotations: Path
    val_images: Path
    val_annotations: Path


class MPIISource(Section):
    """Real MPII in the HRNet/mmpose JSON conversion, with HRNet's gt_valid.mat (head boxes)."""

    images: Path
    train: Path  # annot/train.json
    valid: Path  # annot/valid.json
    gt_valid: Path  # annot/gt_valid.mat: jnt_missing, pos_gt_src, headboxes_src


class NYUSource(Section):
    """Real NYU Depth v2: the labelled .mat (HDF5) with the official splits.mat; training on the
    raw RGB/depth pairs of ``raw_list`` (the paper's 25K frames) or, when null, on the 795
    labelled training frames."""

    labeled: Path  # nyu_depth_v2_labeled.mat
    splits: Path  # splits.mat (trainNdxs / testNdxs)
    raw_root: Optional[Path] = None
    raw_list: Optional[Path] = None  # "rgb depth [focal]" lines, relative to raw_root
    depth_scale: float = Field(default=1e-3, gt=0)  # PNG units -> metres


class TransferEmbedded(Section):
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


class TransferDataParams(Section):
    root: Path = Path("data/transfer")  # prepare renders the embedded sets here
    embedded: TransferEmbedded = TransferEmbedded()
    coco_keypoints: Optional[COCOKeypointSource] = None  # null: the embedded set
    mpii: Optional[MPIISource] = None
    nyu: Optional[NYUSource] = None


def pose_schedule(train: str, val: str) -> ScheduleParams:
    """The default schedule of a pose task."""
    # Simple Baselines: Adam 1e-3, 140 epochs, lr x0.1 at epochs 90 and 120, batch 32
    return ScheduleParams(phases=[PhaseParams(sets=train, epochs=90, aux_weight=0.0),
                                  PhaseParams(sets=train, epochs=30, aux_weight=0.0),
                                  PhaseParams(sets=train, epochs=20, aux_weight=0.0)],
                          val_set=val, batch_size=32, encoder_lr=1e-3, decoder_lr=1e-3, encoder_optim="adam",
                          decoder_optim="adam", weight_decay=0.0, lr_decay=0.1, eval=EvalParams(flip=True))


class PoseTaskParams(Section):
    """Simple Baselines (Xiao et al., 2018): person crops from ground-truth boxes, random scale /
    rotation / flip, Gaussian heatmaps at the model's output stride, MSE, flip test."""

    input: list[StrictInt] = Field(default=[192, 256], min_length=2, max_length=2)  # crop width, height
    sigma: float = Field(default=2.0, gt=0)  # heatmap pixels at stride 4 (kept in input pixels at other strides)
    scale_factor: float = Field(default=0.35, ge=0, lt=1)
    rotation_factor: float = Field(default=40.0, ge=0)
    rotation_prob: float = Field(default=0.6, ge=0, le=1)
    flip: StrictBool = True
    schedule: ScheduleParams


class DepthTaskParams(Section):
    """Depth regression with one output channel; reverse Huber (berHu) loss or log-L1 on valid pixels."""

    crop: list[StrictInt] = Field(default=[416, 544], min_length=2, max_length=2)  # height, width of training crops
    scale: list[float] = Field(default=[1.0, 1.5], min_length=2, max_length=2)
    flip: StrictBool = True
    loss: Literal["berhu", "log_l1"] = "berhu"
    min_depth: float = Field(default=1e-3, gt=0)
    max_depth: float = Field(default=10.0, gt=0)
    eval_crop: Literal["none", "eigen"] = "eigen"  # the standard NYU evaluation crop, or the whole frame
    schedule: ScheduleParams


class TransferParams(Section):
    """Sect. 4.5 / Tables 2 and 3: the trained architectures on pose estimation and depth prediction."""

    data: TransferDataParams = TransferDataParams()
    models: list[str] = ["found0", "found1", "found2", "refinenet_lw_mbv2"]  # found<k>: the `train` stage's
    tasks: list[Literal["mpii", "coco", "nyu"]] = ["mpii", "coco", "nyu"]
    mpii: PoseTaskParams = Field(default_factory=lambda: PoseTaskParams(
        input=[256, 256], scale_factor=0.25, schedule=pose_schedule("mpii_train", "mpii_valid")))
    coco: PoseTaskParams = Field(default_factory=lambda: PoseTaskParams(
        schedule=pose_schedule("coco_kp_train", "coco_kp_val")))
    nyu: DepthTaskParams = Field(default_factory=lambda: DepthTaskParams(schedule=ScheduleParams(
        phases=[PhaseParams(sets="nyu_train", epochs=20, aux_weight=0.0)], val_set="nyu_test", batch_size=8,
        encoder_lr=1e-3, decoder_lr=1e-3, encoder_optim="adam", decoder_optim="adam", lr_halving=False)))
    encoder: Literal["pretrain", "none"] = "pretrain"  # the encoder's start: the pretrain stage's weights
    seed: StrictInt = 0
    out: Path = Path("results/transfer")  # <task>/<model>/result.json, table2.md, table3.md, metrics.json
    models_out: Path = Path("models/transfer")  # <task>/<model>/model.pt (inference checkpoints)
    resume: Path = Path("models/transfer_resume")  # epoch checkpoints of unfinished runs
