"""The planners of the data and single-model stages: prepare*, prepare_scan, pretrain, teacher,
precompute and benchmark."""
from __future__ import annotations

import math
from pathlib import Path

from ..config import Params
from .base import PlannerBase
from .costs import tap_shapes
from .hardware import Hardware
from .probe import Probe
from .table import StagePlan
from .work import source_files

# one manifest entry as JSON: ["JPEGImages/2007_000027.jpg", size, mtime_ns]
SCAN_ENTRY_BYTES = 64


class DataStages(PlannerBase):
    def prepare(self, st: StagePlan, names: tuple, family: str) -> None:
        n = sum(self.sets.sizes[k] for k in names)
        h, w = self.sets.full[family]
        st.counts.update(images=n, **{k: self.sets.sizes[k] for k in names})
        st.work = f"{n} images ({', '.join(f'{k} {self.sets.sizes[k]}' for k in names)})"
        embedded = [k for k in names if self.sets.basis[k].startswith("params") or "prepare" in self.sets.basis[k]]
        st.disk_bytes = sum(self.sets.sizes[k] for k in embedded) * h * w * 4
        st.disk = "embedded sets, uncompressed RGB + mask (upper bound; JPEG/PNG are smaller)" if embedded else \
            "real sets are read in place: lists only"
        st.probed = "not probed: renders or indexes files, no model (I/O-bound)"
        st.notes.append("time not estimated")

    def prepare_scan(self, st: StagePlan) -> None:
        d = self.p.data
        files = source_files(d)
        n = sum(v for v in files.values() if v is not None)
        st.counts.update(files=n, **{f"{k}_files": v for k, v in files.items()})
        each = ", ".join(f"{k} {'not found here' if v is None else v}" for k, v in files.items())
        st.work = f"stat of the source files: {n} files ({each or 'no real source: all embedded'})"
        st.disk_bytes = float(n * SCAN_ENTRY_BYTES)
        st.disk = f"{Path(d.root) / 'sources.json'}: one entry per file (~{SCAN_ENTRY_BYTES} B: path, size, mtime)"
        st.probed = "not probed: " + ("one stat call per file" if d.fingerprint == "stat" else
                                      "data.fingerprint sha1 reads every byte of every file") + ", no model"
        if any(v is None for v in files.values()):
            st.notes.append("a source folder is not found here: prepare-scan stops on it (its files not counted)")
        st.notes.append("time not estimated" + (" (negligible: a stat per file)" if d.fingerprint == "stat" else ""))

    def recipe_probe(self, section: str) -> Probe:
        """The model of ``pretrain`` or ``teacher`` (its training step and its forward pass)."""
        from ..models import build_model

        r = getattr(self.p, section)
        name = "refinenet_lw_mbv2" if section == "pretrain" else f"refinenet_lw_resnet{r.depth}"
        return self.prober.get(f"{name}-{r.decoder_width}", f"{name} (decoder width {r.decoder_width})",
                               lambda: build_model(name, num_classes=self.p.data.num_classes,
                                                   decoder_width=r.decoder_width),
                               "segment", num_classes=self.p.data.num_classes, optim=r.encoder_optim,
                               aux_weight=r.aux_weight, channels_last=r.channels_last)

    def recipe(self, st: StagePlan, section: str) -> None:
        r = getattr(self.p, section)
        n = self.sets.n(r.sets)
        val = self.sets.n(r.val_set)
        crop = self.p.data.augment.crop
        val_px = self.sets.pixels("voc")
        probe = self.recipe_probe(section)
        evals = sum(1 for e in range(1, r.epochs + 1) if e % r.eval_every == 0 or e == r.epochs)
        if r.weights is not None:
            st.work = f"import {r.weights}; score {val} {r.val_set} images"
            st.seconds = val * probe.step_seconds(self.hw, 1, val_px, False)
            st.train_seconds = 0.0
            st.counts.update(val_images=val)
        else:
            per_epoch = math.ceil(n / r.batch_size) - (1 if n % r.batch_size == 1 else 0)
            steps = r.epochs * per_epoch
            step = probe.step_seconds(self.hw, r.batch_size, crop * crop)
            st.input_seconds = self.input_seconds(st, r.sets, steps * r.batch_size, r.batch_size, step)
            st.train_seconds = steps * step + st.input_seconds
            st.seconds = st.train_seconds + evals * val * probe.step_seconds(self.hw, 1, val_px, False)
            st.counts.update(images=n, epochs=r.epochs, batch_size=r.batch_size, steps=steps, val_images=val,
                             evaluations=evals)
            st.work = (f"{r.epochs} epochs x {n} {r.sets} images = {steps} steps of batch {r.batch_size} at "
                       f"{crop}²; {evals} x {val} {r.val_set} images scored at full size")
        st.probed = f"fit's step (run_epoch + Updater, CE) of {probe.what}; its forward for scoring"
        kept = probe.params
        if section == "pretrain":  # encoder.pt holds the encoder alone
            from ..models.encoder import MobileNetV2Encoder

            kept = sum(q.numel() for q in MobileNetV2Encoder().parameters())
        # the resume checkpoint: weights + the optimiser's states (the state bytes less the gradients)
        st.disk_bytes = kept * 4 + probe.params * (probe.state_bytes_per_param - 4)
        st.disk = "weights (params x 4 B) + resume/last.pt (model + optimiser states)"
        st.peak_bytes = probe.peak_bytes(r.batch_size, crop * crop)
        st.parallel = "one process (fit has no DDP)"

    def precompute(self, st: StagePlan, p: Params, teacher: bool, wacv: bool = False) -> None:
        from ..models.encoder import MobileNetV2Encoder

        pc = p.precompute
        crop, val_size = pc.augment.crop, pc.val_size
        m = self.sets.sizes["camvid_val"] if wacv else self.sets.n("meta_val")
        enc = self.prober.get("encoder-fwd", "MobileNet-v2 encoder (forward)", MobileNetV2Encoder, "forward",
                              forward_only=True)
        sec = pc.n * enc.step_seconds(self.hw, 32, crop * crop, False) / 32 + \
            m * enc.step_seconds(self.hw, 32, val_size * val_size, False) / 32
        what = "the frozen encoder"
        if teacher:
            tp = self.recipe_probe("teacher")  # the teacher stage's model; its forward pass
            sec += pc.n * tp.step_seconds(self.hw, 32, crop * crop, False) / 32
            what += " and the teacher"
        st.seconds = sec
        st.work = f"{pc.n} augmented crops at {crop}² through {what}; {m} meta-val images at {val_size}²"
        st.counts.update(train_samples=pc.n, val_images=m, crop=crop, val_size=val_size)
        shapes = tap_shapes()
        size = 2 if pc.dtype == "float16" else 4
        per = sum(c * (crop // s) ** 2 for c, s in shapes) * size + (crop // pc.label_stride) ** 2
        if teacher:
            per += p.data.num_classes * (crop // 4) ** 2 * size
        per_val = sum(c * (val_size // s) ** 2 for c, s in shapes) * size + val_size ** 2
        st.disk_bytes = pc.n * per + m * per_val
        st.disk = (f"cache: {pc.n} x ({' + '.join(f'{c}x{crop // s}²' for c, s in shapes)} taps x {size} B + labels"
                   + (" + teacher logits" if teacher else "") + f") + {m} val samples")
        st.probed = f"forward passes of {what} (batch 32, as precompute)"
        # the models' weights and one batch of 32 cached samples (forward activations not counted)
        st.peak_bytes = (enc.params + (tp.params if teacher else 0)) * 4 + st.disk_bytes / max(pc.n + m, 1) * 32
        st.parallel = "one process"
        st.counts["cache_bytes"] = st.disk_bytes

    def benchmark(self, st: StagePlan) -> None:
        from ..models import build_model

        b = self.p.benchmark
        sec, n_fwd = 0.0, 0
        devices = [d for d in b.devices if d == "cpu" or (d == "cuda" and self.hw.device == "cuda")]
        probes = {}
        for name in list(b.models) + list(b.wacv.models):
            nc = b.wacv.num_classes if name in b.wacv.models else b.num_classes
            probes[name] = self.prober.get(f"bench-{name}", f"{name} (forward)",
                                           lambda name=name, nc=nc: build_model(name, num_classes=nc), "forward",
                                           forward_only=True)
        for dev in devices:
            hw = self.hw if dev == "cuda" else Hardware("cpu", True)
            if dev == "cpu" and not self.prober.timing:
                st.notes.append("CPU rows not timed in a CUDA what-if (no CPU probe ran)")
                continue
            for name in b.models:
                n = len(b.variants) * (b.runs + b.warmup)
                sec += n * probes[name].step_seconds(hw, 1, b.size ** 2, False)
                n_fwd += n
            for name in b.wacv.models:
                for hh, ww in b.wacv.sizes:
                    n = len(b.wacv.variants) * (b.wacv.runs + b.wacv.warmup)
                    sec += n * probes[name].step_seconds(hw, 1, hh * ww, False)
                    n_fwd += n
        st.seconds = sec
        st.counts.update(forward_passes=n_fwd, models=len(b.models) + len(b.wacv.models), devices=devices)
        st.work = (f"{len(b.models)} models x {len(b.variants)} variants x {b.runs + b.warmup} forwards at {b.size}²; "
                   f"{len(b.wacv.models)} WACV models x {len(b.wacv.sizes)} sizes; on {', '.join(devices)}")
        st.probed = "eager forward passes of each model (other variants assumed as fast as eager)"
        st.disk_bytes = 0.0
        st.disk = "tables and drawings only"
        st.parallel = "one process"


__all__ = ["DataStages"]
