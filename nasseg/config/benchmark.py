"""``benchmark``: Table 1's columns (params, MAdds, output size, latency) for the zoo's models."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field, StrictInt, field_validator

from .base import Section


class WacvBenchParams(Section):
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


class BenchmarkParams(Section):
    # model names are checked against the zoo by the benchmark stage (nasseg.benchmark.check_models):
    # the config imports no model code, so that every stage's import closure stays its own.
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
