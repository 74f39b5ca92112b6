"""`nasseg plan`: the cost of a run before it starts, stage by stage (docs/plan.md).

For the active params and a hardware spec (this machine, or a what-if: ``--device``,
``--gpus``, ``--nodes``, ``--gpu-tflops``) every ``dvc.yaml`` stage gets:

* its **work**, counted from the params with the stages' own arithmetic (the engine's
  :func:`~nasseg.training.engine.plan` for multi-phase schedules, the search's stage-1 batch
  count and stage-2 image limit, the fit loop's batching);
* its **time**: a few timed steps of the stage's real step function on this hardware
  (:func:`~nasseg.training.loop.run_epoch` with an :class:`~nasseg.training.loop.Updater`,
  the stage's model from :mod:`nasseg.models` / :mod:`nasseg.spaces`, its loss), probed at
  two small sizes and extrapolated linearly in (pixels x batch), ``t = a + b·(batch·pixels)``:
  the intercept is the per-step overhead, the slope the cost per pixel;
* its **disk** (the feature cache: samples x tap shapes x dtype; checkpoints: parameters x
  4 bytes, with the optimiser's states in resume files; data: an uncompressed upper bound)
  and its **peak memory** (parameters, gradients and optimiser states, plus the activations
  saved for backward, measured at the probe sizes and scaled with the same linear rule; on
  CUDA the allocator's peak);
* on a device that is not here (a what-if), time from the stage model's counted FLOPs
  (``FlopCounterMode``'s count, from forward hooks: :func:`nasseg.benchmark.counting_madds`)
  over an assumed throughput (``--gpu-tflops``, default derived from the paper's Table 1:
  arch0's 14.86 ms forward pass at 512x512 on a 1080Ti), a training step counted as 3
  forward passes.

:func:`compare` sets the plan beside what earlier runs recorded (the stages' metrics and
result files) where such records exist.

The package's modules: :mod:`.hardware` (devices, what-ifs, the assumed GPU TFLOP/s),
:mod:`.probe` (timed steps, the linear fits), :mod:`.work` (set sizes and source files from the
params), :mod:`.costs` (the feature cache's disk and memory), :mod:`.table` (a stage's row and its
units), :mod:`.base`, :mod:`.data_stages`, :mod:`.search_stages`, :mod:`.train_stages` (the stage
planners), :mod:`.planner` (:func:`make_plan`) and :mod:`.compare` (``--compare``).
"""
from __future__ import annotations

from .compare import compare, measured
from .hardware import DEFAULT_GPU_TFLOPS, Hardware, hardware
from .planner import Planner, dvc_stages, make_plan
from .probe import Linear, Probe, Prober
from .table import fmt_bytes, fmt_seconds
from .work import count_sets

__all__ = ["Hardware", "hardware", "make_plan", "compare", "measured", "dvc_stages", "count_sets", "Planner",
           "Prober", "Probe", "Linear", "DEFAULT_GPU_TFLOPS", "fmt_seconds", "fmt_bytes"]
