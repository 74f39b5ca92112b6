"""Controller, strategies, trial store, the search loop with a fake cheap trainer, resume after SIGKILL."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nasseg.search.controller import Controller
from nasseg.search.executor import Failure, LocalExecutor
from nasseg.search.inner import EarlyTermination
from nasseg.config import HardwareParams, PPOParams, RayParams, TerminationParams
from nasseg.search.loop import Budget, penalised, run_search
from nasseg.search.store import TrialStore
from nasseg.search.strategy import PPOStrategy, RandomStrategy, make_strategy
from nasseg.search.toy import ToyTrainer
from nasseg.spaces.cells import CellSpace, Genotype

ROOT = Path(__file__).resolve().parents[1]


FakeTrainer = ToyTrainer  # failures are decided by the trial seed: slot 2 of every step fails with fail_every=3


def test_controller_samples_every_legal_value_and_only_legal_values():
    torch.manual_seed(0)
    c = Controller()
    samples = c.sample(400, torch.Generator().manual_seed(0))
    sizes = CellSpace().decision_sizes()
    seen = [set() for _ in sizes]
    for s in samples:
        assert len(s.decisions) == len(sizes)
        for i, v in enumerate(s.decisions):
            assert 0 <= v < sizes[i]
            seen[i].add(v)
        assert s.genotype == CellSpace().from_decisions(s.decisions)
    assert all(len(seen[i]) == sizes[i] for i in range(len(sizes)))


def test_controller_log_prob_matches_sampling_and_is_seeded():
    c = Controller()
    a = c.sample(5, torch.Generator().manual_seed(3))
    b = c.sample(5, torch.Generator().manual_seed(3))
    assert [s.decisions for s in a] == [s.decisions for s in b]
    logp, ent = c.log_prob([s.decisions for s in a])
    np.testing.assert_allclose(logp.detach().numpy(), [s.log_prob for s in a], rtol=1e-5)
    assert (ent > 0).all()


def test_ppo_raises_probability_of_rewarded_genotype():
    strat = PPOStrategy(seed=0, cfg=PPOParams(lr=3e-3))
    target = CellSpace.to_decisions(Genotype.from_text("[[0,[0,0,0,0],[0,0,0,0],[0,0,0,0]],[[0,0],[0,0],[0,0]]]"))
    before = float(strat.controller.log_prob([target])[0][0].detach())
    for _ in range(30):
        props = strat.propose(8)
        rewards = [float(np.mean([v == 0 for v in p.decisions])) for p in props]
        strat.observe(props, rewards)
    after = float(strat.controller.log_prob([target])[0][0].detach())
    assert after > before + 1.0, (before, after)


@pytest.mark.parametrize("name", ["ppo", "reinforce", "random"])
def test_strategy_state_round_trip_reproduces_proposals(name):
    a = make_strategy(name, seed=1)
    a.observe(a.propose(4), [0.1, 0.2, 0.3, 0.4])
    state = a.state_dict()
    b = make_strategy(name, seed=99)
    b.load_state_dict(state)
    assert [p.decisions for p in a.propose(3)] == [p.decisions for p in b.propose(3)]


def test_early_termination_rule():
    t = EarlyTermination(TerminationParams(p0=0.0, decay=1.0), seed=0)  # p = 0: below the mean always stops
    assert t.decide(0.5)  # first: no mean yet
    assert t.decide(0.6)  # above the running mean 0.5
    assert not t.decide(0.1)
    t2 = EarlyTermination(TerminationParams(p0=1.0, decay=1.0), seed=0)  # p = 1: never stops
    assert all(t2.decide(r) for r in (0.5, 0.1, 0.0))
    t3 = EarlyTermination(TerminationParams(p0=0.9, decay=0.5, p_min=0.1))
    for r in (0.1, 0.2, 0.3):
        t3.decide(r)
    assert t3.p == pytest.approx(0.1125)


def test_hardware_penalty():
    h = HardwareParams(metric="madds", target=1e9, weight=0.5)
    assert penalised(0.8, 0, 5e8, h) == 0.8
    assert penalised(0.8, 0, 4e9, h) == pytest.approx(0.4)
    assert penalised(0.8, 0, 4e9, HardwareParams()) == 0.8


def test_search_records_failures_and_goes_on(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    run_search(RandomStrategy(seed=0), FakeTrainer(fail_every=3), store, tmp_path / "s.pt",
               budget=Budget(max_trials=12), batch_size=4, log=lambda s: None)
    rows = store.rows("random")
    assert len(rows) == 12
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 3 and all(r["failure"] == "nan" for r in failed)  # slot 2 of each of the 3 steps
    assert all("nan" in r["traceback"] for r in failed)
    assert all(r["reward"] is None for r in failed)
    done = [r for r in rows if r["status"] == "done"]
    assert all(r["stage1_reward"] is not None for r in done)
    assert any(r["ran_stage2"] for r in done)
    assert all(r["reward"] == (r["stage2_reward"] if r["ran_stage2"] else r["stage1_reward"]) for r in done)


def test_budget_by_time(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    run_search(RandomStrategy(seed=0), FakeTrainer(sleep=0.05), store, tmp_path / "s.pt",
               budget=Budget(max_trials=None, max_seconds=0.3), batch_size=2, log=lambda s: None)
    n = store.count("random")
    assert 2 <= n <= 10


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from pathlib import Path
    from nasseg.search.toy import ToyTrainer as FakeTrainer
    from nasseg.search.loop import Budget, run_search
    from nasseg.search.store import TrialStore
    from nasseg.search.strategy import make_strategy
    out = Path(sys.argv[1])
    run_search(make_strategy("ppo", seed=0), FakeTrainer(sleep=float(sys.argv[2])), TrialStore(out / "t.db"),
               out / "s.pt", budget=Budget(max_trials=32), batch_size=4, seed=0, log=lambda s: None)
""")


def _run_script(out: Path, sleep: float, kill_at_rows: int | None):
    """Run a search in a subprocess; SIGKILL it once ``kill_at_rows`` trials are finished."""
    script = out / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    proc = subprocess.Popen([sys.executable, str(script), str(out), str(sleep)])
    if kill_at_rows is None:
        assert proc.wait(300) == 0
        return
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "t.db").exists():
            try:
                import sqlite3
                with sqlite3.connect(out / "t.db", timeout=1) as db:
                    n = db.execute("SELECT COUNT(*) FROM trials WHERE status='done'").fetchone()[0]
                if n >= kill_at_rows:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_mid_search_then_resume_gives_exactly_the_budget(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    killed.mkdir()
    clean.mkdir()
    _run_script(killed, 0.05, kill_at_rows=12)
    mid = TrialStore(killed / "t.db")
    n_mid = mid.count("ppo")
    mid.close()
    assert 0 < n_mid < 32, "the kill should land mid-search"
    _run_script(killed, 0.0, kill_at_rows=None)
    _run_script(clean, 0.0, kill_at_rows=None)
    a, b = TrialStore(killed / "t.db").rows("ppo"), TrialStore(clean / "t.db").rows("ppo")
    assert len(a) == 32 and all(r["status"] == "done" for r in a)
    assert len({(r["step"], r["slot"]) for r in a}) == 32
    # same seeds, same state after every update: the resumed run sampled what the clean run sampled
    key = lambda rows: sorted((r["step"], r["slot"], r["genotype"], r["reward"]) for r in rows)  # noqa: E731
    assert key(a) == key(b)


def test_local_executor_turns_exceptions_into_failures():
    def f(x):
        if x == 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate")
        return x * 10
    out = LocalExecutor().map(f, [(1,), (2,), (3,)])
    assert out[0] == 10 and out[2] == 30
    assert isinstance(out[1], Failure) and out[1].kind == "oom"


def test_ray_executor_runs_a_small_search_on_local_cpus(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'nasseg[ray]'")
    from nasseg.search.executor import RayExecutor

    ex = RayExecutor(RayParams(workers=2, num_cpus=1, max_retries=1))
    try:
        store = TrialStore(tmp_path / "t.db")
        run_search(make_strategy("ppo", seed=0), FakeTrainer(fail_every=4), store, tmp_path / "s.pt",
                   budget=Budget(max_trials=8), batch_size=4, executor=ex, log=lambda s: None)
        rows = store.rows("ppo")
        assert len(rows) == 8 and {r["status"] for r in rows} <= {"done", "failed"}
        assert sum(r["status"] == "failed" for r in rows) == 2  # slot 3 of both steps fails, on a Ray worker
        assert all(r["stage1_reward"] is not None for r in rows if r["status"] == "done")
    finally:
        import ray
        ray.shutdown()


# ----------------------------------------------------------------------------- device and precision

def _tiny_caches(tmp_path, num_classes=5):
    """Random train/val caches of the four MobileNetV2 taps at 16x16 (train: labels 16x16 and
    teacher logits; val: labels 64x64), opened in memory."""
    from nasseg.cache import CacheSpec, FeatureCache, write_cache

    taps = tuple((c, 16 >> i, 16 >> i) for i, c in enumerate((24, 32, 96, 320)))

    def batches(n, label_hw, teacher, seed):
        rng = np.random.default_rng(seed)
        for s in range(0, n, 8):
            b = min(8, n - s)
            out = {f"tap{i}": rng.normal(size=(b, *shape)).astype(np.float32) for i, shape in enumerate(taps)}
            out["labels"] = rng.integers(0, num_classes, size=(b, *label_hw)).astype(np.uint8)
            if teacher:
                out["teacher"] = rng.normal(size=(b, num_classes, 16, 16)).astype(np.float32)
            yield out

    tr = write_cache(tmp_path / "t.h5", CacheSpec(n=32, tap_shapes=taps, label_shape=(16, 16),
                                                  teacher_shape=(num_classes, 16, 16), chunk=8),
                     batches(32, (16, 16), True, 0), {})
    va = write_cache(tmp_path / "v.h5", CacheSpec(n=8, tap_shapes=taps, label_shape=(64, 64), chunk=8),
                     batches(8, (64, 64), False, 1), {})
    return FeatureCache(tr, in_memory=True), FeatureCache(va, in_memory=True)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])  # fp16: GradScaler on the CPU, the GPU's code path
def test_inner_training_in_half_precision_on_the_cpu_gives_finite_rewards_and_fp32_weights(tmp_path, precision):
    import math

    from nasseg.config import parse_params
    from nasseg.models.encoder import MobileNetV2Encoder
    from nasseg.runtime import Runtime
    from nasseg.search.inner import run_stage1, run_stage2
    from nasseg.spaces import get_space

    class Images(torch.utils.data.Dataset):
        def __init__(self, n):
            g = torch.Generator().manual_seed(n)
            self.x, self.y = torch.randn(n, 3, 64, 64, generator=g), torch.randint(0, 5, (n, 64, 64), generator=g)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], self.y[i]

    train, val = _tiny_caches(tmp_path)
    cfg = parse_params({"search": {"width": 16, "stage1": {"epochs": 1, "batch_size": 8},
                                   "stage2": {"epochs": 1, "batch_size": 4, "max_images": 8}}}).search
    space = get_space("cells")
    g = space.parse("[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]")
    runtime = Runtime.of(None, device="cpu", precision=precision)
    decoder, s1, _, _ = run_stage1(g, train, val, cfg, 5, 0, space, runtime=runtime)
    assert math.isfinite(s1.reward) and 0.0 <= s1.reward <= 1.0
    assert all(v.dtype == torch.float32 for v in decoder.state_dict().values() if v.is_floating_point())
    s2, _, _ = run_stage2(decoder, MobileNetV2Encoder().eval(), Images(8), Images(4), cfg, 5, 0, runtime=runtime)
    assert math.isfinite(s2.reward) and 0.0 <= s2.reward <= 1.0


def test_precision_enters_the_search_identity_only_when_not_fp32_and_the_trainer_pickles(tmp_path):
    import json
    import pickle

    from nasseg.config import parse_params
    from nasseg.runtime import Runtime
    from nasseg.search.run import run_strategy
    from nasseg.search.trainer import CacheTrainer

    def identity(runtime, out):
        p = parse_params({"search": {"max_trials": 4, "batch_size": 4, "out": str(tmp_path / out)}})
        run_strategy(p, "params.yaml", "random", trainer=ToyTrainer(), runtime=runtime, log=lambda s: None)
        return json.loads((tmp_path / out / "random/search.json").read_text())

    default, cpu = identity(None, "a"), identity(Runtime.of(None, device="cpu"), "b")
    bf16 = identity(Runtime.of(None, device="cpu", precision="bf16"), "c")
    assert default["sha1"] == cpu["sha1"] and "precision" not in cpu["params"]  # the device never enters
    assert bf16["sha1"] != cpu["sha1"] and bf16["params"]["precision"] == "bf16"
    t = CacheTrainer("params.yaml", parse_params({}).search, device="cpu", precision="bf16")
    assert pickle.loads(pickle.dumps(t)) == t  # Ray ships it: the device travels as text


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("args", [["search"], ["tricks"], ["precompute"], ["bench-cache"], ["benchmark"],
                                  ["predict", "arch0", "x.jpg"], ["export", "arch0"]])
def test_device_cuda_without_cuda_is_one_config_error_line_exit_2(args, capsys):
    from stages.cli import entry

    with pytest.raises(SystemExit) as exc:
        entry([*args, "--device", "cuda"])
    assert exc.value.code == 2
    err = capsys.readouterr()
    text = (err.out + err.err).strip()
    assert "no CUDA device" in text and "--device cpu" in text and "Traceback" not in text
