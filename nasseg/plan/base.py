"""What every stage planner shares: the random stand-in architectures, their probes, and the
work and time of multi-phase schedules (the engine's own ``plan()``)."""
from __future__ import annotations

import numpy as np

from ..config import Params, ScheduleParams
from .hardware import TRAIN_PASSES, Hardware
from .probe import Probe, Prober
from .table import SCALING, WHATIF, StagePlan
from .work import count_sets


class PlannerBase:
    def __init__(self, p: Params, hw: Hardware, prober: Prober, params_path: str = "params.yaml",
                 archs: int = 1, seed: int = 0):
        self.p, self.hw, self.prober, self.params_path = p, hw, prober, params_path
        self.sets = count_sets(p)
        self.seed = seed
        self.n_archs = archs
        self._genotypes: dict[str, list] = {}

    # ----------------------------------------------------------------- helpers
    @property
    def scaling(self) -> str:
        s0, s1 = self.prober.sides
        if self.prober.timing:
            return SCALING.format(b=self.prober.batch, s0=s0, s1=s1)
        return WHATIF.format(k=TRAIN_PASSES, tf=self.hw.gpu_tflops, s0=s0)

    def genotypes(self, space_name: str) -> list:
        """``archs`` random architectures of the space (seeded): the stand-ins for the searched ones."""
        if space_name not in self._genotypes:
            from ..spaces import get_space

            space = get_space(space_name)
            rng = np.random.default_rng(self.seed)
            self._genotypes[space_name] = [space.sample(rng) for _ in range(self.n_archs)]
        return self._genotypes[space_name]

    def arch_probes(self, space_name: str, *, width: int, repeats: int, aux: str, num_classes: int,
                    kind: str = "segment", optim: str = "adam") -> list[Probe]:
        from ..models import build_model

        out = []
        for i, g in enumerate(self.genotypes(space_name)):
            key = f"{space_name}{i}-w{width}r{repeats}-{aux}-{kind}-{num_classes}"
            out.append(self.prober.get(key, f"random {space_name} architecture {i} (width {width}, repeats {repeats}, "
                                       f"aux {aux})",
                                       lambda g=g: build_model(g, num_classes=num_classes, width=width,
                                                               repeats=repeats, aux=aux),
                                       kind, num_classes=num_classes, optim=optim))
        return out

    def mean_step(self, probes: list[Probe], batch: float, pixels: float, train: bool = True) -> float:
        return float(np.mean([pr.step_seconds(self.hw, batch, pixels, train) for pr in probes]))

    def mean_peak(self, probes: list[Probe], batch: float, pixels: float) -> float:
        return float(max(pr.peak_bytes(batch, pixels) for pr in probes))

    # ----------------------------------------------------------------- the schedule stages
    def schedule_work(self, s: ScheduleParams) -> tuple[int, int]:
        """(batches, images) of one run of a multi-phase schedule, epoch by epoch as the engine's plan."""
        from ..training.engine import plan

        sets_n = self.sets.n
        acc = self.p.runtime.accumulate
        steps, images = 0, 0
        for ep in plan(s):
            n = sets_n(ep.sets)
            order = min(ep.images, n) if ep.images else n
            k = order // (s.batch_size * acc)
            steps += k
            images += k * s.batch_size * acc
        return steps, images

    def schedule_runs(self, st: StagePlan, *, runs: int, s: ScheduleParams, probes: list[Probe], crop_px: float,
                      val_images: int, val_px: float, ddp: bool = True, sharded: bool = True) -> None:
        """Fill ``st`` for ``runs`` trainings of schedule ``s`` on models ``probes`` (their mean)."""
        steps, images = self.schedule_work(s)
        world = self.hw.world if ddp else 1
        acc = self.p.runtime.accumulate
        per_rank = s.batch_size / world
        if ddp and world > 1 and s.batch_size % world:
            st.notes.append(f"batch_size {s.batch_size} does not split over {world} processes: the engine refuses "
                            f"it; pick a multiple of {world}")
        step = self.mean_step(probes, per_rank, crop_px) * acc
        passes = (2 if s.eval.flip else 1) * len(s.eval.scales)
        evals = val_images / (world if sharded else 1) * passes * self.mean_step(probes, 1, val_px, train=False)
        st.train_seconds = runs * steps * step
        st.seconds = st.train_seconds + runs * evals
        st.counts.update(runs=runs, steps_per_run=steps, images_per_run=images, batch_size=s.batch_size,
                         epochs_per_run=sum(ph.epochs for ph in s.phases), val_images_per_run=val_images)
        st.peak_bytes = self.mean_peak(probes, per_rank, crop_px)
        st.parallel = (f"DDP over {world} ranks: each takes batch {per_rank:g}; all-reduce time not modelled"
                       if ddp and world > 1 else "one process" + (" (runs under torchrun: --gpus N)" if ddp else ""))

    def cpu_forward(self, probes: list[Probe], pixels: float) -> float:
        if self.hw.device == "cpu":
            return self.mean_step(probes, 1, pixels, train=False)
        cpu = Hardware("cpu", True)
        if probes[0].forward is None:
            return 0.0  # a what-if without a CPU probe: latency runs not timed
        return float(np.mean([q.step_seconds(cpu, 1, pixels, False) for q in probes]))


__all__ = ["PlannerBase"]
