"""Sect. 4.4, Table 1: full training of the best ablation architectures (aux-cell variant).

The ``train.archs`` architectures with the highest aux-cell mIoU in ``ablation.tsv`` are
trained at the final width (64) and separable repeats (2) with the 3-phase schedule
(COCO+SBD+VOC -> SBD+VOC -> VOC; lr halved after each phase, BN frozen and lr halved again
halfway through the last; aux-cell weights 0.3/0.25/0.2/0.15). For each, ``<out>/<name>/``
holds ``model.pt`` (the inference model; ``nasseg evaluate`` and friends load it),
``card.md``/``card.json`` and ``history.tsv``; ``<report>/cards.md`` sets them beside the
paper's Table 1 and ``<report>/metrics.json`` sums them up. Epoch checkpoints live in
``<resume>/<name>/``. Runs under ``torchrun`` for data-parallel training.

Then the ``train.baselines`` zoo models (beyond the paper, which quoted its baselines) train
with exactly the same schedule, pretrained encoder and seed rule, so that "found vs
hand-designed" is measured: a published architecture (``arch0``) with the aux cell at the
same width and repeats, a baseline (``refinenet_lw_mbv2``) with its own decoder (the zoo's
standard width) and no aux heads. They go to ``<out>/baselines/<name>/`` (resume:
``<resume>/baselines/<name>/``); their cards say ``"kind": "baseline"`` (the found ones'
``"found"``), Table 1 lists them after the found rows, and ``metrics.json`` adds
``found_vs_baseline``: the best found architecture against ``refinenet_lw_mbv2``.
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
from ..errors import ConfigError, NassegError
from ..markdown import markdown_table
from ..outputs import write_json, write_tsv
from ..models import count_params, strip_aux
from ..models.checkpoint import arch_of, save_checkpoint
from ..models.encoder import MobileNetV2Encoder
from ..models.zoo import PUBLISHED, arch_info, build_model, list_archs
from ..runtime import Runtime
from ..training.distributed import Dist
from .runner import failed, genotype_text, train_arch, train_side_by_side

# SPEC 6: VOC val mIoU (%), MAdds (B), params (M), output side at 512x512, ms on a 1080Ti.
PAPER_TABLE1 = {
    "arch0": (78.0, 4.47, 2.6, 128, "14.86±0.31"), "arch1": (77.1, 2.95, 2.8, 64, "11.04±0.23"),
    "arch2": (77.3, 3.47, 2.9, 64, "8.86±0.26"), "RefineNet-LW": (76.2, 9.3, 3.3, 128, "12.00"),
    "DeepLab-v3": (75.9, 8.73, 2.1, 64, "11.35"), "DeepLab-v3-ASPP": (75.7, 5.8, 4.5, 32, "8.09"),
}
# Table 1 labels of the zoo's baselines (other names are shown as they are)
BASELINE_LABELS = {"refinenet_lw_mbv2": "RefineNet-LW-MBv2", "deeplabv3_mbv2": "DeepLab-v3-MBv2",
                   "deeplabv3_aspp_mbv2": "DeepLab-v3-ASPP-MBv2"}
REFERENCE = "refinenet_lw_mbv2"  # the hand-designed model `found_vs_baseline` measures the found ones against


def trainable(name: str) -> bool:
    """A zoo name this stage can train from the pretrain stage's MobileNet-v2 encoder: a published
    cell architecture (arch0-2) or a baseline on MobileNet-v2."""
    if name in PUBLISHED:
        return True
    if name not in list_archs("baseline"):
        return False
    return isinstance(getattr(build_model(name), "encoder", None), MobileNetV2Encoder)


def check_baselines(p: Params) -> None:
    """``train.baselines`` names models this stage can train; else one ConfigError naming the key,
    the registered names and those of them that can train here."""
    bad = [n for n in p.train.baselines if not trainable(n)]
    if bad:
        ok = [n for n in list_archs() if trainable(n)]
        raise ConfigError(f"train.baselines: {bad} cannot be trained here; registered: {', '.join(list_archs())}. "
                          f"This stage trains the published cell architectures and the MobileNet-v2 baselines "
                          f"(they start from the pretrain stage's encoder): {', '.join(ok)}; or give [] for none.")


def table1_label(c: dict, ours: str = "ours") -> str:
    """A card's Table 1 label: a found architecture in bold, a baseline by its (paper) name."""
    if c.get("kind", "found") == "found":  # cards written before baselines had no kind: all found
        return f"**{c['name']}** ({ours})"
    return f"{BASELINE_LABELS.get(c['name'], c['name'])} (ours, same schedule)"


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


def architecture_card(model: torch.nn.Module, *, name: str, genotype: Optional[str], p: Params, result: dict,
                      ablation_miou: Optional[float], command: str, kind: str = "found", aux: str = "cell") -> dict:
    """The card of a trained model; MAdds and latency measured on a CPU copy (the card's latency_device).
    ``kind``: "found" (by this run's search) or "baseline" (a zoo model trained beside them); a
    model without a genotype (a zoo baseline) has no width/repeats and is described by the zoo."""
    t = p.train
    inference = inference_copy(model)
    madds, out_hw = count_madds(inference, t.latency.size)
    mean, std = cpu_latency(inference, t.latency.size, t.latency.runs, t.latency.warmup)
    shape = {"width": t.width, "repeats": t.repeats} if genotype else \
        {"width": None, "repeats": None, "description": arch_info(name).description}
    return {"name": name, "kind": kind, "genotype": genotype, **shape, "aux": aux,
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
    shape = [f"- genotype: `{c['genotype']}`", f"- decoder width {c['width']}, separable repeats {c['repeats']}"] \
        if c["genotype"] else [f"- model: {c['description']}"]
    ablation = f" (ablation, aux cell: {c['ablation_cell_miou']:.4f})" if c["ablation_cell_miou"] is not None else \
        f" ({c['kind']}, trained with the same schedule as found<k>)"
    return "\n".join([
        f"### {c['name']}", "", *shape,
        f"- params: {c['params']:,} (inference, aux heads removed; trained with aux heads: {c['aux']})",
        f"- MAdds at {c['input']}x{c['input']}: {c['madds'] / 1e9:.2f} B",
        f"- output: {c['output'][0]}x{c['output'][1]} (stride {c['output_stride']})",
        f"- {c['val_set']} mIoU: {c['mean_iou']:.4f}{ablation}",
        f"- latency ({c['latency_device']}, {c['threads']} threads, {c['latency_runs']} runs): "
        f"{c['latency_ms']:.1f} ± {c['latency_std_ms']:.1f} ms",
        f"- schedule: {' -> '.join(c['schedule'])}; trained in {c['train_seconds']:.0f} s",
        f"- command: `{c['command']}`; params sha1 `{c['params_sha1'][:12]}` (data, pretrain, ablate, train)", ""])


def table1_markdown(cards: list[dict]) -> str:
    rows = [[table1_label(c, "ours, embedded data"), f"{100 * c['mean_iou']:.1f}", f"{c['madds'] / 1e9:.2f}",
             f"{c['params'] / 1e6:.2f}", f"{c['output'][0]}²",
             f"{c['latency_ms']:.1f} ± {c['latency_std_ms']:.1f} (CPU, {c['threads']} thr.)"] for c in cards]
    rows += [[f"{k} (paper, VOC)", miou, madds, params, f"{out}²", f"{ms} (1080Ti)"]
             for k, (miou, madds, params, out, ms) in PAPER_TABLE1.items()]
    return markdown_table(["model", "mIoU", "MAdds (B)", "params (M)", "output", "latency (ms)"], rows)


def table1_runs(p: Params) -> list[dict]:
    """Table 1's runs: the ``train.archs`` best of the ablation (found<k>), then ``train.baselines``."""
    runs = [{"name": f"found{k}", "kind": "found", "arch": row["genotype"], "genotype": row["genotype"],
             "variant": "cell", "dir": Path(f"found{k}"), "ablation_miou": float(row["cell"]),
             "note": f"ablation rank {row['rank']} ({row['hash']}), aux-cell mIoU {float(row['cell']):.4f}"}
            for k, row in enumerate(best_of_ablation(p, p.train.archs))]
    for name in p.train.baselines:  # a published architecture with the aux cell, a baseline without aux heads
        genotype = genotype_text(name) if name in PUBLISHED else None
        runs.append({"name": name, "kind": "baseline", "arch": name, "genotype": genotype,
                     "variant": "cell" if genotype else "none", "dir": Path("baselines") / name, "ablation_miou": None,
                     "note": f"{arch_info(name).description}; the same schedule as found<k>"})
    return runs


def train_run(p: Params, r: dict, *, d: Optional[Dist], task, log: Callable[[str], None],
              runtime: Optional[Runtime], trained: Optional[tuple] = None
              ) -> tuple[Optional[dict], Optional[list], Optional[dict]]:
    """Train one of :func:`table1_runs` (or take ``trained``: its (result, model), trained side by
    side beforehand) and write its folder; (card, history, None) on the main process, (None, None,
    None) on the others, (None, None, failure) when it ran out of memory."""
    t = p.train
    main = d is None or d.main
    run_dir = Path(t.out) / r["dir"]
    run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        log(f"{r['dir'].as_posix()}: {r['note']}")
    result, model = trained or train_arch(p, r["arch"], variant=r["variant"], width=t.width, repeats=t.repeats,
                                          schedule=t.schedule, run_dir=Path(t.resume) / r["dir"], d=d, task=task,
                                          log=log, keep=True, runtime=runtime)
    if failed(result):  # out of memory: recorded in its result.json, reported, retried next time
        return None, None, {"run": r["dir"].as_posix(), "failure": result["failure"], "error": result["error"]}
    if not main:
        return None, None, None
    arch = arch_of(r["genotype"], num_classes=p.data.num_classes, width=t.width, repeats=t.repeats) if r["genotype"] \
        else arch_of(name=r["name"], num_classes=p.data.num_classes)
    card = architecture_card(model, name=r["name"], genotype=r["genotype"], p=p, result=result,
                             ablation_miou=r["ablation_miou"], command=command_line(), kind=r["kind"],
                             aux=r["variant"])
    save_checkpoint(model, arch, card, run_dir / "model.pt")
    write_tsv(run_dir / "history.tsv", result["history"])
    write_json(card, run_dir / "card.json")
    (run_dir / "card.md").write_text(card_markdown(card))
    return card, result["history"], None


def found_vs_baseline(cards: list[dict]) -> Optional[dict]:
    """The best found architecture (by mIoU) against ``refinenet_lw_mbv2`` trained with the same
    schedule; None unless both were trained."""
    found = [c for c in cards if c["kind"] == "found"]
    ref = next((c for c in cards if c["kind"] == "baseline" and c["name"] == REFERENCE), None)
    if not found or ref is None:
        return None
    best = max(found, key=lambda c: c["mean_iou"])
    return {"baseline": REFERENCE, "best_found": best["name"], "found_mean_iou": best["mean_iou"],
            "baseline_mean_iou": ref["mean_iou"], "found_madds": best["madds"], "baseline_madds": ref["madds"],
            "madds_ratio": round(best["madds"] / ref["madds"], 4),
            "found_beats_baseline_at_fewer_madds": best["mean_iou"] > ref["mean_iou"] and best["madds"] < ref["madds"]}


def comparison_text(c: dict) -> str:
    verdict = "beats" if c["found_beats_baseline_at_fewer_madds"] else "does not beat"
    return (f"Found vs hand-designed, both trained here with the same schedule: **{c['best_found']}** "
            f"{100 * c['found_mean_iou']:.1f}% mIoU at {c['found_madds'] / 1e9:.2f} B MAdds, "
            f"{BASELINE_LABELS[c['baseline']]} {100 * c['baseline_mean_iou']:.1f}% at "
            f"{c['baseline_madds'] / 1e9:.2f} B (the found one at ×{c['madds_ratio']:.2f} its MAdds): the best found "
            f"architecture {verdict} the baseline at fewer MAdds.")


def write_report(p: Params, cards: list[dict], histories: dict[str, list[dict]], failures: list[dict]) -> None:
    """``<report>/cards.md`` (Table 1 and the cards), ``history.tsv`` and ``metrics.json``."""
    report = Path(p.train.report)
    cmp = found_vs_baseline(cards)
    text = ["# Fully trained architectures (`nasseg train`)", "",
            "Trained on the embedded synthetic sets in the paper's roles (COCO+SBD+VOC -> SBD+VOC -> VOC), "
            "scored on its VOC-format val set; the paper's rows are real PASCAL VOC 2012 val on a 1080Ti.", "",
            table1_markdown(cards), "", *([comparison_text(cmp), ""] if cmp else []),
            *[card_markdown(c) for c in cards]]
    if failures:  # only then, so a report where nothing failed keeps its bytes
        text += ["Failed runs (retried by the next `nasseg train`): "
                 + ", ".join(f"`{f['run']}` ({f['failure']})" for f in failures), ""]
    report.mkdir(parents=True, exist_ok=True)
    write_tsv(report / "history.tsv", wide_history(histories))
    (report / "cards.md").write_text("\n".join(text))
    metrics = {c["name"]: {k: c[k] for k in ("mean_iou", "params", "madds", "output_stride",
                                             "latency_ms", "train_seconds")} for c in cards}
    if cmp:
        metrics["found_vs_baseline"] = cmp
    if failures:
        metrics["failed"] = failures
    write_json(metrics, report / "metrics.json")


def run_train(p: Params, d: Optional[Dist] = None, task=None, log: Callable[[str], None] = print,
              runtime: Optional[Runtime] = None) -> list[dict]:
    check_baselines(p)  # a bad name fails here, not after hours of training the found ones
    cards, histories, failures = [], {}, []
    runs, t = table1_runs(p), p.train
    # the runs side by side first when runtime.procs allows (a CPU, no torchrun); latency is timed after, alone
    done = train_side_by_side(p, [dict(genotype=r["arch"], variant=r["variant"], width=t.width, repeats=t.repeats,
                                       schedule=t.schedule, run_dir=Path(t.resume) / r["dir"]) for r in runs],
                              runtime=runtime, log=log, keep=True) if d is None or d.world == 1 else {}
    for r in runs:
        card, history, failure = train_run(p, r, d=d, task=task, log=log, runtime=runtime,
                                           trained=done.get(str(Path(t.resume) / r["dir"])))
        if failure:
            failures.append(failure)
        elif card:
            cards.append(card)
            histories[card["name"]] = history
    if d is None or d.main:
        write_report(p, cards, histories, failures)
    return cards
