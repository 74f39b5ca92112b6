"""Confusion-matrix scores against a 3-class example worked out by hand."""
from __future__ import annotations

import math

import pytest
import torch

from nasseg.metrics import ConfusionMatrix, evaluate_pairs, scores_from_confusion, search_reward

# Hand-made confusion matrix, mat[true, predicted]:
#
#              pred 0  pred 1  pred 2 | truth
#   true 0        4       1       0   |   5
#   true 1        1       3       1   |   5
#   true 2        0       2       2   |   4
#   -------------------------------------------
#   predicted     5       6       3   |  14 pixels, 9 correct
#
# IoU   c0 = 4 / (5 + 5 - 4) = 4/6,  c1 = 3 / (5 + 6 - 3) = 3/8,  c2 = 2 / (4 + 3 - 2) = 2/5
# acc   c0 = 4/5, c1 = 3/5, c2 = 2/4
# mIoU  = (4/6 + 3/8 + 2/5) / 3                = 0.480555...
# fwIoU = (5 * 4/6 + 5 * 3/8 + 4 * 2/5) / 14   = 0.486309...
# mean accuracy = (0.8 + 0.6 + 0.5) / 3       = 0.633333...
# pixel accuracy = 9 / 14                      = 0.642857...
# reward = (mIoU * fwIoU * mean acc) ** (1/3)  = 0.528968...
# Two extra void pixels (label 255) with predictions 0 and 2 must change nothing.
HAND = torch.tensor([[4, 1, 0], [1, 3, 1], [0, 2, 2]])
IOU = [4 / 6, 3 / 8, 2 / 5]
ACC = [0.8, 0.6, 0.5]
MEAN_IOU = 0.48055555555555546
FW_IOU = 0.4863095238095238
MEAN_ACC = 0.6333333333333333
PIXEL_ACC = 0.6428571428571429
REWARD = 0.5289682123551849
# exclude=(0,): means over classes 1 and 2 only
EX_MEAN_IOU = (3 / 8 + 2 / 5) / 2  # 0.3875
EX_FW_IOU = (5 * 3 / 8 + 4 * 2 / 5) / 9  # 0.386111...
EX_MEAN_ACC = (0.6 + 0.5) / 2  # 0.55
EX_REWARD = 0.43495957796860724


def hand_pairs():
    """(pred, target), N=2 x H=2 x W=4, holding exactly the hand matrix plus 2 void pixels."""
    t, p = [], []
    for ti in range(3):
        for pi in range(3):
            n = int(HAND[ti, pi])
            t += [ti] * n
            p += [pi] * n
    t += [255, 255]
    p += [0, 2]
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    target = torch.tensor(t)[perm].reshape(2, 2, 4)
    pred = torch.tensor(p)[perm].reshape(2, 2, 4)
    return pred, target


def assert_hand_scores(s):
    assert s.iou.tolist() == pytest.approx(IOU)
    assert s.acc.tolist() == pytest.approx(ACC)
    assert s.mean_iou == pytest.approx(MEAN_IOU)
    assert s.fw_iou == pytest.approx(FW_IOU)
    assert s.mean_acc == pytest.approx(MEAN_ACC)
    assert s.pixel_acc == pytest.approx(PIXEL_ACC)
    assert s.reward == pytest.approx(REWARD)


def test_hand_computed_example():
    pred, target = hand_pairs()
    cm = ConfusionMatrix(3).update(pred, target)
    assert torch.equal(cm.mat, HAND)  # void pixels ignored
    s = cm.scores()
    assert_hand_scores(s)
    assert s.as_dict() == {"mean_iou": s.mean_iou, "fw_iou": s.fw_iou, "mean_acc": s.mean_acc,
                           "pixel_acc": s.pixel_acc, "reward": s.reward}


def test_void_ignored_whatever_predicted():
    pred, target = hand_pairs()
    for fill in (0, 1, 2):
        p = pred.clone()
        p[target == 255] = fill
        assert torch.equal(ConfusionMatrix(3).update(p, target).mat, HAND)


def test_logits_input():
    pred, target = hand_pairs()
    logits = torch.randn(2, 3, 2, 4) * 0.1
    logits.scatter_(1, pred.unsqueeze(1), 5.0)  # the predicted class wins the argmax
    cm = ConfusionMatrix(3).update(logits, target)
    assert torch.equal(cm.mat, HAND)
    assert_hand_scores(cm.scores())


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        ConfusionMatrix(3).update(torch.zeros(1, 2, 4, dtype=torch.long), torch.zeros(1, 2, 3, dtype=torch.long))


def test_absent_class_is_nan_and_left_out_of_means():
    pred, target = hand_pairs()
    cm = ConfusionMatrix(4).update(pred, target)  # class 3 appears nowhere
    s = cm.scores()
    assert math.isnan(float(s.iou[3])) and math.isnan(float(s.acc[3]))
    assert s.iou[:3].tolist() == pytest.approx(IOU)
    assert s.mean_iou == pytest.approx(MEAN_IOU)  # not (MEAN_IOU * 3 + 1) / 4
    assert s.mean_iou != pytest.approx((sum(IOU) + 1.0) / 4)
    assert s.fw_iou == pytest.approx(FW_IOU)
    assert s.mean_acc == pytest.approx(MEAN_ACC)
    assert s.pixel_acc == pytest.approx(PIXEL_ACC)
    assert s.reward == pytest.approx(REWARD)


def test_class_only_predicted_counts_as_zero_iou():
    # one pixel of class 0 predicted as 3: class 3 has IoU 0 (present in the prediction)
    target = torch.tensor([[[0, 1]]])
    pred = torch.tensor([[[3, 1]]])
    s = ConfusionMatrix(4).update(pred, target).scores()
    assert s.iou[0] == 0 and s.iou[1] == 1 and s.iou[3] == 0 and math.isnan(float(s.iou[2]))
    assert s.mean_iou == pytest.approx(1 / 3)
    assert s.mean_acc == pytest.approx(0.5)  # class 3 not in the truth: no accuracy
    assert math.isnan(float(s.acc[3]))


def test_exclude_background():
    pred, target = hand_pairs()
    s = ConfusionMatrix(3).update(pred, target).scores(exclude=(0,))
    assert s.mean_iou == pytest.approx(EX_MEAN_IOU) == pytest.approx(0.3875)
    assert s.fw_iou == pytest.approx(EX_FW_IOU) == pytest.approx(0.3861111111)
    assert s.mean_acc == pytest.approx(EX_MEAN_ACC) == pytest.approx(0.55)
    assert s.reward == pytest.approx(EX_REWARD)
    # per-class values and pixel accuracy are unchanged
    assert s.iou.tolist() == pytest.approx(IOU)
    assert s.pixel_acc == pytest.approx(PIXEL_ACC)


def test_reward_is_geometric_mean():
    s = scores_from_confusion(HAND)
    assert s.reward == pytest.approx((s.mean_iou * s.fw_iou * s.mean_acc) ** (1 / 3))
    assert search_reward(0.25, 0.5, 1.0) == pytest.approx(0.5)
    assert search_reward(0.0, 0.5, 1.0) == 0.0
    assert math.isnan(search_reward(float("nan"), 0.5, 0.5))


def test_empty_matrix_scores_are_nan():
    s = ConfusionMatrix(3).scores()
    assert math.isnan(s.mean_iou) and math.isnan(s.pixel_acc) and math.isnan(s.reward)


def test_accumulation_equals_concatenation():
    g = torch.Generator().manual_seed(1)
    p1, t1 = torch.randint(0, 5, (2, 6, 7), generator=g), torch.randint(0, 5, (2, 6, 7), generator=g)
    p2, t2 = torch.randint(0, 5, (3, 6, 7), generator=g), torch.randint(0, 5, (3, 6, 7), generator=g)
    t1[0, :2] = 255
    t2[1, 3:] = 255
    two = ConfusionMatrix(5).update(p1, t1).update(p2, t2)
    one = ConfusionMatrix(5).update(torch.cat([p1, p2]), torch.cat([t1, t2]))
    assert torch.equal(two.mat, one.mat)
    assert int(one.mat.sum()) == int((torch.cat([t1, t2]) != 255).sum())
    a, b = two.scores(), one.scores()
    assert a.as_dict() == b.as_dict()
    merged = ConfusionMatrix(5).update(p1, t1).merge(ConfusionMatrix(5).update(p2, t2))
    assert torch.equal(merged.mat, one.mat)
    e = evaluate_pairs([(p1, t1), (p2, t2)], 5)
    assert e.as_dict() == b.as_dict()
    merged.reset()
    assert int(merged.mat.sum()) == 0


def test_out_of_range_prediction_is_an_error_not_a_clamp():
    cm = ConfusionMatrix(3).update(torch.tensor([[0, 255]]), torch.tensor([[0, 1]]))  # noted on the device
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        cm.scores()
    # a wrong prediction at a void pixel is not counted, so it is no error
    assert ConfusionMatrix(3).update(torch.tensor([[0, 255]]), torch.tensor([[0, 255]])).scores().pixel_acc == 1.0
