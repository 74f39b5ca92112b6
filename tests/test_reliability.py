"""Issue 20 through the CLI, in subprocesses: a corrupt or foreign feature cache stops the search
with one line and charges no architecture; a flipped byte inside the cache is caught naming the
dataset and chunk; one search per out folder; writes the file system refuses are one line; a
weights file that is no checkpoint is one line that never advises ``weights_only=False``."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import yaml

from conftest import run_cli, tiny_segmentation_params
from nasseg.config import parse_params

SEARCH = ["search", "--strategy", "random", "--params", "params.yaml"]


def _raw(root: Path) -> dict:
    raw = tiny_segmentation_params(root)
    raw["pretrain"].update(epochs=1, batch_size=4, decoder_width=16, val_set="meta_val")
    raw["precompute"].update(out=str(root / "cache"), n=16, chunk=8, val_size=32, teacher=False)
    raw["search"].update(max_trials=3, batch_size=2, stage2={"enabled": False}, executor="local")
    return raw


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny project: embedded data, an encoder, the search's two caches (kept as *.good)."""
    from nasseg.cache.precompute import precompute
    from nasseg.data.prepare import build_lists, generate_embedded
    from nasseg.training.recipes import run_pretrain

    root = tmp_path_factory.mktemp("rel")
    raw = _raw(root)
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    p = parse_params(raw)
    generate_embedded(p.data)
    build_lists(p.data)
    run_pretrain(p, log=lambda s: None)
    for split in ("train", "val"):
        path, _ = precompute(p, split)
        shutil.copy(path, root / "cache" / f"{split}.h5.good")
    return root


def _restore(root: Path) -> None:
    for split in ("train", "val"):
        shutil.copy(root / "cache" / f"{split}.h5.good", root / "cache" / f"{split}.h5")
    shutil.rmtree(root / "search", ignore_errors=True)


def _rows(root: Path) -> list[tuple]:
    db = root / "search" / "random" / "trials.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as c:
        return c.execute("SELECT id, status, failure FROM trials").fetchall()


def _one_line(done) -> str:
    text = (done.stdout + done.stderr).strip()
    assert done.returncode == 2, text[-3000:]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert "Traceback" not in text and lines[-1].startswith("error:"), text[-3000:]
    return lines[-1] if len(lines) == 1 else " ".join(lines[lines.index(next(ln for ln in lines
                                                                              if ln.startswith("error:"))):])


def _flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _header(path: Path) -> None:
    for k in range(8, 40):  # the HDF5 superblock
        _flip(path, k)


def _foreign(path: Path) -> None:
    with h5py.File(path, "r+") as f:  # made with other params: another seed
        f.attrs["fingerprint"] = f.attrs["fingerprint"].replace('"seed": 0', '"seed": 7')


def _middle(path: Path) -> None:
    with h5py.File(path, "r") as f:
        info = f["tap1"].id.get_chunk_info_by_coord((8,) + (0,) * (f["tap1"].ndim - 1))
    _flip(path, info.byte_offset + info.size // 2)


BAD_CACHES = [
    (_truncate, r"train\.h5: .*(corrupt|not a readable HDF5)"),
    (_header, r"train\.h5: not a readable HDF5"),
    (_foreign, r"train\.h5: the feature cache was made with different inputs \(seed differ\)"),
    (_middle, r"train\.h5: dataset 'tap1', chunk 1 \(samples 8-15\) is corrupt"),
]


def test_a_bad_cache_stops_the_search_with_one_line_charges_nothing_and_failed_trials_can_run_again(project):
    import re

    _restore(project)
    for spoil, says in BAD_CACHES:
        spoil(project / "cache" / "train.h5")
        line = _one_line(run_cli(SEARCH, project))
        assert re.search(says, line), (spoil.__name__, line)
        assert not [r for r in _rows(project) if r[1] != "running"], spoil.__name__  # nothing finished or failed
        _restore(project)
    # the good cache back: the search runs the whole budget; here the `search` stage's two strategies,
    # side by side in two spawned processes (runtime.procs 2; the end-to-end test runs them in turn)
    raw = yaml.safe_load((project / "params.yaml").read_text())
    (project / "procs2.yaml").write_text(yaml.safe_dump({**raw, "runtime": {"procs": 2, "workers": 0}}))
    done = run_cli(["search", "--strategy", "ppo", "--strategy", "random", "--params", "procs2.yaml"], project)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "2 searches side by side in 2 processes" in done.stdout + done.stderr
    assert sorted(r[1] for r in _rows(project)) == ["done"] * 3
    with sqlite3.connect(project / "search" / "ppo" / "trials.db") as c:
        assert [r[0] for r in c.execute("SELECT status FROM trials")] == ["done"] * 3
    # a store written before the rule: a foreign cache recorded as the architecture's error, and an OOM
    with sqlite3.connect(project / "search" / "random" / "trials.db") as c:
        c.execute("UPDATE trials SET status='failed', failure='error', reward=NULL, traceback="
                  "'NassegError: cache/train.h5: the feature cache was made with different inputs' WHERE id=1")
        c.execute("UPDATE trials SET status='failed', failure='oom', reward=NULL, traceback='oom' WHERE id=2")
    done = run_cli(SEARCH, project)
    assert done.returncode == 0 and "1 failed trial(s) will run again" in done.stdout + done.stderr
    assert sorted(r[1:] for r in _rows(project)) == [("done", None), ("done", None), ("failed", "oom")]
    done = run_cli([*SEARCH, "--retry-failed"], project)
    assert done.returncode == 0 and "--retry-failed" in done.stdout + done.stderr
    rows = _rows(project)
    assert len(rows) == 3 and all(r[1] == "done" for r in rows)  # the budget was not used again


def test_a_second_search_on_the_same_folder_refuses_and_a_dead_ones_lock_is_taken_over(project):
    from nasseg.errors import NassegError
    from nasseg.search.store import SearchLock

    _restore(project)
    out = project / "search" / "random"
    out.mkdir(parents=True)
    lock = out / "search.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(f'{{"host": "{os.uname().nodename}", "pid": {holder.pid}}}')
        line = _one_line(run_cli(SEARCH, project))
        assert f"{out}: another search is writing here (process {holder.pid}" in line
        assert _rows(project) == [] and lock.exists()
    finally:
        holder.kill()
        holder.wait()
    with SearchLock(out):  # the holder is gone: its lock is stale and taken over
        assert f'"pid": {os.getpid()}' in lock.read_text()
        with pytest.raises(NassegError, match="another search is writing here"):
            SearchLock(out).__enter__()  # a live holder (this process) is not
    assert not lock.exists()  # released at the end


def test_export_to_a_folder_it_cannot_write_is_one_line_naming_the_path(tmp_path):
    (tmp_path / "afile").write_text("x")
    line = _one_line(run_cli(["export", "arch0", "--out", str(tmp_path / "afile" / "sub"), "--format", "onnx",
                              "--size", "32", "32", "--no-check"], tmp_path))
    assert str(tmp_path / "afile") in line and ("not a folder" in line or "fix the path" in line), line


def test_the_write_helper_names_the_path_for_permission_and_disk_full(tmp_path, monkeypatch):
    import errno

    from nasseg.errors import NassegError
    from nasseg.outputs import write_json, writing

    with pytest.raises(NassegError, match=r"out/x\.json: Permission denied \(no permission to write there"):
        with writing(tmp_path / "out" / "x.json"):
            raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "x.json"))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(NassegError, match=r"m\.json: No space left on device \(the disk is full"):
        write_json({"a": 1}, tmp_path / "m.json")


def test_a_weights_file_that_is_no_checkpoint_is_one_line_without_weights_only_advice(tmp_path):
    import pickle

    bad = tmp_path / "w.pt"
    raw = tiny_segmentation_params(tmp_path)
    raw["pretrain"].update(weights=str(bad))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    for text in (b"not a checkpoint at all", pickle.dumps({"a": [1, 2]})):
        bad.write_bytes(text)
        line = _one_line(run_cli(["pretrain", "--params", "params.yaml"], tmp_path))
        assert str(bad) in line and "weights_only" not in line, line
