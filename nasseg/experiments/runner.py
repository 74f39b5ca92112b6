"""Train one searched architecture with a multi-phase schedule: the unit of work of the
``ablate``, ``correlate`` and ``train`` stages. A registered zoo name works in place of a
genotype: a published architecture (``arch0``) is its genotype (same identity, same seed
rule), a baseline (``refinenet_lw_mbv2``) builds with its own decoder and is identified by
its name (``{"model": name, ...}``; width and repeats do not apply to it).

Every run lives in its own folder: ``last.pt`` (the engine's epoch checkpoint; an
interrupted stage resumes there) and, when finished, ``result.json``. A run whose
``result.json`` was written with the same identity (genotype, aux variant, width, repeats,
schedule, encoder weights, data params, and the precision / accumulation when not fp32 / 1)
is not trained again. Under ``torchrun`` every rank trains its share; only the main process
writes. A run's model is built under :func:`~nasseg.seeding.seeded` from the schedule's seed
and the run's genotype, variant, width and repeats, so its initial weights (hence its result)
are the same in any process, whatever ran before it there.

An out-of-memory during one run's training (``torch.cuda.OutOfMemoryError``, or a
RuntimeError saying "out of memory" as CPU allocators and older torch raise) does not stop
the stage: the run's ``result.json`` says ``{"status": "failed", "failure": "oom", "error": ...}``
with its identity, memory is freed, and the caller goes on with the next run and reports the
failure in its tables / metrics. A failed run is never "finished": the next invocation
trains it again. Under ``torchrun`` ranks are not coordinated: the failure is recorded only
if the main process (rank 0) saw it; an OOM on another rank alone behaves as before.
"""
from __future__ import annotations

import gc
import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

import torch

from ..config import Params, ScheduleParams, params_sha1
from ..data.catalog import open_set
from ..data.transforms import SegmentationTransform
from ..errors import NassegError
from ..models import build_model
from ..models.zoo import PUBLISHED, PUBLISHED_TEMPLATES, arch_info
from ..outputs import write_json
from ..runtime import CPU_FP32, Runtime
from ..seeding import seeded
from ..spaces import parse_genotype
from ..training.distributed import Dist
from ..training.engine import schedule_signature, train_schedule
from ..training.fit import runtime_identity


def file_sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def encoder_file(p: Params) -> Path:
    path = Path(p.pretrain.out) / "encoder.pt"
    if not path.is_file():
        raise NassegError(f"{path}: the pretrained encoder is missing. Run `nasseg pretrain` (or `dvc repro pretrain`).")
    return path


def is_oom(err: BaseException) -> bool:
    """An out-of-memory error: CUDA's, or a RuntimeError saying so (CPU allocators, older torch)."""
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom_type is not None and isinstance(err, oom_type)) or \
        (isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def oom_result(identity: dict, err: BaseException) -> dict:
    """The result.json of a run that ran out of memory (never reused: see ``failed``); its
    epoch checkpoint, if any, is kept, so the retry resumes there."""
    return {"identity": identity, "status": "failed", "failure": "oom", "error": str(err)}


def failed(result: dict) -> bool:
    return result.get("status") == "failed"


def train_or_record_oom(train: Callable[[], object], identity: dict, done: Path, *, d: Dist, log, label: str,
                        extra: Optional[dict] = None):
    """``(train(), None)``; or, when it runs out of memory, ``(None, the failed result)`` with
    that result written to ``done`` by the main process and the memory freed. Any other error
    propagates."""
    try:
        return train(), None
    except Exception as err:  # noqa: BLE001 - only an out-of-memory is recorded; the rest propagates
        if not is_oom(err):
            raise
        oom = {**oom_result(identity, err), **(extra or {})}
    free_memory()  # outside the except block, so the traceback's frames (and tensors) can go
    log(f"{label}: out of memory, run recorded as failed ({oom['error']})")
    if d.main:
        write_json(oom, done)
    return None, oom


def zoo_baseline(arch: str) -> Optional[str]:
    """The zoo name when ``arch`` names a registered model that is not a genotype (a baseline);
    None for a genotype or a published architecture (see :func:`genotype_text`)."""
    if arch.lstrip().startswith("[") or arch in PUBLISHED or arch in PUBLISHED_TEMPLATES:
        return None
    return arch_info(arch).name  # an unknown name: a NassegError listing the registered ones


def genotype_text(arch: str) -> str:
    """A published architecture's genotype, or ``arch`` itself (a genotype)."""
    return {**PUBLISHED, **PUBLISHED_TEMPLATES}.get(arch, arch)


def build_arch(p: Params, genotype: str, *, width: int, repeats: int, aux: str) -> torch.nn.Module:
    """``genotype`` (or a zoo name) with the pretrained encoder; width/repeats apply to genotypes."""
    name = zoo_baseline(genotype)
    if name is not None:
        return build_model(name, num_classes=p.data.num_classes, aux=aux, encoder_weights=str(encoder_file(p)))
    genotype = genotype_text(genotype)
    try:
        g = parse_genotype(genotype)
    except Exception as err:  # GenotypeError and JSON errors name the problem
        raise NassegError(f"malformed genotype {genotype!r}: {err}") from None
    return build_model(g, num_classes=p.data.num_classes, width=width, repeats=repeats, aux=aux,
                       encoder_weights=str(encoder_file(p)))


def run_identity(p: Params, genotype: str, *, variant: str, width: int, repeats: int, schedule: ScheduleParams,
                 runtime: Runtime) -> dict:
    """What a finished run's result.json must match to be reused: a genotype's (or a published
    architecture's) ``{"genotype", "variant", "width", "repeats", ...}``, a baseline's
    ``{"model", "variant", ...}``; then the schedule, encoder weights, data params and runtime."""
    name = zoo_baseline(genotype)
    arch = {"model": name, "variant": variant} if name is not None else \
        {"genotype": parse_genotype(genotype_text(genotype)).to_text(), "variant": variant, "width": width,
         "repeats": repeats}
    return {**arch, "schedule": schedule_signature(schedule), "encoder_sha1": file_sha1(encoder_file(p)),
            "data_sha1": params_sha1(p, "data"), **runtime_identity(runtime)}


def train_arch(p: Params, genotype: str, *, variant: str, width: int, repeats: int, schedule: ScheduleParams,
               run_dir: Path, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
               keep: bool = False, runtime: Optional[Runtime] = None) -> tuple[dict, Optional[torch.nn.Module]]:
    """Train ``genotype`` (or a registered zoo name) with aux heads ``variant`` (none | clf | cell)
    on the ``runtime`` (default: CPU, fp32); returns (result, the trained model, on the CPU). The
    model is None when the result came from an earlier identical run."""
    rt = runtime or CPU_FP32
    d = d or Dist(device=rt.device)
    identity = run_identity(p, genotype, variant=variant, width=width, repeats=repeats, schedule=schedule, runtime=rt)
    done = run_dir / "result.json"
    if done.is_file() and not keep:
        old = json.loads(done.read_text())
        # a failed run (status "failed", e.g. out of memory) is not finished: train it again
        if old.get("identity") == identity and not failed(old):
            return old, None
    # the initial weights are a function of the run (schedule seed, genotype, variant, size), whatever the
    # process built before: a resumed stage that skips finished runs starts the next one from the same weights
    tags = (identity["model"], variant) if "model" in identity else (identity["genotype"], variant, width, repeats)
    with seeded(schedule.seed, "train_arch", *tags):
        model = build_arch(p, genotype, width=width, repeats=repeats, aux=variant)
    augment = SegmentationTransform.train(p.data.augment)
    val_set = open_set(schedule.val_set, p.data, SegmentationTransform.eval())
    res, oom = train_or_record_oom(
        lambda: train_schedule(model, schedule, lambda sets: open_set(sets, p.data, augment),
                               num_classes=p.data.num_classes, val_set=val_set, checkpoint=run_dir / "last.pt",
                               identity=identity, d=d, task=task, log=log, runtime=rt),
        identity, done, d=d, log=log, label=str(run_dir))
    if oom is not None:
        return oom, None
    model.cpu()
    result = {"identity": identity, **res.final, "seconds": round(res.seconds, 1), "history": res.history}
    if d.main:
        write_json(result, done)
        if not keep:
            (run_dir / "last.pt").unlink(missing_ok=True)
    return result, model


def train_side_by_side(p: Params, runs: list[dict], *, runtime: Optional[Runtime], tick=None,
                       log: Callable[[str], None] = print, keep: bool = False) -> dict:
    """Train ``runs`` (each the keyword arguments of :func:`train_arch` but ``p``: genotype, variant,
    width, repeats, schedule, run_dir; and optionally ``params``, the run's own Params) in
    ``runtime.procs`` processes (:mod:`nasseg.parallel`) when that is more than one here (a CPU,
    outside torchrun). Returns ``{str(run_dir): result}`` for the runs trained or reused, or
    ``{str(run_dir): (result, model)}`` with ``keep`` (the trained model, on the CPU, rebuilt here
    from the weights the child left in ``run_dir/kept.pt``; None for a failed run); ``{}`` when
    the caller should train them itself (one process). ``tick`` after each run. A run's result
    does not depend on the process: its weights come from its seed rule (:func:`train_arch`), its
    data order from the schedule's seed."""
    from ..parallel import side_by_side, usable_procs

    rt = runtime or CPU_FP32
    procs = usable_procs(p.runtime.procs, rt.device)
    if procs <= 1 or len(runs) <= 1:
        return {}
    log(f"{len(runs)} runs side by side in {procs} processes (runtime.procs)")
    jobs = [(kw.get("params", p), {k: v for k, v in kw.items() if k != "params"}, rt, keep) for kw in runs]
    results = side_by_side(_train_job, jobs, procs, labels=[str(kw["run_dir"]) for kw in runs],
                           on_done=(lambda _i, _r: tick()) if tick else None)
    if not keep:
        return {str(kw["run_dir"]): res for kw, res in zip(runs, results)}
    out = {}
    for (q, kw, _, _), res in zip(jobs, results):
        kept = Path(kw["run_dir"]) / "kept.pt"
        model = None
        if not failed(res):
            model = build_arch(q, kw["genotype"], width=kw["width"], repeats=kw["repeats"], aux=kw["variant"])
            model.load_state_dict(torch.load(kept, map_location="cpu", weights_only=True))
            kept.unlink()
        out[str(kw["run_dir"])] = (res, model)
    return out


def _train_job(_job: int, p: Params, kw: dict, runtime: Runtime, keep: bool) -> dict:
    """One run in a child process of :func:`train_side_by_side` (no input workers: the cores are
    the other runs'); its log lines carry the run's folder. With ``keep`` the trained weights go
    to ``run_dir/kept.pt`` for the main process."""
    from ..parallel import as_child

    runtime, say = as_child(runtime, Path(kw["run_dir"]).name)
    res, model = train_arch(p, **kw, runtime=runtime, keep=keep, **({"log": say} if say else {}))
    if keep and model is not None:
        Path(kw["run_dir"]).mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), Path(kw["run_dir"]) / "kept.pt")
    return res
