"""The planners of the search stages: search (PPO, random), search_wacv and tricks."""
from __future__ import annotations

import math

from ..config import Params
from .base import PlannerBase
from .costs import cache_bytes, controller_params
from .probe import Probe
from .table import StagePlan, fmt_bytes
from .work import STAGE2_ABOVE_MEAN


# the strategies of dvc.yaml's search stage (one command runs them, side by side with runtime.procs)
SEARCH_STRATEGIES = ("ppo", "random")


class SearchStages(PlannerBase):
    def searches(self, st: StagePlan, p: Params, strategies, wacv: bool = False) -> None:
        """Several strategies' searches in one stage: each planned as :meth:`search`; side by side in
        ``runtime.procs`` processes with the local executor, each step slower on fewer threads."""
        self.search(st, p, strategies[0], wacv)
        n = len(strategies)
        if n == 1 or p.search.executor != "local":
            if n > 1:
                st.train_seconds, st.seconds = st.train_seconds * n, st.seconds * n
            return
        dec, full, s1_share = self._last_search
        f = s1_share * self.procs_factor(dec, "decoder") + (1 - s1_share) * self.procs_factor(full, "segment")
        per = st.train_seconds
        self.side_by_side(st, [per] * n, f, f"{n} searches ({', '.join(strategies)})")
        if self.procs <= 1:
            st.parallel = f"{n} searches ({', '.join(strategies)}) one after the other (runtime.procs 1)"
        for k in ("trials", "expected_stage2"):
            st.counts[k] = round(st.counts[k] * n, 1)
        st.work = f"{n} searches ({', '.join(strategies)}), each " + st.work

    def search(self, st: StagePlan, p: Params, strategy: str, wacv: bool = False) -> None:
        s = p.search
        space = s.search_space
        nc = p.data.num_classes
        s1, s2 = s.stage1, s.stage2
        n_cache = p.precompute.n
        s1_steps = s1.epochs * (max(1, s1.samples_per_epoch // s1.batch_size) if s1.samples_per_epoch
                                else n_cache // s1.batch_size)
        meta_train = self.sets.sizes["camvid_train"] if wacv else self.sets.n("meta_train")
        meta_val = self.sets.sizes["camvid_val"] if wacv else self.sets.n("meta_val")
        limit = -(-s2.max_images // s2.batch_size) if s2.max_images else None
        per_epoch2 = min(limit, meta_train // s2.batch_size) if limit else meta_train // s2.batch_size
        s2_steps = s2.epochs * per_epoch2 if s2.enabled else 0
        crop1, crop2 = p.precompute.augment.crop, (s2.crop or p.precompute.augment.crop)
        val_px = p.precompute.val_size ** 2
        dec = self.decoder_probes(space, s, nc, kd=s1.kd_weight > 0 and p.precompute.teacher)
        full = self.arch_probes(space, width=s.width, repeats=s.repeats, aux=s.aux, num_classes=nc, optim="sgd")
        t1 = s1_steps * self.mean_step(dec, s1.batch_size, crop1 ** 2) + \
            meta_val * self.mean_step(dec, 1, val_px, False)
        t2 = s2_steps * self.mean_step(full, s2.batch_size, crop2 ** 2) + \
            meta_val * self.mean_step(full, 1, val_px, False)
        st.probed = (f"stage 1: the decoder's step on cached taps (run_epoch + Updater, CE + KD + aux) and stage 2: "
                     f"encoder + decoder step, for {len(dec)} random {space} architecture(s) (their mean)")
        # the early-termination rule: the first always goes on; then above the running mean (assumed
        # STAGE2_ABOVE_MEAN of the time) or with probability p, p annealed per architecture
        def go(k: int) -> float:
            if not s2.enabled:
                return 0.0
            return 1.0 if k == 0 else STAGE2_ABOVE_MEAN + (1 - STAGE2_ABOVE_MEAN) * max(
                s.termination.p_min, s.termination.p0 * s.termination.decay ** k)

        workers = 1
        if s.executor == "ray":
            if self.hw.device == "cuda" and s.ray.num_gpus > 0:
                workers = max(1, int(self.hw.world / s.ray.num_gpus))
                st.parallel = f"Ray: {workers} trials at once ({self.hw.world} GPUs / {s.ray.num_gpus:g} per trial)"
            else:
                st.parallel = (f"Ray: {s.ray.workers} workers share this CPU's cores; planned as one trial at a time "
                               "(nasseg bench-search measures the speed-up)") if self.hw.device == "cpu" else \
                    "Ray with search.ray.num_gpus 0: trials on CPUs; planned one at a time"
        else:
            st.parallel = "local executor: one trial at a time" + (
                f" (set search.executor: ray and search.ray.num_gpus to use {self.hw.world} GPUs)"
                if self.hw.world > 1 else "")
        trials = s.max_trials
        if s.max_seconds is not None:  # the wall-clock budget: trials until it is spent
            spent, by_time = 0.0, 0
            while (trials is None or by_time < trials) and spent + (t1 + go(by_time) * t2) / workers <= s.max_seconds:
                spent += (t1 + go(by_time) * t2) / workers
                by_time += 1
            st.notes.append(f"search.max_seconds {s.max_seconds:g}: ~{by_time} trials fit")
            trials = by_time
        reach = sum(go(k) for k in range(trials))
        st.train_seconds = trials * t1 + reach * t2
        self._last_search = (dec, full, trials * t1 / st.train_seconds if st.train_seconds else 1.0)
        st.seconds = st.train_seconds / workers
        st.counts.update(trials=trials, stage1_steps=s1_steps, stage1_batch=s1.batch_size, stage2_steps=s2_steps,
                         stage2_batch=s2.batch_size, expected_stage2=round(reach, 1), parallel_trials=workers,
                         stage1_seconds_per_trial=t1, stage2_seconds_per_trial=t2)
        st.work = (f"{trials} trials x ({s1_steps} stage-1 steps of {s1.batch_size} at {crop1}²"
                   + (f" + {reach / max(trials, 1):.0%} reaching stage 2 x {s2_steps} steps of {s2.batch_size} at "
                      f"{crop2}²" if s2.enabled else "") + f"); {meta_val} meta-val images scored per stage")
        st.notes.append(f"stage-2 share assumes {STAGE2_ABOVE_MEAN:.0%} of architectures beat the running mean "
                        f"(termination p0 {s.termination.p0}, decay {s.termination.decay})")
        cache = cache_bytes(p, self.sets, wacv)
        st.peak_bytes = cache + max(self.mean_peak(full, s2.batch_size, crop2 ** 2),
                                    self.mean_peak(dec, s1.batch_size, crop1 ** 2))
        st.disk_bytes = controller_params(space, s.ppo.hidden) * 12 if strategy != "random" else 0.0
        st.disk = "state.pt (controller + Adam states); trials.db one row per trial"
        st.notes.append(f"peak memory holds the feature cache in memory ({fmt_bytes(cache)})")

    def decoder_probes(self, space_name: str, s, num_classes: int, kd: bool) -> list[Probe]:
        from ..spaces import get_space

        space = get_space(space_name)
        out = []
        for i, g in enumerate(self.genotypes(space_name)):
            key = f"{space_name}{i}-dec-w{s.width}r{s.repeats}-{s.aux}-kd{int(kd)}"
            out.append(self.prober.get(key, f"random {space_name} decoder {i}",
                                       lambda g=g: space.build_decoder(g, num_classes=num_classes, width=s.width,
                                                                       repeats=s.repeats, aux=s.aux),
                                       "decoder", num_classes=num_classes, kd_weight=0.3 if kd else 0.0))
        return out

    def tricks(self, st: StagePlan) -> None:
        from ..search.tricks import SETUPS

        sub = StagePlan("search")
        self.search(sub, self.p, "random")
        t = self.p.tricks
        runs = t.archs * len(SETUPS)
        per_run = sub.counts["stage1_seconds_per_trial"] + sub.counts["stage2_seconds_per_trial"]
        world = self.hw.world
        st.train_seconds = runs * per_run
        st.seconds = math.ceil(runs / world) * per_run
        st.counts.update(runs=runs, archs=t.archs, setups=len(SETUPS))
        st.work = f"{t.archs} random architectures x {len(SETUPS)} setups, each through stage 1 and stage 2"
        st.probed = sub.probed
        st.peak_bytes = sub.peak_bytes
        st.parallel = f"runs dealt over {world} ranks (torchrun)" if world > 1 else "one process (runs under torchrun)"
        if world == 1 and self.procs > 1:
            dec, full, s1_share = self._last_search
            t1, t2 = sub.counts["stage1_seconds_per_trial"], sub.counts["stage2_seconds_per_trial"]
            share = t1 / (t1 + t2) if t1 + t2 else 1.0
            f = share * self.procs_factor(dec, "decoder") + (1 - share) * self.procs_factor(full, "segment")
            self.side_by_side(st, [per_run] * runs, f, f"{runs} runs")


__all__ = ["SEARCH_STRATEGIES", "SearchStages"]
