"""Transfer tasks: metrics against hand-computed values, the flip test's symmetry, the
objectives' losses, and the stage's runner on tiny synthetic sets."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from nasseg.config import parse_params
from nasseg.errors import DataError, NassegError
from nasseg.training.distributed import Dist
from nasseg.transfer.metrics import DepthMeter, coco_keypoint_eval, depth_metrics, pckh
from nasseg.transfer.pose_formats import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS
from nasseg.transfer.pose_geometry import decode_heatmaps, flip_back
from nasseg.transfer.tasks import DepthObjective, berhu, heatmap_loss, predict_heatmaps

# ----------------------------------------------------------------------------- PCKh


def test_pckh_head_size_normalisation_by_hand():
    # two people, 16 joints; head boxes 30x40 (diagonal 50 -> head size 30) and 60x80 (-> 60)
    gt = np.zeros((2, 16, 2))
    heads = np.array([[[0, 0], [30, 40]], [[100, 100], [160, 180]]], float)
    pred = gt.copy()
    pred[0, 0, 0] += 14.0   # person 0, r-ankle: 14/30 = 0.47 -> within 0.5, not within 0.1
    pred[0, 1, 1] += 2.0    # r-knee: 2/30 = 0.067 -> within both
    pred[0, 9, 0] += 16.0   # head top: 16/30 = 0.53 -> miss
    pred[1, 0, 0] += 31.0   # person 1, r-ankle: 31/60 = 0.52 -> miss
    pred[1, 1, 0] += 3.0    # r-knee: 3/60 = 0.05 -> within both
    pred[1, 6, 0] += 100.0  # pelvis: miss, but pelvis is left out of the mean
    missing = np.zeros((2, 16), bool)
    missing[1, 9] = True    # person 1's head top is not annotated: it counts for nothing
    pred[1, 9, 0] += 1000.0
    r = pckh(pred, gt, missing, heads)
    j5, j1 = r["joints@0.5"], r["joints@0.1"]
    assert j5[0] == 50.0 and j1[0] == 0.0            # ankle: person 0 hit at .5 only, person 1 missed
    assert j5[1] == 100.0 and j1[1] == 100.0         # knee: both within .1
    assert j5[9] == 0.0 and r["count"][9] == 1       # head top: one annotated, missed
    assert j5[6] == 50.0                              # pelvis reported per joint ...
    # ... but the mean weights joints by count without pelvis (6) and thorax (7): 2 x 14 joints,
    # minus person 1's missing head top = 27; misses at .5: person 0's head top, person 1's ankle
    assert r["mean@0.5"] == pytest.approx(100 * 25 / 27)
    # at .1 person 0's ankle (0.47) misses as well
    assert r["mean@0.1"] == pytest.approx(100 * 24 / 27)
    assert r["parts@0.5"]["ankle"] == pytest.approx((50.0 + 100.0) / 2)  # r-ankle 50, l-ankle 100


def test_pckh_rejects_bad_input():
    gt = np.zeros((1, 16, 2))
    with pytest.raises(ValueError, match="zero size"):
        pckh(gt, gt, np.zeros((1, 16), bool), np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="shapes differ"):
        pckh(gt[:, :15], gt, np.zeros((1, 16), bool), np.ones((1, 2, 2)))


# ----------------------------------------------------------------------------- OKS via COCOeval

SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


def _person(x0, y0, ann_id, area):
    kp = []
    for k in range(17):
        kp += [x0 + 3.0 * (k % 5), y0 + 6.0 * (k // 5), 2]
    return {"id": ann_id, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 17, "iscrowd": 0,
            "area": area, "bbox": [x0, y0, 15, 24], "segmentation": [[x0, y0, x0 + 15, y0, x0 + 15, y0 + 24]]}


def test_oks_ap_on_a_two_person_toy_file(tmp_path):
    area = 2500.0
    gt = {"images": [{"id": 1, "width": 200, "height": 200, "file_name": "1.jpg"}],
          "annotations": [_person(20, 20, 1, area), _person(120, 120, 2, area)],
          "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": [str(i) for i in range(17)],
                          "skeleton": []}]}
    path = tmp_path / "person_keypoints_toy.json"
    path.write_text(json.dumps(gt))
    # person A predicted exactly; person B displaced so that its OKS is 0.725 by hand:
    # OKS = mean_k exp(-d_k^2 / (2 area (2 sigma_k)^2)) -> d_k = sqrt(-2 area (2 sigma_k)^2 ln 0.725)
    target = 0.725
    d = np.sqrt(-2 * area * (2 * SIGMAS) ** 2 * math.log(target))
    a = np.array(gt["annotations"][0]["keypoints"], float).reshape(17, 3)
    b = np.array(gt["annotations"][1]["keypoints"], float).reshape(17, 3)
    b[:, 0] += d
    res = [{"image_id": 1, "category_id": 1, "keypoints": a.reshape(-1).tolist(), "score": 0.9},
           {"image_id": 1, "category_id": 1, "keypoints": b.reshape(-1).tolist(), "score": 0.8}]
    s = coco_keypoint_eval(path, res)
    # thresholds .50 .. .70 match both (precision 1 to recall 1); .75 .. .95 match A only: precision 1
    # up to recall .5 -> 51 of the 101 recall points
    assert s["AP"] == pytest.approx((5 * 1.0 + 5 * 51 / 101) / 10, abs=1e-6)
    assert s["AR"] == pytest.approx((5 * 1.0 + 5 * 0.5) / 10, abs=1e-6)
    assert s["AP50"] == pytest.approx(1.0) and s["AP75"] == pytest.approx(51 / 101, abs=1e-6)
    with pytest.raises(NassegError, match="no predictions"):
        coco_keypoint_eval(path, [])


# ----------------------------------------------------------------------------- depth metrics


def test_depth_metrics_by_hand_with_masked_zeros():
    gt = torch.tensor([[1.0, 2.0], [0.0, 4.0]])       # the 0 is invalid and must not count
    pred = torch.tensor([[1.0, 1.0], [5.0, 2.1]])
    m = depth_metrics([pred], [gt])
    g, p = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.1])
    assert m["rmse"] == pytest.approx(math.sqrt(((g - p) ** 2).mean()))
    assert m["rmse_log"] == pytest.approx(math.sqrt(((np.log(g) - np.log(p)) ** 2).mean()))
    assert m["abs_rel"] == pytest.approx((0 + 1 / 2 + 1.9 / 4) / 3)
    assert m["sq_rel"] == pytest.approx((0 + 1 / 2 + 1.9 ** 2 / 4) / 3)
    # ratios max(g/p, p/g): 1, 2, 1.905 -> delta1 (1.25) 1/3, delta2 (1.5625) 1/3, delta3 (1.953) 2/3
    assert (m["delta1"], m["delta2"], m["delta3"]) == pytest.approx((1 / 3, 1 / 3, 2 / 3))
    # per-image figures are averaged over images
    m2 = depth_metrics([pred, gt], [gt, gt])
    assert m2["abs_rel"] == pytest.approx(m["abs_rel"] / 2) and m2["delta1"] == pytest.approx((1 / 3 + 1) / 2)


def test_depth_meter_clamps_predictions_and_skips_empty_images():
    meter = DepthMeter(min_depth=0.5, max_depth=10.0)
    meter.update(torch.tensor([-3.0, 20.0]), torch.tensor([1.0, 10.0]))  # clamped to 0.5 and 10
    meter.update(torch.zeros(2), torch.zeros(2))                          # nothing valid: skipped, counted
    m = meter.compute()
    assert m["abs_rel"] == pytest.approx((0.5 / 1.0 + 0.0) / 2) and m["skipped"] == 1 and m["images"] == 1
    region = np.array([True, False])
    meter = DepthMeter()
    meter.update(torch.tensor([1.0, 5.0]), torch.tensor([1.0, 1.0]), region)
    assert meter.compute()["rmse"] == 0.0
    with pytest.raises(NassegError, match="no image"):
        DepthMeter().compute()


# ----------------------------------------------------------------------------- flip test


class _Heat(nn.Module):
    """A small asymmetric heatmap model (no symmetry of its own to hide a mistake)."""

    def __init__(self, k):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, k, 5, padding=2, stride=4))

    def forward(self, x):
        return self.net(x).exp()  # positive maps: decode_heatmaps zeroes joints whose maximum is <= 0


@pytest.mark.parametrize("pairs,k", [(COCO_FLIP_PAIRS, 17), (MPII_FLIP_PAIRS, 16)])
def test_flip_test_is_mirror_symmetric(pairs, k):
    model = _Heat(k).eval()
    x = torch.randn(2, 3, 32, 24)
    with_flip = predict_heatmaps(model, x, pairs, flip=True)
    mirrored = predict_heatmaps(model, x.flip(3), pairs, flip=True)
    # the flip test of the mirrored crop is the mirrored (and left/right swapped) flip test
    torch.testing.assert_close(mirrored, flip_back(with_flip, pairs))
    # which the plain prediction is not
    plain, plain_m = predict_heatmaps(model, x, pairs, False), predict_heatmaps(model, x.flip(3), pairs, False)
    assert not torch.allclose(plain_m, flip_back(plain, pairs), atol=1e-4)
    # decoded joints: mirrored x (w - 1 - x) with left and right exchanged
    (xy, _), (xy_m, _) = decode_heatmaps(with_flip), decode_heatmaps(mirrored)
    w = with_flip.shape[3]
    perm = list(range(k))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    torch.testing.assert_close(xy_m[:, :, 0], (w - 1 - xy[:, perm, 0]))
    torch.testing.assert_close(xy_m[:, :, 1], xy[:, perm, 1])


# ----------------------------------------------------------------------------- losses


def test_heatmap_loss_is_half_mse_weighted_by_visibility():
    out = torch.zeros(2, 3, 4, 4)
    target = torch.ones(2, 3, 4, 4)
    weight = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    loss = heatmap_loss(out, [], [target, weight], 0.0, Dist())
    # 5 of 6 joint maps count, each pixel error 1: 0.5 * 5*16 / (2*3*16)
    assert float(loss) == pytest.approx(0.5 * 5 * 16 / 96)


def test_berhu_is_l1_below_c_and_scaled_l2_above():
    gt = torch.tensor([1.0, 1.0, 1.0, 0.0])
    pred = torch.tensor([1.1, 2.0, 6.0, 9.0])  # residuals .1, 1, 5 (the last pixel is invalid)
    total, n = berhu(pred, gt, gt > 0, Dist())
    c = 0.2 * 5.0
    assert int(n) == 3
    assert float(total) == pytest.approx(0.1 + 1.0 + (25 + c * c) / (2 * c))
    obj = DepthObjective("log_l1")
    assert float(obj.to_depth(torch.zeros(1))) == 1.0


# ----------------------------------------------------------------------------- the runner


def _tiny_params(tmp_path: Path, models):
    phase = lambda s: {"sets": s, "epochs": 1, "images_per_epoch": 4}  # noqa: E731
    sched = lambda s, v: {"phases": [phase(s)], "batch_size": 2, "val_set": v}  # noqa: E731
    return parse_params({
        "train": {"out": str(tmp_path / "train")},
        "transfer": {
            "data": {"root": str(tmp_path / "data"),
                     "embedded": {"coco": {"train": 4, "val": 2}, "mpii": {"train": 4, "val": 2},
                                  "nyu_labeled": 4, "nyu_test": 2, "nyu_raw_train": 4}},
            "models": models, "encoder": "none", "out": str(tmp_path / "out"), "resume": str(tmp_path / "resume"),
            "models_out": str(tmp_path / "models"),
            "mpii": {"input": [64, 64], "schedule": sched("mpii_train", "mpii_valid")},
            "coco": {"input": [32, 64], "schedule": sched("coco_kp_train", "coco_kp_val")},
            "nyu": {"crop": [64, 64], "schedule": sched("nyu_train", "nyu_test")}}})


TINY_GENOTYPE = "[[2,[0,0,0,1],[1,2,3,4],[2,0,5,6]],[[0,1],[2,3],[4,5]]]"


def test_transfer_runs_each_task_writes_tables_and_reuses(tmp_path):
    from nasseg.models.checkpoint import load_checkpoint
    from nasseg.transfer.prepare import generate_transfer_embedded
    from nasseg.transfer.run import run_transfer

    p = _tiny_params(tmp_path, [TINY_GENOTYPE])
    generate_transfer_embedded(p.transfer.data)
    logs = []
    res = run_transfer(p, log=logs.append)
    out = tmp_path / "out"
    for task in ("mpii", "coco", "nyu"):
        r = res[task][TINY_GENOTYPE]
        assert r["stride"] in (4, 8) and r["params"] > 0
        model, info = load_checkpoint(tmp_path / "models" / task / TINY_GENOTYPE / "model.pt")
        assert info["arch"]["num_classes"] == {"mpii": 16, "coco": 17, "nyu": 1}[task]
        assert info["meta"]["task"] == task
    f = res["mpii"][TINY_GENOTYPE]["final"]
    assert 0 <= f["pckh@0.1"] <= f["pckh@0.5"] <= 100
    assert 0 <= res["coco"][TINY_GENOTYPE]["final"]["coco_ap"] <= 1
    d = res["nyu"][TINY_GENOTYPE]["final"]
    assert d["rmse"] > 0 and 0 <= d["delta1"] <= d["delta2"] <= d["delta3"] <= 1
    t2, t3 = (out / "table2.md").read_text(), (out / "table3.md").read_text()
    assert "paper: arch2 | 87.1 | 31.8 | 0.659 | 0.693" in t2 and f"ours: {TINY_GENOTYPE}" in t2
    assert "| RMSE (lin) |" in t3 and "0.687" in t3  # CReaM's column
    assert set(json.loads((out / "metrics.json").read_text())) == {"mpii", "coco", "nyu", "nyu_constant_depth"}
    assert "constant depth" in t3
    # a second run reuses every finished run
    logs.clear()
    run_transfer(p, log=logs.append)
    assert sum("reused" in s for s in logs) == 3
    # running one task keeps the other tasks' finished runs in the tables
    before = (out / "table2.md").read_text()
    logs.clear()
    run_transfer(p, log=logs.append, only_tasks=["nyu"])
    assert sum("reused" in s for s in logs) == 1 and (out / "table2.md").read_text() == before


def test_transfer_errors_name_the_fix(tmp_path):
    from nasseg.transfer.run import resolve_model, run_one

    p = _tiny_params(tmp_path, ["found0"])
    with pytest.raises(NassegError, match="train stage"):
        resolve_model(p, "found0")
    with pytest.raises(NassegError, match="unknown model 'nope'"):
        resolve_model(p, "nope")
    with pytest.raises(NassegError, match="malformed genotype"):
        resolve_model(p, "[[1,2]]")
    with pytest.raises(Exception, match="unknown set"):
        parse_params({"transfer": {"nyu": {"schedule": {"phases": [{"sets": "nyu_tran", "epochs": 1}]}}}})
    # MPII without its head boxes cannot be scored
    from nasseg.transfer.prepare import generate_transfer_embedded
    generate_transfer_embedded(p.transfer.data, tasks=("mpii",))
    (tmp_path / "data/mpii/annot/gt_valid.mat").unlink()
    with pytest.raises(DataError, match="gt_valid.mat"):
        run_one(p, "mpii", TINY_GENOTYPE)


def test_transfer_in_bf16_on_cpu_finishes_with_finite_losses(tmp_path):
    from nasseg.runtime import Runtime
    from nasseg.transfer.prepare import generate_transfer_embedded
    from nasseg.transfer.run import finished_run, run_transfer

    p = _tiny_params(tmp_path, [TINY_GENOTYPE])
    generate_transfer_embedded(p.transfer.data)
    bf16 = Runtime.of(None, device="cpu", precision="bf16")
    res = run_transfer(p, log=lambda s: None, only_tasks=["mpii", "nyu"], runtime=bf16)
    for task in ("mpii", "nyu"):
        r = res[task][TINY_GENOTYPE]
        assert r["identity"]["precision"] == "bf16"
        assert all(math.isfinite(h["train_loss"]) for h in r["history"])
    assert math.isfinite(res["nyu"][TINY_GENOTYPE]["final"]["rmse"])
    # an fp32 run of the same task is another run
    assert finished_run(p, "mpii", TINY_GENOTYPE) is None and finished_run(p, "mpii", TINY_GENOTYPE, bf16) is not None


def test_transfer_out_of_memory_is_recorded_and_retried(tmp_path, monkeypatch):
    import nasseg.transfer.run as run
    from nasseg.transfer.prepare import generate_transfer_embedded

    p = _tiny_params(tmp_path, [TINY_GENOTYPE])
    generate_transfer_embedded(p.transfer.data, tasks=("mpii",))
    real = run.train_schedule

    def oom(*args, **kw):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: out of memory (injected)")

    monkeypatch.setattr(run, "train_schedule", oom)
    res = run.run_transfer(p, log=lambda s: None, only_tasks=["mpii"])
    assert "mpii" not in res
    rec = json.loads((tmp_path / "out/runs/mpii" / TINY_GENOTYPE / "result.json").read_text())
    assert rec["status"] == "failed" and rec["failure"] == "oom" and "injected" in rec["error"]
    m = json.loads((tmp_path / "out/metrics.json").read_text())
    assert m["failed"] == [{"run": f"mpii/{TINY_GENOTYPE}", "failure": "oom", "error": rec["error"]}]
    assert run.finished_run(p, "mpii", TINY_GENOTYPE) is None  # a failed run is not finished
    monkeypatch.setattr(run, "train_schedule", real)
    res = run.run_transfer(p, log=lambda s: None, only_tasks=["mpii"])
    assert res["mpii"][TINY_GENOTYPE]["final"]["pckh@0.5"] >= 0
    assert "failed" not in json.loads((tmp_path / "out/metrics.json").read_text())
