"""Typed, validated access to ``params.yaml``: one module per section, one schema per knob.

The library takes these sections as they are (``run_stage1(..., search: SearchParams)``,
``fit(..., recipe: TrainRecipe)``, ``train_schedule(..., schedule: ScheduleParams)``); every
value the pipeline uses is a key of ``params.yaml`` (tests/test_config.py checks the file
sets them all).
"""
from ..errors import ConfigError
from .ablate import AblateParams
from .base import Section, check_sets, identity_dump
from .benchmark import BenchmarkParams, WacvBenchParams
from .correlate import CorrelateParams
from .data import AugmentParams, CocoSource, DataParams, EmbeddedParams, EmbeddedSizes, SourcesParams, SplitParams
from .params import SYSTEMS, Params, apply_overrides, format_validation_error, load_params, params_sha1, parse_params
from .precompute import PrecomputeParams
from .recipes import PretrainParams, TeacherParams, TrainRecipe
from .report import QualitativeParams, ReportParams
from .runtime import RuntimeParams
from .schedule import EvalParams, LatencyParams, PhaseParams, ScheduleParams
from .search import (HardwareParams, PPOParams, RayParams, SearchParams, Stage1Params, Stage2Params,
                     TerminationParams)
from .train import TrainParams
from .transfer import (COCOKeypointSource, DepthTaskParams, MPIISource, NYUSource, PoseTaskParams, TransferDataParams,
                       TransferEmbedded, TransferParams)
from .tricks import TricksParams
from .wacv import (STREET_CLASSES, CamVidSizes, StreetEmbedded, StreetSources, WacvDataParams, WacvParams,
                   WacvPrecomputeParams, WacvTrainParams)

__all__ = [
    "ConfigError", "Section", "check_sets", "identity_dump", "SYSTEMS", "Params", "apply_overrides", "format_validation_error",
    "load_params", "params_sha1", "parse_params",
    "DataParams", "EmbeddedParams", "EmbeddedSizes", "SourcesParams", "CocoSource", "SplitParams", "AugmentParams",
    "BenchmarkParams", "WacvBenchParams", "TrainRecipe", "PretrainParams", "TeacherParams", "PrecomputeParams",
    "SearchParams", "Stage1Params", "Stage2Params", "TerminationParams", "PPOParams", "RayParams", "HardwareParams",
    "TricksParams", "PhaseParams", "EvalParams", "ScheduleParams", "LatencyParams", "AblateParams", "CorrelateParams",
    "TrainParams", "TransferParams", "TransferDataParams", "TransferEmbedded", "COCOKeypointSource", "MPIISource",
    "NYUSource", "PoseTaskParams", "DepthTaskParams", "ReportParams", "QualitativeParams", "RuntimeParams", "WacvParams",
    "WacvDataParams", "WacvPrecomputeParams", "WacvTrainParams", "StreetEmbedded", "StreetSources", "CamVidSizes",
    "STREET_CLASSES",
]
