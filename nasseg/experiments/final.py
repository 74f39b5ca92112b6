"""Sect. 4.4, Table 1: full training of the best ablation architectures (aux-cell variant).

The ``train.archs`` architectures with the highest aux-cell mIoU in ``ablation.tsv`` are
trained at the final width (64) and separable repeats (2) with the 3-phase schedule
(COCO+SBD+VOC -> SBD+VOC -> VOC; lr halved after each phase, BN frozen and lr halved again
halfway through the last; aux-cell weights 0.3/0.25/0.2/0.15). For each, ``<out>/<name>/``
holds ``model.pt`` (the inference model; ``nasseg evaluate`` and friends load it),
``card.md``/``card.json`` and ``history.tsv``; ``<report>/cards.md`` sets them beside the
paper's Table 1 and ``<report>/metrics.json`` sums them up. Epoch checkpoints live in
``<resume>/<name>/``. Runs under ``torchrun`` for data-parallel training.
"""
from __future__ import annotations

import csv
import shlex
import sys
from pathlib import Path
from typing import Callable, Optional

import torch

from ..benchmark import count_madds, time_forward
from ..config import Params, params_sha1
from ..errors import NassegError
from ..markdown import markdown_table
from ..outputs import write_json, write_tsv
from ..models import count_params, strip_aux
from ..models.checkpoint import arch_of, save_checkpoint
from ..runtime import Runtime
from ..training.distributed import Dist
from .runner import failed, train_arch

# SPEC 6: VOC val mIoU (%), MAdds (B), params (M), output side at 512x512, ms on a 1080Ti.
PAPER_TABLE1 = {
    "arch0": (78.0, 4.47, 2.6, 128, "14.86±0.31"), "arch1": (77.1, 2.95, 2.8, 64, "11.04±0.23"),
    "arch2": (77.3, 3.47, 2.9, 64, "8.86±0.26"), "RefineNet-LW": (76.2, 9.3, 3.3, 128, "12.00"),
    "DeepLab-v3": (75.9, 8.73, 2.1, 64, "11.35"), "DeepLab-v3-ASPP": (75.7, 5.8, 4.5, 32, "8.09"),
}


def best_of_ablation(p: Params, n: int) -> list[dict]:
    path = Path(p.ablate.out) / "ablation.tsv"
    if not path.is_file():
        raise NassegError(f"{path}: missing. Run `nasseg ablate` (or `dvc repro ablate`) first.")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "cell" not in rows[0]:
        raise NassegError(f"{path}: has no aux-cell column; keep 'cell' in ablate.variants.")
    rows = [r for r in rows if r["cell"] != "failed"]  # an aux-cell run that ran out of memory
    rows.sort(key=lambda r: -float(r["cell"]))
    return rows[:n]


def command_line() -> str:
    return shlex.join(["nasseg", *sys.argv[1:]])


def wide_history(histories: dict[str, list[dict]]) -> list[dict]:
    """One row per epoch with each model's training loss and learning rates (for `dvc plots`)."""
    rows: dict[int, dict] = {}
    for name, hist in histories.items():
        for h in hist:
            r = rows.setdefault(h["epoch"], {"epoch": h["epoch"], "phase": h["phase"], "encoder_lr": h["encoder_lr"],
                                             "aux_weight": h["aux_weight"], "bn_frozen": h["bn_frozen"]})
            r[f"{name}_train_loss"] = round(h["train_loss"], 5)
    return [rows[e] for e in sorted(rows)]


def inference_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The model without aux heads, a copy on the CPU in eval mode (whatever device it trained on)."""
    return strip_aux(model).cpu().eval()


def cpu_latency(inference: torch.nn.Module, size: int, runs: int, warmup: int) -> tuple[float, float]:
    """Mean and std (ms) of a forward pass of a CPU model on a seeded size x size CPU input."""
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    torch.set_flush_denormal(True)
    with torch.inference_mode():
        return time_forward(lambda: inference(x), torch.device("cpu"), runs, warmup)


def architecture_card(model: torch.nn.Module, *, name: str, genotype: str, p: Params, result: dict,
                      ablation_miou: float, command: str) -> dict:
    """The card of a trained model; MAdds and latency measured on a CPU copy (the card's latency_device)."""
    t = p.train
    inference = inference_copy(model)
    madds, out_hw = count_madds(inference, t.latency.size)
    mean, std = cpu_latency(inference, t.latency.size, t.latency.runs, t.latency.warmup)
    return {"name": name, "genotype": genotype, "width": t.width, "repeats": t.repeats,
            "params": count_params(inference), "madds": madds, "input": t.latency.size,
            "output": list(out_hw), "output_stride": t.latency.size // out_hw[0],
            "val_set": t.schedule.val_set, "mean_iou": result["mean_iou"], "iou": result.get("iou"),
            "ablation_cell_miou": ablation_miou,
            "latency_ms": round(mean, 2), "latency_std_ms": round(std, 2), "latency_device": "cpu",
            "threads": torch.get_num_threads(), "latency_runs": t.latency.runs,
            "train_seconds": result["seconds"],
            "schedule": [f"{ph.sets} x {ph.epochs}" + (f" ({ph.images_per_epoch} img/epoch)" if ph.images_per_epoch
                                                       else "") for ph in t.schedule.phases],
            "command": command, "params_sha1": params_sha1(p, "data", "pretrain", "ablate", "train")}


def card_markdown(c: dict) -> str:
    return "\n".join([
        f"### {c['name']}", "",
        f"- genotype: `{c['genotype']}`",
        f"- decoder width {c['width']}, separable repeats {c['repeats']}",
        f"- params: {c['params']:,} (inference, aux heads removed)",
        f"- MAdds at {c['input']}x{c['input']}: {c['madds'] / 1e9:.2f} B",
        f"- output: {c['output'][0]}x{c['output'][1]} (stride {c['output_stride']})",
        f"- {c['val_set']} mIoU: {c['mean_iou']:.4f} (ablation, aux cell: {c['ablation_cell_miou']:.4f})",
        f"- latency ({c['latency_device']}, {c['threads']} threads, {c['latency_runs']} runs): "
        f"{c['latency_ms']:.1f} ± {c['latency_std_ms']:.1f} ms",
        f"- schedule: {' -> '.join(c['schedule'])}; trained in {c['train_seconds']:.0f} s",
        f"- command: `{c['command']}`; params sha1 `{c['params_sha1'][:12]}` (data, pretrain, ablate, train)", ""])


def table1_markdown(cards: list[dict]) -> str:
    rows = [[f"**{c['name']}** (ours, embedded data)", f"{100 * c['mean_iou']:.1f}", f"{c['madds'] / 1e9:.2f}",
             f"{c['params'] / 1e6:.2f}", f"{c['output'][0]}²",
             f"{c['latency_ms']:.1f} ± {c['latency_std_ms']:.1f} (CPU, {c['threads']} thr.)"] for c in cards]
    rows += [[f"{k} (paper, VOC)", miou, madds, params, f"{out}²", f"{ms} (1080Ti)"]
             for k, (miou, madds, params, out, ms) in PAPER_TABLE1.items()]
    return markdown_table(["model", "mIoU", "MAdds (B)", "params (M)", "output", "latency (ms)"], rows)


def run_train(p: Params, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
              runtime: Optional[Runtime] = None) -> list[dict]:
    t = p.train
    main = d is None or d.main
    out, report = Path(t.out), Path(t.report)
    best = best_of_ablation(p, t.archs)
    cards, cards_hist, failures = [], {}, []
    for k, row in enumerate(best):
        name = f"found{k}"
        run_dir = out / name
        run_dir.mkdir(parents=True, exist_ok=True)
        if main:
            log(f"{name}: ablation rank {row['rank']} ({row['hash']}), aux-cell mIoU {float(row['cell']):.4f}")
        result, model = train_arch(p, row["genotype"], variant="cell", width=t.width, repeats=t.repeats,
                                   schedule=t.schedule, run_dir=Path(t.resume) / name, d=d, task=task, log=log,
                                   keep=True, runtime=runtime)
        if failed(result):  # out of memory: recorded in its result.json, reported below, retried next time
            failures.append({"run": name, "failure": result["failure"], "error": result["error"]})
            continue
        if not main:
            continue
        arch = arch_of(row["genotype"], num_classes=p.data.num_classes, width=t.width, repeats=t.repeats)
        card = architecture_card(model, name=name, genotype=row["genotype"], p=p, result=result,
                                 ablation_miou=float(row["cell"]), command=command_line())
        save_checkpoint(model, arch, card, run_dir / "model.pt")
        write_tsv(run_dir / "history.tsv", result["history"])
        cards_hist[name] = result["history"]
        write_json(card, run_dir / "card.json")
        (run_dir / "card.md").write_text(card_markdown(card))
        cards.append(card)
    if main:
        text = ["# Fully trained architectures (`nasseg train`)", "",
                "Trained on the embedded synthetic sets in the paper's roles (COCO+SBD+VOC -> SBD+VOC -> VOC), "
                "scored on its VOC-format val set; the paper's rows are real PASCAL VOC 2012 val on a 1080Ti.", "",
                table1_markdown(cards), "", *[card_markdown(c) for c in cards]]
        if failures:  # only then, so a report where nothing failed keeps its bytes
            text += ["Failed runs (retried by the next `nasseg train`): "
                     + ", ".join(f"`{f['run']}` ({f['failure']})" for f in failures), ""]
        report.mkdir(parents=True, exist_ok=True)
        write_tsv(report / "history.tsv", wide_history(cards_hist))
        (report / "cards.md").write_text("\n".join(text))
        metrics = {c["name"]: {k: c[k] for k in ("mean_iou", "params", "madds", "output_stride",
                                                 "latency_ms", "train_seconds")} for c in cards}
        if failures:
            metrics["failed"] = failures
        write_json(metrics, report / "metrics.json")
    return cards
