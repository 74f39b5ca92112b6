"""Probes: timed steps of each stage's real step function at two small sizes, fitted linearly in
batch x pixels (:class:`Linear`); in a what-if, the model's counted FLOPs instead."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .hardware import TRAIN_PASSES, Hardware

QUICK_STEP_S = 0.5  # a timed step shorter than this is repeated (up to the prober's reps)

@dataclass
class Linear:
    """``y = a + b·u`` through two measured points (u = batch x pixels)."""

    a: float
    b: float
    points: list = field(default_factory=list)  # [(u, y), ...] as measured

    @classmethod
    def through(cls, p1: tuple, p2: tuple) -> "Linear":
        (u1, y1), (u2, y2) = sorted([p1, p2])
        b = (y2 - y1) / (u2 - u1) if u2 > u1 else 0.0
        a = y1 - b * u1
        if b <= 0 or a < 0:  # noise: proportional through the larger point
            a, b = 0.0, y2 / u2
        return cls(a, b, [list(p1), list(p2)])

    def at(self, u: float) -> float:
        return self.a + self.b * u


@dataclass
class Probe:
    """What one stage model costs: per step (train) or per forward (eval), and memory."""

    key: str
    what: str  # in words, for the output
    params: int
    train: Optional[Linear] = None  # seconds per optimiser step vs batch x pixels
    forward: Optional[Linear] = None  # seconds per forward pass (no grad) vs batch x pixels
    activations: Optional[Linear] = None  # bytes saved for backward (or the CUDA peak) vs batch x pixels
    madds_per_pixel: float = 0.0  # per image pixel, counted (FlopCounterMode)
    state_bytes_per_param: int = 16  # weights + grads + Adam's two states, fp32

    def step_seconds(self, hw: Hardware, batch: float, pixels: float, train: bool = True) -> float:
        u = batch * pixels
        if hw.device == "cuda" and not hw.present:
            return (TRAIN_PASSES if train else 1) * 2 * self.madds_per_pixel * u / (hw.gpu_tflops * 1e12)
        fit = self.train if train else self.forward
        return fit.at(u)

    def peak_bytes(self, batch: float, pixels: float) -> float:
        act = self.activations.at(batch * pixels) if self.activations else 0.0
        return self.params * self.state_bytes_per_param + act


class Prober:
    """Builds each stage model once, times it at ``sides`` (batch ``batch``), caches the result."""

    def __init__(self, hw: Hardware, sides: tuple[int, int] = (64, 128), batch: int = 2, reps: int = 1,
                 seed: int = 0, log: Callable[[str], None] = lambda s: None):
        self.hw, self.sides, self.batch, self.reps, self.seed, self.log = hw, sides, batch, reps, seed, log
        self.device = torch.device("cuda" if hw.device == "cuda" and hw.present else "cpu")
        self.cache: dict[str, Probe] = {}
        self.builders: dict[str, Callable[[], nn.Module]] = {}  # key -> how its model is built (thread_factor)
        self.factors: dict[str, float] = {}
        self.seconds = 0.0

    @property
    def timing(self) -> bool:
        """False in a what-if: FLOPs are counted and nothing is timed."""
        return not (self.hw.device == "cuda" and not self.hw.present)

    def runtime(self):
        from ..runtime import Runtime

        return Runtime(self.device)

    def get(self, key: str, what: str, build: Callable[[], nn.Module], kind: str, **kw) -> Probe:
        if key not in self.cache:
            t0 = time.perf_counter()
            torch.manual_seed(self.seed)
            model = build()
            self.builders[key] = build
            self.cache[key] = self._probe(key, what, model, kind, **kw)
            self.seconds += time.perf_counter() - t0
            self.log(f"probed {key} in {time.perf_counter() - t0:.1f} s")
        return self.cache[key]

    # kind: "segment" (model(image, return_aux=True) -> logits, aux; CE + aux), "pixels" (the same
    # with a squared-error head: pose / depth), "decoder" (stage 1: decoder(taps) on cached taps,
    # CE + KD + aux), "forward" (eval only: model(image) or model(image) -> list of taps)
    def _probe(self, key, what, model: nn.Module, kind: str, *, num_classes: int = 21, optim: str = "adam",
               aux_weight: float = 0.15, kd_weight: float = 0.0, channels_last: bool = False,
               forward_only: bool = False) -> Probe:
        from ..training.loop import Updater, run_epoch
        from ..training.losses import segmentation_loss, stage1_loss

        rt = self.runtime()
        model = model.to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        n_params = sum(p.numel() for p in model.parameters())
        states = {"adam": 2, "sgd": 1}.get(optim, 2)
        probe = Probe(key, what, n_params, state_bytes_per_param=4 * (2 + states) if not forward_only else 4)
        taps_of = _taps_maker(kind, num_classes, self.device)
        train_pts, fwd_pts, mem_pts = [], [], []
        for side in self.sides:
            u = self.batch * side * side
            batch = _batch(kind, self.batch, side, num_classes, self.device, taps_of, kd_weight > 0)
            if not self.timing:
                if side == self.sides[0]:
                    probe.madds_per_pixel = _madds(model, kind, batch) / (self.batch * side * side)
                if forward_only:
                    continue
            if not forward_only:
                params = [p for p in model.parameters() if p.requires_grad]
                opt = (torch.optim.Adam if optim == "adam" else torch.optim.SGD)(params, lr=1e-4)
                upd = Updater((opt,), params, 3.0, rt, 1)

                def loss_fn(b):
                    if kind == "decoder":
                        logits, aux = model(_taps(b), return_aux=True)
                        return stage1_loss(logits, aux, b["labels"], b.get("teacher"), kd_weight, aux_weight), 1
                    image, target = b
                    if channels_last:
                        image = image.contiguous(memory_format=torch.channels_last)
                    out, aux = model(image, return_aux=True)
                    if kind == "pixels":
                        return sum(F.mse_loss(o, torch.zeros_like(o)) for o in (out, *aux)), 1
                    return segmentation_loss(out, target, aux, aux_weight), 1

                model.train()
                # the warm-up step (first calls at a new shape are slow) measures the saved activations
                mem_pts.append((u, self._saved_bytes(lambda: loss_fn(batch)[0].backward(), model)))
                if self.timing:
                    times = []
                    # repeats (the fastest kept) only while a step is quick: a heavy model's one step is steady
                    while len(times) < self.reps and (not times or min(times) < QUICK_STEP_S):
                        times.append(run_epoch([batch], loss_fn, upd, rt, where=f"plan probe {key}").seconds)
                    train_pts.append((u, min(times)))
                opt.zero_grad(set_to_none=True)
            if self.timing:
                model.eval()
                x = batch if kind == "decoder" else batch[0]
                with torch.no_grad():
                    times = []
                    # a model that trained at this size is warm; a forward-only one takes a warm-up pass
                    for _ in range(self.reps + (1 if forward_only else 0)):
                        t0 = time.perf_counter()
                        out = model(_taps(x)) if kind == "decoder" else model(x)
                        _sync(out, self.device)
                        times.append(time.perf_counter() - t0)
                fwd_pts.append((u, min(times[1:] if forward_only else times)))
        if train_pts:
            probe.train = Linear.through(*train_pts)
        if fwd_pts:
            probe.forward = Linear.through(*fwd_pts)
        if mem_pts:
            probe.activations = Linear.through(*mem_pts)
        return probe

    def thread_factor(self, key: str, kind: str, procs: int) -> float:
        """Step time on ``cores // procs`` threads over that on all cores, for the model probed as
        ``key`` (rebuilt from its probe's builder): batch 8 at 96², the faster of 3 steps each way; 1
        without timing when a child would get no fewer threads than this process has."""
        from ..parallel import threads_per_proc
        from ..training.loop import Updater, run_epoch

        fkey = f"{key}@procs{procs}"
        if threads_per_proc(procs) >= torch.get_num_threads():  # a child gets as many threads as this process
            self.factors[fkey] = 1.0
        if fkey not in self.factors:
            model = self.builders[key]().to(self.device).train()
            taps_of = _taps_maker(kind, 21, self.device)
            batch = _batch(kind, 8, 96, 11, self.device, taps_of, False)  # labels below any model's class count
            params = [p for p in model.parameters() if p.requires_grad]
            upd = Updater((torch.optim.SGD(params, lr=1e-4),), params, 3.0, self.runtime(), 1)

            def loss_fn(b):
                from ..training.losses import segmentation_loss, stage1_loss

                if kind == "decoder":
                    logits, aux = model(_taps(b), return_aux=True)
                    return stage1_loss(logits, aux, b["labels"], None, 0.0, 0.15), 1
                out, aux = model(b[0], return_aux=True)
                if kind == "pixels":
                    return sum(F.mse_loss(o, torch.zeros_like(o)) for o in (out, *aux)), 1
                return segmentation_loss(out, b[1], aux, 0.15), 1

            before = torch.get_num_threads()
            times = {}
            try:
                for threads in (before, threads_per_proc(procs)):
                    torch.set_num_threads(threads)
                    run_epoch([batch], loss_fn, upd, self.runtime(), where="plan threads")  # warm-up
                    times[threads] = min(run_epoch([batch], loss_fn, upd, self.runtime(), where="plan threads").seconds
                                         for _ in range(3))
            finally:
                torch.set_num_threads(before)
            self.factors[fkey] = max(1.0, times[threads_per_proc(procs)] / times[before])
        return self.factors[fkey]

    def _saved_bytes(self, step: Callable[[], None], model: nn.Module) -> float:
        """Bytes of the tensors autograd saves for backward in one step (each storage once,
        parameters left out); on CUDA the allocator's peak above the model's own memory."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            step()
            torch.cuda.synchronize()
            return float(torch.cuda.max_memory_allocated() - base)
        own = {p.untyped_storage().data_ptr() for p in model.parameters()}
        seen: dict[int, int] = {}

        def pack(t):
            try:
                st = t.untyped_storage()
                ptr = st.data_ptr()
                if ptr not in own:
                    seen[ptr] = st.nbytes()
            except (RuntimeError, NotImplementedError):
                pass
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            step()
        return float(sum(seen.values()))


def _taps(b: dict) -> list:
    return [b[f"tap{i}"] for i in range(sum(1 for k in b if k.startswith("tap")))]


def _sync(out, device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _taps_maker(kind, num_classes, device):
    if kind != "decoder":
        return None
    from ..models.encoder import MobileNetV2Encoder

    enc = MobileNetV2Encoder().eval().to(device)

    def taps(side):
        with torch.no_grad():
            return enc(torch.zeros(1, 3, side, side, device=device))

    return taps


def _batch(kind, n, side, num_classes, device, taps_of, teacher: bool):
    g = torch.Generator().manual_seed(side)
    if kind == "decoder":
        taps = taps_of(side)
        b = {f"tap{i}": torch.randn((n, *t.shape[1:]), generator=g).to(device) for i, t in enumerate(taps)}
        b["labels"] = torch.randint(0, num_classes, (n, side // 4, side // 4), generator=g).to(device)
        if teacher:
            b["teacher"] = torch.randn((n, num_classes, side // 4, side // 4), generator=g).to(device)
        return b
    image = torch.randn((n, 3, side, side), generator=g).to(device)
    return image, torch.randint(0, num_classes, (n, side, side), generator=g).to(device)


def _madds(model, kind, batch) -> float:
    from ..benchmark import counting_madds

    was = model.training
    model.eval()
    with torch.no_grad(), counting_madds(model) as total:
        if kind == "decoder":
            model(_taps(batch))
        else:
            model(batch[0])
    model.train(was)
    return float(total[0])


__all__ = ["Linear", "Probe", "Prober"]
