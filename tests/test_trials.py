"""`nasseg trials` (browse a trial store read-only), `nasseg arch show|list` and `nasseg draw`, on
genotypes of both search spaces."""
import hashlib
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from nasseg.errors import GenotypeError, NassegError
from nasseg.models.zoo import PUBLISHED_TEMPLATES
from nasseg.progress import console
from nasseg.search.store import TrialStore
from nasseg.spaces.cells import CellSpace, Genotype
from nasseg.spaces.cells.describe import describe, output_stride
from nasseg.tools.trials import find, open_store, query, summary

ARCH0 = "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]"
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n  File \"trainer.py\", line 1, in stage1"

# (strategy, status, stage1, stage2, failure)
TRIALS = [
    ("ppo", "done", 0.25, 0.30, None),  # ppo:1, best, ran stage 2
    ("ppo", "done", 0.20, None, None),  # ppo:2
    ("ppo", "failed", None, None, "oom"),  # ppo:3
    ("ppo", "done", 0.10, None, None),  # ppo:4
    ("ppo", "failed", None, None, "nan"),  # ppo:5
    ("random", "done", 0.15, None, None),  # random:1
    ("random", "done", 0.05, 0.08, None),  # random:2, ran stage 2
    ("random", "failed", None, None, "error"),  # random:3
]


def _genotypes(n):
    rng, seen, out = np.random.default_rng(0), set(), []
    while len(out) < n:
        g = CellSpace().sample(rng)
        if g.hash() not in seen:
            seen.add(g.hash())
            out.append(g)
    return out


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    gens = _genotypes(len(TRIALS))
    gens[0] = Genotype.from_text(ARCH0)
    stores = {s: TrialStore(root / s / "trials.db") for s in ("ppo", "random")}
    steps = {"ppo": 0, "random": 0}
    for (s, status, r1, r2, fail), g in zip(TRIALS, gens):
        st = stores[s]
        tid = st.start(strategy=s, step=steps[s], slot=0, genotype=g.to_text(), hash=g.hash(),
                       decisions=CellSpace.to_decisions(g), log_prob=-1.0, seed=steps[s])
        steps[s] += 1
        if status == "failed":
            st.finish(tid, "failed", failure=fail, traceback=OOM if fail == "oom" else f"{fail} happened\n  ...")
            continue
        metrics = {"stage1_mean_iou": r1 / 2, "stage1_reward": r1}
        vals = dict(stage1_reward=r1, stage1_seconds=10.0, params=2_000_000 + 1000 * tid, madds=3_000_000_000)
        if r2 is not None:
            metrics.update(stage2_mean_iou=r2 / 2, stage2_reward=r2)
            vals.update(stage2_reward=r2, stage2_seconds=5.0, ran_stage2=1)
        st.finish(tid, "done", reward=r2 if r2 is not None else r1, objective=r2 or r1, metrics=metrics, **vals)
    for st in stores.values():
        st.close()
    return root, gens


@pytest.fixture(scope="module")
def rows(search_dir):
    return open_store(search_dir[0])


def test_top_k_order_and_filters(rows):
    top = query(rows, top=3)
    assert [(r["strategy"], r["id"]) for r in top] == [("ppo", 1), ("ppo", 2), ("random", 1)]
    assert len(query(rows)) == len(TRIALS)  # failed trials (no reward) rank last
    assert [r["reward"] for r in query(rows)[:5]] == sorted([0.3, 0.2, 0.15, 0.1, 0.08], reverse=True)
    s2 = query(rows, stage=2)
    assert {(r["strategy"], r["id"]) for r in s2} == {("ppo", 1), ("random", 2)}
    assert [r["stage2_reward"] for r in s2] == [0.30, 0.08]
    s1 = query(rows, stage=1)
    assert [r["stage1_reward"] for r in s1] == [0.25, 0.20, 0.15, 0.10, 0.05]
    assert [r["id"] for r in query(rows, failure="oom")] == [3]
    assert len(query(rows, failure="any")) == 3
    assert [r["strategy"] for r in query(rows, strategy="random", status="failed")] == ["random"]
    assert [r["reward"] for r in query(rows, min_reward=0.15)] == [0.3, 0.2, 0.15]
    assert [r["params"] for r in query(rows, sort="params", status="done")] == sorted(
        r["params"] for r in rows if r["status"] == "done")


@pytest.mark.parametrize("kw, word", [({"sort": "speed"}, "stage2"), ({"failure": "boom"}, "oom"),
                                      ({"status": "ok"}, "running"), ({"stage": 3}, "1, 2"),
                                      ({"strategy": "reinforce"}, "ppo")])
def test_bad_filter_lists_the_choices(rows, kw, word):
    with pytest.raises(NassegError, match="choose one of") as err:
        query(rows, **kw)
    assert word in str(err.value)


def test_find_by_id_hash_and_genotype(rows, search_dir):
    gens = search_dir[1]
    assert {(r["strategy"], r["id"]) for r in find(rows, "2")} == {("ppo", 2), ("random", 2)}
    assert [(r["strategy"], r["id"]) for r in find(rows, "random:2")] == [("random", 2)]
    assert [r["id"] for r in find(rows, gens[3].hash()[:6])] == [4]
    spaced = "[ [8, [0, 0, 5, 2], [0,2,8,8],[0, 5,1,4]] ,\n [[3, 3],[3,2],[3,0]]]"
    assert [(r["strategy"], r["id"]) for r in find(rows, spaced)] == [("ppo", 1)]
    assert find(rows, "ppo:99") == [] and find(rows, "zzz") == []
    with pytest.raises(GenotypeError, match="out of range"):
        find(rows, "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,9]]]")


def test_summary_counts(rows):
    s = summary(rows)
    assert set(s) == {"ppo", "random"}
    p = s["ppo"]
    assert (p["trials"], p["done"], p["failed"], p["running"], p["ran_stage2"]) == (5, 3, 2, 0, 1)
    assert p["failures"] == {"nan": 1, "oom": 1}
    assert p["best_reward"] == 0.3 and p["best_genotype"] == ARCH0 and p["best_id"] == 1
    assert p["mean_reward"] == pytest.approx(0.2)
    assert p["mean_last_quarter"] == pytest.approx(0.1)  # the last of 3 done rewards
    assert p["wall_seconds"] is not None and p["wall_seconds"] >= 0
    assert s["random"]["failures"] == {"error": 1}


def test_missing_store_names_the_search_command(tmp_path, search_dir):
    with pytest.raises(NassegError, match="nasseg search"):
        open_store(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NassegError, match="nasseg search"):
        open_store(tmp_path / "empty")
    with pytest.raises(NassegError, match="nasseg search --strategy reinforce"):
        open_store(search_dir[0], "reinforce")
    assert {r["strategy"] for r in open_store(search_dir[0], "random")} == {"random"}
    assert len(open_store(search_dir[0] / "ppo" / "trials.db")) == 5


def test_read_only_open_leaves_the_store_untouched(tmp_path, search_dir):
    db = search_dir[0] / "ppo" / "trials.db"
    before = hashlib.sha1(db.read_bytes()).hexdigest()
    listing = sorted(p.name for p in db.parent.iterdir())
    assert len(open_store(db)) == 5
    assert hashlib.sha1(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db.parent.iterdir()) == listing  # no -wal / -shm left beside it
    # a store that a search is writing: read through its live WAL, without blocking the writer
    live = TrialStore(tmp_path / "live" / "trials.db")
    g = Genotype.from_text(ARCH0)
    tid = live.start(strategy="ppo", step=0, slot=0, genotype=g.to_text(), hash=g.hash(), decisions=[], log_prob=0.0,
                     seed=0)
    assert [r["status"] for r in open_store(tmp_path / "live")] == ["running"]
    live.finish(tid, "done", reward=0.5)
    assert open_store(tmp_path / "live" / "trials.db")[0]["reward"] == 0.5
    live.close()


def test_describe_in_words():
    g = Genotype.from_text(ARCH0)
    lines = describe(g)
    assert lines[0].startswith("op0 = sep5x5_d6")
    assert "layer 1: node 0 (input) via sep5x5_d6 + node 2 (layer 0 branch a) via sep5x5_d6" in lines[2]
    assert "cell output = node 1 + node 4 + node 7 + node 10" in lines[4]
    assert "decoder cell 2 -> block 6: cell(tap 3, stride 32) + cell(tap 0, stride 4) summed at stride 4" in lines
    assert output_stride(g) == 4


# --------------------------------------------------------------------------- through Typer
@pytest.fixture
def cli(monkeypatch):
    from stages.tools.arch import app as arch_app
    from stages.tools.trials import main as trials

    monkeypatch.setattr(console, "width", 250)  # no wrapping inside the tables
    app = typer.Typer()
    app.command("trials")(trials)
    app.add_typer(arch_app, name="arch")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_trials_tables_json_and_one_record(cli, search_dir):
    root = search_dir[0]
    res = cli("trials", root)
    assert res.exit_code == 0, res.output
    assert "search summary" in res.output and ARCH0 in res.output and "0.3000" in res.output
    res = cli("trials", root, "--top", "2", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [t["reward"] for t in data["trials"]] == [0.3, 0.2]
    assert data["summary"]["ppo"]["failed"] == 2
    res = cli("trials", root, "--failure", "oom")
    assert res.exit_code == 0 and "oom: RuntimeError: CUDA out of memory" in res.output
    res = cli("trials", root, "--genotype", "ppo:3", "--no-draw")
    assert res.exit_code == 0 and "File \"trainer.py\"" in res.output and "genotype in words" in res.output
    assert "wrote" not in res.output
    res = cli("trials", root, "--genotype", "ppo:1", "--no-draw")
    assert res.exit_code == 0 and "metrics per stage" in res.output and "mean_iou" in res.output
    res = cli("trials", root, "--sort", "speed")
    assert res.exit_code != 0 and "choose one of" in str(res.exception)


def test_arch_show_writes_the_diagram_and_counts_arch0(cli, tmp_path):
    res = cli("arch", "show", "arch0", "--out", tmp_path, "--size", 64)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "arch0.png").stat().st_size > 0 and (tmp_path / "arch0.svg").stat().st_size > 0
    assert "2,628,821" in res.output and ARCH0 in res.output  # results/benchmark/table.md, width 64 / repeats 2
    assert "16x16 (stride 4)" in res.output and "layer 2:" in res.output and "decoder cell 0" in res.output


def test_arch_show_bad_genotype_and_baseline(cli, tmp_path):
    res = cli("arch", "show", "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,9]]]", "--out", tmp_path)
    assert res.exit_code != 0
    assert isinstance(res.exception, GenotypeError)  # a NassegError: `nasseg` prints it as one line, no traceback
    assert "decoder cell 2" in str(res.exception) and "out of range" in str(res.exception)
    assert "Traceback" not in res.output and not list(tmp_path.iterdir())
    res = cli("arch", "show", "lraspp_mbv3", "--size", 64, "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "no diagram" in res.output and not list(tmp_path.iterdir())
    res = cli("arch", "list")
    assert res.exit_code == 0 and "arch0" in res.output and "baseline" in res.output


# --------------------------------------------------------------------------- both search spaces
@pytest.fixture(scope="module")
def template_store(tmp_path_factory):
    """A template-space search store written by the toy trainer (as test_templates' search loop)."""
    from nasseg.search.loop import Budget, run_search
    from nasseg.search.strategy import make_strategy
    from nasseg.search.toy import ToyTrainer
    from nasseg.spaces import TEMPLATES

    root = tmp_path_factory.mktemp("wacv-search")
    store = TrialStore(root / "ppo" / "trials.db")
    run_search(make_strategy("ppo", seed=0, space=TEMPLATES), ToyTrainer(), store, root / "ppo" / "state.pt",
               budget=Budget(max_trials=4), batch_size=2, seed=0, log=lambda s: None)
    store.close()
    return root


def test_trials_genotype_of_a_template_trial_in_words_and_a_diagram(cli, template_store, tmp_path):
    res = cli("trials", template_store, "--genotype", "ppo:2", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert "genotype in words (templates space)" in res.output and "template 0:" in res.output
    assert "layer 6 -> pool 8" in res.output and "head: concat" in res.output
    for suffix in (".png", ".svg"):
        path = tmp_path / f"trial-ppo-2{suffix}"
        assert path.stat().st_size > 0 and f"wrote {path}" in res.output
    res = cli("trials", template_store, "--genotype", "ppo:1", "--json")
    assert res.exit_code == 0, res.output
    (match,) = json.loads(res.stdout)["matches"]
    assert match["space"] == "templates" and match["description"][0].startswith("template 0:")
    text = match["genotype"]
    assert [r["id"] for r in find(open_store(template_store), text)] == [1]  # a template genotype as the key


def test_arch_show_a_template_architecture(cli, tmp_path):
    res = cli("arch", "show", "wacv_arch0", "--out", tmp_path, "--size", 64)
    assert res.exit_code == 0, res.output
    assert "genotype in words (templates space)" in res.output
    assert "layer 0 -> pool 2: template 0 on tap 0" in res.output
    assert "279,059" in res.output and "19 classes" in res.output  # the published count (Cityscapes)
    assert "16x16 (stride 4)" in res.output
    assert (tmp_path / "wacv_arch0.png").stat().st_size > 0 and (tmp_path / "wacv_arch0.svg").stat().st_size > 0
    res = cli("arch", "show", "wacv_arch1", "--no-draw", "--size", 64, "--num-classes", 11)
    assert res.exit_code == 0 and "11 classes" in res.output and "wrote" not in res.output


@pytest.mark.parametrize("arch", ["arch1", "wacv_arch1", PUBLISHED_TEMPLATES["wacv_arch0"]])
def test_draw_either_space(arch, tmp_path):
    from stages.tools.draw import main

    app = typer.Typer()
    app.command()(main)
    res = CliRunner().invoke(app, [arch, "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d.png").stat().st_size > 0 and (tmp_path / "d.svg").stat().st_size > 0
    res = CliRunner().invoke(app, ["lraspp_mbv3", "--out", str(tmp_path / "e")])
    assert isinstance(res.exception, NassegError) and "nothing to draw" in str(res.exception)
