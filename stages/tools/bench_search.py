"""`nasseg bench-search`: trials per hour of the search's executors, and memory per worker."""
from __future__ import annotations

from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.errors import ConfigError
from nasseg.outputs import write_json
from nasseg.progress import console, table


def _ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated whole numbers, got {text!r}") from None


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file (the search and its cache)"),
    archs: int = typer.Option(12, help="architectures per throughput run (the same ones in every configuration)"),
    configs: str = typer.Option("local,ray1,ray2", help="local, rayN (N Ray workers of 1 CPU thread each)"),
    memory_archs: int = typer.Option(2, help="architectures per memory run (2 Ray workers, cache shared vs copied)"),
    cache_factors: str = typer.Option("1,2", help="cache sizes for the memory runs, as multiples of precompute.n"),
    scratch: Path = typer.Option(Path("cache/bench_search"), help="where the bigger caches are precomputed"),
    out: Path = typer.Option(Path("results/bench_search.json"), help="the figures, as JSON"),
) -> None:
    """The same architectures of a seeded random search, each through stage 1 and stage 2, with
    the local executor and with 1 and 2 Ray workers (trials per hour, from the first trial's
    start to the last one's end); then 2 Ray workers with the feature cache shared through Ray's
    object store vs loaded by each worker, at each cache size: each worker's peak RSS, private
    and shared memory (/proc). Needs `nasseg precompute` first. CPU only (for GPUs see
    docs/search.md)."""
    from nasseg.search.bench import bigger_cache, cache_mb, run_config, summarise

    if archs < 1 or memory_archs < 1:
        raise ConfigError("--archs and --memory-archs must be at least 1")
    kinds = [c.strip() for c in configs.split(",") if c.strip()]
    bad = [k for k in kinds if k != "local" and not (k.startswith("ray") and k[3:].isdigit() and int(k[3:]) > 0)]
    if bad:
        raise ConfigError(f"--configs: unknown configuration(s) {bad}; use local and rayN (e.g. ray2)")
    factors = _ints(cache_factors, "--cache-factors")
    p = load_params(params)
    say = lambda s: console.print(s, highlight=False)  # noqa: E731
    results = [run_config(p, str(params), k, archs, log=say) for k in kinds]
    for f in factors:
        pf, path = (p, str(params)) if f == 1 else bigger_cache(p, str(params), f, scratch, log=say)
        for shared in (True, False):
            r = run_config(pf, path, "ray2", memory_archs, shared=shared, log=say)
            results.append({**r, "cache_factor": f, "cache_mb": cache_mb(pf)})
    summary = summarise(results)
    write_json({"archs": archs, "memory_archs": memory_archs, "cpu_count": __import__("os").cpu_count(),
                "results": results, "summary": summary}, out)
    rows = [[r["config"] + ("" if r.get("shared_cache") is None else (" shared" if r["shared_cache"] else " copied"))
             + (f" (cache ×{r['cache_factor']}, {r['cache_mb']} MB)" if "cache_factor" in r else ""),
             r["trials"], f"{r['trials_per_hour']:.0f}", f"{r['span_s']:.0f} / {r['wall_s']:.0f}",
             "" if r["idle_share"] is None else f"{100 * r['idle_share']:.0f}%",
             ", ".join(f"{q.get('peak_rss_mb', 0):.0f}/{q.get('private_mb', 0):.0f}/{q.get('shared_mb', 0):.0f}"
                       for q in r["processes"])] for r in results]
    console.print(table("bench-search", ["configuration", "trials", "trials/h", "search s / wall s", "idle",
                                         "per process MiB: peak RSS / private / shared"], rows))
    console.print(" ".join(f"{k}={v}" for k, v in summary.items()))
