"""Launched by tests/test_engine.py under torchrun: trains a tiny model with the engine and
saves the final weights (rank 0). Not a test module itself."""
import copy
import json
import os
import sys

import torch
from torch.utils.data import Dataset

from nasseg.config import PhaseParams, ScheduleParams
from nasseg.models import build_model
from nasseg.training.distributed import GlobalBatchNorm2d, init_from_env, shutdown
from nasseg.training.engine import train_schedule


class Toy(Dataset):
    """Fixed images; a random brightness shift stands in for augmentation (global RNG)."""

    def __init__(self, n=16, size=64):
        self.n, self.size = n, size

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = torch.randn(3, self.size, self.size, generator=torch.Generator().manual_seed(i))
        y = (x[0] > 0).long()
        y[:2] = 255
        return x + 0.2 * torch.rand(()), y


class Fixed(Toy):
    """No randomness: an evaluation set (an odd count, so the ranks' shares differ)."""

    def __getitem__(self, i):
        x = torch.randn(3, self.size, self.size, generator=torch.Generator().manual_seed(100 + i))
        y = (x[0] > 0).long()
        y[:2] = 255
        return x, y


def main(out: str) -> None:
    torch.set_num_threads(1)
    if os.environ.get('F64'):
        torch.set_default_dtype(torch.float64)
    d = init_from_env()
    torch.manual_seed(0)
    model = build_model("arch1", num_classes=2, width=8, repeats=1, aux="cell")
    # SGD for both parts: Adam's first steps normalise gradients that are zero up to rounding
    # (biases before BN) into full-size steps, which turns float noise into visible differences
    s = ScheduleParams(phases=[PhaseParams(sets="voc_train", epochs=1, aux_weight=0.3),
                               PhaseParams(sets="voc_train", epochs=2, aux_weight=0.2)],
                       batch_size=8, encoder_optim="sgd", decoder_optim="sgd", encoder_lr=1e-3, decoder_lr=1e-2,
                       freeze_bn_halfway=True, frozen_aux_weight=0.15)
    # the evaluation is sharded over the ranks, the confusion matrices summed: every rank has the scores
    res = train_schedule(model, s, lambda _n: Toy(), num_classes=2, d=d, log=lambda _s: None, val_set=Fixed(5, 40))
    # the trained model has plain BatchNorm again: it copies, saves and runs like any other
    assert not any(isinstance(m, GlobalBatchNorm2d) for m in model.modules())
    copy.deepcopy(model)
    with open(f"{out}.rank{d.rank}.json", "w") as f:
        json.dump(res.final, f)
    if d.main:
        torch.save(model.state_dict(), out)
    shutdown(d)


if __name__ == "__main__":
    main(sys.argv[1])
