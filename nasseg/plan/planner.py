"""The plan: one :class:`Planner` row per ``dvc.yaml`` stage, the totals and the assumptions
(:func:`make_plan`, what ``--json`` writes)."""
from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

import torch
import yaml

from ..config import Params
from ..errors import ConfigError
from .data_stages import DataStages
from .hardware import ARCH0_MADDS_512, DEFAULT_GPU_TFLOPS, PAPER_ARCH0_MS, Hardware
from .probe import Prober
from .search_stages import SEARCH_STRATEGIES, SearchStages
from .table import StagePlan
from .train_stages import TrainStages
from .work import STAGE2_ABOVE_MEAN

# each probe: batch PROBE_BATCH at the two sides, the fastest of PROBE_REPS timed steps (after a
# warm-up step); batch 2 and one step left the small point dominated by fixed costs and timing noise
PROBE_BATCH, PROBE_REPS = 4, 2


class Planner(DataStages, SearchStages, TrainStages):
    """Plans each stage by name (``search@ppo``: the ``search`` planner with strategy ``ppo``)."""

    def stage(self, name: str) -> StagePlan:
        st = StagePlan(name)
        p = self.p
        base = name.split("@")[0]
        if base == "prepare":
            self.prepare(st, ("voc_train", "voc_val", "sbd", "coco_train"), "voc")
        elif base == "prepare_transfer":
            self.prepare(st, ("coco_kp_train", "coco_kp_val", "mpii_train", "mpii_valid", "nyu_train", "nyu_test"),
                         "nyu")
        elif base == "prepare_street":
            self.prepare(st, ("camvid_train", "camvid_val", "camvid_test", "cityscapes_train", "cityscapes_val"),
                         "cityscapes")
        elif base == "prepare_scan":
            self.prepare_scan(st)
        elif base in ("pretrain", "teacher"):
            self.recipe(st, base)
        elif base == "precompute":
            self.precompute(st, p, p.precompute.teacher)
        elif base == "precompute_wacv":
            wp = p.for_system("wacv")
            self.precompute(st, wp, wp.precompute.teacher, wacv=True)
        elif base == "benchmark":
            self.benchmark(st)
        elif base == "search":
            self.searches(st, p, [name.split("@")[1]] if "@" in name else list(SEARCH_STRATEGIES))
        elif base == "search_wacv":
            self.search(st, p.for_system("wacv"), "ppo", wacv=True)
        elif base == "tricks":
            self.tricks(st)
        elif base == "ablate":
            self.ablate(st)
        elif base == "correlate":
            self.correlate(st)
        elif base == "train":
            self.train(st)
        elif base == "transfer":
            self.transfer(st)
        elif base == "train_wacv":
            self.train_wacv(st)
        elif base in ("search_report", "report"):
            st.work = "reads earlier stages' outputs, writes tables and figures"
            st.probed = "not probed: no model trains"
            st.notes.append("time not estimated (seconds on any machine)")
        else:
            st.work = "no planner for this stage"
            st.notes.append(f"{name}: nasseg.plan has no planner for it; add one in nasseg/plan/ (Planner.stage)")
        if not st.scaling and st.seconds is not None:
            st.scaling = self.scaling
        return st


def dvc_stages(path: Path = Path("dvc.yaml")) -> list[str]:
    """The stage names of dvc.yaml in order, ``foreach`` stages expanded as dvc names them (``search@ppo``)."""
    if not path.is_file():
        raise ConfigError(f"{path}: not found. Run from the project root (where dvc.yaml is) or pass --dvc PATH.")
    doc = yaml.safe_load(path.read_text()) or {}
    out = []
    for name, body in (doc.get("stages") or {}).items():
        items = (body or {}).get("foreach")
        if isinstance(items, list):
            out.extend(f"{name}@{i}" for i in items)
        elif isinstance(items, dict):
            out.extend(f"{name}@{k}" for k in items)
        else:
            out.append(name)
    return out


def make_plan(p: Params, hw: Hardware, *, params_path: str = "params.yaml", dvc: Path = Path("dvc.yaml"),
              sides: tuple[int, int] = (64, 128), archs: int = 1, seed: int = 0,
              log: Callable[[str], None] = lambda s: None, counted: Optional[dict] = None) -> dict:
    """The plan as a dict (what ``--json`` writes): hardware, assumptions, one row per stage, totals.
    ``counted``: in a what-if, a dict that keeps the probes (FLOPs and memory counted, not timed,
    so the same on any assumed GPU) and the input pipeline's timings (this CPU's) for the next
    what-if of the same params, sides and seed."""
    if sides[0] >= sides[1] or sides[0] < 32:
        raise ConfigError(f"--probe-sides must be two sides, the first smaller, both >= 32; got {list(sides)}")
    if archs < 1:
        raise ConfigError(f"--archs must be at least 1, got {archs}")
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    prober = Prober(hw, sides, batch=PROBE_BATCH, reps=PROBE_REPS, seed=seed, log=log)
    planner = Planner(p, hw, prober, params_path, archs=archs, seed=seed)
    if counted is not None and not prober.timing:
        prober.cache = counted.setdefault("probes", {})
        planner.inputs.cache = counted.setdefault("inputs", {})
    rows = []
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    for name in dvc_stages(dvc):
        rows.append(planner.stage(name))
    # the load before probing is other programs' (the probes themselves load the cores afterwards)
    busy = load >= (os.cpu_count() or 1) and prober.timing and prober.device.type == "cpu"
    known = [r.seconds for r in rows if r.seconds is not None]
    return {
        "params": params_path,
        "hardware": {**asdict(hw), "world": hw.world, "describe": hw.describe()},
        "assumptions": {
            "scaling": planner.scaling,
            "gpu_tflops": hw.gpu_tflops if hw.device == "cuda" and not hw.present else None,
            "default_gpu_tflops_basis": f"2 x {ARCH0_MADDS_512} MAdds (arch0 at 512², our counter) / "
                                        f"{PAPER_ARCH0_MS} ms (paper Table 1, 1080Ti) = {DEFAULT_GPU_TFLOPS} TFLOP/s",
            "stage2_above_mean": STAGE2_ABOVE_MEAN,
            "standins": planner.standins,
            "not_modelled": ["input pipeline of transfer, train_wacv and the search's stage 2 (nasseg bench-input)",
                             "DDP all-reduce and Ray dispatch", "PPO controller updates", "checkpoint writes"],
            "set_sizes": {k: {"images": v, "basis": planner.sets.basis[k]} for k, v in planner.sets.sizes.items()},
        },
        "probes": {k: {"what": q.what, "params": q.params, "train": asdict(q.train) if q.train else None,
                       "forward": asdict(q.forward) if q.forward else None,
                       "activations": asdict(q.activations) if q.activations else None,
                       "madds_per_pixel": q.madds_per_pixel} for k, q in prober.cache.items()},
        "stages": [asdict(r) for r in rows],
        "totals": {"seconds": float(sum(known)), "disk_bytes": float(sum(r.disk_bytes for r in rows)),
                   "peak_bytes": float(max((r.peak_bytes or 0) for r in rows)),
                   "not_estimated": [r.stage for r in rows if r.seconds is None]},
        "plan_seconds": round(time.perf_counter() - t0, 2),
        "load_average": round(load, 2),
        "busy": (f"load average {load:.1f} on {os.cpu_count()} cores before probing: other programs share the CPU, "
                 "so the timed steps (and these estimates) are slower than on an idle machine; plan again when it "
                 "is idle") if busy else None,
    }


__all__ = ["Planner", "dvc_stages", "make_plan"]
