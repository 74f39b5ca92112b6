"""The report: every table and figure named, images inlined (HTML) or linked (Markdown) and
existing, missing inputs shown with their command, and a screenshot in headless Chromium."""
import base64
import json
import re
from pathlib import Path

import pytest
import torch

from nasseg.config import parse_params
from nasseg.data.prepare import build_lists, generate_embedded
from nasseg.models import build_model
from nasseg.models.checkpoint import arch_of, save_checkpoint
from nasseg.report import FIGURES, TABLES, build_report
from nasseg.report.doc import Document, Table, Text, parse_markdown_table, to_html, to_markdown
from nasseg.report.screenshot import find_chromium, screenshot
from nasseg.search.report import write_search_report
from nasseg.search.store import TrialStore
from nasseg.search.run import write_outputs
from nasseg.models.zoo import PUBLISHED_TEMPLATES

GENOTYPES = ["[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]",
             "[[2,[1,0,3,6],[0,1,2,8],[2,0,6,1]],[[2,3],[3,1],[4,4]]]"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(path: Path, text: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    ax.set_title(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=50)
    plt.close(fig)
    return path


def _fake_pipeline(root: Path) -> "Params":  # noqa: F821
    """Every input of the report, small: real lists and images from prepare, two tiny
    trained-model checkpoints, real trial stores, and stand-ins for the other stages' files."""
    p = parse_params({"data": {"root": str(root / "data"),
                               "embedded": {"voc": {"train": 4, "val": 6}, "sbd": {"train": 4, "val": 1},
                                            "coco": {"train": 2}, "min_size": 40, "max_size": 48}},
                      "benchmark": {"out": str(root / "bench")}, "search": {"out": str(root / "search")},
                      "tricks": {"out": str(root / "tricks")}, "ablate": {"out": str(root / "ablate")},
                      "correlate": {"out": str(root / "correlate")},
                      "pretrain": {"out": str(root / "pretrain")}, "teacher": {"out": str(root / "teacher")},
                      "train": {"archs": 2, "out": str(root / "train"), "report": str(root / "train_report")},
                      "transfer": {"out": str(root / "transfer")},
                      "wacv": {"search": {"search_space": "templates", "aux": "none", "out": str(root / "wacv_search")},
                               "train": {"report": str(root / "wacv_train")}},
                      "report": {"out": str(root / "report"), "qualitative": {"images": 2,
                                                                              "models": ["found0", "found1"]}}})
    generate_embedded(p.data)
    build_lists(p.data)
    torch.manual_seed(0)
    for k, g in enumerate(GENOTYPES):
        model = build_model(g, width=8, repeats=1)
        d = root / "train" / f"found{k}"
        save_checkpoint(model, arch_of(g, num_classes=21, width=8, repeats=1), {}, d / "model.pt")
        (d / "card.json").write_text(json.dumps({
            "name": f"found{k}", "genotype": g, "mean_iou": 0.1 + 0.01 * k, "madds": 4_000_000_000 + k,
            "params": 2_500_000 + k, "input": 512, "output": [128, 128], "latency_ms": 100.0 + k,
            "latency_std_ms": 1.0, "threads": 2}))
    for name, g, miou, madds in (("refinenet_lw_mbv2", None, 0.105, 9_000_000_000), ("arch0", GENOTYPES[0], 0.09, 4e9)):
        (root / "train" / "baselines" / name).mkdir(parents=True)  # train.baselines' cards (same schedule)
        (root / "train" / "baselines" / name / "card.json").write_text(json.dumps({
            "name": name, "kind": "baseline", "genotype": g, "description": "a zoo baseline", "mean_iou": miou,
            "madds": madds, "params": 3_000_000, "input": 512, "output": [128, 128], "latency_ms": 90.0,
            "latency_std_ms": 1.0, "threads": 2}))
    for s in ("ppo", "random"):
        store = TrialStore(root / "search" / s / "trials.db")
        for i in range(4):
            tid = store.start(strategy=s, step=i // 2, slot=i % 2, genotype=GENOTYPES[i % 2], hash=f"h{i}",
                              decisions=[0], log_prob=0.0, seed=i)
            r = 0.05 * (i + 1) if s == "ppo" else 0.03 * (i + 1)
            store.finish(tid, "done", stage1_reward=r, stage2_reward=r, reward=r, objective=r, ran_stage2=1)
        store.close()
    write_search_report(root / "search")
    store = TrialStore(root / "wacv_search" / "ppo" / "trials.db")  # the template search (WACV section)
    for i in range(4):
        tid = store.start(strategy="ppo", step=i // 2, slot=i % 2, genotype=PUBLISHED_TEMPLATES["wacv_arch0"],
                          hash=f"t{i}", decisions=[0], log_prob=0.0, seed=i)
        store.finish(tid, "done", stage1_reward=0.3, stage2_reward=0.3 + 0.01 * i, reward=0.3 + 0.01 * i,
                     objective=0.3 + 0.01 * i, ran_stage2=1)
    write_outputs(store.rows("ppo"), root / "wacv_search" / "ppo", "ppo")
    store.close()
    (root / "wacv_train").mkdir()
    (root / "wacv_train" / "table.md").write_text("# title\n\n| model | dataset | mIoU (%) |\n|---|---|---|\n"
                                                  "| **wacv_arch0** (ours, embedded) | camvid | 40.0 |\n")
    (root / "bench").mkdir()
    (root / "bench" / "table.md").write_text("| model | params |\n|---|---|\n| arch0 | 2,628,821 |\n")
    (root / "bench" / "wacv_table.md").write_text("| model | input (W×H) |\n|---|---|\n| wacv_arch0 | 480×360 |\n")
    (root / "tricks").mkdir()
    (root / "tricks" / "metrics.json").write_text(json.dumps({"baseline": {"stage1_reward_mean": 0.1,
                                                                           "stage2_reward_mean": 0.2}}))
    _png(root / "tricks" / "fig3_tricks.png", "tricks")
    (root / "ablate").mkdir()
    (root / "ablate" / "table.md").write_text("| arch | mIoU none |\n|---|---|\n| 1 | 0.1 |\n")
    _png(root / "ablate" / "fig4_ablation.png", "ablation")
    (root / "correlate").mkdir()
    (root / "correlate" / "metrics.json").write_text(json.dumps({"spearman": {"final_reward_vs_miou":
                                                                             {"n": 3, "rho": 0.5, "p": 0.6}}}))
    _png(root / "correlate" / "fig5_correlation.png", "correlation")
    for name in ("pretrain", "teacher"):
        (root / name).mkdir()
        (root / name / "history.tsv").write_text("epoch\tmean_iou\n1\t0.1\n2\t0.2\n")
    (root / "train_report").mkdir()
    (root / "train_report" / "history.tsv").write_text("epoch\tfound0_train_loss\n1\t1.0\n2\t0.5\n")
    (root / "transfer").mkdir()
    (root / "transfer" / "table2.md").write_text("| Model | MPII Mean@0.5 |\n|---:|---:|\n| ours: found0 | 50.0 |\n")
    (root / "transfer" / "table3.md").write_text("| metric | found0 |\n|---|---:|\n| RMSE (lin) | 1.3 |\n")
    run = root / "transfer" / "runs" / "nyu" / "found0"
    run.mkdir(parents=True)
    (run / "result.json").write_text(json.dumps({"task": "nyu", "model": "found0", "history": [
        {"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.7}]}))
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    p = _fake_pipeline(root)
    params_file = root / "params.yaml"
    params_file.write_text("report: {}\n")
    return p, build_report(p, params_file), root


def test_report_names_every_table_and_figure_and_embeds_existing_images(built):
    p, summary, root = built
    assert summary["tables"] == list(TABLES) and summary["figures"] == list(FIGURES)
    assert summary["missing"] == []
    assert {"WACV search", "WACV search progress", "WACV table", "WACV benchmark"} <= set(summary["extra"])
    html = Path(summary["html"]).read_text()
    md = Path(summary["markdown"]).read_text()
    for label in TABLES + FIGURES + ("Search progress", "Training curves", "WACV search progress"):
        assert label in html and label in md, label
    # the HTML is self-contained: no file or network references, every image inline and a real PNG
    srcs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(srcs) == len(FIGURES) + 3  # + search progress, training curves, the template search
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    assert "http://" not in html and "https://" not in html
    # the Markdown twin links images that exist, relative to its own folder
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(FIGURES) + 3
    for link in links:
        assert (Path(summary["markdown"]).parent / link).is_file(), link
    # numbers come from the inputs: the cards' mIoU, the paper beside them, the search comparison
    assert "10.0" in html and "11.0" in html and "78.0" in html
    assert "RefineNet-LW-MBv2 (ours, same schedule)" in md and "arch0 (ours, same schedule)" in md
    assert "**found1** 11.0% mIoU at 4.00 B MAdds, RefineNet-LW-MBv2 10.5% at 9.00 B" in md
    assert "the best found architecture beats the baseline" in md
    assert "ours: found0" in html and "RMSE (lin)" in html
    assert "params sha1" in html and "torch" in html
    # plot data for `dvc plots`
    plots = Path(p.report.out) / "plots"
    progress = (plots / "search_progress_ppo.tsv").read_text().splitlines()
    assert progress[0].split("\t")[:4] == ["trial", "hours", "reward", "best_so_far"]
    assert [float(l.split("\t")[3]) for l in progress[1:]] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    hist = (plots / "reward_hist_random.tsv").read_text().splitlines()
    assert sum(int(l.split("\t")[-1]) for l in hist[1:]) == 4
    assert (plots / "transfer_nyu_loss.tsv").read_text().splitlines() == ["epoch\tfound0", "1\t1.0", "2\t0.7"]


def test_report_same_inputs_same_bytes(built, tmp_path):
    p, summary, root = built
    first = Path(summary["html"]).read_bytes()
    build_report(p, root / "params.yaml")
    assert Path(summary["html"]).read_bytes() == first


def test_missing_inputs_are_named_with_their_command(built, tmp_path):
    p, _, root = built
    p2 = p.model_copy(update={"report": p.report.model_copy(update={"out": tmp_path / "r"}),
                              "tricks": p.tricks.model_copy(update={"out": tmp_path / "nothing"})})
    s = build_report(p2, root / "params.yaml")
    assert "Fig. 3" not in s["figures"]
    assert {m["command"] for m in s["missing"]} == {"nasseg tricks"}
    html = (tmp_path / "r" / "report.html").read_text()
    assert "missing:" in html and "nasseg tricks" in html


def test_document_renderers():
    doc = Document("t").add(Text("a `x<y` and **bold**"), Table(["a", "b|c"], [[1, "x|y"]], caption="cap"))
    html = to_html(doc)
    assert "<code>x&lt;y</code>" in html and "<b>bold</b>" in html and "<caption>cap</caption>" in html
    md = to_markdown(doc, Path("."))
    header, rows = parse_markdown_table(md)
    assert header == ["a", "b|c"] and rows == [["1", "x|y"]]  # escaped pipes stay in their cell
    assert parse_markdown_table("| h1 | h2 |\n|---|---|\n| 1 | 2 |\n") == (["h1", "h2"], [["1", "2"]])


def test_report_renders_in_headless_chromium(built, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium not installed (Debian: `apt-get install chromium`); the screenshot test needs it")
    _, summary, _ = built
    png = screenshot(Path(summary["html"]), tmp_path / "shot.png", width=1000, height=1400)
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1000, 1400)
        colours = im.convert("L").getcolors(maxcolors=1 << 16)
    # a rendered page, not a blank one: text and figures give many grey levels
    assert colours is None or len(colours) > 20


def test_training_curves_skip_epochs_without_a_validation(tmp_path):
    """pretrain with eval_every > 1: its history.tsv has epochs with an empty mean_iou."""
    from nasseg.report.figures import plot_training_curves

    hist = {"pretrain": [{"epoch": "1", "mean_iou": "", "train_loss": "0.7"},
                         {"epoch": "2", "mean_iou": "0.41", "train_loss": "0.5"}],
            "teacher": [{"epoch": "1", "mean_iou": "0.3", "train_loss": "0.6"}]}
    path = plot_training_curves(hist, {}, tmp_path / "curves.png")
    assert path.is_file() and path.stat().st_size > 0
