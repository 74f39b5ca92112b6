"""The input pipeline's cost per training image (decode, check, augment: one sample of the
stage's own dataset through its own transform), timed here, for the stages that train on
images. On a CPU the loader's work comes out of the cores the step uses (workers or not), so it
adds to each step; on a GPU ``runtime.workers`` processes prepare batches while the GPU computes,
so only what they cannot hide adds (``nasseg bench-input`` measures the pipeline alone)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import Params
from ..runtime import default_workers
from .hardware import Hardware

INPUT_IMAGES = 12  # timed samples per set (after one warm-up)
SYNTH_IMAGES = 4  # generated JPEG + PNG pairs when the set is not prepared here


class InputProber:
    """Seconds per training image of a segmentation set (``voc_train``, ``coco_train+trainaug``...),
    timed once per set: on the prepared set when ``prepare`` has run here, else on a few
    generated JPEG + PNG pairs of the set's full image size through the same reader and transform."""

    def __init__(self, p: Params, full: dict, seed: int = 0):
        self.p, self.full, self.seed = p, full, seed
        self.cache: dict[str, tuple[float, str]] = {}
        self.seconds = 0.0

    def per_image(self, sets: str) -> tuple[float, str]:
        """(seconds per image, how it was timed)."""
        if sets not in self.cache:
            t0 = time.perf_counter()
            self.cache[sets] = self._timed(sets)
            self.seconds += time.perf_counter() - t0
        return self.cache[sets]

    def _timed(self, sets: str) -> tuple[float, str]:
        from ..data.catalog import open_set
        from ..data.loader import load_sample
        from ..data.transforms import SegmentationTransform
        from ..errors import NassegError

        transform = SegmentationTransform.train(self.p.data.augment)
        try:
            ds = open_set(sets, self.p.data, transform)
        except NassegError:
            return self._synthetic(sets, transform)
        n = min(INPUT_IMAGES, len(ds))
        if n == 0:
            return 0.0, f"{sets} is empty"
        load_sample(ds, 0, self.seed, 0)  # warm-up (first file opens, lazy imports)
        t0 = time.perf_counter()
        for i in range(n):
            load_sample(ds, (i * 7919) % len(ds), self.seed, 0)
        return (time.perf_counter() - t0) / n, f"{n} images of the prepared {sets}"

    def _synthetic(self, sets: str, transform) -> tuple[float, str]:
        from PIL import Image

        from ..data.io import read_image, read_mask

        h, w = self.full.get("voc", (375, 500))
        rng = np.random.default_rng(self.seed)
        with tempfile.TemporaryDirectory() as tmp:
            pairs = []
            for i in range(SYNTH_IMAGES):
                img, png = Path(tmp) / f"{i}.jpg", Path(tmp) / f"{i}.png"
                # smooth shapes, not noise: JPEG decodes noise far slower than photographs
                base = rng.integers(0, 255, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
                rgb = np.kron(base, np.ones((16, 16, 1), dtype=np.uint8))[:h, :w]
                Image.fromarray(rgb).save(img, quality=90)
                mask = Image.fromarray((rgb[..., 0] // 13).astype(np.uint8), mode="P")
                mask.putpalette([0] * 768)
                mask.save(png)
                pairs.append((img, png))

            def one(i: int):
                import torch

                img, png = pairs[i % len(pairs)]
                image = read_image(img)
                mask = torch.from_numpy(np.ascontiguousarray(read_mask(png), dtype=np.int64))
                return transform(image, mask)

            one(0)
            t0 = time.perf_counter()
            for i in range(INPUT_IMAGES):
                one(i)
            took = (time.perf_counter() - t0) / INPUT_IMAGES
        return took, f"{SYNTH_IMAGES} generated {w}x{h} JPEG + PNG pairs ({sets} is not prepared here)"


def input_step_seconds(hw: Hardware, workers: Optional[int], per_image: float, batch: float,
                       step: float, local_world: int = 1) -> float:
    """Seconds the input pipeline adds to one step of ``batch`` images whose compute takes ``step``:
    all of it on a CPU (its work shares the cores); on a GPU, what ``workers`` processes cannot
    prepare while the step computes (all of it with no workers). The per-image time is this
    machine's CPU, in a what-if too. ``local_world``: the processes per node sharing its cores
    (DDP: one per GPU), for the loader's default worker count."""
    load = per_image * batch
    if hw.device == "cpu":
        return load
    # workers null: the loader's default here (the process's share of the cores, less one); in a
    # what-if, 1 (the target's cores are unknown)
    w = workers if workers is not None else (default_workers(local_world) if hw.present else 1)
    return load if w <= 0 else max(0.0, load / w - step)


__all__ = ["InputProber", "input_step_seconds"]
