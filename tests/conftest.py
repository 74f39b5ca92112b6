import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"

os.environ.setdefault("NASSEG_NO_PROGRESS", "1")
# One intra-op thread in the test process and in every process it starts (the CLI runs, `dvc repro`'s
# stages, torchrun's workers, Ray's drivers). On 2 cores shared with other work, OpenMP's spinning
# threads stall each other: a toy-trainer search of 24 trials took 70 s on 2 threads, 2.9 s on 1.
# No test checks a thread count other than the one it reads back from torch.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "torch" in sys.modules:  # a plugin imported torch before this file ran: the variables came too late
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real-data samples not found at {REALDATA} (shared/realdata sits beside the checkout)")
    return REALDATA


def run_cli(args, cwd, **kw):
    """Run `python -m stages ...` in ``cwd`` the way a user runs `nasseg ...`."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(ROOT), NASSEG_NO_PROGRESS="1")
    return subprocess.run([sys.executable, "-m", "stages", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, **kw)


def fresh_python(code: str) -> str:
    """Run ``code`` in a new Python process on the project (as a stage's process starts: nothing
    imported yet); its stdout, stripped. Fails the test with its stderr when it fails."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def tiny_segmentation_params(root: Path) -> dict:
    """The params sections a tiny segmentation project in ``root`` shares across tests: small
    embedded sets, small crops (the training's and the search's), and outputs under ``root``."""
    return {
        "data": {"root": str(root / "data"),
                 "embedded": {"voc": {"train": 6, "val": 4}, "sbd": {"train": 8, "val": 2}, "coco": {"train": 4},
                              "min_size": 40, "max_size": 48},
                 "augment": {"crop": 32, "min_side": 32}},
        "pretrain": {"out": str(root / "pre")},
        "precompute": {"augment": {"crop": 32, "min_side": 32}},
        "search": {"out": str(root / "search")},
    }


# Tests that start Ray on this machine: `ray stop --force` (the kill test's cleanup) stops every Ray
# process here, so under pytest-xdist they share one worker (`--dist loadgroup`) and run one at a time.
RAY_TESTS = ("test_async_search.py::test_ray_", "test_search.py::test_ray_")
# Tests of 10 s or more (a --durations run): started before the short ones, so that no long test
# is left to run alone at the end while the other worker has nothing more to do.
LONG_TESTS = ("test_plan.py::test_plan_on_", "test_distributed_stages.py::test_torchrun_",
              "test_reliability.py::test_a_bad_cache", "test_engine.py::test_ddp_", "test_search.py::test_sigkill",
              "test_space.py::test_200_", "test_templates.py::test_two_hundred", "test_experiments.py::test_ablate_corr",
              "test_cross_process.py::test_train_in_two", "test_plan.py::test_more_gpus",
              "test_async_search.py::test_ppo_learns", "test_gpu_check.py::test_the_rehearsal")


def pytest_collection_modifyitems(config, items):
    """The end-to-end run (marked slow) first, so that with two xdist workers it overlaps the rest of
    the suite instead of starting last; then the Ray tests, in one xdist group (one worker takes
    them while the other runs the end-to-end test, rather than alone at the end); then the other
    long tests, then the rest."""
    for item in items:
        if any(k in item.nodeid for k in RAY_TESTS):
            item.add_marker(pytest.mark.xdist_group("ray"))
    ray = lambda item: any(k in item.nodeid for k in RAY_TESTS)  # noqa: E731
    long = lambda item: any(k in item.nodeid for k in LONG_TESTS)  # noqa: E731
    # stable: the rest keep their order
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, not ray(item), not long(item)))
