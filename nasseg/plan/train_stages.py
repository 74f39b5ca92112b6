"""The planners of the training stages: ablate, correlate, train, transfer and train_wacv."""
from __future__ import annotations

import numpy as np

from .base import PlannerBase
from .table import StagePlan


class TrainStages(PlannerBase):
    def ablate(self, st: StagePlan) -> None:
        a = self.p.ablate
        nc = self.p.data.num_classes
        probes = [q for v in a.variants for q in self.arch_probes("cells", width=a.width, repeats=a.repeats, aux=v,
                                                                   num_classes=nc, optim=a.schedule.encoder_optim)]
        crop = self.p.data.augment.crop
        runs = a.archs * len(a.variants)
        self.schedule_runs(st, runs=runs, s=a.schedule, probes=probes, crop_px=crop ** 2,
                           val_images=self.sets.n(a.schedule.val_set), val_px=self.sets.pixels("voc"))
        st.work = (f"{a.archs} architectures x {len(a.variants)} variants ({', '.join(a.variants)}) x "
                   f"{st.counts['steps_per_run']} steps of {a.schedule.batch_size} at {crop}²")
        st.probed = (f"the engine's step (run_epoch + Updater, CE + aux) of {self.n_archs} random cell architectures "
                     f"per variant (mean), width {a.width}, repeats {a.repeats}")
        self.runs_side_by_side(st, probes, runs)
        st.disk_bytes = float(np.mean([q.params for q in probes])) * 12
        st.disk = ("one last.pt at a time (weights + at most two optimiser states, 12 B per parameter), deleted "
                   "when a run ends; result.json per run")

    def correlate(self, st: StagePlan) -> None:
        a, c = self.p.ablate, self.p.correlate
        probes = self.arch_probes("cells", width=a.width, repeats=a.repeats, aux="cell",
                                  num_classes=self.p.data.num_classes, optim=a.schedule.encoder_optim)
        crop = self.p.data.augment.crop
        runs = 3 * c.per_bucket
        self.schedule_runs(st, runs=runs, s=a.schedule, probes=probes, crop_px=crop ** 2,
                           val_images=self.sets.n(a.schedule.val_set), val_px=self.sets.pixels("voc"))
        st.work = (f"up to 3 buckets x {c.per_bucket} architectures (aux cell) x {st.counts['steps_per_run']} steps "
                   f"of {a.schedule.batch_size} at {crop}² (a short bucket trains fewer)")
        st.probed = f"the engine's step of {self.n_archs} random cell architectures (aux cell), as ablate"
        self.runs_side_by_side(st, probes, runs)
        st.disk_bytes = float(np.mean([q.params for q in probes])) * 12
        st.disk = "one last.pt at a time (12 B per parameter), deleted when a run ends"

    def runs_side_by_side(self, st: StagePlan, probes, runs: int, kind: str = "segment", alone: float = 0.0) -> None:
        """The stages whose runs go side by side on a CPU with runtime.procs > 1 (ablate, correlate,
        train, transfer, train_wacv): each run's training and scoring in its own process, its
        training seconds (what result.json records) x the thread factor; ``alone``: seconds the
        main process spends after them by itself (train's latency runs)."""
        if self.procs <= 1 or runs <= 1:
            return
        f = self.procs_factor(probes, kind)
        other = st.seconds - st.train_seconds - alone  # the runs' scoring, in their processes
        per = (st.train_seconds - st.input_seconds) / runs  # the steps slow on fewer threads, not the input
        self.side_by_side(st, [per] * runs, f, f"{runs} runs", unscaled=st.input_seconds / runs)
        st.seconds += other * f / self.procs + alone

    def train(self, st: StagePlan) -> None:
        t = self.p.train
        probes = self.arch_probes("cells", width=t.width, repeats=t.repeats, aux="cell",
                                  num_classes=self.p.data.num_classes, optim=t.schedule.encoder_optim)
        crop = self.p.data.augment.crop
        self.schedule_runs(st, runs=t.archs, s=t.schedule, probes=probes, crop_px=crop ** 2,
                           val_images=self.sets.n(t.schedule.val_set), val_px=self.sets.pixels("voc"))
        lat = t.archs * (t.latency.runs + t.latency.warmup) * self.cpu_forward(probes, t.latency.size ** 2)
        for name in t.baselines:  # Table 1's hand-designed models, the same schedule (each probed itself)
            base = [self._baseline_probe(name, t)]
            sub = StagePlan(name)
            self.schedule_runs(sub, runs=1, s=t.schedule, probes=base, crop_px=crop ** 2,
                               val_images=self.sets.n(t.schedule.val_set), val_px=self.sets.pixels("voc"))
            st.train_seconds += sub.train_seconds
            st.input_seconds += sub.input_seconds
            st.seconds += sub.seconds
            st.peak_bytes = max(st.peak_bytes or 0.0, sub.peak_bytes or 0.0)
            lat += (t.latency.runs + t.latency.warmup) * self.cpu_forward(base, t.latency.size ** 2)
        runs = t.archs + len(t.baselines)
        st.counts["runs"] = runs
        st.seconds += lat
        st.counts["latency_forwards"] = runs * (t.latency.runs + t.latency.warmup)
        self.runs_side_by_side(st, probes, runs, alone=lat)
        st.work = (f"{t.archs} architectures" + (f" + {len(t.baselines)} baselines ({', '.join(t.baselines)})"
                                                  if t.baselines else "")
                   + f" x {st.counts['steps_per_run']} steps of {t.schedule.batch_size} at "
                   f"{crop}²; CPU latency {t.latency.runs} runs at {t.latency.size}²")
        st.probed = f"the engine's step of {self.n_archs} random cell architectures (width {t.width}, repeats " \
                    f"{t.repeats}, aux cell); their forward for scoring and latency"
        params = float(np.mean([q.params for q in probes]))
        st.disk_bytes = t.archs * params * 4 + params * 12
        st.disk = "model.pt per architecture (params x 4 B) + one resume checkpoint"

    def _baseline_probe(self, name: str, t):
        """A Table 1 baseline as `nasseg train` builds it: a published genotype at the final width
        with the aux cell, or a zoo model (no aux heads, its own decoder width)."""
        from ..models import build_model
        from ..models.zoo import PUBLISHED

        nc = self.p.data.num_classes
        aux = "cell" if name in PUBLISHED else "none"
        return self.prober.get(f"{name}-{nc}-w{t.width}r{t.repeats}-{aux}", f"{name} (baseline, aux {aux})",
                               lambda: build_model(name, num_classes=nc, width=t.width, repeats=t.repeats, aux=aux),
                               "segment", num_classes=nc, optim=t.schedule.encoder_optim)

    def transfer(self, st: StagePlan) -> None:
        from ..models import build_model

        tr = self.p.transfer
        total, train_total, steps_all, peak, params_total = 0.0, 0.0, 0, 0.0, 0.0
        for task in tr.tasks:
            tp = getattr(tr, task)
            k = 17  # probed with 17 output channels for every task (MPII 16, COCO 17, NYU 1: the last 1x1 conv)
            if task == "nyu":
                h, w = tp.crop
                val_px = self.sets.pixels("nyu")
            else:
                w, h = tp.input
                val_px = w * h
            for name in tr.models:
                if name.startswith("found"):
                    probes = self.arch_probes("cells", width=self.p.train.width, repeats=self.p.train.repeats,
                                              aux="none", num_classes=k, kind="pixels", optim=tp.schedule.encoder_optim)
                else:
                    probes = [self.prober.get(f"{name}-{k}-pixels", f"{name} ({k} outputs)",
                                              lambda name=name, k=k: build_model(name, num_classes=k,
                                                                                 width=self.p.train.width,
                                                                                 repeats=self.p.train.repeats),
                                              "pixels", num_classes=k, optim=tp.schedule.encoder_optim)]
                sub = StagePlan(task)
                self.schedule_runs(sub, runs=1, s=tp.schedule, probes=probes, crop_px=h * w,
                                   val_images=self.sets.n(tp.schedule.val_set), val_px=val_px, sharded=False,
                                   inputs=False)  # keypoint and depth sets: their loaders are not timed
                params_total += float(np.mean([q.params for q in probes]))
                total += sub.seconds
                train_total += sub.train_seconds
                steps_all += sub.counts["steps_per_run"]
                peak = max(peak, sub.peak_bytes)
                st.parallel = sub.parallel
                st.notes.extend(n for n in sub.notes if n not in st.notes)
        st.seconds, st.train_seconds, st.peak_bytes = total, train_total, peak
        runs = len(tr.tasks) * len(tr.models)
        self.runs_side_by_side(st, probes, runs, kind="pixels")
        st.counts.update(runs=runs, steps=steps_all, tasks=list(tr.tasks), models=list(tr.models))
        st.work = f"{len(tr.tasks)} tasks x {len(tr.models)} models = {runs} runs, {steps_all} steps in all"
        st.probed = ("the engine's step of each model with the task's output channels at the task's crop; a "
                     "squared-error pixel loss stands in for the heatmap / depth loss (a negligible share)")
        st.disk_bytes = params_total * 4
        st.disk = "model.pt per (task, model) (params x 4 B)"

    def train_wacv(self, st: StagePlan) -> None:
        from ..models import build_model

        t = self.p.wacv.train
        crop = self.p.wacv.data.augment.crop
        total, train_total, peak, runs, steps, params_total, lat_all = 0.0, 0.0, 0.0, 0, 0, 0.0, 0.0
        for ds in t.datasets:
            s = getattr(t, ds)
            nc = 19  # probed at Cityscapes' 19 classes for both datasets (CamVid's 11: the last 1x1 conv)
            searched = self.arch_probes("templates", width=t.width, repeats=t.repeats, aux="none", num_classes=nc,
                                        optim=s.encoder_optim)[:t.archs]
            published = [self.prober.get(f"{n}-{nc}-w{t.width}r{t.repeats}", f"{n} ({nc} classes)",
                                         lambda n=n, nc=nc: build_model(n, num_classes=nc, width=t.width,
                                                                        repeats=t.repeats),
                                         "segment", num_classes=nc, optim=s.encoder_optim) for n in t.published]
            n_models = t.archs + len(t.published)
            sub = StagePlan(ds)
            self.schedule_runs(sub, runs=n_models, s=s, probes=searched + published, crop_px=crop ** 2,
                               val_images=self.sets.n(s.val_set), val_px=self.sets.pixels(ds),
                               inputs=False)  # street sets: their loader is not timed
            lat = n_models * (t.latency.runs + t.latency.warmup) * self.cpu_forward(searched + published,
                                                                                   t.latency.size ** 2)
            total += sub.seconds + lat
            lat_all += lat
            train_total += sub.train_seconds
            peak = max(peak, sub.peak_bytes)
            runs += n_models
            params_total += n_models * float(np.mean([q.params for q in searched + published]))
            steps += n_models * sub.counts["steps_per_run"]
            st.parallel = sub.parallel
            st.notes.extend(n for n in sub.notes if n not in st.notes)
        st.seconds, st.train_seconds, st.peak_bytes = total, train_total, peak
        self.runs_side_by_side(st, searched + published, runs, alone=lat_all)
        st.counts.update(runs=runs, steps=steps, datasets=list(t.datasets))
        st.work = (f"{len(t.datasets)} datasets x ({t.archs} searched + {len(t.published)} published) = {runs} runs, "
                   f"{steps} steps at {crop}²")
        st.probed = (f"the engine's step of {min(t.archs, self.n_archs)} random template architectures and the "
                     f"published ones ({', '.join(t.published)})")
        st.disk_bytes = params_total * 4
        st.disk = "model.pt per run (params x 4 B)"


__all__ = ["TrainStages"]
