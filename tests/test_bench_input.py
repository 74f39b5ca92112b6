"""Issue 17's `nasseg bench-input`: the input pipeline's images/s on a rendered set in the real
formats, per format and worker count, set beside one GPU; the set is rendered once and reused."""
import json
import math

import pytest
import torch

from nasseg.config import parse_params
from nasseg.data.bench_input import gpu_assumption, run_bench_input
from nasseg.errors import ConfigError, NassegError
from nasseg.runtime import Runtime

CPU = Runtime(torch.device("cpu"))
SMALL = dict(images=4, batch_size=2, batches=2, crop=64, rounds=1, min_size=48, max_size=64, runtime=CPU,
             log=lambda s: None)


def _files(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_bench_input_times_every_format_and_worker_count_and_reuses_its_set(tmp_path):
    root = tmp_path / "bench"
    r = run_bench_input(parse_params({}), root=root, workers=(0, 2), **SMALL)
    json.dumps(r)  # the --out file
    assert r["set"]["reused"] is False and r["set"]["settings"]["images"] == 4
    assert (root / "VOCdevkit/VOC2012/SegmentationClass").is_dir() and list((root / "benchmark_RELEASE").rglob("*.mat"))
    assert {(x["format"], x["workers"]) for x in r["runs"]} == {(f, w) for f in ("voc", "sbd", "coco") for w in (0, 2)}
    for x in r["runs"]:
        assert x["images"] == x["asked"] == 4 and x["images_per_s"] > 0 and x["startup_s"] > 0
        assert len(x["rounds"]) == 1
    for f in r["formats"].values():
        assert f["same_pixels"]  # keyed samples: 2 workers deliver the pixels the main process does
        assert set(f["images_per_s"]) == {"0", "2"} and "two_over_one" not in f and "workers_to_feed_gpu" not in f
    assert len({x["digest"] for x in r["runs"]}) == 3  # one per format: the digests see the pixels
    assert r["main_threads"] == torch.get_num_threads() and r["worker_threads"] == 1 and r["crop"] == 64
    g = r["gpu"]
    assert g["step_ms_per_image"] == pytest.approx(3 * 14.86) and g["images_per_s"] == pytest.approx(22.43, abs=0.01)
    assert "1080Ti" in g["basis"] and "Table 1" in g["basis"]

    before = _files(root)
    again = run_bench_input(parse_params({}), root=root, workers=(1,), **SMALL)
    assert again["set"]["reused"] is True and _files(root) == before  # nothing re-rendered
    f = again["formats"]["voc"]
    assert f["workers_to_feed_gpu"] == math.ceil(g["images_per_s"] / f["images_per_s"]["1"])
    other = run_bench_input(parse_params({}), root=root, workers=(0,), **{**SMALL, "images": 3})
    assert other["set"]["reused"] is False and len(list((root / "VOCdevkit/VOC2012/JPEGImages").glob("*.jpg"))) == 3


def test_gpu_figure_can_be_given():
    g = gpu_assumption(20.0)
    assert g["images_per_s"] == pytest.approx(50.0) and "--gpu-step-ms" in g["basis"]
    with pytest.raises(ConfigError, match="gpu-step-ms"):
        gpu_assumption(0.0)


@pytest.mark.parametrize("bad, word", [({"crop": 8}, "--crop"), ({"workers": (-1,)}, "--workers"),
                                       ({"batches": 0}, "--batches"), ({"min_size": 80}, "min")])
def test_bad_settings_are_config_errors(tmp_path, bad, word):
    with pytest.raises(ConfigError, match=word):
        run_bench_input(parse_params({}), root=tmp_path, **{**SMALL, **bad})
    assert not list(tmp_path.iterdir())  # checked before anything is rendered


def test_cli_help_and_bad_workers_list(capsys):
    from stages.cli import entry
    from stages.tools.bench_input import parse_workers

    assert parse_workers("0, 1,2") == [0, 1, 2]
    for text in ("a,b", "1.5", "", "-1"):
        with pytest.raises(NassegError, match="--workers"):
            parse_workers(text)
    with pytest.raises(SystemExit) as exc:
        entry(["bench-input", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in ("--gpu-step-ms", "--workers", "1080Ti", "decode"):
        assert word in out
    with pytest.raises(SystemExit) as exc:
        entry(["bench-input", "--workers", "one,two"])
    assert exc.value.code == 2
    err = capsys.readouterr()
    assert "--workers" in err.err + err.out and "Traceback" not in err.err + err.out
