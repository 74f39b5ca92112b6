"""`nasseg ablate`, `nasseg correlate` and `nasseg train` (SPEC 6)."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.progress import console, progress_bars, table

_PARAMS = typer.Option(Path("params.yaml"), "--params", "-p", help="params file")


def _log(s: str) -> None:
    console.print(s, highlight=False)


def ablate(params: Path = _PARAMS) -> None:
    """Fig. 4: the best RL architectures trained without aux, with an aux classifier, with an aux cell.

    Reads <search.out>/<ablate.strategy>/topk.json; trains the first `ablate.archs` with
    `ablate.schedule` (the paper: 20 epochs SBD+VOC then 30 VOC, no Polyak, no distillation)
    once per `ablate.variants`. Writes <ablate.out>/ablation.tsv, table.md, metrics.json (wins per
    variant) and fig4_ablation.png. Finished runs are kept in <ablate.out>/runs/ and an
    interrupted run resumes from its last epoch.
    """
    from nasseg.experiments.ablate import LABELS, run_ablate

    p = load_params(params)
    with progress_bars() as task:
        m = run_ablate(p, task, log=_log)
    rows = [[LABELS[v], f"{m['mean_iou_mean'][v]:.4f}", m["wins"][v]] for v in m["variants"]]
    console.print(table(f"ablate: {m['archs']} architectures of the {m['strategy']} search", ["aux", "mean mIoU", "wins"],
                        rows))


def correlate(params: Path = _PARAMS) -> None:
    """Fig. 5: Spearman correlation between search rewards and mIoU after longer training.

    Draws `correlate.per_bucket` architectures per reward bucket (`correlate.bounds`, the paper
    0.4/0.6) from the stores of `correlate.strategies`, trains each as in the ablation
    (aux cell), and writes <correlate.out>/correlate.tsv, metrics.json (rho and p-values) and
    fig5_correlation.png. A short bucket is reported, not padded.
    """
    from nasseg.experiments.correlate import run_correlate

    p = load_params(params)
    with progress_bars() as task:
        m = run_correlate(p, task, log=_log)
    rows = [[k.replace("_", " "), v["n"], "-" if v["rho"] is None else f"{v['rho']:.3f}",
             "-" if v["p"] is None else f"{v['p']:.3g}"] for k, v in m["spearman"].items()]
    rows += [[f"final reward vs mIoU, bucket {b}", v["n"], "-" if v["rho"] is None else f"{v['rho']:.3f}",
              "-" if v["p"] is None else f"{v['p']:.3g}"] for b, v in m["within_bucket_final_reward_vs_miou"].items()]
    console.print(table(f"correlate: {m['archs']} architectures", ["pair", "n", "Spearman rho", "p"], rows))
    for n in m["notes"]:
        console.print(f"[yellow]note:[/] {n}", highlight=False)


def train(params: Path = _PARAMS,
          system: str = typer.Option("cells", "--system", help="cells: Table 1 (the best ablation architectures "
                                     "on VOC); wacv: the template architectures on CamVid and Cityscapes.")) -> None:
    """Table 1: full training of the best ablation architectures (aux-cell variant).

    The `train.archs` best by aux-cell mIoU in <ablate.out>/ablation.tsv, at `train.width`
    and `train.repeats`, through `train.schedule` (the paper: COCO+SBD+VOC 30 -> SBD+VOC 50 ->
    VOC 100 epochs; lr halved after each phase; BN frozen and lr halved halfway through the
    last; aux weights 0.3/0.25/0.2/0.15). Writes <train.out>/found<k>/model.pt, card.md,
    card.json, history.tsv and <train.out>/cards.md (beside the paper's Table 1).

    Data-parallel: `torchrun --nproc_per_node N -m stages train` splits every batch over N
    processes (gloo on CPU, NCCL on GPUs) with the weights of a single process.
    """
    from nasseg.experiments.final import run_train

    p = load_params(params)
    if system == "wacv":
        return _train_wacv(p)
    if system != "cells":
        raise typer.BadParameter(f"--system must be cells or wacv, not {system!r}")
    main, cards = _distributed(run_train, p)
    if main:
        rows = [[c["name"], f"{c['mean_iou']:.4f}", f"{c['params']:,}", f"{c['madds'] / 1e9:.2f}",
                 c["output_stride"], f"{c['latency_ms']:.1f}"] for c in cards]
        console.print(table("train: fully trained architectures", ["name", "mIoU", "params", "MAdds (B)", "stride",
                                                                  "latency ms"], rows))


def _train_wacv(p) -> None:
    """WACV 2020: the search's best template architectures and the published ones, trained on
    every dataset of wacv.train.datasets (CamVid, Cityscapes). Writes
    <wacv.train.out>/<dataset>/<name>/model.pt, card.json, history.tsv and
    <wacv.train.report>/table.md (beside the paper's numbers), metrics.json."""
    from nasseg.experiments.wacv import run_wacv_train

    main, cards = _distributed(run_wacv_train, p)
    if main:
        rows = [[c["dataset"], c["name"], f"{c['mean_iou']:.4f}", f"{c['params']:,}", f"{c['madds'] / 1e9:.2f}",
                 f"{c['latency_ms']:.1f}"] for c in cards]
        console.print(table("train --system wacv: template architectures", ["dataset", "name", "mIoU", "params",
                                                                           "MAdds (B)", "latency ms"], rows))


def _distributed(run, p):
    """Run ``run(p, dist, task, log)`` in this process's share of a torchrun group (or alone);
    returns (is the main process, its result)."""
    from nasseg.training.distributed import init_from_env, shutdown

    d = init_from_env()
    try:
        with progress_bars() as task:
            return d.main, run(p, d, task if d.main else None, log=_log)
    finally:
        shutdown(d)
