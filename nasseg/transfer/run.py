"""The ``transfer`` stage: each architecture trained on each transfer task with one protocol.

An architecture is ``found<k>`` (the genotype, width and repeats of the ``train`` stage's
``models/train/found<k>/model.pt``), a zoo name (``refinenet_lw_mbv2`` is the paper's
hand-designed baseline) or a genotype. Its segmentation weights are not carried over: as in
the paper, the architecture transfers and the encoder starts from the ``pretrain`` stage's
weights (the ImageNet stand-in); the decoder's classifier gives 16 / 17 heatmaps (pose) or
one depth channel.

Each (task, model) run lives in ``<out>/runs/<task>/<model>/`` (``result.json``, reused
when its identity matches) with epoch checkpoints in ``<resume>/<task>/<model>/last.pt``
(an interrupted stage resumes there) and the inference model in
``<transfer.models_out>/<task>/<model>/model.pt``. Runs train on the given
:class:`~nasseg.runtime.Runtime` (default: CPU, fp32); its precision and accumulation, when
not fp32 / 1, are part of a run's identity. A run's model is built under
:func:`~nasseg.seeding.seeded` (the schedule's seed, the task, the architecture), so it starts
from the same weights in any process.

A run that runs out of memory (see :mod:`nasseg.experiments.runner`) writes a ``result.json``
saying ``{"status": "failed", "failure": "oom", ...}``, is left out of the tables, is listed
under ``failed`` in metrics.json (present only then), and is retried by the next invocation.
Under ``torchrun`` the failure is recorded only if the main process saw it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ..config import Params, params_sha1
from ..errors import NassegError
from ..experiments.runner import encoder_file, failed, file_sha1, train_or_record_oom
from ..markdown import markdown_table
from ..outputs import write_json
from ..runtime import Runtime
from ..seeding import seeded
from ..models import build_model
from ..models.checkpoint import arch_of, save_checkpoint
from ..models.zoo import count_params, list_archs
from ..spaces.cells.genotype import Genotype
from ..training.distributed import Dist
from ..training.engine import schedule_signature, train_schedule
from ..training.evaluate import CPU_FP32
from ..training.fit import runtime_identity
from .catalog import FLIP_PAIRS, NUM_JOINTS, open_depth_set, open_pose_set, open_transfer_set
from .depth_data import eigen_crop
from .metrics import DepthMeter
from .tasks import DepthObjective, PoseObjective

def resolve_model(p: Params, name: str) -> dict:
    """What to build for a model name of ``transfer.models``."""
    if name.startswith("found") and name[5:].isdigit():
        path = Path(p.train.out) / name / "model.pt"
        if not path.is_file():
            raise NassegError(f"{path}: '{name}' names a model of the train stage, which is not there; run "
                              "`nasseg train` (dvc repro train) first, or list zoo names / genotypes in transfer.models.")
        arch = torch.load(path, map_location="cpu", weights_only=True).get("arch") or {}
        if not arch.get("genotype"):
            raise NassegError(f"{path}: holds no genotype to transfer ('arch' entry missing).")
        return {"genotype": Genotype.from_text(arch["genotype"]).to_text(), "width": arch["width"],
                "repeats": arch["repeats"]}
    if name.lstrip().startswith("["):
        try:
            g = Genotype.from_text(name)
        except Exception as err:
            raise NassegError(f"transfer.models: malformed genotype {name!r}: {err}") from None
        return {"genotype": g.to_text(), "width": p.train.width, "repeats": p.train.repeats}
    if name not in list_archs():
        raise NassegError(f"transfer.models: unknown model '{name}'; use found<k> (the train stage's models), a zoo "
                          f"name ({', '.join(list_archs())}) or a genotype.")
    return {"name": name}


def outputs_of(task: str) -> int:
    return 1 if task == "nyu" else NUM_JOINTS[task]


def build(p: Params, spec: dict, task: str, *, encoder: bool = True) -> torch.nn.Module:
    enc = str(encoder_file(p)) if (encoder and p.transfer.encoder == "pretrain") else None
    k = outputs_of(task)
    if "genotype" in spec:
        return build_model(spec["genotype"], num_classes=k, width=spec["width"], repeats=spec["repeats"],
                           encoder_weights=enc)
    return build_model(spec["name"], num_classes=k, width=p.train.width, repeats=p.train.repeats,
                       encoder_weights=enc)


def output_stride(model: torch.nn.Module, wh: tuple[int, int]) -> int:
    """The stride of the model's output for a (w, h) input (exact, else an error)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, wh[1], wh[0]))
    model.train(was)
    oh, ow = out.shape[2:]
    if wh[1] % oh or wh[0] % ow or wh[1] // oh != wh[0] // ow:
        raise NassegError(f"{getattr(model, 'name', 'model')}: output {ow}x{oh} for a {wh[0]}x{wh[1]} input is no "
                          "whole stride; pick an input size divisible by 32.")
    return wh[1] // oh


def task_params(p: Params, task: str):
    return getattr(p.transfer, task)


def _run_files(p: Params, task: str, model_name: str) -> tuple[Path, Path]:
    return (Path(p.transfer.out) / "runs" / task / model_name / "result.json",
            Path(p.transfer.models_out) / task / model_name / "model.pt")


def run_identity(p: Params, task: str, model_name: str, runtime: Runtime = CPU_FP32) -> dict:
    """What makes two runs the same: task, architecture, protocol, data, encoder weights (and
    the runtime's precision / accumulation when not fp32 / 1)."""
    tp = task_params(p, task)
    enc_sha = file_sha1(encoder_file(p)) if p.transfer.encoder == "pretrain" else None
    return {"task": task, "model": resolve_model(p, model_name), "schedule": schedule_signature(tp.schedule),
            **({} if task == "nyu" else {"head_init": "normal_0.001"}),
            "task_params": params_sha1(p.transfer, task), "data": params_sha1(p.transfer, "data"),
            "encoder_sha1": enc_sha, **runtime_identity(runtime)}


def finished_run(p: Params, task: str, model_name: str, runtime: Runtime = CPU_FP32) -> Optional[dict]:
    """The result of a finished run with the current identity, or None."""
    done, model_file = _run_files(p, task, model_name)
    if done.is_file() and model_file.is_file():
        old = json.loads(done.read_text())
        # a failed run (status "failed", e.g. out of memory) is not finished: train it again
        if old.get("identity") == run_identity(p, task, model_name, runtime) and not failed(old):
            return old
    return None


def run_one(p: Params, task: str, model_name: str, *, d: Optional[Dist] = None, progress=None,
            log: Callable[[str], None] = print, runtime: Runtime = CPU_FP32) -> dict:
    """Train and score one architecture on one task; reuse a finished identical run."""
    d = d or Dist(device=runtime.device)
    tp, tdata = task_params(p, task), p.transfer.data
    old = finished_run(p, task, model_name, runtime)
    done, model_file = _run_files(p, task, model_name)
    if old is not None:
        log(f"{task}/{model_name}: reused {done}")
        return old
    identity = run_identity(p, task, model_name, runtime)
    spec = identity["model"]
    # initial weights from (schedule seed, task, architecture) only, in any process (nasseg.seeding)
    with seeded(tp.schedule.seed, "transfer", task, json.dumps(spec, sort_keys=True)):
        model = build(p, spec, task)
    if task == "nyu":
        stride = output_stride(model, (tp.crop[1], tp.crop[0]))
        val_set = open_depth_set(tp.schedule.val_set, tdata, tp, train=False)
        region = (lambda h, w: _eigen_mask(h, w)) if tp.eval_crop == "eigen" else None
        objective = DepthObjective(tp.loss, tp.min_depth, tp.max_depth, region)
        open_fn = lambda sets: open_transfer_set(sets, tdata, tp, train=True)  # noqa: E731
        start_at_mean_depth(model, open_depth_set(tp.schedule.phases[0].sets.split("+")[0], tdata, tp, train=False),
                            log_space=tp.loss == "log_l1")
        meta_task = {"output": "log_depth" if tp.loss == "log_l1" else "depth_m", "max_depth": tp.max_depth}
    else:
        init_heatmap_head(model)
        stride = output_stride(model, tuple(tp.input))
        val_set, gt = open_pose_set(tp.schedule.val_set, tdata, tp, stride=stride, train=False)
        objective = PoseObjective(task, FLIP_PAIRS[task], gt, batch_size=tp.schedule.batch_size)
        open_fn = lambda sets: open_transfer_set(sets, tdata, tp, stride=stride, train=True)  # noqa: E731
        meta_task = {"output": "heatmaps", "input_wh": list(tp.input), "flip_pairs": [list(x) for x in FLIP_PAIRS[task]]}
    resume = Path(p.transfer.resume) / task / model_name / "last.pt"
    res, oom = train_or_record_oom(
        lambda: train_schedule(model, tp.schedule, open_fn, objective=objective, val_set=val_set, checkpoint=resume,
                               identity=identity, d=d, task=progress, log=log, runtime=runtime),
        identity, done, d=d, log=log, label=f"{task}/{model_name}", extra={"task": task, "model": model_name})
    if oom is not None:
        return oom
    model.cpu()
    result = {"identity": identity, "task": task, "model": model_name, "final": res.final,
              "params": count_params(model), "stride": stride, "seconds": round(res.seconds, 1),
              "history": res.history}
    if d.main:
        arch = (arch_of(spec["genotype"], num_classes=outputs_of(task), width=spec["width"], repeats=spec["repeats"])
                if "genotype" in spec else arch_of(name=spec["name"], num_classes=outputs_of(task)))
        save_checkpoint(model, arch, {"task": task, "stride": stride, **meta_task,
                                      "scores": {k: v for k, v in res.final.items() if not isinstance(v, dict)}},
                        model_file)
        write_json(result, done)
        resume.unlink(missing_ok=True)
    return result


def _head(model: torch.nn.Module, what: str) -> torch.nn.Conv2d:
    clf = getattr(getattr(model, "decoder", None), "classifier", None)
    if not isinstance(clf, torch.nn.Conv2d) or clf.bias is None:
        raise NassegError(f"{getattr(model, 'name', 'model')}: no decoder.classifier convolution (with a bias) to "
                          f"{what}; transfer needs an encoder-decoder model of the zoo or a genotype.")
    return clf


def init_heatmap_head(model: torch.nn.Module) -> None:
    """Simple Baselines' start of the heatmap layer: weights N(0, 0.001), bias 0, so every
    architecture starts from near-zero heatmaps (a head without normalisation before it,
    as Light-Weight RefineNet's, otherwise starts with outputs in the hundreds)."""
    clf = _head(model, "initialise")
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        clf.weight.copy_(torch.randn(clf.weight.shape, generator=g) * 0.001)
        clf.bias.zero_()


def mean_train_depth(train_set, *, frames: int = 32, log_space: bool = False) -> float:
    """The mean valid depth (or log-depth) of the first ``frames`` frames of a depth set."""
    vals = [train_set[i][1] for i in range(min(frames, len(train_set)))]
    v = torch.cat([g[g > 0] for g in vals]) if vals else torch.zeros(0)
    if not v.numel():
        raise NassegError("the depth training set's first frames hold no valid depth; check the depth files "
                          "(0 = invalid) and transfer.nyu.max_depth.")
    return float(v.log().mean() if log_space else v.mean())


def start_at_mean_depth(model: torch.nn.Module, train_set, *, log_space: bool = False) -> float:
    """Set the depth channel's output bias to the mean valid depth of the first 32 training
    frames, so training starts at the scene's scale rather than at 0 m (a short schedule
    otherwise spends its first epoch learning the offset). Returns the value."""
    mean = mean_train_depth(train_set, log_space=log_space)
    clf = _head(model, "start the depth output from")
    with torch.no_grad():
        clf.bias.fill_(mean)
    return mean


def constant_depth_reference(p: Params) -> dict:
    """The depth metrics of predicting one constant, the mean valid depth of the first 32
    training frames (what the depth head starts from): the floor a model has to beat."""
    tp, tdata = p.transfer.nyu, p.transfer.data
    mean = mean_train_depth(open_depth_set(tp.schedule.phases[0].sets.split("+")[0], tdata, tp, train=False))
    meter = DepthMeter(tp.min_depth, tp.max_depth)
    val = open_depth_set(tp.schedule.val_set, tdata, tp, train=False)
    for i in range(len(val)):
        gt = val[i][1][0]
        meter.update(torch.full_like(gt, mean), gt, _eigen_mask(*gt.shape) if tp.eval_crop == "eigen" else None)
    return {**meter.compute(), "constant_m": mean}


def _eigen_mask(h: int, w: int) -> np.ndarray:
    top, bottom, left, right = eigen_crop(h, w)
    m = np.zeros((h, w), bool)
    m[top:bottom, left:right] = True
    return m


# ----------------------------------------------------------------------------- tables

PAPER_TABLE2 = [  # model, MPII mean@0.5, mean@0.1, COCO AP, AR, params (M)
    ("DeepLab-v3+", 86.6, 31.7, 0.668, 0.700, 5.8),
    ("ResNet-50 (Simple Baselines)", 88.5, 33.9, 0.704, 0.763, 34.0),
    ("arch0", 86.5, 31.4, 0.658, 0.691, 2.6),
    ("arch1", 87.0, 32.0, 0.659, 0.694, 2.8),
    ("arch2", 87.1, 31.8, 0.659, 0.693, 2.9),
]
DEPTH_ROWS = [("rmse", "RMSE (lin)"), ("rmse_log", "RMSE (log)"), ("abs_rel", "abs rel"), ("sq_rel", "sqr rel"),
              ("delta1", "δ < 1.25"), ("delta2", "δ < 1.25²"), ("delta3", "δ < 1.25³")]
PAPER_TABLE3 = {  # column -> metric values in DEPTH_ROWS order + params (M); None: not reported
    "arch0": (0.523, 0.184, 0.136, 0.089, 0.830, 0.967, 0.992, 2.6),
    "arch1": (0.526, 0.183, 0.131, 0.086, 0.832, 0.968, 0.992, 2.8),
    "arch2": (0.525, 0.189, 0.140, 0.093, 0.820, 0.966, 0.992, 2.9),
    "RF-LW": (0.565, 0.205, 0.149, 0.105, 0.790, 0.955, 0.990, 3.0),
    "CReaM": (0.687, 0.251, 0.190, None, 0.704, 0.917, 0.977, 1.5),
}


def _f(v, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def table2(results: dict, models: list[str]) -> str:
    """Markdown: our pose results beside the paper's Table 2."""
    mp, co = results.get("mpii", {}), results.get("coco", {})
    rows = []
    for m in models:
        a, b = mp.get(m, {}).get("final", {}), co.get(m, {}).get("final", {})
        params = (co.get(m) or mp.get(m) or {}).get("params")
        rows.append([f"ours: {m}", _f(a.get("pckh@0.5"), ".1f"), _f(a.get("pckh@0.1"), ".1f"),
                     _f(b.get("coco_ap"), ".3f"), _f(b.get("coco_ar"), ".3f"), _f(params / 1e6 if params else None, ".2f")])
    rows += [[f"paper: {name}", f"{v[0]:.1f}", f"{v[1]:.1f}", f"{v[2]:.3f}", f"{v[3]:.3f}", f"{v[4]:.1f}"]
             for name, *v in PAPER_TABLE2]
    return markdown_table(["Model", "MPII Mean@0.5", "MPII Mean@0.1", "COCO AP", "COCO AR", "Params, M"], rows,
                          align=["left"] + ["right"] * 5)


def table3(results: dict, models: list[str], reference: Optional[dict] = None) -> str:
    """Markdown: our depth results beside the paper's Table 3 (metrics as rows); ``reference``
    (constant_depth_reference) adds the constant predictor's column."""
    ny = results.get("nyu", {})
    cols = [f"ours: {m}" for m in models] + (["constant depth"] if reference else []) + \
        [f"paper: {c}" for c in PAPER_TABLE3]
    rows = []
    for i, (key, label) in enumerate(DEPTH_ROWS):
        ours = [_f(ny.get(m, {}).get("final", {}).get(key), ".3f") for m in models]
        ref = [_f(reference[key], ".3f")] if reference else []
        rows.append([label, *ours, *ref, *[_f(v[i], ".3f") for v in PAPER_TABLE3.values()]])
    ours_p = [_f(ny[m]["params"] / 1e6 if m in ny else None, ".2f") for m in models]
    rows.append(["Parameters, M", *ours_p, *(["0"] if reference else []),
                 *[_f(v[-1], ".1f") for v in PAPER_TABLE3.values()]])
    return markdown_table(["", *cols], rows, align=["left"] + ["right"] * len(cols))


def _side_by_side(p: Params, wanted: list, runtime: Runtime, log) -> dict:
    """The (task, model) runs in ``runtime.procs`` processes first, when that is more than one here
    (:mod:`nasseg.parallel`; a run's weights come from its seed rule, so not from the process):
    ``{(task, model): result}``, or ``{}`` to run them in turn here."""
    from ..parallel import side_by_side, usable_procs

    procs = usable_procs(p.runtime.procs, runtime.device)
    if procs <= 1 or len(wanted) <= 1:
        return {}
    log(f"transfer: {len(wanted)} runs side by side in {procs} processes (runtime.procs)")
    out = side_by_side(_run_job, [(p, task, m, runtime) for task, m in wanted], procs,
                       labels=[f"transfer {task}/{m}" for task, m in wanted])
    return dict(zip(wanted, out))


def _run_job(_job: int, p: Params, task: str, model_name: str, runtime: Runtime) -> dict:
    """One run in a child process (no input workers: the cores are the other runs')."""
    from ..parallel import as_child

    runtime, say = as_child(runtime, f"{task}/{model_name}")
    return run_one(p, task, model_name, runtime=runtime, **({"log": say} if say else {}))


def run_transfer(p: Params, *, d: Optional[Dist] = None, progress=None, log: Callable[[str], None] = print,
                 only_tasks=None, only_models=None, runtime: Runtime = CPU_FP32) -> dict:
    """Every (task, model) of params (or only those named), then the two tables and
    metrics.json over every finished run of params' tasks and models."""
    d = d or Dist(device=runtime.device)
    results: dict = {}
    failures = []
    wanted = [(task, m) for task in p.transfer.tasks for m in p.transfer.models
              if not ((only_tasks and task not in only_tasks) or (only_models and m not in only_models))]
    done = _side_by_side(p, wanted, runtime, log) if d.world == 1 else {}
    for task in p.transfer.tasks:
        for m in p.transfer.models:
            if (task, m) not in wanted:
                r = finished_run(p, task, m, runtime)
                if r is not None:
                    results.setdefault(task, {})[m] = r
                continue
            log(f"transfer: {task} / {m}")
            r = done.get((task, m)) or run_one(p, task, m, d=d, progress=progress, log=log, runtime=runtime)
            if failed(r):  # recorded in its result.json, left out of the tables, retried next time
                failures.append({"run": f"{task}/{m}", "failure": r["failure"], "error": r["error"]})
                continue
            results.setdefault(task, {})[m] = r
    if not d.main:
        return results
    out = Path(p.transfer.out)
    models = list(p.transfer.models)
    header = ("Ours: trained on the embedded synthetic sets unless params point at real data; the paper's figures "
              "are on MPII / COCO val2017 / NYUv2 after full training. Our found<k> are the architectures the "
              "embedded search found, not the paper's arch<k>.\n\n")
    if failures:  # only then, so tables where nothing failed keep their bytes
        header += ("Failed runs (shown as –; retried by the next `nasseg transfer`): "
                   + ", ".join(f"`{f['run']}` ({f['failure']})" for f in failures) + "\n\n")
    if {"mpii", "coco"} & set(results):
        (out / "table2.md").write_text("# Table 2: pose estimation (flip test)\n\n" + header
                                       + table2(results, models))
    reference = None
    if "nyu" in results:
        reference = constant_depth_reference(p)
        note = (f"The constant-depth column predicts {reference['constant_m']:.2f} m everywhere (the mean depth of "
                "the first 32 training frames, where the depth heads start): the floor to beat.\n\n")
        (out / "table3.md").write_text("# Table 3: depth prediction\n\n" + header + note
                                       + table3(results, models, reference))
    metrics = {t: {m: {k: v for k, v in r["final"].items() if isinstance(v, (int, float))} | {"params": r["params"]}
                   for m, r in per.items()} for t, per in results.items()}
    if reference:
        metrics["nyu_constant_depth"] = reference
    if failures:
        metrics["failed"] = failures
    write_json(metrics, out / "metrics.json")
    return results
