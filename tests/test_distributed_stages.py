"""Issue 17: `torchrun --nproc_per_node 2 -m stages ablate|transfer|tricks --device cpu` (two gloo
processes) finishes, and no file is written twice: only the main process writes, each output
once, the set of outputs is the one a single process writes, and no *.tmp is left behind.

Every write is seen through a ``sitecustomize`` audit hook put on the workers' PYTHONPATH: it
logs each open-for-writing and each rename (``os.replace`` / ``os.rename``, which is how
``write_json`` and ``save_atomic`` / ``torch.save`` outputs land) of every process, with its
RANK, to a log per process.
"""
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import tiny_segmentation_params
from nasseg.config import parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.spaces.cells.genotype import CellSpace
from nasseg.transfer.prepare import generate_transfer_embedded

ROOT = Path(__file__).resolve().parents[1]

HOOK = r'''
import os, sys
_log = os.environ.get("NASSEG_TEST_WRITE_LOG")
_root = os.environ.get("NASSEG_TEST_WRITE_ROOT")
if _log and _root:
    _rank = os.environ.get("RANK", "launcher")
    _fd = os.open(f"{_log}.{_rank}.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def _note(kind, path):
        if isinstance(path, int):
            return
        try:
            path = os.path.abspath(os.fsdecode(path))
        except Exception:
            return
        if path.startswith(_root + os.sep):
            os.write(_fd, f"{kind}\t{path}\n".encode())

    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            if (mode is not None and any(c in str(mode) for c in "wax+")) or (mode is None and flags & _W):
                _note("open", path)
        elif event == "os.rename":
            _note("rename_from", args[0])
            _note("rename_to", args[1])

    sys.addaudithook(_hook)
'''

SCHEDULE = {"phases": [{"sets": "trainaug", "epochs": 1, "images_per_epoch": 4}], "batch_size": 2,
            "val_set": "meta_val"}
TINY_GENOTYPE = "[[2,[0,0,0,1],[1,2,3,4],[2,0,5,6]],[[0,1],[2,3],[4,5]]]"


def _raw(root: Path) -> dict:
    sched = lambda s, v: {"phases": [{"sets": s, "epochs": 1, "images_per_epoch": 4}],  # noqa: E731
                          "batch_size": 2, "val_set": v}
    return {
        **tiny_segmentation_params(root),
        "search": {"out": str(root / "search"), "stage1": {"epochs": 1, "batch_size": 4, "samples_per_epoch": 8},
                   "stage2": {"batch_size": 2, "max_images": 4}},
        "precompute": {"teacher": False, "n": 8, "chunk": 8, "val_size": 48, "out": str(root / "cache"),
                       "augment": {"crop": 32, "min_side": 32}},
        "tricks": {"archs": 1, "out": str(root / "tricks")},
        "ablate": {"archs": 2, "variants": ["none", "cell"], "width": 8, "repeats": 1, "schedule": SCHEDULE,
                   "out": str(root / "ablate")},
        "train": {"out": str(root / "train"), "width": 8, "repeats": 1},
        "transfer": {
            "tasks": ["nyu"],
            "data": {"root": str(root / "tdata"),
                     "embedded": {"coco": {"train": 4, "val": 2}, "mpii": {"train": 4, "val": 2},
                                  "nyu_labeled": 4, "nyu_test": 2, "nyu_raw_train": 4}},
            "models": [TINY_GENOTYPE], "encoder": "none", "out": str(root / "transfer"),
            "resume": str(root / "resume"), "models_out": str(root / "models"),
            "nyu": {"crop": [64, 64], "schedule": sched("nyu_train", "nyu_test")}},
    }


def _project(root: Path) -> Path:
    """Tiny prepared segmentation and depth data, a random 'pretrained' encoder and a search
    store's topk.json of two architectures; returns the params file."""
    root.mkdir(parents=True, exist_ok=True)
    raw = _raw(root)
    p = parse_params(raw)
    generate_embedded(p.data)
    build_lists(p.data)
    generate_transfer_embedded(p.transfer.data, tasks=("nyu",))
    (root / "pre").mkdir()
    torch.manual_seed(0)
    torch.save({"encoder": MobileNetV2Encoder().state_dict()}, root / "pre/encoder.pt")
    rng = np.random.default_rng(0)
    top = []
    for reward in (0.8, 0.7):
        g = CellSpace().sample(rng)
        top.append({"genotype": g.to_text(), "hash": g.hash(), "reward": reward})
    (root / "search/ppo").mkdir(parents=True)
    (root / "search/ppo/topk.json").write_text(json.dumps(top))
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(json.loads(json.dumps(raw))))
    return params


def _outputs(root: Path, dirs) -> set:
    return {str(f.relative_to(root)) for d in dirs for f in (root / d).rglob("*") if f.is_file()}


def _run(tmp_path: Path, name: str, stage_args: list, nproc: int) -> tuple[Path, dict]:
    """Run the stage (under torchrun with ``nproc`` > 1) on a fresh project; returns (its root,
    {rank: [(kind, path relative to root)]}). With ``nproc`` 1 the stage's runs go side by side in
    spawned processes (runtime.procs 2), whose writes count as the launcher's."""
    root = tmp_path / name
    params = _project(root)
    if nproc == 1:  # the one-process reference runs its runs side by side (runtime.procs 2: ablate's and tricks')
        raw = yaml.safe_load(params.read_text())
        params.write_text(yaml.safe_dump({**raw, "runtime": {"procs": 2, "workers": 0}}))
    env, logs = _hook_env(tmp_path, root)
    if stage_args[0] == "tricks":  # its input, the feature cache, written beforehand by one process (this one), unwatched
        from nasseg.cache.precompute import precompute
        from nasseg.runtime import Runtime

        p = parse_params(yaml.safe_load(params.read_text()))
        for split in ("train", "val"):
            precompute(p, split, runtime=Runtime.of(p, device="cpu"))
    launch = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
              if nproc > 1 else [sys.executable])
    r = subprocess.run([*launch, "-m", "stages", *stage_args, "--device", "cpu", "--params", str(params)],
                       cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{stage_args} on {nproc} process(es) failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    if nproc == 1 and stage_args[0] in ("ablate", "tricks"):
        # each Python process opens its log at start: the stage, its 2 children (and spawn's resource tracker)
        assert len([f for f in logs.iterdir() if f.name.split(".")[1] == "launcher"]) >= 3, sorted(logs.iterdir())
    writes: dict = {}
    for f in logs.iterdir():
        rank = f.name.split(".")[1]
        writes.setdefault(rank, [])
        for line in f.read_text().splitlines():
            kind, path = line.split("\t")
            writes.setdefault(rank, []).append((kind, str(Path(path).relative_to(root))))
    return root, writes


def _hook_env(tmp_path: Path, root: Path) -> tuple[dict, Path]:
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(HOOK)
    logs = tmp_path / f"writes_{root.name}"
    logs.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{hook}{os.pathsep}{ROOT}", NASSEG_NO_PROGRESS="1",
               NASSEG_TEST_WRITE_LOG=str(logs / "w"), NASSEG_TEST_WRITE_ROOT=str(root), OMP_NUM_THREADS="1")
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env, logs


def test_write_hook_sees_opens_and_renames(tmp_path):
    """The audit hook the torchrun test relies on: writes (open, write_json, torch.save via
    save_atomic) under the root are logged with the process's RANK; reads and other paths are not."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "in.txt").write_text("x")
    env, logs = _hook_env(tmp_path, root)
    code = ("import torch; from pathlib import Path; from nasseg.outputs import write_json; "
            "from nasseg.training.fit import save_atomic; open('in.txt').read(); open('a.txt', 'w').write('a'); "
            "write_json({}, Path('b.json')); save_atomic({}, Path('c.pt')); "
            f"open({str(tmp_path / 'outside.txt')!r}, 'w')")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=dict(env, RANK="1"), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    [log] = list(logs.iterdir())
    assert log.name.startswith("w.1.")
    events = [tuple(line.split("\t")) for line in log.read_text().splitlines()]
    events = [(k, str(Path(p).relative_to(root))) for k, p in events]
    assert _landed(events) == Counter({"a.txt": 1, "b.json": 1, "c.pt": 1})


def _landed(events) -> Counter:
    """How many times each file was written: a rename's target, or a file opened for writing
    and not renamed afterwards (write_json's and save_atomic's <name>.tmp count as <name>)."""
    renamed_from = Counter(p for k, p in events if k == "rename_from")
    n = Counter(p for k, p in events if k == "rename_to")
    opened = Counter(p for k, p in events if k == "open")
    for p, c in opened.items():
        left = c - renamed_from[p]
        if left > 0:
            n[p] += left
    return n


@pytest.mark.parametrize("stage_args,dirs,once", [
    (["ablate"], ["ablate"], ["ablate/ablation.tsv", "ablate/table.md", "ablate/metrics.json",
                              "ablate/fig4_ablation.png"]),
    (["transfer", "--task", "nyu"], ["transfer", "models", "resume"],
     ["transfer/runs/nyu/{g}/result.json", "models/nyu/{g}/model.pt", "transfer/table3.md",
      "transfer/metrics.json"]),
    (["tricks"], ["tricks"], ["tricks/tricks.tsv", "tricks/metrics.json", "tricks/fig3_tricks.png"]),
], ids=["ablate", "transfer", "tricks"])
def test_torchrun_two_gloo_processes_write_each_file_once(tmp_path, stage_args, dirs, once):
    root2, w2 = _run(tmp_path, "ddp", stage_args, nproc=2)
    root1, w1 = _run(tmp_path, "one", stage_args, nproc=1)
    once = [x.format(g=TINY_GENOTYPE) for x in once]

    # the hook ran in the launcher and both workers; only the main process writes, in the
    # stage's outputs as anywhere else in the project
    assert set(w2) == {"0", "1", "launcher"}, w2.keys()
    assert w2.get("1", []) == [], f"rank 1 wrote: {sorted(set(p for _, p in w2['1']))}"
    assert w2.get("launcher", []) == []
    landed2 = _landed(w2.get("0", []))
    # each output of the stage lands once (a resume checkpoint may be rewritten per epoch)
    twice = {p: n for p, n in landed2.items() if n > 1 and not p.endswith("last.pt")}
    assert not twice, f"written more than once: {twice}"
    for f in once:
        assert landed2[f] == 1, (f, landed2[f])
        assert (root2 / f).is_file()
        if f.endswith(".json"):
            json.loads((root2 / f).read_text())

    # the same files as one process writes, and no leftovers
    out2, out1 = _outputs(root2, dirs), _outputs(root1, dirs)
    assert out2 == out1
    assert not [f for f in out2 if f.endswith(".tmp")]
    assert set(landed2) - {p for p in landed2 if p.endswith(".tmp")} >= out2 - {p for p in out2 if p.endswith(".tmp")}
    assert _landed(w1.get("launcher", [])).keys() >= set(once)
    if stage_args[0] == "tricks":  # runs dealt over ranks, each run whole on one: the same rewards, the same order
        assert (root2 / "tricks/tricks.tsv").read_text() == (root1 / "tricks/tricks.tsv").read_text()
