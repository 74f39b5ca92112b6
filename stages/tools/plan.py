"""`nasseg plan`: what a run will cost, stage by stage, before it starts (docs/plan.md)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.errors import ConfigError
from nasseg.outputs import write_json
from nasseg.plan import compare, fmt_bytes, fmt_seconds, hardware, make_plan
from nasseg.progress import console, table

from ..common import log


def parse_sides(text: str) -> tuple[int, int]:
    """``"64,128"`` -> ``(64, 128)``; anything else is a ConfigError naming the option."""
    try:
        sides = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        sides = ()
    if len(sides) != 2:
        raise ConfigError(f"--probe-sides must be two image sides in pixels, such as 64,128; got {text!r}")
    return sides  # type: ignore[return-value]


def show(plan: dict) -> None:
    hw = plan["hardware"]
    rows = []
    for st in plan["stages"]:
        rows.append([st["stage"], st["work"], fmt_seconds(st["seconds"]), fmt_bytes(st["disk_bytes"]),
                     fmt_bytes(st["peak_bytes"]), st["parallel"] or "–"])
    tot = plan["totals"]
    rows.append(["total", f"{len(plan['stages'])} stages" + (f"; not estimated: {', '.join(tot['not_estimated'])}"
                                                            if tot["not_estimated"] else ""),
                 fmt_seconds(tot["seconds"]), fmt_bytes(tot["disk_bytes"]), fmt_bytes(tot["peak_bytes"]) + " (max)",
                 ""])
    console.print(table(f"plan for {plan['params']} on {hw['describe']}",
                        ["stage", "work", "time", "disk", "peak memory", "devices"], rows))
    rows = [[st["stage"], st["probed"], st["scaling"] or "–", "; ".join(st["notes"]) or "–"] for st in plan["stages"]]
    console.print(table("what was probed and how it was scaled", ["stage", "probed", "scaling rule", "notes"], rows))
    a = plan["assumptions"]
    log(f"not modelled: {', '.join(a['not_modelled'])}")
    if a["gpu_tflops"] is not None:
        log(f"what-if throughput: {a['gpu_tflops']:g} TFLOP/s per GPU (default basis: {a['default_gpu_tflops_basis']})")
    assumed = sorted({v["basis"] for v in a["set_sizes"].values() if v["basis"].startswith("assumed")})
    if assumed:
        log("set sizes assumed (real sources not counted here): " + "; ".join(assumed))
    log(f"planned in {plan['plan_seconds']:.1f} s ({len(plan['probes'])} stage models probed)")
    if plan.get("busy"):
        console.print(f"[bold yellow]warning:[/] {plan['busy']}", highlight=False)


def show_compare(rows: list[dict]) -> None:
    body = [[r["stage"], fmt_seconds(r["planned_seconds"]), fmt_seconds(r["measured_seconds"]),
             f"×{r['ratio']:.2f}" if r["ratio"] is not None else "–", r["source"] or "–", r["note"]] for r in rows]
    console.print(table("planned vs recorded training seconds (records hold training loops, not wall time)",
                        ["stage", "planned", "recorded", "recorded ÷ planned", "record", "note"], body))


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file to plan (e.g. profiles/paper.yaml for the paper's run)"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda: plan for this device (default: "
                                         "params.yaml runtime.device; cuda where none is present is a what-if "
                                         "scaled from --gpu-tflops)"),
    gpus: Optional[int] = typer.Option(None, "--gpus", help="what-if: GPUs per node (implies --device cuda); the "
                                       "torchrun stages split each batch over them, the search runs "
                                       "search.ray trials side by side"),
    nodes: Optional[int] = typer.Option(None, "--nodes", help="what-if: nodes of --gpus GPUs each"),
    gpu_tflops: Optional[float] = typer.Option(None, "--gpu-tflops", help="effective TFLOP/s of one GPU on these "
                                               "models (default: derived from the paper's Table 1, arch0 at "
                                               "14.86 ms on a 1080Ti); setting it makes the plan a what-if even "
                                               "where a GPU is present"),
    probe_sides: str = typer.Option("64,128", "--probe-sides", help="the two image sides (batch 2) at which "
                                    "each stage's step is timed; the time is fitted linearly in batch x pixels"),
    archs: int = typer.Option(1, "--archs", help="random architectures probed per search space (their mean "
                                                 "stands for the searched ones)"),
    seed: int = typer.Option(0, "--seed", help="seeds the random architectures and the probe inputs"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="also write the plan's figures to this JSON file"),
    do_compare: bool = typer.Option(False, "--compare", help="set the plan beside the training seconds earlier runs "
                                    "recorded (metrics.json, trials.tsv, result.json); says which stage has none"),
    dvc: Path = typer.Option(Path("dvc.yaml"), "--dvc", help="the pipeline whose stages are planned"),
) -> None:
    """Cost a run before starting it: per dvc.yaml stage, the work the params ask for (images,
    steps, architectures, epochs), the estimated time, disk and peak memory, and the totals.

    Times come from a few timed steps of each stage's real step function (the training
    engine's run_epoch + Updater on the stage's own model and loss) at two small sizes on
    this machine, extrapolated linearly in batch x pixels; the table below the plan says,
    per stage, what was probed and the scaling rule. With --device cuda where no GPU is
    present (or --gpu-tflops), the plan is a what-if: time = counted FLOPs over the assumed
    throughput. Runs in well under a minute on 2 CPU cores.
    """
    p = load_params(params)
    hw = hardware(device, gpus, nodes, gpu_tflops, params=p)
    sides = parse_sides(probe_sides)
    log(f"planning {params} for {hw.describe()}")
    plan = make_plan(p, hw, params_path=str(params), dvc=dvc, sides=sides, archs=archs, seed=seed)
    show(plan)
    if do_compare:
        rows = compare(plan, p)
        plan["compare"] = rows
        show_compare(rows)
    if json_out is not None:
        write_json(plan, json_out)
        log(f"wrote {json_out}")
