"""``data``: the segmentation sets ``prepare`` writes (embedded synthetic ones, or real ones
on disk), their meta-train / meta-val split and the training augmentation."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from .base import Section


class EmbeddedSizes(Section):
    """How many images each embedded (synthetic) set holds, per split."""

    train: StrictInt = Field(ge=0)
    val: StrictInt = Field(default=0, ge=0)


class EmbeddedParams(Section):
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


class CocoSource(Section):
    root: Path  # folder holding the images (e.g. .../train2017)
    annotations: Path  # instances_*.json


class SourcesParams(Section):
    """Real datasets on disk. ``null`` means: use the embedded synthetic set instead."""

    voc: Optional[Path] = None  # folder that holds JPEGImages/ (VOCdevkit/VOC2012)
    sbd: Optional[Path] = None  # folder that holds cls/ and img/ (benchmark_RELEASE/dataset)
    coco: Optional[CocoSource] = None


class SplitParams(Section):
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    seed: StrictInt = 0


class AugmentParams(Section):
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


class DataParams(Section):
    root: Path = Path("data")
    num_classes: StrictInt = Field(default=21, ge=2)
    # where prepare writes the decoded masks (SBD .mat, COCO polygons/RLE -> PNG), index.json (what
    # every loop opens) and manifest.json (the real source files it read); null: <root>/prepared
    prepared: Optional[Path] = None
    # how the manifest fingerprints each real source file: "stat" (size + mtime, a stat call per file)
    # or "sha1" (the content: reads every byte, each time the scan runs)
    fingerprint: Literal["stat", "sha1"] = "stat"
    embedded: EmbeddedParams = EmbeddedParams()
    sources: SourcesParams = SourcesParams()
    split: SplitParams = SplitParams()
    augment: AugmentParams = AugmentParams()
