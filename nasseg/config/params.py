"""Typed, validated access to ``params.yaml``: the whole file, its loading and its fingerprints.

Each stage owns one section of ``params.yaml``; its schema lives in the module of that name
beside this one, so that a key of the wrong type fails at start-up with the dotted key name,
not deep inside a run.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigError
from .ablate import AblateParams
from .base import identity_dump
from .benchmark import BenchmarkParams
from .correlate import CorrelateParams
from .data import AugmentParams, DataParams
from .precompute import PrecomputeParams
from .recipes import PretrainParams, TeacherParams
from .report import ReportParams
from .runtime import RuntimeParams
from .search import SearchParams
from .train import TrainParams
from .transfer import TransferParams
from .tricks import TricksParams
from .wacv import WacvParams


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
    runtime: RuntimeParams = RuntimeParams()

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

    def search_augment(self, stage: int = 1) -> AugmentParams:
        """The search's training augmentation, apart from ``data.augment`` (the final
        training's): the cache's (``precompute.augment``, stage 1) and stage 2's, which is the
        same with ``search.stage2.crop`` as its crop when that is set (SPEC §5: 256 / 350)."""
        aug = self.precompute.augment
        crop = self.search.stage2.crop if stage == 2 else None
        return aug if crop is None else aug.model_copy(update={"crop": crop})


SYSTEMS = ("cells", "wacv")


def format_validation_error(err: ValidationError, source: str) -> str:
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
        raise ConfigError(format_validation_error(err, source)) from None


def apply_overrides(base: dict, over: dict) -> dict:
    """``base`` (raw params) with ``over`` merged in, mapping by mapping (a profile such as
    profiles/tiny.yaml); lists and values in ``over`` replace those of ``base``."""
    out = dict(base)
    for k, v in over.items():
        out[k] = apply_overrides(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def read_params_yaml(path: str | Path, what: str = "params file",
                     hint: str = " Run from the project root or pass --params PATH.") -> dict:
    """A params-like YAML file (params.yaml, a profile) as a dict, unvalidated; a missing file,
    bad YAML or a top level that is no mapping is one ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {what} not found.{hint}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}).") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}.")
    return raw or {}


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``; every problem is reported with its dotted key."""
    return parse_params(read_params_yaml(path), str(path))


def params_sha1(p: Params, *sections: str) -> str:
    """A fingerprint of the named sections of the params (run identities, architecture cards)."""
    blob = json.dumps({s: identity_dump(getattr(p, s)) for s in sections}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()
