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
