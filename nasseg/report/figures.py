"""The report's own figures (the stages draw Figs. 2-5 themselves):

* Fig. 6 — the best trained architecture drawn (:func:`nasseg.spaces.cells.draw.draw_genotype`);
* Fig. 7 — qualitative predictions of the trained models beside the ground truth;
* search progress over wall-clock time (reward per trial and best so far, per strategy);
* training curves (pretrain / teacher validation mIoU, final-training and transfer losses);

and the TSV files that ``dvc plots`` renders (search progress, reward histograms).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.labels import VOC_CLASSES, VOID, voc_colormap
from ..outputs import write_tsv


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


COLOURS = {"ppo": "#d62728", "reinforce": "#ff7f0e", "random": "#1f77b4"}


# ----------------------------------------------------------------------------- search progress

def progress_rows(rows: Sequence[dict]) -> list[dict]:
    """Finished trials in the order they finished: hours since the search began, reward,
    best reward so far (failed trials count as reward 0, as the controller saw them)."""
    done = [r for r in rows if r["status"] in ("done", "failed") and r.get("finished")]
    if not done:
        return []
    done.sort(key=lambda r: (r["finished"], r["id"]))
    t0 = min(r["started"] for r in rows if r.get("started"))
    best, out = -np.inf, []
    for i, r in enumerate(done, 1):
        reward = float(r["reward"]) if r["reward"] is not None else 0.0
        best = max(best, reward)
        out.append({"trial": i, "hours": round((r["finished"] - t0) / 3600, 5), "reward": round(reward, 5),
                    "best_so_far": round(best, 5), "status": r["status"], "id": r["id"]})
    return out


def write_plot(rows: Sequence[dict], path: Path) -> Path:
    """A ``dvc plots`` data file (TSV with LF line ends, as the report has always written them)."""
    return write_tsv(path, rows, list(dict.fromkeys(k for r in rows for k in r)) or ["empty"], lf=True)


def reward_histogram(rows_by_strategy: dict, bins: int = 12) -> list[dict]:
    """Counts of final rewards per bin for every strategy, on shared bin edges (long format:
    one row per strategy and bin, as ``dvc plots`` wants for a bar chart per file)."""
    allr = [float(r["reward"]) for rs in rows_by_strategy.values() for r in rs if r["reward"] is not None]
    if not allr:
        return []
    hi = max(allr) if max(allr) > 0 else 1.0
    edges = np.linspace(0.0, hi * 1.0001, bins + 1)
    out = []
    for s, rs in rows_by_strategy.items():
        counts, _ = np.histogram([float(r["reward"]) for r in rs if r["reward"] is not None], edges)
        for lo, up, c in zip(edges[:-1], edges[1:], counts):
            out.append({"strategy": s, "reward_bin": f"{lo:.3f}-{up:.3f}", "bin_centre": round((lo + up) / 2, 4),
                        "count": int(c)})
    return out


def plot_search_progress(progress: dict, path: Path) -> Path:
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
    for s, rows in progress.items():
        if not rows:
            continue
        c = COLOURS.get(s, "#666")
        h = [r["hours"] for r in rows]
        a.plot(h, [r["reward"] for r in rows], ".", color=c, alpha=0.4)
        a.step(h, [r["best_so_far"] for r in rows], where="post", color=c, label=f"{s}: best so far")
        b.plot(h, [r["trial"] for r in rows], color=c, label=f"{s} ({len(rows)} trials)")
    a.set_xlabel("hours since the search started")
    a.set_ylabel("reward")
    a.set_title("reward of each finished trial (dots) and best so far")
    a.legend(fontsize=8)
    b.set_xlabel("hours since the search started")
    b.set_ylabel("finished trials")
    b.set_title("trials finished over time")
    b.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- training curves

def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def plot_training_curves(histories: dict[str, list[dict]], transfer: dict[str, list[dict]], path: Path) -> Path:
    """Left: validation mIoU per epoch of pretrain / teacher; middle: final-training loss per
    model; right: transfer training loss per task and model (log scale)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    a, b, c = axes
    for name in ("pretrain", "teacher"):
        # epochs without a validation (eval_every > 1) have an empty mean_iou: left out
        h = [r for r in histories.get(name) or [] if r.get("mean_iou") not in (None, "")]
        if h:
            a.plot([int(r["epoch"]) for r in h], [float(r["mean_iou"]) for r in h], "o-", label=name)
    a.set_xlabel("epoch")
    a.set_ylabel("val mIoU")
    a.set_title("pretrain and teacher (validation mIoU)")
    a.legend(fontsize=8)
    h = histories.get("train") or []
    for k in (h[0].keys() if h else []):
        if k.endswith("_train_loss"):
            b.plot([int(r["epoch"]) for r in h], [float(r[k]) for r in h], "o-", label=k[:-len("_train_loss")])
    b.set_xlabel("epoch (phases: COCO+SBD+VOC, SBD+VOC, VOC)")
    b.set_ylabel("training loss")
    b.set_title("final training (Table 1 models)")
    b.legend(fontsize=8)
    for key, hist in sorted(transfer.items()):
        if hist:
            c.semilogy([r["epoch"] for r in hist], [r["train_loss"] for r in hist], "o-", ms=3, label=key)
    c.set_xlabel("epoch")
    c.set_ylabel("training loss (log)")
    c.set_title("transfer: pose (MSE) and depth (berHu)")
    c.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- Fig. 7

def pick_images(dataset, n: int, seed: int) -> list[int]:
    """``n`` indices of the set, those showing the most object classes first (ties broken by
    a seeded shuffle), so the figure shows scenes with something to segment."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(dataset))
    scored = []
    for i in order:
        m = dataset.load_mask(dataset.samples[int(i)])
        classes = set(np.unique(m).tolist()) - {0, VOID}
        scored.append((-len(classes), int(i)))
    scored.sort(key=lambda t: t[0])  # stable: keeps the seeded order among equals
    return [i for _, i in scored[:n]]


def colour_mask(mask: np.ndarray) -> np.ndarray:
    return voc_colormap()[np.asarray(mask, dtype=np.int64).clip(0, 255)]


def plot_qualitative(dataset, indices: Sequence[int], models: dict, path: Path) -> dict:
    """Rows: images; columns: image, ground truth, one column per model. Returns per-image
    pixel accuracy of each model (shown in the titles)."""
    import torch

    from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
    from ..training.evaluate import predict_logits

    plt = _plt()
    cols = 2 + len(models)
    fig, axes = plt.subplots(len(indices), cols, figsize=(2.6 * cols, 2.5 * len(indices)), squeeze=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    scores: dict = {name: [] for name in models}
    present: set = set()
    for r, idx in enumerate(indices):
        image, mask = dataset.load(idx)
        x = (image.float().unsqueeze(0) / 255 - mean) / std
        gt = mask.numpy()
        present |= set(np.unique(gt).tolist())
        axes[r, 0].imshow(image.permute(1, 2, 0).numpy())
        axes[r, 0].set_title(dataset.samples[idx].id, fontsize=8)
        axes[r, 1].imshow(colour_mask(gt))
        axes[r, 1].set_title("ground truth", fontsize=8)
        valid = gt != VOID
        for c, (name, model) in enumerate(models.items(), start=2):
            with torch.no_grad():
                pred = predict_logits(model, x).argmax(1)[0].numpy()
            present |= set(np.unique(pred).tolist())
            acc = float((pred[valid] == gt[valid]).mean()) if valid.any() else float("nan")
            scores[name].append(acc)
            axes[r, c].imshow(colour_mask(pred))
            axes[r, c].set_title(f"{name} (pixel acc. {acc:.2f})", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    from matplotlib.patches import Patch

    cmap = voc_colormap()
    handles = [Patch(color=cmap[k] / 255, label=VOC_CLASSES[k]) for k in sorted(present)
               if k < len(VOC_CLASSES)]
    fig.legend(handles=handles, loc="lower center", ncol=min(8, len(handles)), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return scores
