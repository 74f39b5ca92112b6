"""The ``pretrain`` and ``teacher`` stages: train on the embedded/real data, or import weights.

pretrain -> ``<out>/encoder.pt``: ``{"encoder": MobileNet-v2 state dict, "meta": {...}}``
teacher  -> ``<out>/teacher.pt``: ``{"model": state dict, "meta": {...}}``
Each also writes ``metrics.json`` (validation scores, or the import record) and, when
trained, ``history.tsv`` (one row per epoch, for ``dvc plots``). Training resumes from
``<out>/resume/last.pt`` after an interruption. Training and scoring run on the given
:class:`~nasseg.runtime.Runtime` (default: CPU, fp32); the files hold CPU tensors.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import torch

from ..config import Params, TrainRecipe, params_sha1
from ..data.catalog import open_set
from ..data.transforms import SegmentationTransform
from ..errors import NassegError
from ..models import build_model
from ..models.encoder import MobileNetV2Encoder
from ..models.importers import import_encoder, import_teacher
from ..outputs import write_json, write_tsv
from ..runtime import CPU_FP32, Runtime
from .evaluate import evaluate
from .fit import cpu_state, fit, save_atomic, seed_everything


def _identity(params: Params, section: str) -> dict:
    """What defines a run besides the loop config: a resume checkpoint of another run is ignored."""
    return {"params_sha1": params_sha1(params, "data", section)}


def _write_history(history: list[dict], path: Path) -> None:
    write_tsv(path, history, sorted({k for h in history for k in h}, key=lambda k: (k != "epoch", k)))


def _train(model, recipe: TrainRecipe, params: Params, section: str, out: Path, task, log, runtime: Runtime) -> dict:
    data = params.data
    train_set = open_set(recipe.sets, data, SegmentationTransform.train(data.augment))
    val_set = open_set(recipe.val_set, data, SegmentationTransform.eval())
    result = fit(model, train_set, recipe, num_classes=data.num_classes, val_set=val_set,
                 exclude=(), checkpoint=out / "resume" / "last.pt", identity=_identity(params, section),
                 task=task, log=log, runtime=runtime)
    _write_history(result.history, out / "history.tsv")
    last = result.history[-1]
    return {"source": "trained", "sets": recipe.sets, "val_set": recipe.val_set, "epochs": recipe.epochs,
            "train_images": len(train_set), "seconds": round(result.seconds, 1),
            **{k: last[k] for k in ("mean_iou", "fw_iou", "mean_acc", "pixel_acc") if k in last}}


def run_pretrain(params: Params, task=None, log: Callable[[str], None] = print,
                 runtime: Optional[Runtime] = None) -> dict:
    p = params.pretrain
    out = Path(p.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(p.seed)
    if p.weights is not None:
        enc = MobileNetV2Encoder()
        meta = {"source": "imported", **import_encoder(enc, p.weights).meta()}
        state = enc.state_dict()
    else:
        model = build_model("refinenet_lw_mbv2", num_classes=params.data.num_classes, decoder_width=p.decoder_width)
        meta = _train(model, p, params, "pretrain", out, task, log, runtime or CPU_FP32)
        meta["model"] = f"refinenet_lw_mbv2 (decoder width {p.decoder_width})"
        state = cpu_state(model.encoder)
    save_atomic({"encoder": state, "meta": meta}, out / "encoder.pt")
    write_json(meta, out / "metrics.json")
    return meta


def load_teacher_weights(model: torch.nn.Module, path: Path) -> str:
    """The teacher weights at ``path`` loaded into ``model``; returns the file's sha256. Any layout
    :mod:`nasseg.models.importers` knows is detected from the keys and checked strictly (a
    nasseg teacher.pt, the authors' ``rf_lw`` RefineNet, whose decoder layout then replaces
    ``model.decoder``); a file that fills only the encoder (a torchvision ResNet) is refused
    here, since the teacher stage alone trains the decoder (:func:`run_teacher`)."""
    report = import_teacher(model, path)
    if report.scope != "full":
        raise NassegError(f"{path}: {report.layout} holds the encoder only; the teacher stage trains a decoder on it "
                          "(teacher.weights), the teacher it writes (teacher.pt) is what is loaded here.")
    return report.sha256


def build_teacher(params: Params) -> torch.nn.Module:
    t = params.teacher
    return build_model(f"refinenet_lw_resnet{t.depth}", num_classes=params.data.num_classes,
                       decoder_width=t.decoder_width)


def run_teacher(params: Params, task=None, log: Callable[[str], None] = print,
                runtime: Optional[Runtime] = None) -> dict:
    rt = runtime or CPU_FP32
    t = params.teacher
    out = Path(t.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(t.seed)
    model = build_teacher(params)
    report = import_teacher(model, t.weights) if t.weights is not None else None
    if report is not None and report.scope == "full":
        val_set = open_set(t.val_set, params.data, SegmentationTransform.eval())
        t0 = time.perf_counter()
        scores, _ = evaluate(rt.prepare(model), val_set, params.data.num_classes, runtime=rt,
                             progress=task("validate", len(val_set)) if task else None)
        meta = {"source": "imported", **report.meta(), "val_set": t.val_set,
                "seconds": round(time.perf_counter() - t0, 1),
                **{k: v for k, v in scores.as_dict().items() if k != "reward"}}
    else:  # trained; from an imported encoder (report.scope == "encoder") when teacher.weights names one
        meta = _train(model, t, params, "teacher", out, task, log, rt)
        if report is not None:
            meta["init"] = report.meta()
    meta.update({"model": model.name, "depth": t.depth, "decoder_width": t.decoder_width,
                 "num_classes": params.data.num_classes})
    save_atomic({"model": cpu_state(model), "meta": meta}, out / "teacher.pt")
    write_json(meta, out / "metrics.json")
    return meta
