"""``runtime``: where and how the computing stages run (device, precision, input workers).

Shared by every computing stage. ``device`` and ``workers`` do not change results (beyond
float noise between devices), so no stage lists them as a DVC param; ``precision`` and
``accumulate`` do, and the stages that train list them.
"""
from __future__ import annotations

import re
from typing import Literal, Optional

from pydantic import Field, StrictBool, StrictInt, field_validator

from .base import Section


class RuntimeParams(Section):
    device: str = "auto"  # auto (CUDA when present, else CPU) | cpu | cuda | cuda:N
    precision: Literal["fp32", "fp16", "bf16"] = "fp32"  # autocast dtype; fp16 adds a GradScaler (CUDA; CPU too, slowly)
    workers: Optional[StrictInt] = Field(default=None, ge=0)  # DataLoader workers; null: runtime.default_workers()
    channels_last: StrictBool = False  # NHWC memory format for convolutions
    cudnn_benchmark: StrictBool = True  # let cuDNN pick the fastest kernels for fixed training shapes
    accumulate: StrictInt = Field(default=1, ge=1)  # batches per optimiser step (the paper's batch on a small card)
    procs: StrictInt = Field(default=1, ge=1)  # CPU: independent runs side by side in this many processes (nasseg.parallel)

    @field_validator("device")
    @classmethod
    def _device_form(cls, v):
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", v):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {v!r}")
        return v
