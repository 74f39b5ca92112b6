"""The second system's training (WACV 2020, SPEC §9): template architectures on CamVid and Cityscapes.

Trains, on every dataset of ``wacv.train.datasets``, the ``wacv.train.archs`` best distinct
architectures of the template search (``searched<k>``, by reward in the search's topk.json)
and the published ``wacv.train.published`` ones (``wacv_arch0``, ``wacv_arch1``), at the
final width (64) and separable repeats (2), from the pretrained encoder's first blocks, with
that dataset's schedule. For each, ``<out>/<dataset>/<name>/`` holds ``model.pt`` (``nasseg
evaluate|predict|export`` load it), ``card.json`` and ``history.tsv``; ``<report>/table.md``
sets the results beside the paper's and ``<report>/metrics.json`` sums them up. Epoch
checkpoints live in ``<resume>/<dataset>/<name>/`` (an interrupted run resumes there).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import torch

from ..benchmark import count_madds
from ..config import Params, params_sha1
from ..errors import NassegError
from ..markdown import markdown_table
from ..outputs import write_json, write_tsv
from ..models import count_params
from ..models.checkpoint import arch_of, save_checkpoint
from ..models.zoo import PUBLISHED_TEMPLATES
from ..runtime import Runtime
from ..training.distributed import Dist
from .final import command_line, cpu_latency, inference_copy
from .runner import failed, train_arch, train_side_by_side

# SPEC §9: test mIoU (%) and parameters of the published architectures; latency (ms) on a 1080Ti.
PAPER_WACV = {
    "wacv_arch0": {"camvid": 63.2, "cityscapes": 67.8, "params": 280_147, "ms_2048x1024": 52.25, "ms_480x360": 8.97},
    "wacv_arch1": {"camvid": None, "cityscapes": None, "params": 268_235, "ms_2048x1024": 97.11, "ms_480x360": 11.51},
}
DATASET_TITLES = {"camvid": "CamVid (11 classes)", "cityscapes": "Cityscapes (19 classes)"}


def wacv_archs(p: Params) -> list[dict]:
    """The architectures to train: the search's best distinct ones, then the published ones."""
    w = p.wacv.train
    out = []
    if w.archs:
        path = Path(p.wacv.search.out) / w.strategy / "topk.json"
        if not path.is_file():
            raise NassegError(f"{path}: missing. Run `nasseg search --system wacv --strategy {w.strategy}` "
                              "(or `dvc repro search_wacv`) first, or set wacv.train.archs to 0.")
        top = json.loads(path.read_text())
        if len(top) < w.archs:
            raise NassegError(f"{path}: holds {len(top)} architecture(s), wacv.train.archs asks for {w.archs}. "
                              "Raise wacv.search.max_trials or lower wacv.train.archs.")
        for k, row in enumerate(top[:w.archs]):
            out.append({"name": f"searched{k}", "genotype": row["genotype"], "reward": row["reward"]})
    for name in w.published:
        if name not in PUBLISHED_TEMPLATES:
            raise NassegError(f"wacv.train.published: {name!r} is not a published template architecture; known: "
                              f"{', '.join(PUBLISHED_TEMPLATES)}")
        out.append({"name": name, "genotype": PUBLISHED_TEMPLATES[name], "reward": None})
    return out


def wacv_card(model: torch.nn.Module, *, name: str, genotype: str, dataset: str, p: Params, result: dict,
              reward: Optional[float], schedule) -> dict:
    w = p.wacv.train
    inference = inference_copy(model)  # MAdds and latency on a CPU copy (the card's latency_device)
    h, wd = (360, 480) if dataset == "camvid" else (1024, 2048)
    madds, out_hw = count_madds(inference, (h, wd))
    size = w.latency.size
    mean, std = cpu_latency(inference, size, w.latency.runs, w.latency.warmup)
    return {"name": name, "dataset": dataset, "genotype": genotype, "width": w.width, "repeats": w.repeats,
            "params": count_params(inference), "madds": madds, "madds_input": [h, wd], "output": list(out_hw),
            "val_set": schedule.val_set, "mean_iou": result["mean_iou"], "iou": result.get("iou"),
            "search_reward": reward, "latency_ms": round(mean, 2), "latency_std_ms": round(std, 2),
            "latency_input": size, "latency_device": "cpu", "threads": torch.get_num_threads(),
            "latency_runs": w.latency.runs, "train_seconds": result["seconds"],
            "schedule": [f"{ph.sets} x {ph.epochs}" + (f" ({ph.images_per_epoch} img/epoch)" if ph.images_per_epoch
                                                       else "") for ph in schedule.phases],
            "command": command_line(), "params_sha1": params_sha1(p, "pretrain", "wacv")}


def table_markdown(cards: list[dict]) -> str:
    rows = [[f"**{c['name']}** (ours, embedded)", f"{c['dataset']} ({c['val_set']})", f"{100 * c['mean_iou']:.1f}",
             f"{c['params']:,}", f"{c['madds'] / 1e9:.2f} ({c['madds_input'][1]}×{c['madds_input'][0]})",
             f"{c['output'][1]}×{c['output'][0]}",
             f"{c['latency_ms']:.1f} ± {c['latency_std_ms']:.1f} ({c['latency_input']}², {c['threads']} thr.)"]
            for c in cards]
    rows += [[f"{name} (paper)", f"{ds} (real test/val)", r[ds], f"{r['params']:,}", "", "",
              f"{r['ms_2048x1024']} (2048×1024) / {r['ms_480x360']} (480×360), 1080Ti"]
             for name, r in PAPER_WACV.items() for ds in ("camvid", "cityscapes") if r[ds] is not None]
    return markdown_table(["model", "dataset", "mIoU (%)", "params", "MAdds (B) at the set's size", "output",
                           "CPU latency (ms)"], rows)


def run_wacv_train(p: Params, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
                   runtime: Optional[Runtime] = None) -> list[dict]:
    w = p.wacv.train
    main = d is None or d.main
    archs = wacv_archs(p)
    cards, failures = [], []
    # every (dataset, architecture) run side by side first when runtime.procs allows (a CPU, no torchrun)
    runs = [dict(params=p.for_system("wacv", dataset), genotype=a["genotype"], variant="none", width=w.width,
                 repeats=w.repeats, schedule=getattr(w, dataset), run_dir=Path(w.resume) / dataset / a["name"])
            for dataset in w.datasets for a in archs]
    done = train_side_by_side(p, runs, runtime=runtime, log=log, keep=True) if d is None or d.world == 1 else {}
    for dataset in w.datasets:
        q = p.for_system("wacv", dataset)
        schedule = getattr(w, dataset)
        for a in archs:
            run_dir = Path(w.out) / dataset / a["name"]
            run_dir.mkdir(parents=True, exist_ok=True)
            if main:
                log(f"{dataset}/{a['name']}: {a['genotype']}")
            result, model = done.get(str(Path(w.resume) / dataset / a["name"])) or train_arch(
                q, a["genotype"], variant="none", width=w.width, repeats=w.repeats, schedule=schedule,
                run_dir=Path(w.resume) / dataset / a["name"], d=d, task=task, log=log, keep=True, runtime=runtime)
            if failed(result):  # out of memory: recorded in its result.json, reported below, retried next time
                failures.append({"run": f"{dataset}/{a['name']}", "failure": result["failure"],
                                 "error": result["error"]})
                continue
            if not main:
                continue
            card = wacv_card(model, name=a["name"], genotype=a["genotype"], dataset=dataset, p=p, result=result,
                             reward=a["reward"], schedule=schedule)
            arch = arch_of(a["genotype"], num_classes=q.data.num_classes, width=w.width, repeats=w.repeats)
            save_checkpoint(model, arch, card, run_dir / "model.pt")
            write_tsv(run_dir / "history.tsv", result["history"])
            write_json(card, run_dir / "card.json")
            cards.append(card)
    if main:
        report = Path(w.report)
        report.mkdir(parents=True, exist_ok=True)
        text = ["# Template architectures trained (`nasseg train --system wacv`)", "",
                "Ours: trained and scored on the embedded synthetic CamVid/Cityscapes-format sets; MAdds at the real "
                "sets' sizes (CamVid 480×360, Cityscapes 2048×1024); CPU latency on this machine. The paper's rows: "
                "real CamVid test / Cityscapes val on a 1080Ti.", "", table_markdown(cards)]
        if failures:  # only then, so a report where nothing failed keeps its bytes
            text += ["", "Failed runs (retried by the next `nasseg train --system wacv`): "
                     + ", ".join(f"`{f['run']}` ({f['failure']})" for f in failures)]
        (report / "table.md").write_text("\n".join(text))
        metrics = {f"{c['dataset']}/{c['name']}": {k: c[k] for k in ("mean_iou", "params", "madds",
                                                                     "latency_ms", "train_seconds")}
                   for c in cards}
        if failures:
            metrics["failed"] = failures
        write_json(metrics, report / "metrics.json")
    return cards
