"""The real trainer of the search: stage 1 from the HDF5 cache, stage 2 end to end.

Picklable (for Ray): it carries paths, configs and the device and precision as text only;
each process resolves its Runtime and opens the caches, the encoder and the datasets once, on
first use. What it returns to the driver (scores, rewards, the stage-1 decoder's weights) is on
the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ..config import SearchParams
from ..data.loader import KeyedLoader
from ..runtime import Runtime, to_cpu
from ..spaces import get_space
from .inner import architecture_cost, run_stage1, run_stage2

_CONTEXTS: dict = {}


@dataclass
class CacheTrainer:
    params_path: str  # params.yaml to rebuild the context from in any process
    search: SearchParams  # the inner training's knobs (a tricks setup may differ from the file's)
    num_classes: int = 21
    in_memory: bool = True
    system: str = "cells"  # which params sections (Params.for_system): cells or wacv
    device: Optional[str] = None  # auto | cpu | cuda | cuda:N, resolved in each process; None: the params file's
    precision: Optional[str] = None  # fp32 | fp16 | bf16; None: the params file's
    threads: Optional[int] = None  # torch intra-op threads per process (a Ray trial: its num_cpus); None: search.threads
    workers: Optional[int] = None  # stage 2's input workers per process; None: runtime.workers
    shared: Optional[tuple] = None  # Ray object refs of the exported train and val caches (one copy per node)

    @property
    def space(self):
        return get_space(self.search.search_space)

    def _context(self):
        key = (self.params_path, self.in_memory, self.device, self.precision, self.shared is not None)
        if key not in _CONTEXTS:
            from ..cache import FeatureCache
            from ..cache.precompute import cache_fingerprint
            from ..config import load_params
            from ..data.catalog import open_set
            from ..data.transforms import SegmentationTransform
            from ..cache.precompute import pad_crop

            threads = self.threads or self.search.threads
            if threads:
                torch.set_num_threads(threads)
            torch.set_flush_denormal(True)
            p = load_params(self.params_path).for_system(self.system)
            runtime = Runtime.of(p, device=self.device, precision=self.precision, workers=self.workers)
            out = Path(p.precompute.out)
            if self.shared is not None:  # zero-copy from the node's object store, checked by the driver
                import ray

                train, val = (FeatureCache.from_arrays(x) for x in ray.get(list(self.shared)))
            else:
                train = FeatureCache(out / "train.h5", cache_fingerprint(p, "train"), in_memory=self.in_memory)
                val = FeatureCache(out / "val.h5", cache_fingerprint(p, "val"), in_memory=self.in_memory)
            from ..models.encoder import MobileNetV2Encoder, load_encoder_weights

            encoder = MobileNetV2Encoder(taps=self.space.encoder_taps)  # only the blocks it reads
            load_encoder_weights(encoder, Path(p.pretrain.out) / "encoder.pt")
            encoder.eval()
            size = p.precompute.val_size
            # input workers kept across the architectures this process trains
            s2_train = KeyedLoader(open_set("meta_train", p.data, SegmentationTransform.train(p.search_augment(2))),
                                   runtime)
            s2_val = KeyedLoader(_Padded(open_set("meta_val", p.data, SegmentationTransform.eval()), size, pad_crop),
                                 runtime)
            _CONTEXTS[key] = (train, val, encoder, s2_train, s2_val, runtime)
        return _CONTEXTS[key]

    def stage1(self, genotype_text: str, seed: int) -> dict:
        train, val, *_, runtime = self._context()
        space = self.space
        g = space.parse(genotype_text)
        decoder, scores, secs, wait = run_stage1(g, train, val, self.search, self.num_classes, seed, space,
                                                 runtime=runtime)
        params, madds = architecture_cost(g, self.search, self.num_classes, space=space)
        reward = scores.reward
        if reward != reward:  # NaN
            raise FloatingPointError("stage-1 reward is NaN (no scorable class in meta-val)")
        return {"scores": scores.as_dict(), "reward": reward, "seconds": secs, "data_wait": round(wait / secs, 4),
                "state": {k: v.clone() for k, v in to_cpu(decoder.state_dict()).items()}, "params": params, "madds": madds}

    def stage2(self, genotype_text: str, stage1_out: dict, seed: int) -> dict:
        _, _, encoder, s2_train, s2_val, runtime = self._context()
        decoder = self.space.build_decoder(genotype_text, num_classes=self.num_classes, width=self.search.width,
                                           repeats=self.search.repeats, aux=self.search.aux)
        decoder.load_state_dict(stage1_out["state"])
        scores, secs, wait = run_stage2(decoder, encoder, s2_train, s2_val, self.search, self.num_classes, seed,
                                        runtime=runtime)
        if scores.reward != scores.reward:
            raise FloatingPointError("stage-2 reward is NaN")
        return {"scores": scores.as_dict(), "reward": scores.reward, "seconds": secs, "data_wait": round(wait / secs, 4)}


class _Padded(torch.utils.data.Dataset):
    """Meta-val images padded/cropped to one size so that they batch; decoded once per process
    (they have no augmentation) and kept for the next architectures."""

    def __init__(self, base, size, pad_crop):
        self.base, self.size, self.pad_crop = base, size, pad_crop
        self.kept: dict = {}

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        if i not in self.kept:
            image, mask = self.base[i]
            self.kept[i] = self.pad_crop(image, mask, self.size)
        return self.kept[i]
