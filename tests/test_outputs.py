"""The one Markdown table writer and the JSON/TSV writers give the committed files byte for byte
(rendered again from the committed inputs: search stores' top-k, finished runs, metrics)."""
import csv
import json
import subprocess
from pathlib import Path

import pytest

from nasseg.benchmark import latency_table, sizes_table, with_reference_ratio
from nasseg.config import load_params
from nasseg.markdown import markdown_table
from nasseg.outputs import write_json, write_tsv

ROOT = Path(__file__).resolve().parents[1]


def committed(*patterns) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True).stdout.split()
    return [ROOT / f for f in out]


def test_markdown_layout():
    assert markdown_table(["a", "", "b|c"], [[1, "", "x\ny"]], align=["left", "right", "center"]) == \
        "| a | | b\\|c |\n|---|---:|:---:|\n| 1 | | x y |\n"


def test_benchmark_tables_from_committed_metrics():
    p = load_params(ROOT / "params.yaml").benchmark
    path = ROOT / "results/benchmark/metrics.json"
    if not path.is_file():
        pytest.skip("no committed benchmark results")
    m = json.loads(path.read_text())
    recs = with_reference_ratio([{k: v for k, v in r.items() if k != "ratio_to_reference"} for r in m["rows"]],
                                m["reference"])
    assert recs == m["rows"]
    models = list(dict.fromkeys(r["model"] for r in recs))
    assert markdown_table(*latency_table(recs, models, list(p.variants), m["reference"])) == \
        (ROOT / "results/benchmark/table.md").read_text()
    w = json.loads((ROOT / "results/benchmark/wacv_metrics.json").read_text())
    assert markdown_table(*sizes_table(w["rows"], list(p.wacv.models), p.wacv.sizes, list(p.wacv.variants))) == \
        (ROOT / "results/benchmark/wacv_table.md").read_text()


def test_ablation_files_from_committed_runs(tmp_path):
    from nasseg.experiments.ablate import write_ablation

    res = ROOT / "results/ablate"
    if not (res / "metrics.json").is_file():
        pytest.skip("no committed ablation results")
    m = json.loads((res / "metrics.json").read_text())
    top = {t["hash"]: t for t in json.loads((ROOT / f"results/search/{m['strategy']}/topk.json").read_text())}
    rows = []
    for r in csv.DictReader(open(res / "ablation.tsv"), delimiter="\t"):
        row = {"rank": int(r["rank"]), "hash": r["hash"], "reward": top[r["hash"]]["reward"], "genotype": r["genotype"]}
        row.update({v: json.loads((res / f"runs/{r['hash']}_{v}/result.json").read_text())["mean_iou"]
                    for v in m["variants"]})
        rows.append(row)
    write_ablation(rows, m["variants"], m, tmp_path)
    for f in ("table.md", "ablation.tsv", "metrics.json"):
        assert (tmp_path / f).read_bytes() == (res / f).read_bytes(), f


def test_transfer_tables_from_committed_runs():
    from nasseg.transfer.run import table2, table3

    res = ROOT / "results/transfer"
    if not (res / "metrics.json").is_file():
        pytest.skip("no committed transfer results")
    models = list(load_params(ROOT / "params.yaml").transfer.models)
    runs = {t: {m: json.loads(f.read_text()) for m in models if (f := res / f"runs/{t}/{m}/result.json").is_file()}
            for t in ("mpii", "coco", "nyu")}
    assert (res / "table2.md").read_text().endswith(table2(runs, models))
    ref = json.loads((res / "metrics.json").read_text())["nyu_constant_depth"]
    assert (res / "table3.md").read_text().endswith(table3(runs, models, ref))


@pytest.mark.parametrize("path", committed("results/*.tsv", "models/*.tsv"), ids=str)
def test_tsv_writer_keeps_committed_bytes(path, tmp_path):
    raw = path.read_bytes()
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        rows = [{k: v if v != "" else None for k, v in r.items()} for r in reader]
    assert write_tsv(tmp_path / "x.tsv", rows, reader.fieldnames, lf=b"\r\n" not in raw).read_bytes() == raw


@pytest.mark.parametrize("path", [p for p in committed("results/*.json", "models/*.json")
                                  if "/runs/" not in str(p)], ids=str)
def test_json_writer_keeps_committed_bytes(path, tmp_path):
    raw = path.read_bytes()
    out = write_json(json.loads(raw), tmp_path / "x.json", final_newline=raw.endswith(b"\n"))
    assert out.read_bytes() == raw
