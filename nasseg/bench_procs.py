"""What ``runtime.procs`` buys on this machine (``nasseg bench-procs``): the same training jobs in
turn in one process on all cores, then side by side in P processes of cores/P threads
(:func:`nasseg.parallel.side_by_side`), measured in one run.

Two kinds of job, as the stages that use ``runtime.procs`` train them: a search decoder on
cached-feature-shaped inputs (stage 1: the searches, tricks) and a whole model, encoder and
decoder (stage 2, ablate, correlate). Each job is ``steps`` optimiser steps of a seeded random
cell architecture at batch 16 and 96² (the embedded default's crop), on synthetic tensors: the
benchmark needs no data and no earlier stage.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Optional

KINDS = ("decoder", "model")


def _job(_i: int, kind: str, seed: int, steps: int, side: int, batch: int) -> float:
    """Seconds of ``steps`` training steps of random architecture ``seed`` (after one warm-up step)."""
    import numpy as np
    import torch

    from .models import build_model
    from .models.encoder import MobileNetV2Encoder
    from .spaces import get_space
    from .training.losses import segmentation_loss, stage1_loss

    space = get_space("cells")
    g = space.sample(np.random.default_rng(seed))
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 21, (batch, side, side), generator=gen)
    if kind == "decoder":
        model = space.build_decoder(g, num_classes=21, width=48, repeats=1, aux="cell")
        with torch.no_grad():
            shapes = [t.shape[1:] for t in MobileNetV2Encoder().eval()(torch.zeros(1, 3, side, side))]
        x = [torch.randn((batch, *s), generator=gen) for s in shapes]
        lab = labels[:, ::4, ::4].contiguous()

        def loss():
            logits, aux = model(x, return_aux=True)
            return stage1_loss(logits, aux, lab, None, 0.0, 0.15)
    else:
        model = build_model(g, num_classes=21, width=48, repeats=1, aux="cell")
        image = torch.randn((batch, 3, side, side), generator=gen)

        def loss():
            logits, aux = model(image, return_aux=True)
            return segmentation_loss(logits, labels, aux, 0.15)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = 0.0
    for k in range(steps + 1):
        if k == 1:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()
    return time.perf_counter() - t0


def bench_procs(procs: int = 2, jobs: int = 4, steps: int = 10, side: int = 96, batch: int = 16,
                kinds=KINDS, log: Callable[[str], None] = print, seed: int = 0) -> dict:
    """Per kind: wall seconds of ``jobs`` jobs in turn here (all cores) and side by side in
    ``procs`` processes, their ratio, and each way's seconds per job."""
    from .parallel import side_by_side, threads_per_proc

    import torch

    out: dict = {"procs": procs, "jobs": jobs, "steps": steps, "side": side, "batch": batch,
                 "cpu_count": os.cpu_count(), "threads_alone": torch.get_num_threads(),
                 "threads_side_by_side": threads_per_proc(procs), "kinds": {}}
    for kind in kinds:
        args = [(kind, seed + j, steps, side, batch) for j in range(jobs)]
        t0 = time.perf_counter()
        alone = side_by_side(_job, args, 1)
        t_alone = time.perf_counter() - t0
        log(f"{kind}: {jobs} jobs in turn, {torch.get_num_threads()} threads: {t_alone:.1f} s")
        t0 = time.perf_counter()
        both = side_by_side(_job, args, procs)
        t_side = time.perf_counter() - t0
        log(f"{kind}: {jobs} jobs side by side in {procs} processes: {t_side:.1f} s (with process start)")
        out["kinds"][kind] = {"in_turn_s": round(t_alone, 2), "side_by_side_s": round(t_side, 2),
                              "speedup": round(t_alone / t_side, 3),
                              "job_s_in_turn": [round(x, 2) for x in alone],
                              "job_s_side_by_side": [round(x, 2) for x in both],
                              "step_slowdown": round(sum(both) / sum(alone), 3),
                              # the speed-up once the processes are started (a stage's jobs run minutes)
                              "speedup_steady": round(procs * sum(alone) / sum(both), 3)}
    return out


def summary_rows(r: dict) -> list[list]:
    return [[k, f"{v['in_turn_s']:.1f}", f"{v['side_by_side_s']:.1f}", f"×{v['speedup']:.2f}",
             f"×{v['step_slowdown']:.2f}", f"×{v['speedup_steady']:.2f}"] for k, v in r["kinds"].items()]


def check(procs: int, jobs: int, steps: int, kinds: Optional[list]) -> None:
    from .errors import ConfigError

    if procs < 2 or jobs < 1 or steps < 1:
        raise ConfigError("--procs must be at least 2, --jobs and --steps at least 1")
    bad = [k for k in (kinds or []) if k not in KINDS]
    if bad:
        raise ConfigError(f"--kinds: unknown {bad}; choose from {', '.join(KINDS)}")


__all__ = ["KINDS", "bench_procs", "check", "summary_rows"]
