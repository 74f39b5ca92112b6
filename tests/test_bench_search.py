"""`nasseg bench-search`'s machinery: memory probes, the summary ratios, bad options."""
import json

from conftest import run_cli
from nasseg.search.bench import ProbedTrainer, memory_now, summarise
from nasseg.search.loop import Budget, run_search
from nasseg.search.store import TrialStore
from nasseg.search.strategy import RandomStrategy
from nasseg.search.toy import ToyTrainer


def test_probed_trainer_notes_each_stage_and_the_process_memory(tmp_path):
    m = memory_now()
    assert m["pid"] > 0 and m["peak_rss_mb"] > 0 and "private_mb" in m
    log = tmp_path / "mem.jsonl"
    store = TrialStore(tmp_path / "t.db")
    run_search(RandomStrategy(seed=0), ProbedTrainer(ToyTrainer(), str(log)), store, tmp_path / "s.pt",
               budget=Budget(max_trials=4), batch_size=2, log=lambda s: None)
    rows = store.rows("random")
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 4 + sum(r["ran_stage2"] for r in rows)  # one note per stage run
    assert {x["pid"] for x in lines} == {m["pid"]}


def test_summary_ratios():
    proc = lambda mb: [{"private_mb": mb, "peak_rss_mb": mb + 100}]  # noqa: E731
    results = [{"config": "ray1", "shared_cache": True, "trials_per_hour": 100.0, "processes": proc(500),
                "trial_s_mean": 10.0, "idle_share": 0.0},
               {"config": "ray2", "shared_cache": True, "trials_per_hour": 190.0, "processes": proc(500),
                "trial_s_mean": 10.0, "idle_share": 0.05},
               # a memory run of the same configuration must not stand in for the throughput run
               {"config": "ray2", "shared_cache": True, "cache_factor": 1, "trials_per_hour": 5, "processes": proc(300)},
               {"config": "ray2", "shared_cache": True, "cache_factor": 2, "trials_per_hour": 1, "processes": proc(300)},
               {"config": "ray2", "shared_cache": False, "cache_factor": 2, "trials_per_hour": 1, "processes": proc(600)}]
    s = summarise(results)
    assert s["ray2_over_ray1"] == 1.9 and s["private_shared_over_copied_x2"] == 0.5
    assert s["ray2_busy_share"] == 0.95 and s["ray2_trial_speed"] == 1.0  # 2 x 0.95 x 1.0 = 1.9


def test_bad_options_are_one_clear_line(tmp_path):
    done = run_cli(["bench-search", "--configs", "local,gpu9"], tmp_path)
    assert done.returncode == 2 and "gpu9" in done.stdout + done.stderr
    done = run_cli(["bench-search", "--cache-factors", "1,x"], tmp_path)
    assert done.returncode == 2 and "--cache-factors" in done.stdout + done.stderr


def test_cpu_shares_count_a_busy_process_as_the_trials_and_this_one_as_the_driver():
    import os
    import resource
    import subprocess
    import sys
    import time

    from nasseg.search.bench import cpu_seconds, cpu_shares

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        before, t, mine = cpu_seconds(), time.perf_counter(), time.process_time()
        end = time.perf_counter() + 1.0
        while time.perf_counter() < end:  # the driver spins too
            pass
        after = cpu_seconds()
        span, mine = time.perf_counter() - t, time.process_time() - mine
        shares = cpu_shares(before, after, {busy.pid}, span)
    finally:
        busy.kill()
        busy.wait()
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    core_s = (os.cpu_count() or 1) * span
    assert set(shares) == {"trials", "driver", "ray_daemons", "other"}
    # the driver's share is its own CPU time (clock ticks of 10 ms); the busy child's is part of its whole life's
    assert abs(shares["driver"] * core_s - mine) < 0.05
    assert 0.05 < shares["trials"] * core_s <= child.ru_utime + child.ru_stime + 0.02
