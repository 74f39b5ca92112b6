"""Issue 17's input pipeline and step engine: keyed samples through DataLoader workers (the
result depends on neither the worker count nor a resume), the sync-free epoch loop, the
checkpointed pixel losses."""
import json
import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from nasseg.config import PhaseParams, ScheduleParams
from nasseg.config.recipes import TrainRecipe
from nasseg.data.loader import KeyedLoader, batches_of, epoch_order
from nasseg.models import build_model
from nasseg.runtime import Runtime
from nasseg.training.engine import train_schedule
from nasseg.training.evaluate import upsample_to
from nasseg.training.fit import fit
from nasseg.training.loop import WAIT_TALLY, Updater, run_epoch, wait_shares
from nasseg.training.losses import pixel_ce, segmentation_loss

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import Fixed, Toy  # noqa: E402  (random brightness per sample: the "augmentation")

CPU0 = Runtime(torch.device("cpu"), workers=0)
CPU2 = Runtime(torch.device("cpu"), workers=2)


def _model():
    torch.manual_seed(0)
    return build_model("arch1", num_classes=2, width=8, repeats=1, aux="cell")


class Stop(Exception):
    pass


def test_keyed_loader_gives_the_same_batches_with_any_number_of_workers():
    data = Toy(10, 16)
    batches = batches_of(epoch_order(10, 3, 1), 4, drop_last=False)
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(sum(batches, [])) == list(range(10))
    got = {}
    for n in (0, 1, 2):
        got[n] = [x for x, _ in KeyedLoader(data, CPU0, workers=n).epoch(3, 1, batches)]
    assert all(torch.equal(a, b) for a, b in zip(got[0], got[2])) and all(torch.equal(a, b) for a, b in zip(got[0], got[1]))
    # another epoch (or seed) draws other augmentations of the same images
    other = next(iter(KeyedLoader(data, CPU0).epoch(3, 2, batches)))[0]
    assert not torch.equal(other, got[0][0])
    # a rank's share of a global batch: every world-th sample
    assert batches_of(list(range(8)), 4, drop_last=True, rank=1, world=2) == [[1, 3], [5, 7]]
    assert batches_of(list(range(10)), 4, drop_last=True, limit=1) == [[0, 1, 2, 3]]


def test_fit_resumed_with_two_workers_ends_with_the_weights_of_an_uninterrupted_run_with_none(tmp_path):
    cfg = TrainRecipe(sets="trainaug", epochs=3, batch_size=4, encoder_lr=1e-3, decoder_lr=1e-2, aux_weight=0.3,
                      channels_last=False)
    data = Toy(10, 24)  # 10 % 4 = 2: a short last batch is kept
    full = _model()
    res = fit(full, data, cfg, num_classes=2, checkpoint=tmp_path / "a.pt", runtime=CPU0, log=lambda _s: None)
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    assert all(0.0 <= h["data_wait"] <= 1.0 for h in res.history)

    def stop_at_epoch_2(line):
        if json.loads(line)["epoch"] == 2:  # logged before epoch 2's checkpoint: epoch 1 is on disk
            raise Stop

    with pytest.raises(Stop):
        fit(_model(), data, cfg, num_classes=2, checkpoint=tmp_path / "b.pt", runtime=CPU2, log=stop_at_epoch_2)
    logs = []
    resumed = _model()
    res = fit(resumed, data, cfg, num_classes=2, checkpoint=tmp_path / "b.pt", runtime=CPU2, log=logs.append)
    assert any("resumed" in s and "after epoch 1" in s for s in logs)
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["decoder.classifier.weight"], _model().state_dict()["decoder.classifier.weight"])


def test_fit_in_fp16_resumes_its_loss_scale(tmp_path):
    """pretrain/teacher's loop in fp16 (GradScaler on the CPU): the scaler's state is in the
    checkpoint, and a run resumed after epoch 1 ends with the uninterrupted run's weights and
    scaler."""
    cfg = TrainRecipe(sets="trainaug", epochs=2, batch_size=4, encoder_lr=1e-3, decoder_lr=1e-2, aux_weight=0.3,
                      channels_last=False)
    data, fp16 = Toy(8, 24), Runtime.of(None, device="cpu", precision="fp16", workers=0)
    full = _model()
    fit(full, data, cfg, num_classes=2, checkpoint=tmp_path / "a.pt", runtime=fp16, log=lambda _s: None)
    scaler = torch.load(tmp_path / "a.pt", weights_only=True)["scaler"]
    assert math.log2(2.0**16 / scaler["scale"]) + scaler["_growth_tracker"] == 4  # 2 epochs x 2 steps, one scaler

    def stop_at_epoch_2(line):
        if json.loads(line)["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        fit(_model(), data, cfg, num_classes=2, checkpoint=tmp_path / "b.pt", runtime=fp16, log=stop_at_epoch_2)
    resumed = _model()
    fit(resumed, data, cfg, num_classes=2, checkpoint=tmp_path / "b.pt", runtime=fp16, log=lambda _s: None)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["scaler"] == scaler
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def _engine_schedule(first_phase_epochs=2):
    return ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=first_phase_epochs, aux_weight=0.3),
                                  PhaseParams(sets="trainaug", epochs=1, aux_weight=0.2)], batch_size=4)


def _toy_sets(_name):
    return Toy(8, 24)


def _engine_stopped_after_epoch_1(runtime, checkpoint, schedule=None):
    """A run of the engine on the toy sets, interrupted after epoch 1 (its checkpoint written)."""
    def stop_after_1(epoch):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train_schedule(_model(), schedule or _engine_schedule(), _toy_sets, num_classes=2, runtime=runtime,
                       checkpoint=checkpoint,
                       on_epoch_end=stop_after_1, log=lambda _s: None)


def test_engine_resumed_with_two_workers_ends_with_the_weights_of_an_uninterrupted_run_with_none(tmp_path):
    s, data = _engine_schedule(), _toy_sets
    full = _model()
    res = train_schedule(full, s, data, num_classes=2, runtime=CPU0, log=lambda _s: None)
    assert all(0.0 <= h["data_wait"] <= 1.0 for h in res.history)
    _engine_stopped_after_epoch_1(CPU2, tmp_path / "b.pt")
    resumed = _model()
    res = train_schedule(resumed, s, data, num_classes=2, runtime=CPU2, checkpoint=tmp_path / "b.pt",
                         log=lambda _s: None)
    assert res.resumed_from == 1
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "scaler" not in torch.load(tmp_path / "b.pt", weights_only=True)  # fp32: none (checkpoint bytes as before)


def test_engine_in_fp16_keeps_one_loss_scale_across_epochs_and_resumes_it(tmp_path):
    """fp16 on the CPU runs the GPU's GradScaler code: one scaler for the whole run (its growth
    tracker counts every step of every epoch), saved in the checkpoint and loaded on resume."""
    s, data = _engine_schedule(first_phase_epochs=1), _toy_sets  # 2 epochs, one per phase
    fp16 = Runtime.of(None, device="cpu", precision="fp16", workers=0)
    full = _model()
    res = train_schedule(full, s, data, num_classes=2, runtime=fp16, checkpoint=tmp_path / "a.pt", log=lambda _s: None)
    assert all(math.isfinite(h["train_loss"]) for h in res.history)
    scaler = torch.load(tmp_path / "a.pt", weights_only=True)["scaler"]
    # 2 epochs x 2 steps: each step either overflowed (skipped, the scale halved from 2**16) or
    # counted towards growth. One scaler saw all four (one per epoch would have seen two, and
    # with the scale back at 2**16 every epoch, its steps here would all have been skipped).
    assert math.log2(2.0**16 / scaler["scale"]) + scaler["_growth_tracker"] == 4
    _engine_stopped_after_epoch_1(fp16, tmp_path / "b.pt", s)
    first = torch.load(tmp_path / "b.pt", weights_only=True)["scaler"]  # after epoch 1: its two steps
    assert math.log2(2.0**16 / first["scale"]) + first["_growth_tracker"] == 2
    resumed = _model()
    train_schedule(resumed, s, data, num_classes=2, runtime=fp16, checkpoint=tmp_path / "b.pt", log=lambda _s: None)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["scaler"] == scaler
    a, b = full.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_full_size_evaluation_turns_cudnn_autotuning_off_and_restores_it(monkeypatch):
    """Images of any size: cuDNN's benchmark mode would re-time every convolution per new size."""
    from nasseg.training.evaluate import evaluate

    seen = []
    model = _model().eval()
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    hook = model.register_forward_pre_hook(lambda *_: seen.append(torch.backends.cudnn.benchmark))
    evaluate(model, Fixed(3, 24), 2, runtime=CPU0)
    hook.remove()
    assert seen == [False] * 3 and torch.backends.cudnn.benchmark is True


def test_checkpointed_pixel_loss_has_the_plain_loss_values_and_gradients():
    torch.manual_seed(0)
    target = torch.randint(0, 5, (2, 32, 40))
    target[:, :3] = 255
    for reduction in ("mean", "sum"):
        logits = torch.randn(2, 5, 8, 10, requires_grad=True)
        plain = F.cross_entropy(upsample_to(logits, (32, 40)), target, ignore_index=255, reduction=reduction)
        (g_plain,) = torch.autograd.grad(plain, logits)
        chk = pixel_ce(logits, target, reduction)
        (g_chk,) = torch.autograd.grad(chk, logits)
        assert torch.equal(plain, chk) and torch.equal(g_plain, g_chk)
    # main + aux heads, under bf16 autocast as training runs: finite, same as without checkpointing
    logits, aux = torch.randn(2, 5, 8, 10, requires_grad=True), torch.randn(2, 5, 4, 5, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = segmentation_loss(logits, target, [aux], 0.3)
    loss.backward()
    assert math.isfinite(float(loss.detach())) and aux.grad is not None and torch.isfinite(aux.grad).all()


def test_run_epoch_reads_the_loss_once_and_names_the_batch_that_went_non_finite():
    w = torch.nn.Parameter(torch.ones(()))
    opt = torch.optim.SGD([w], lr=0.1)
    values = [1.0, 2.0, float("nan"), 3.0]
    loss_fn = lambda b: (w * b[0], 2)  # noqa: E731  (each batch weighs 2)
    batches = [(torch.tensor(v),) for v in values[:2]]
    before = dict(WAIT_TALLY)
    stats = run_epoch(batches, loss_fn, Updater([opt], [w], None, CPU0), CPU0, where="test")
    assert stats.batches == 2 and stats.loss == pytest.approx((1.0 + 2 * 0.9) / 2)  # w stepped to 0.9 after batch 1
    assert 0.0 <= stats.data_share <= 1.0
    # the process's tally (what `make gpu-check` reports per stage) grew by this epoch
    assert WAIT_TALLY["seconds"] == pytest.approx(before["seconds"] + stats.seconds)
    assert before["first_batch_seconds"] <= WAIT_TALLY["first_batch_seconds"] <= WAIT_TALLY["data_seconds"]
    # the shares it reports: in all, and without each epoch's first batch (workers starting)
    assert wait_shares({"data_seconds": 3.0, "seconds": 10.0, "first_batch_seconds": 2.0}) == \
        {"data_wait_share": 0.3, "data_wait_share_after_first_batch": 0.125}
    assert wait_shares({"data_seconds": 0.0, "seconds": 0.0, "first_batch_seconds": 0.0})["data_wait_share"] is None
    with pytest.raises(FloatingPointError, match=r"test: .*non-finite at batch 3 \(step 2\)"):
        run_epoch([(torch.tensor(v),) for v in values], loss_fn,
                  Updater([opt], [w], None, Runtime(torch.device("cpu"), accumulate=2)), CPU0, where="test")


def test_accumulation_needs_a_length_to_find_the_last_batch():
    w = torch.nn.Parameter(torch.ones(()))
    up = Updater([torch.optim.SGD([w], lr=0.1)], [w], None, Runtime(torch.device("cpu"), accumulate=2))
    with pytest.raises(ValueError, match="n_batches"):
        run_epoch((b for b in [(torch.tensor(1.0),)]), lambda b: (w * b[0], 1), up, CPU0, where="test")
