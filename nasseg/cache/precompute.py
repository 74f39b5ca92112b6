"""The ``precompute`` stage: run the frozen encoder (and the teacher) once over meta-train.

Training cache: ``n`` samples drawn from meta-train (cycling through it when ``n`` exceeds
its size), each augmented once with the search's training transform (``precompute.augment``:
random scale, crop, flip; ``data.augment`` is the final training's);
encoder taps, labels at ``label_stride`` and teacher logits at stride 4. Validation cache:
every meta-val image, centre-padded/cropped to ``val_size`` without augmentation, taps and
full-resolution labels (rewards are computed at full resolution).

Encoder and teacher run on a :class:`~nasseg.runtime.Runtime` (device, autocast precision);
their outputs are moved to the CPU in float32 before they are written.
"""
from __future__ import annotations

import hashlib
import time
from functools import partial
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch.utils.data import Subset

from ..data.catalog import lists_dir, open_set
from ..data.loader import KeyedLoader, batches_of, timed
from ..data.transforms import SegmentationTransform
from ..errors import NassegError
from ..models.encoder import MobileNetV2Encoder, load_encoder_weights
from ..runtime import Runtime, to_cpu
from ..training.fit import seed_everything
from ..training.loop import tally_wait
from ..training.recipes import build_teacher, load_teacher_weights
from .store import CacheSpec, write_cache


def file_sha256(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise NassegError(f"{path}: not found. Run the stage that writes it first (`dvc repro`).")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_fingerprint(params, split: str, precision: str = "fp32") -> dict:
    """What a cache file depends on; a reader compares it with the file's own. ``precision``
    (the writer's autocast) enters only when not fp32, and no reader checks it."""
    pc, data = params.precompute, params.data
    list_file = lists_dir(data) / ("meta_train.lst" if split == "train" else "meta_val.lst")
    fp = {
        "split": split,
        "encoder_sha256": file_sha256(Path(params.pretrain.out) / "encoder.pt"),
        "list_sha256": file_sha256(list_file),
        "num_classes": data.num_classes,
        "dtype": pc.dtype,
        "seed": pc.seed,
    }
    if split == "train":
        fp.update({"teacher_sha256": file_sha256(Path(params.teacher.out) / "teacher.pt") if pc.teacher else None,
                   "n": pc.n, "augment": pc.augment.model_dump(mode="json"), "label_stride": pc.label_stride})
    else:
        fp.update({"val_size": pc.val_size})
    if precision != "fp32":
        fp["precision"] = precision
    return fp


def load_frozen_encoder(params) -> MobileNetV2Encoder:
    enc = MobileNetV2Encoder()
    load_encoder_weights(enc, Path(params.pretrain.out) / "encoder.pt")
    return enc.eval()


def load_frozen_teacher(params) -> torch.nn.Module:
    teacher = build_teacher(params)
    load_teacher_weights(teacher, Path(params.teacher.out) / "teacher.pt")
    return teacher.eval()


def pad_crop(image: torch.Tensor, mask: torch.Tensor, size: int):
    """Centre-pad (image with 0 = the mean after normalisation, mask with void) and centre-crop to size x size."""
    h, w = image.shape[1:]
    ph, pw = max(0, size - h), max(0, size - w)
    if ph or pw:
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        image = F.pad(image, pad, value=0.0)
        mask = F.pad(mask, pad, value=255)
    h, w = image.shape[1:]
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top:top + size, left:left + size], mask[top:top + size, left:left + size]


def _labels_at(mask: torch.Tensor, stride: int) -> torch.Tensor:
    if stride == 1:
        return mask
    # nearest at pixel centres, as the masks are resized elsewhere
    return F.interpolate(mask[:, None].float(), scale_factor=1 / stride, mode="nearest-exact")[:, 0].long()


@torch.no_grad()
def precompute(params, split: str, task=None, batch_size: int = 32,
               runtime: Optional[Runtime] = None) -> tuple[Path, dict]:
    """Write ``<out>/<split>.h5``; returns its path and a small report. ``runtime``: where the
    encoder and teacher run (None: params.yaml's ``runtime``)."""
    pc, data = params.precompute, params.data
    runtime = runtime or Runtime.of(params)
    seed_everything(pc.seed + (0 if split == "train" else 1))
    torch.set_flush_denormal(True)
    encoder = runtime.prepare(load_frozen_encoder(params))
    teacher = runtime.prepare(load_frozen_teacher(params)) if split == "train" and pc.teacher else None
    if split == "train":
        # the search's augmentation (precompute.augment), not the final training's (data.augment)
        base = open_set("meta_train", data, SegmentationTransform.train(pc.augment))
        n = pc.n
        # sample k is meta-train image k mod its size, augmented from (seed, 0, k) alone
        dataset = Subset(base, [i % len(base) for i in range(n)])
        size = pc.augment.crop
    else:
        base = open_set("meta_val", data, SegmentationTransform.eval())
        n = len(base)
        dataset = base
        size = pc.val_size
    loader = KeyedLoader(dataset, runtime, collate_fn=None if split == "train" else partial(_collate_val, size=size))
    keyed = loader.epoch(pc.seed + (0 if split == "train" else 1), 0,
                           batches_of(range(n), batch_size, drop_last=False))
    probe = encoder(runtime.batch(torch.zeros(1, 3, size, size)))
    tap_shapes = tuple(tuple(t.shape[1:]) for t in probe)
    label_stride = pc.label_stride if split == "train" else 1
    teacher_shape = None
    if teacher is not None:
        teacher_shape = tuple(teacher(runtime.batch(torch.zeros(2, 3, size, size))).shape[1:])
    spec = CacheSpec(n=n, tap_shapes=tap_shapes, label_shape=(size // label_stride, size // label_stride),
                     teacher_shape=teacher_shape, dtype=pc.dtype, chunk=pc.chunk,
                     compression=None if pc.compression == "none" else pc.compression)
    report = {"split": split, "n": n, "size": size, "data_seconds": 0.0}
    first_wait = [None]  # the first batch's wait (the workers starting)
    errs = []

    def batches():
        for waited, (image, mask) in timed(keyed):
            report["data_seconds"] += waited
            first_wait[0] = waited if first_wait[0] is None else first_wait[0]
            image = runtime.batch(image)
            with runtime.autocast():
                out = {f"tap{i}": t for i, t in enumerate(encoder(image))}
                if teacher is not None:
                    out["teacher"] = teacher(image)
            out = {k: v.float() for k, v in to_cpu(out).items()}
            out["labels"] = _labels_at(mask, label_stride).clamp(0, 255).to(torch.uint8)
            if pc.dtype == "float16" and len(errs) < 4:  # what float16 storage loses, measured
                for k, v in out.items():
                    if k != "labels":
                        scale = v.abs().max().clamp(min=1e-12)
                        errs.append(float((v.half().float() - v).abs().max() / scale))
                if teacher is not None:
                    t = out["teacher"]
                    report["teacher_argmax_changed_by_fp16"] = float(
                        (t.half().float().argmax(1) != t.argmax(1)).float().mean())
            yield out

    tick = task(f"precompute {split}", n) if task else None
    t0 = time.perf_counter()
    done = [0]

    def progress(k):
        if tick:
            for _ in range(k - done[0]):
                tick()
        done[0] = k

    path = write_cache(Path(pc.out) / f"{split}.h5", spec, batches(), cache_fingerprint(params, split, runtime.precision),
                       progress)
    if errs:
        report["fp16_max_rel_error"] = max(errs)
    report["bytes"] = path.stat().st_size
    tally_wait(report["data_seconds"], time.perf_counter() - t0, first_wait[0] or 0.0)
    report["data_seconds"] = round(report["data_seconds"], 2)
    return path, report


def _collate_val(batch, size):
    images, masks = zip(*[pad_crop(i, m, size) for i, m in batch])
    return torch.stack(images), torch.stack(masks)
