"""Benchmark measurements and the `nasseg benchmark` / `nasseg draw` commands (behaviour, not speed)."""
import json

import pytest
import torch
import yaml

from conftest import run_cli
from nasseg.benchmark import benchmark_model, count_madds
from nasseg.models import build_model, count_params, strip_aux


def test_madds_count_convolutions_and_scale_with_area():
    m = build_model("arch1")
    madds64, out64 = count_madds(m, 64)
    madds128, out128 = count_madds(m, 128)
    assert out64 == (8, 8) and out128 == (16, 16)
    # every op is convolutional except global pooling's 1x1 on a 1x1 map: close to 4x
    assert 3.9 < madds128 / madds64 <= 4.0


# one model of each kind of layer: cells with aux cells, templates, RefineNet on MobileNet-v2 and on a
# bottleneck ResNet, dilated DeepLab with ASPP, torchvision's LR-ASPP (squeeze-excite)
@pytest.mark.parametrize("name", ["arch0", "wacv_arch1", "refinenet_lw_mbv2", "refinenet_lw_resnet50",
                                  "deeplabv3_aspp_mbv2", "lraspp_mbv3"])
def test_madds_are_torchs_flop_count_halved_on_the_cpu_and_the_meta_device(name):
    from torch.utils.flop_counter import FlopCounterMode

    m = build_model(name, aux="cell") if name.startswith("arch") else build_model(name)
    m.train()
    for size in (128, (65, 97)):
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            out = strip_aux(m).eval()(torch.zeros(1, 3, *((size, size) if isinstance(size, int) else size)))
        want = (fc.get_total_flops() // 2, tuple(out.shape[2:]))
        assert count_madds(m, size, "meta") == count_madds(m, size, "cpu") == want, size
    # the caller's model is left as it was: on the CPU, training, its auxiliary heads on
    assert all(p.device.type == "cpu" for p in m.parameters()) and all(x.training for x in m.modules())
    assert count_params(m, inference=False) >= count_params(m)
    if name.startswith("arch"):
        assert m.decoder.aux_kind == "cell" and m.decoder.aux_heads is not None


def test_madds_hooks_count_what_flopcounter_counts_for_random_decoders_of_both_spaces():
    """The planner counts decoders alone (its stand-ins, its what-ifs): every op a random genotype
    of either space can hold is a layer the hooks see."""
    import numpy as np
    from torch.utils.flop_counter import FlopCounterMode

    from nasseg.benchmark import counting_madds
    from nasseg.models.encoder import MobileNetV2Encoder
    from nasseg.spaces import get_space

    rng = np.random.default_rng(0)
    for name in ("cells", "templates"):
        space = get_space(name)
        with torch.no_grad():
            taps = list(MobileNetV2Encoder(taps=space.encoder_taps).eval()(torch.zeros(1, 3, 64, 64)))
        for _ in range(12):
            dec = space.build_decoder(space.sample(rng), num_classes=21, width=16, repeats=1).eval()
            with torch.no_grad(), FlopCounterMode(display=False) as fc:
                dec(taps)
            with torch.no_grad(), counting_madds(dec) as total:
                dec(taps)
            assert total[0] * 2 == fc.get_total_flops() > 0


def test_madds_of_a_model_the_meta_device_cannot_run_are_counted_on_the_cpu():
    class CpuConstant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x) + torch.ones(1)  # a CPU tensor made in forward: meta cannot add it

    assert count_madds(CpuConstant(), 256) == count_madds(CpuConstant(), 256, "cpu") == (4 * 27 * 254 * 254, (254, 254))


def test_madds_of_published_archs_within_ten_percent_of_paper():
    paper = {"arch0": 4.47e9, "arch1": 2.95e9, "arch2": 3.47e9}
    for name, ref in paper.items():
        madds, _ = count_madds(build_model(name), 512)
        assert abs(madds - ref) / ref < 0.10, (name, madds)


def test_arch0_cheaper_than_refinenet():
    a, _ = count_madds(build_model("arch0"), 256)
    r, _ = count_madds(build_model("refinenet_lw_mbv2"), 256)
    assert a < r


def test_variants_do_not_change_results():
    rows = benchmark_model("arch2", size=64, runs=2, warmup=1,
                           variants=("eager", "inference_mode", "channels_last"))
    assert [r.variant for r in rows] == ["eager", "inference_mode", "channels_last"]
    for r in rows:
        assert r.params == 2_852_053 and r.output_hw == (8, 8) and r.runs == 2
        assert r.mean_ms > 0 and r.std_ms >= 0 and r.threads == torch.get_num_threads()
        assert r.max_abs_diff < 1e-4


def test_unknown_variant_rejected():
    with pytest.raises(ValueError, match="unknown benchmark variant"):
        benchmark_model("arch0", size=32, runs=1, warmup=0, variants=("eager", "turbo"))


def test_benchmark_command_writes_table_metrics_and_drawings(tmp_path):
    params = {"benchmark": {"models": ["arch1", "lraspp_mbv3"], "reference": "lraspp_mbv3", "size": 64,
                            "runs": 2, "warmup": 1, "variants": ["eager", "channels_last"],
                            "out": str(tmp_path / "bench"),
                            # the WACV models' rows, written beside: small inputs (the default is 2048x1024)
                            "wacv": {"sizes": [[64, 128]], "runs": 1, "warmup": 0, "variants": ["eager"]}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = run_cli(["benchmark", "--params", "params.yaml"], tmp_path)
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "bench/metrics.json").read_text())
    rows = {(r["model"], r["variant"]): r for r in metrics["rows"]}
    assert set(rows) == {(m, v) for m in ("arch1", "lraspp_mbv3") for v in ("eager", "channels_last")}
    assert rows[("lraspp_mbv3", "eager")]["ratio_to_reference"] == pytest.approx(1.0)
    assert rows[("arch1", "eager")]["params"] == 2_809_045
    table = (tmp_path / "bench/table.md").read_text()
    assert "arch1" in table and "lraspp_mbv3" in table and "channels_last ms" in table
    assert (tmp_path / "bench/arch1.png").stat().st_size > 1000
    assert (tmp_path / "bench/arch1.svg").is_file()


def test_benchmark_rejects_unknown_model_in_params(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"benchmark": {"models": ["arch9"]}}))
    out = run_cli(["benchmark"], tmp_path)
    assert out.returncode == 2 and "benchmark.models" in out.stderr and "arch9" in out.stderr


def test_draw_command(tmp_path):
    out = run_cli(["draw", "arch2", "--out", str(tmp_path / "a2")], tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a2.png").stat().st_size > 1000 and (tmp_path / "a2.svg").is_file()
    out = run_cli(["draw", "[[1,[0,9,0,0]],[[0,1]]]"], tmp_path)
    assert out.returncode == 2 and "p2=9" in out.stderr and "Traceback" not in out.stderr


def test_benchmark_in_bf16_names_its_precision_and_skips_onnxruntime():
    rows = benchmark_model("arch2", size=64, runs=1, warmup=0, variants=("eager", "onnxruntime"), device="cpu",
                           precision="bf16")
    assert [(r.variant, r.device) for r in rows] == [("eager", "cpu (bf16)")] and rows[0].mean_ms > 0
