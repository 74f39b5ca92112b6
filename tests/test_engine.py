"""The multi-phase training engine: schedule arithmetic, exact resume, DDP = one process,
full-size evaluation at odd sizes."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nasseg.config import PhaseParams, ScheduleParams, parse_params
from nasseg.errors import ConfigError, NassegError
from nasseg.models import build_model
from nasseg.training.distributed import Dist
from nasseg.training.engine import batch_loss, epoch_order, load_sample, plan, train_schedule
from nasseg.training.evaluate import evaluate, predict_logits

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import Toy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def paper_schedule(**kw) -> ScheduleParams:
    return ScheduleParams(phases=[PhaseParams(sets="coco_train+trainaug", epochs=30, aux_weight=0.3),
                                  PhaseParams(sets="trainaug", epochs=50, aux_weight=0.25),
                                  PhaseParams(sets="voc_train", epochs=100, aux_weight=0.2)],
                          encoder_lr=1e-3, decoder_lr=3e-3, freeze_bn_halfway=True, frozen_aux_weight=0.15, **kw)


def test_paper_schedule_arithmetic():
    eps = plan(paper_schedule())
    assert len(eps) == 180
    assert [e.sets for e in (eps[0], eps[30], eps[80])] == ["coco_train+trainaug", "trainaug", "voc_train"]
    # halved after each phase, and once more halfway through the last
    assert {e.encoder_lr for e in eps[:30]} == {1e-3}
    assert {e.encoder_lr for e in eps[30:80]} == {5e-4}
    assert {e.encoder_lr for e in eps[80:130]} == {2.5e-4}
    assert {e.encoder_lr for e in eps[130:]} == {1.25e-4}
    assert all(e.decoder_lr == pytest.approx(3e-3 / 8) for e in eps[130:])
    # BN statistics freeze at epoch 50 of the last phase (overall epoch 131, 1-based)
    assert [e.index for e in eps if e.freeze_bn][0] == 130 and all(e.freeze_bn for e in eps[130:])
    assert not any(e.freeze_bn for e in eps[:130])
    # aux-cell weights 0.3 / 0.25 / 0.2 / 0.15
    assert [eps[i].aux_weight for i in (0, 29, 30, 79, 80, 129, 130, 179)] == [0.3, 0.3, 0.25, 0.25, 0.2, 0.2, 0.15,
                                                                               0.15]


def test_schedule_variants():
    s = ScheduleParams(phases=[PhaseParams(sets="trainaug", epochs=2), PhaseParams(sets="voc_train", epochs=3)],
                       lr_halving=False)
    eps = plan(s)
    assert {e.encoder_lr for e in eps} == {s.encoder_lr} and not any(e.freeze_bn for e in eps)
    # odd last phase: the second half starts at ceil(E/2); a frozen weight of null keeps the phase's weight
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=3, aux_weight=0.2)], freeze_bn_halfway=True)
    assert [e.freeze_bn for e in plan(s)] == [False, False, True]
    assert [e.aux_weight for e in plan(s)] == [0.2, 0.2, 0.2]
    assert [e.encoder_lr for e in plan(s)] == [1e-3, 1e-3, 5e-4]
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1)], freeze_bn_halfway=True)
    assert [e.freeze_bn for e in plan(s)] == [False]


def test_schedule_params_are_validated():
    with pytest.raises(ConfigError, match=r"ablate.schedule.phases.0.sets"):
        parse_params({"ablate": {"schedule": {"phases": [{"sets": "vocc", "epochs": 1}]}}})
    with pytest.raises(ConfigError, match=r"train.schedule.phases"):
        parse_params({"train": {"schedule": {"phases": []}}})
    with pytest.raises(ConfigError, match=r"correlate.bounds"):
        parse_params({"correlate": {"bounds": [0.6, 0.4]}})


def test_sample_order_and_augmentation_depend_only_on_seed_epoch_index():
    assert epoch_order(20, 0, 3, None) == epoch_order(20, 0, 3, None)
    assert epoch_order(20, 0, 3, None) != epoch_order(20, 0, 4, None)
    assert sorted(epoch_order(20, 0, 3, None)) == list(range(20))
    assert epoch_order(20, 0, 3, 5) == epoch_order(20, 0, 3, None)[:5]
    ds = Toy(4)
    a = load_sample(ds, 2, 0, 1)[0]
    torch.rand(10)  # the global RNG state does not matter
    assert torch.equal(a, load_sample(ds, 2, 0, 1)[0])
    assert not torch.equal(a, load_sample(ds, 2, 0, 2)[0])


def test_batch_loss_is_the_mean_over_labelled_pixels():
    logits = torch.randn(3, 4, 8, 8)
    aux = [torch.randn(3, 4, 4, 4)]
    target = torch.randint(0, 4, (3, 16, 16))
    target[0, :5] = 255
    up = lambda x: F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)  # noqa: E731
    want = F.cross_entropy(up(logits), target, ignore_index=255) + 0.3 * F.cross_entropy(up(aux[0]), target,
                                                                                           ignore_index=255)
    assert torch.allclose(batch_loss(logits, aux, target, 0.3, Dist()), want, atol=1e-6)


def _tiny_model():
    torch.manual_seed(0)
    return build_model("arch1", num_classes=2, width=8, repeats=1, aux="cell")


def _tiny_schedule():
    return ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=2, aux_weight=0.3),
                                  PhaseParams(sets="trainaug", epochs=3, aux_weight=0.2)],
                          batch_size=4, freeze_bn_halfway=True, frozen_aux_weight=0.1)


def test_resume_mid_phase_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    data = lambda _n: Toy(8, 32)  # noqa: E731
    full = _tiny_model()
    train_schedule(full, _tiny_schedule(), data, num_classes=2, checkpoint=tmp_path / "a.pt", log=lambda s: None)

    class Stop(Exception):
        pass

    def stop_after_3(epoch):
        if epoch == 3:  # the middle of phase 2
            raise Stop

    part = _tiny_model()
    with pytest.raises(Stop):
        train_schedule(part, _tiny_schedule(), data, num_classes=2, checkpoint=tmp_path / "b.pt",
                       on_epoch_end=stop_after_3, log=lambda s: None)
    logs = []
    resumed = _tiny_model()
    res = train_schedule(resumed, _tiny_schedule(), data, num_classes=2, checkpoint=tmp_path / "b.pt",
                         log=logs.append)
    assert any("resumed" in s and "after epoch 3/5" in s for s in logs)
    assert res.resumed_from == 3 and [h["epoch"] for h in res.history] == [1, 2, 3, 4, 5]
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and training did change the weights (the comparison is not between two untouched models)
    assert not torch.equal(a["decoder.classifier.weight"], _tiny_model().state_dict()["decoder.classifier.weight"])


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path):
    data = lambda _n: Toy(8, 32)  # noqa: E731
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1)], batch_size=4)
    train_schedule(_tiny_model(), s, data, num_classes=2, checkpoint=tmp_path / "c.pt", log=lambda _s: None)
    logs = []
    other = s.model_copy(update={"encoder_lr": 1e-2})
    res = train_schedule(_tiny_model(), other, data, num_classes=2, checkpoint=tmp_path / "c.pt", log=logs.append)
    assert res.resumed_from == 0 and any("another run" in line for line in logs)


def test_bad_batch_settings_are_clear_errors():
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1, images_per_epoch=3)], batch_size=4)
    with pytest.raises(NassegError, match="less than one batch"):
        train_schedule(_tiny_model(), s, lambda _n: Toy(8, 32), num_classes=2, log=lambda _s: None)
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1)], batch_size=5)
    with pytest.raises(NassegError, match="does not split over 2 processes"):
        train_schedule(_tiny_model(), s, lambda _n: Toy(8, 32), num_classes=2, d=Dist(world=2),
                       log=lambda _s: None)


def test_ddp_two_processes_match_one(tmp_path):
    """torchrun with 2 CPU processes (gloo, global BN) gives the weights of one process on the
    same global batch. In float64, so that the comparison is tight: in float32 rounding
    differences grow through BN on tiny batches within a few steps."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), F64="1", OMP_NUM_THREADS="1")
    worker = Path(__file__).parent / "ddp_worker.py"
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    r = subprocess.run([sys.executable, str(worker), str(one)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(worker), str(two)], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = torch.load(one, weights_only=True), torch.load(two, weights_only=True)
    assert a["decoder.classifier.weight"].dtype == torch.float64
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())
    assert worst < 1e-9, worst
    # the runs trained (running statistics moved away from their initial values)
    assert float(a["encoder.features.0.1.running_var"].sub(1).abs().max()) > 1e-3
    # evaluation sharded over the two ranks (3 + 2 images), confusion matrices all-reduced:
    # both ranks hold the scores one process computes on the whole set
    finals = [json.loads(Path(f"{two}.rank{r}.json").read_text()) for r in (0, 1)]
    single = json.loads(Path(f"{one}.rank0.json").read_text())
    assert finals[0] == finals[1] and finals[0]["mean_iou"] == pytest.approx(single["mean_iou"], abs=1e-9)
    assert finals[0]["iou"] == pytest.approx(single["iou"], abs=1e-9)


def test_more_torchrun_processes_than_gpus_is_one_clear_error_on_every_rank(monkeypatch):
    """2 processes on a 1-GPU node: rank 0 would join with NCCL, rank 1 with gloo, and both wait
    for ever. Every rank sees the same counts and stops with the same line instead."""
    from nasseg.errors import ConfigError
    from nasseg.training.distributed import init_from_env

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for rank in (0, 1):
        for k, v in {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank)}.items():
            monkeypatch.setenv(k, v)
        with pytest.raises(ConfigError, match="2 processes on this node but it has 1 CUDA device.*--nproc_per_node 1"):
            init_from_env(torch.device("cuda"))
    assert not torch.distributed.is_initialized()


def test_evaluation_at_full_size_on_odd_image_sizes():
    class Odd(torch.utils.data.Dataset):
        sizes = [(37, 53), (41, 29), (33, 33)]

        def __len__(self):
            return len(self.sizes)

        def __getitem__(self, i):
            h, w = self.sizes[i]
            g = torch.Generator().manual_seed(i)
            mask = torch.randint(0, 3, (h, w), generator=g)
            mask[0, :] = 255
            return torch.randn(3, h, w, generator=g), mask

    model = build_model("arch2", num_classes=3, width=8, repeats=1).eval()
    for h, w in Odd.sizes:
        x = torch.randn(1, 3, h, w)
        assert predict_logits(model, x).shape == (1, 3, h, w)
        assert predict_logits(model, x, flip=True, scales=(0.75, 1.25)).shape == (1, 3, h, w)
    scores, cm = evaluate(model, Odd(), 3, flip=True, scales=(1.0, 0.5))
    labelled = sum(int((Odd()[i][1] != 255).sum()) for i in range(3))
    assert int(cm.mat.sum()) == labelled  # every labelled pixel at full resolution, void left out
    assert 0.0 <= scores.mean_iou <= 1.0


def _steps_seen():
    """A progress ``task`` that records the step count of each epoch bar."""
    seen = []

    def task(name, total):
        seen.append((name, total))
        return lambda: None

    return seen, task


def test_bf16_and_accumulation_on_cpu_finish_with_finite_losses(tmp_path):
    from nasseg.runtime import Runtime
    from nasseg.training.fit import runtime_identity

    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1, aux_weight=0.3)], batch_size=4, grad_clip=1.0)
    data = lambda _n: Toy(8, 32)  # noqa: E731
    bf16 = Runtime.of(None, device="cpu", precision="bf16")
    seen, task = _steps_seen()
    res = train_schedule(_tiny_model(), s, data, num_classes=2, val_set=Toy(2, 32), runtime=bf16, task=task,
                         checkpoint=tmp_path / "bf16.pt", log=lambda _s: None)
    assert math.isfinite(res.history[-1]["train_loss"]) and 0.0 <= res.final["mean_iou"] <= 1.0
    assert ("phase 1 epoch 1/1", 2) in seen
    # an fp32 run does not take up the bf16 run's checkpoint (precision is in the identity, fp32 adds nothing)
    assert runtime_identity(bf16) == {"precision": "bf16"} and runtime_identity(Runtime.of(None, device="cpu")) == {}
    logs = []
    train_schedule(_tiny_model(), s, data, num_classes=2, checkpoint=tmp_path / "bf16.pt", log=logs.append)
    assert any("another run" in line for line in logs)
    # two batches of 4 per optimiser step: half the steps, finite losses, every image still seen
    acc = Runtime(torch.device("cpu"), accumulate=2)
    seen, task = _steps_seen()
    res = train_schedule(_tiny_model(), s, data, num_classes=2, runtime=acc, task=task, log=lambda _s: None)
    assert ("phase 1 epoch 1/1", 1) in seen
    assert math.isfinite(res.history[-1]["train_loss"]) and res.history[-1]["images"] == 8
