"""What every stage planner shares: the random stand-in architectures, their probes, and the
work and time of multi-phase schedules (the engine's own ``plan()``)."""
from __future__ import annotations

import numpy as np

from ..config import Params, ScheduleParams
from .hardware import TRAIN_PASSES, Hardware
from .inputs import InputProber, input_step_seconds
from .probe import Probe, Prober
from .table import SCALING, WHATIF, StagePlan
from .work import count_sets

STANDIN_SAMPLE = 16  # random architectures whose MAdds are counted to pick the stand-ins from


class PlannerBase:
    def __init__(self, p: Params, hw: Hardware, prober: Prober, params_path: str = "params.yaml",
                 archs: int = 1, seed: int = 0):
        self.p, self.hw, self.prober, self.params_path = p, hw, prober, params_path
        self.sets = count_sets(p)
        self.seed = seed
        self.n_archs = archs
        self._genotypes: dict[str, list] = {}
        self.standins: dict[str, str] = {}  # how each space's stand-ins were picked (for the assumptions)
        self.inputs = InputProber(p, self.sets.full, seed)

    # ----------------------------------------------------------------- helpers
    @property
    def scaling(self) -> str:
        s0, s1 = self.prober.sides
        if self.prober.timing:
            return SCALING.format(b=self.prober.batch, s0=s0, s1=s1)
        return WHATIF.format(k=TRAIN_PASSES, tf=self.hw.gpu_tflops, s0=s0)

    def genotypes(self, space_name: str) -> list:
        """``archs`` stand-ins for the searched architectures: from STANDIN_SAMPLE random architectures
        of the space (seeded), those nearest evenly spaced quantiles of their counted MAdds (one: the
        nearest the sample's mean). Step time grows with MAdds and a stage-1 step varies ~10x across
        the space, so a lone random draw can be far from the average trial."""
        if space_name not in self._genotypes:
            import torch

            from ..benchmark import counting_madds
            from ..models.encoder import MobileNetV2Encoder
            from ..spaces import get_space

            space = get_space(space_name)
            rng = np.random.default_rng(self.seed)
            sample = [space.sample(rng) for _ in range(max(STANDIN_SAMPLE, self.n_archs))]
            s = self.p.search if space_name == self.p.search.search_space else self.p.wacv.search
            with torch.no_grad():  # the decoders' MAdds on one set of taps (the encoder is the same for all)
                taps = MobileNetV2Encoder(taps=space.encoder_taps).eval()(torch.zeros(1, 3, 64, 64))
                madds = []
                for g in sample:
                    dec = space.build_decoder(g, num_classes=self.p.data.num_classes, width=s.width,
                                              repeats=s.repeats).eval()
                    with counting_madds(dec) as total:
                        dec(list(taps))
                    madds.append(float(total[0]))
            madds = np.array(madds, dtype=float)
            if self.n_archs == 1:
                picks = [int(np.argmin(np.abs(madds - madds.mean())))]
            else:
                order = np.argsort(madds)
                picks = [int(order[min(len(order) - 1, int((i + 0.5) * len(order) / self.n_archs))])
                         for i in range(self.n_archs)]
            self._genotypes[space_name] = [sample[i] for i in picks]
            self.standins[space_name] = (f"{self.n_archs} of {len(sample)} random {space_name} architectures, picked "
                                         f"by counted MAdds (theirs {madds[picks].mean() / madds.mean():.2f}x the "
                                         "sample's mean)")
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

    # ----------------------------------------------------------------- runtime.procs
    @property
    def procs(self) -> int:
        """Processes the stages with independent runs use here (``runtime.procs`` on a CPU; 1 on GPUs)."""
        from ..parallel import usable_procs

        return usable_procs(self.p.runtime.procs, "cpu" if self.hw.device == "cpu" else "cuda") \
            if self.hw.world == 1 else 1

    def procs_factor(self, probes: list[Probe], kind: str) -> float:
        """How much slower one step is on ``cores // procs`` threads than on all cores: timed on the
        first stand-in (3 steps each way, the faster kept). 1 when the runs go in turn."""
        if self.procs <= 1 or not self.prober.timing:
            return 1.0
        return self.prober.thread_factor(probes[0].key, kind, self.procs)

    def side_by_side(self, st: StagePlan, jobs: list[float], factor: float, what: str, unscaled: float = 0.0) -> None:
        """``st.train_seconds`` = the jobs' summed seconds at ``factor`` (what the records hold: each
        job's own training time); ``st.seconds`` = their makespan over ``procs`` processes, at least
        the longest job (the first process to free takes the next job); ``unscaled``: seconds each job
        adds that fewer threads do not slow (its input pipeline)."""
        from ..parallel import threads_per_proc

        procs = self.procs
        timed = [j * factor + unscaled for j in jobs]
        st.train_seconds = float(sum(timed))
        st.seconds = max(st.train_seconds / procs, max(timed, default=0.0)) if procs > 1 else st.train_seconds
        if procs > 1:
            st.parallel = (f"{what} side by side in {procs} processes (runtime.procs) of "
                           f"{threads_per_proc(procs)} thread(s): each step x{factor:.2f} the time on "
                           "all cores (timed)")

    def mean_step(self, probes: list[Probe], batch: float, pixels: float, train: bool = True) -> float:
        return float(np.mean([pr.step_seconds(self.hw, batch, pixels, train) for pr in probes]))

    def mean_peak(self, probes: list[Probe], batch: float, pixels: float) -> float:
        return float(max(pr.peak_bytes(batch, pixels) for pr in probes))

    # ----------------------------------------------------------------- the schedule stages
    def schedule_epochs(self, s: ScheduleParams) -> list[tuple[str, int, int]]:
        """(sets, batches, images) of each epoch of one run of a multi-phase schedule, as the engine's plan."""
        from ..training.engine import plan

        acc = self.p.runtime.accumulate
        out = []
        for ep in plan(s):
            n = self.sets.n(ep.sets)
            k = (min(ep.images, n) if ep.images else n) // (s.batch_size * acc)
            out.append((ep.sets, k, k * s.batch_size * acc))
        return out

    def schedule_work(self, s: ScheduleParams) -> tuple[int, int]:
        """(batches, images) of one run of a multi-phase schedule."""
        epochs = self.schedule_epochs(s)
        return sum(k for _, k, _ in epochs), sum(i for _, _, i in epochs)

    def schedule_runs(self, st: StagePlan, *, runs: int, s: ScheduleParams, probes: list[Probe], crop_px: float,
                      val_images: int, val_px: float, ddp: bool = True, sharded: bool = True,
                      inputs: bool = True) -> None:
        """Fill ``st`` for ``runs`` trainings of schedule ``s`` on models ``probes`` (their mean);
        ``inputs``: the schedule's sets are segmentation sets whose input pipeline is timed."""
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
        st.input_seconds = runs * (self.schedule_input(st, s, per_rank, step / acc,
                                                       self.hw.gpus if ddp and self.hw.device == "cuda" else 1)
                                   if inputs else 0.0)
        st.train_seconds = runs * steps * step + st.input_seconds
        st.seconds = st.train_seconds + runs * evals
        st.counts.update(runs=runs, steps_per_run=steps, images_per_run=images, batch_size=s.batch_size,
                         epochs_per_run=sum(ph.epochs for ph in s.phases), val_images_per_run=val_images)
        st.peak_bytes = self.mean_peak(probes, per_rank, crop_px)
        st.parallel = (f"DDP over {world} ranks: each takes batch {per_rank:g}; all-reduce time not modelled"
                       if ddp and world > 1 else "one process" + (" (runs under torchrun: --gpus N)" if ddp else ""))

    def input_seconds(self, st: StagePlan, sets: str, images: float, per_rank: float, step: float,
                      local_world: int = 1) -> float:
        """Seconds the input pipeline adds to ``images`` training images of ``sets`` loaded
        ``per_rank`` per step of ``step`` compute seconds (notes how it was timed); ``local_world``
        processes per node share its cores (DDP)."""
        per, how = self.inputs.per_image(sets)
        note = f"input pipeline: {per * 1e3:.1f} ms per image, timed on {how}"
        if note not in st.notes:
            st.notes.append(note)
        return images / max(per_rank, 1e-9) * input_step_seconds(self.hw, self.p.runtime.workers, per, per_rank, step,
                                                                 local_world)

    def schedule_input(self, st: StagePlan, s: ScheduleParams, per_rank: float, step: float,
                       local_world: int = 1) -> float:
        """One run's input seconds, epoch by epoch (:meth:`schedule_epochs`)."""
        world = max(1, self.hw.world)
        return sum(self.input_seconds(st, sets, images / world, per_rank, step, local_world)
                   for sets, _, images in self.schedule_epochs(s))

    def cpu_forward(self, probes: list[Probe], pixels: float) -> float:
        if self.hw.device == "cpu":
            return self.mean_step(probes, 1, pixels, train=False)
        cpu = Hardware("cpu", True)
        if probes[0].forward is None:
            return 0.0  # a what-if without a CPU probe: latency runs not timed
        return float(np.mean([q.step_seconds(cpu, 1, pixels, False) for q in probes]))


__all__ = ["PlannerBase"]
