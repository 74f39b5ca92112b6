"""`nasseg bench-proxy`: how small can the search's proxy be and still rank architectures?"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.errors import ConfigError
from nasseg.outputs import write_json
from nasseg.progress import console, table


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file (its search, precompute and "
                                "ablate sections; needs `dvc repro precompute` first)"),
    setting: Optional[list[str]] = typer.Option(None, "--setting", "-s", help="a preset (now, s1-1ep, crop96, "
                                                "crop96-s1-1ep-s2-80) or name:key=value,key=value; repeatable; "
                                                "default: now, crop96, crop96-s1-1ep-s2-80"),
    archs: int = typer.Option(8, help="random cell architectures (the same ones in every setting)"),
    seeds: str = typer.Option("0,1", help="seeds per architecture and setting, comma-separated (at least 2)"),
    arch_seed: int = typer.Option(0, help="the seed of the random architectures"),
    scratch: Path = typer.Option(Path("cache/bench_proxy"), help="the settings' caches and params, the reference "
                                 "runs and trials.jsonl (a rerun resumes from it)"),
    out: Path = typer.Option(Path("results/bench_proxy.json"), help="the figures, as JSON"),
) -> None:
    """Each setting of the search's proxy (stage 1 from the cache, stage 2 end to end, no early
    termination) trains the same random architectures under each seed; each architecture is also
    trained once with the ablation's schedule (aux cell) as the reference. Per setting: seconds
    per trial, seed-to-seed rank agreement, noise (within-architecture std over the spread of the
    architectures' means) and Spearman rho between the rewards and the reference mIoU; for a setting
    with stage 2, also its stage-1 reward alone (the same setting without stage 2). CPU only."""
    from nasseg.search.calibrate import DEFAULT_SETTINGS, parse_setting, run_study

    try:
        seed_list = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated whole numbers, got {seeds!r}") from None
    chosen = [parse_setting(s) for s in (setting or DEFAULT_SETTINGS)]
    say = lambda s: console.print(s, highlight=False)  # noqa: E731
    result = run_study(str(params), chosen, archs, seed_list, scratch, arch_seed=arch_seed, log=say)
    write_json(result, out)
    rows = [[s["name"], f"{s['trial_s']:.1f}", s["mean_reward"], s["seed_rho"], s["noise"], s["rho_one"],
             s["rho_mean"]] for s in result["settings"]]
    console.print(table(f"the proxy vs the ablation's training, {archs} architectures",
                        ["setting", "s / trial", "mean reward", "seed ρ", "noise", "ρ one seed", "ρ seed mean"],
                        [[str(v) for v in r] for r in rows]))
    console.print(f"wrote {out}")
