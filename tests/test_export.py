"""`nasseg export`: ONNX / TorchScript files give eager PyTorch's output; the onnxruntime benchmark variant."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn as nn
import typer
from typer.testing import CliRunner

import nasseg.models.export as ex
import nasseg.tools.export as tool
from nasseg.benchmark import benchmark_model
from nasseg.errors import NassegError
from nasseg.models.checkpoint import arch_of, load_checkpoint, save_checkpoint
from nasseg.models.resolve import load_model, resolve
from nasseg.models.zoo import build_model, count_params, strip_aux

SMALL = "[[4,[0,1,2,1]],[[0,3],[1,4]]]"  # global pooling as op0; joins strides 4 and 32, then 8 and that


def lively(model: nn.Module) -> nn.Module:
    """BN statistics from random batches: a freshly initialised net's output barely depends on
    its input (running stats 0/1), so equivalence would prove little."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    return model.eval()


def eager(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("spec,kw", [("arch2", {"width": 16, "repeats": 1}), ("lraspp_mbv3", {})])
def test_onnx_and_torchscript_match_eager_at_export_and_other_sizes(tmp_path, spec, kw):
    model = lively(strip_aux(load_model(spec, allow_untrained=True, **kw)[0]))
    path = ex.export_onnx(model, tmp_path / "m.onnx", input_hw=(64, 64))
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    c = ex.check_onnx(model, path, input_hw=(64, 64))
    assert c["ok"] and [s["input"] for s in c["sizes"]] == [[1, 3, 64, 64], [2, 3, 53, 83]]
    for s in c["sizes"]:
        assert s["max_abs_ref"] > 1 and s["max_rel_diff"] < 1e-4  # float rounding, on logits that vary
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 96, 80, generator=torch.Generator().manual_seed(3))
    ref = eager(model, x)
    got = torch.from_numpy(sess.run(None, {"image": x.numpy()})[0])
    assert got.shape == ref.shape and (got - ref).abs().max() <= 1e-4 + 1e-3 * ref.abs().max()

    ts = ex.export_torchscript(model, tmp_path / "m.ts.pt", input_hw=(64, 64))
    t = ex.check_torchscript(model, ts, input_hw=(64, 64))
    assert t["ok"] and t["max_abs_diff"] < 1e-5
    assert torch.allclose(ex.load_torchscript(ts)(x), ref, atol=1e-5)


def test_check_reports_a_mismatch_without_raising(tmp_path):
    a = lively(strip_aux(load_model(SMALL, allow_untrained=True, width=16, repeats=1)[0]))
    path = ex.export_onnx(a, tmp_path / "a.onnx", input_hw=(64, 64), dynamic=False)
    torch.manual_seed(5)
    b = lively(strip_aux(build_model(SMALL, width=16, repeats=1)).eval())
    c = ex.check_onnx(b, path, input_hw=(64, 64))
    assert not c["ok"] and c["max_abs_diff"] > 1e-2 and len(c["sizes"]) == 1  # static file: one size


def _onnx_weights(path) -> int:
    return sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer)


def test_aux_heads_are_not_exported(tmp_path):
    with_aux = build_model(SMALL, width=16, repeats=1, aux="cell").eval()
    stripped = strip_aux(with_aux)
    assert count_params(with_aux, inference=False) > count_params(stripped)
    a = ex.export_onnx(with_aux, tmp_path / "aux.onnx", input_hw=(64, 64))
    s = ex.export_onnx(stripped, tmp_path / "stripped.onnx", input_hw=(64, 64))
    assert _onnx_weights(a) == _onnx_weights(s)
    ts = ex.load_torchscript(ex.export_torchscript(with_aux, tmp_path / "aux.ts.pt", input_hw=(64, 64)))
    assert sum(p.numel() for p in ts.parameters()) == count_params(stripped)
    assert not any("aux" in n for n, _ in ts.named_parameters())


def test_export_from_checkpoint_writes_files_and_record(tmp_path):
    torch.manual_seed(1)
    trained = lively(build_model(SMALL, num_classes=21, width=16, repeats=1, aux="clf"))
    ck = tmp_path / "models/train/found0/model.pt"
    save_checkpoint(trained, arch_of(genotype=SMALL, num_classes=21, width=16, repeats=1), {"epochs": 1}, ck)
    rec = tool.export(str(ck), tmp_path / "export", input_hw=(64, 64))
    assert rec["name"] == "found0" and rec["ok"] and not rec["untrained"]
    assert rec["params"] == count_params(trained) and rec["opset"] == 17 and rec["exporter"] == "legacy"
    for f in ("found0.onnx", "found0.ts.pt", "found0.export.json"):
        assert (tmp_path / "export" / f).is_file()
    saved = json.loads((tmp_path / "export/found0.export.json").read_text())
    assert saved["arch"]["genotype"] == SMALL and saved["input"]["hw"] == [64, 64]
    assert set(saved["versions"]) >= {"torch", "onnx", "onnxruntime"} and saved["checks"]["onnx"]["ok"]
    assert len(saved["checks"]["torchscript"]["sizes"]) == 2
    model, _ = load_checkpoint(ck)
    x = torch.randn(1, 3, 96, 80)
    sess = ort.InferenceSession(str(tmp_path / "export/found0.onnx"), providers=["CPUExecutionProvider"])
    got, ref = sess.run(None, {"image": x.numpy()})[0], eager(model, x).numpy()
    assert ref.shape == (1, 21, 24, 20) and np.abs(got - ref).max() < 1e-3 * np.abs(ref).max()


def test_zoo_and_genotype_names_and_bad_specs(tmp_path):
    rec = tool.export(SMALL, tmp_path, formats=["onnx"], input_hw=(64, 64), num_classes=3, width=16, repeats=1,
                    check=False)
    assert rec["name"].startswith("genotype-") and len(rec["name"]) == len("genotype-") + 8
    assert rec["untrained"] and rec["checks"] == {} and list(rec["files"]) == ["onnx"]
    assert resolve("arch2").name == "arch2"
    with pytest.raises(NassegError, match=r"'arch9'.*arch0.*lraspp_mbv3"):
        resolve("arch9")
    with pytest.raises(NassegError, match=r"models/train/nope/model.pt.*no such file"):
        resolve("models/train/nope/model.pt")
    with pytest.raises(NassegError, match="genotype"):
        resolve("[[1,[0,0")
    with pytest.raises(NassegError, match="tflite"):
        tool.export("arch2", tmp_path, formats=["tflite"])
    with pytest.raises(NassegError, match="at least 32"):
        ex.export_onnx(nn.Identity(), tmp_path / "x.onnx", input_hw=(16, 16))


def _cli():
    from stages.tools.export import main

    app = typer.Typer()
    app.command()(main)
    return app


def test_export_command_table_and_failed_check(tmp_path, monkeypatch):
    ck = tmp_path / "found1/model.pt"
    save_checkpoint(build_model(SMALL, num_classes=21, width=16, repeats=1),
                    arch_of(genotype=SMALL, num_classes=21, width=16, repeats=1), {}, ck)
    runner = CliRunner()
    res = runner.invoke(_cli(), [str(ck), "--out", str(tmp_path / "ex"), "--size", "64", "64", "-f", "onnx"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ex/found1.onnx").is_file() and not (tmp_path / "ex/found1.ts.pt").exists()
    res = runner.invoke(_cli(), [str(ck), "--num-classes", "3"])
    assert isinstance(res.exception, NassegError) and "--num-classes" in str(res.exception)
    res = runner.invoke(_cli(), [str(ck), "--size", "64", "64", "--height", "96"])
    assert isinstance(res.exception, NassegError)

    def bad_check(model, path, **kw):
        return {"format": "onnx", "ok": False, "max_abs_diff": 0.5, "rtol": 1e-3, "atol": 1e-4,
                "sizes": [{"input": [1, 3, 64, 64], "output": [1, 21, 16, 16], "max_abs_diff": 0.5,
                           "max_abs_ref": 1.0, "max_rel_diff": 0.5, "ok": False}]}

    monkeypatch.setattr(tool, "check_onnx", bad_check)
    res = runner.invoke(_cli(), [str(ck), "--out", str(tmp_path / "ex"), "--height", "64", "--width", "64",
                                 "--format", "onnx"])
    assert isinstance(res.exception, NassegError)
    assert "ONNX Runtime" in str(res.exception) and "5.00e-01" in str(res.exception)


def test_benchmark_onnxruntime_variant():
    rows = benchmark_model("arch2", size=64, runs=2, warmup=1, variants=("eager", "onnxruntime"))
    assert [r.variant for r in rows] == ["eager", "onnxruntime"]
    ort_row = rows[1]
    assert ort_row.max_abs_diff < 1e-3 and ort_row.mean_ms > 0 and ort_row.output_hw == (8, 8)
    assert ort_row.params == rows[0].params and ort_row.threads == torch.get_num_threads()


def test_export_checks_against_eager_on_the_chosen_device_and_precision(tmp_path):
    ck = tmp_path / "found1/model.pt"
    save_checkpoint(build_model(SMALL, num_classes=21, width=16, repeats=1),
                    arch_of(genotype=SMALL, num_classes=21, width=16, repeats=1), {}, ck)
    res = CliRunner().invoke(_cli(), [str(ck), "--out", str(tmp_path / "ex"), "--size", "64", "64", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "ex/found1.export.json").read_text())
    assert rec["check_runtime"] == {"device": "cpu", "precision": "fp32"} and rec["ok"]
    res = CliRunner().invoke(_cli(), [str(ck), "--out", str(tmp_path / "bf"), "--size", "64", "64", "-f", "onnx",
                                      "--device", "cpu", "--precision", "bf16", "--rtol", "0.1"])
    assert res.exit_code == 0, res.output  # the fp32 file against a bf16 reference: bf16 rounding only
    rec = json.loads((tmp_path / "bf/found1.export.json").read_text())
    assert rec["check_runtime"]["precision"] == "bf16" and 0 < rec["checks"]["onnx"]["max_abs_diff"]
