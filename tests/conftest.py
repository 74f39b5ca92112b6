import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"

os.environ.setdefault("NASSEG_NO_PROGRESS", "1")


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
