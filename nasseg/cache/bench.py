"""What the feature cache buys: one stage-1 epoch from the cache versus the same epoch with
the frozen encoder (and teacher) computed on the fly, and the cache's read throughput
against the same batches served from RAM. Measured side by side in one run, the decoder (and
the on-the-fly encoder and teacher) on a :class:`~nasseg.runtime.Runtime`'s device and precision."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from ..benchmark import sync
from ..config import Stage1Params
from ..data.catalog import open_set
from ..data.transforms import SegmentationTransform
from ..models.zoo import PUBLISHED
from ..runtime import Runtime
from ..spaces.cells import Genotype
from ..spaces.cells.decoder import Decoder
from ..training.fit import seed_everything
from ..training.stage1 import train_decoder_epoch
from .precompute import load_frozen_encoder, load_frozen_teacher
from .store import FeatureCache


def _decoder(genotype: str, num_classes: int, width: int, repeats: int) -> Decoder:
    seed_everything(0)
    return Decoder(Genotype.from_text(PUBLISHED.get(genotype, genotype)), (24, 32, 96, 320), num_classes=num_classes,
                   width=width, repeats=repeats, aux="cell")


def _epoch_seconds(decoder: Decoder, batches, cfg: Stage1Params, runtime: Runtime) -> float:
    decoder = runtime.prepare(decoder)
    opt = torch.optim.Adam(decoder.parameters(), lr=cfg.lr)
    t0 = time.perf_counter()
    train_decoder_epoch(decoder, batches, opt, cfg, runtime=runtime)
    sync(runtime.device)
    return time.perf_counter() - t0


def run_bench_cache(params, *, arch: str = "arch0", samples: Optional[int] = None, width: int = 48,
                    repeats: int = 1, batch_size: int = 32, read_passes: int = 9,
                    teacher_depth: Optional[int] = None, log=print, runtime: Optional[Runtime] = None) -> dict:
    """``teacher_depth`` also times the on-the-fly epoch with a Light-Weight RefineNet of
    that ResNet depth as teacher (152: the paper's; random weights, only the time counts).
    ``runtime``: where the epochs run (None: params.yaml's ``runtime``)."""
    runtime = runtime or Runtime.of(params)
    torch.set_flush_denormal(True)
    path = Path(params.precompute.out) / "train.h5"
    num_classes = params.data.num_classes
    cfg = Stage1Params(batch_size=batch_size)  # the schema's stage-1 defaults (lr, loss weights, clip)
    out: dict = {"arch": arch, "width": width, "repeats": repeats, "batch_size": batch_size,
                 "threads": torch.get_num_threads(), "device": str(runtime.device), "precision": runtime.precision}
    with FeatureCache(path) as cache:
        n = min(samples or len(cache), len(cache))
        out["samples"] = n
        # ---- one stage-1 epoch from the cache
        n_batches = (n + batch_size - 1) // batch_size

        def from_cache():
            yield from (b for _, b in zip(range(n_batches), cache.batches(batch_size, rng=np.random.default_rng(0))))

        out["epoch_cache_s"] = _epoch_seconds(_decoder(arch, num_classes, width, repeats), from_cache(), cfg, runtime)
        log(f"stage-1 epoch from the cache: {out['epoch_cache_s']:.1f} s ({n} samples)")
        # ---- the same epoch with encoder and teacher on the fly
        encoder, teacher = runtime.prepare(load_frozen_encoder(params)), runtime.prepare(load_frozen_teacher(params))
        data = params.data
        base = open_set("meta_train", data, SegmentationTransform.train(params.precompute.augment))  # the cache's
        loader = DataLoader(Subset(base, [i % len(base) for i in range(n)]), batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(0), pin_memory=runtime.pin_memory)
        stride = params.precompute.label_stride

        def on_the_fly(with_teacher: bool):
            for image, mask in loader:
                image = runtime.batch(image)
                with torch.no_grad(), runtime.autocast():
                    taps = encoder(image)
                    b = {f"tap{i}": t for i, t in enumerate(taps)}
                    b["labels"] = mask[:, stride // 2::stride, stride // 2::stride] if stride > 1 else mask
                    if with_teacher:
                        b["teacher"] = teacher(image)
                yield b

        out["epoch_fly_s"] = _epoch_seconds(_decoder(arch, num_classes, width, repeats), on_the_fly(True), cfg, runtime)
        out["speedup"] = out["epoch_fly_s"] / out["epoch_cache_s"]
        log(f"same epoch, encoder + teacher on the fly: {out['epoch_fly_s']:.1f} s (×{out['speedup']:.1f})")
        if teacher_depth:
            from ..models import build_model

            teacher = runtime.prepare(build_model(f"refinenet_lw_resnet{teacher_depth}", num_classes=num_classes).eval())
            out["teacher_depth_timed"] = teacher_depth
            out["epoch_fly_paper_teacher_s"] = _epoch_seconds(_decoder(arch, num_classes, width, repeats),
                                                              on_the_fly(True), cfg, runtime)
            out["speedup_paper_teacher"] = out["epoch_fly_paper_teacher_s"] / out["epoch_cache_s"]
            log(f"same epoch with a RefineNet-{teacher_depth} teacher on the fly: "
                f"{out['epoch_fly_paper_teacher_s']:.1f} s (×{out['speedup_paper_teacher']:.1f})")
        nbytes = cache.nbytes()
    # ---- read throughput: the file versus the same batches from RAM, interleaved rounds, medians
    def epoch_reads(c, k):
        t0 = time.perf_counter()
        for _ in c.batches(batch_size, rng=np.random.default_rng(k)):
            pass
        return nbytes / (time.perf_counter() - t0) / 1e6

    file_rates, ram_rates = [], []
    with FeatureCache(path) as disk, FeatureCache(path, in_memory=True) as ram:
        for k in range(read_passes):
            file_rates.append(epoch_reads(disk, k))
            ram_rates.append(epoch_reads(ram, k))
    out["read_file_MBps"] = float(np.median(file_rates))
    out["read_ram_MBps"] = float(np.median(ram_rates))
    out["read_ratio"] = out["read_file_MBps"] / out["read_ram_MBps"]
    out["cache_MB"] = nbytes / 1e6
    out["compression"] = _compare_compression(path, batch_size, read_passes)
    log(f"reads: file {out['read_file_MBps']:.0f} MB/s, RAM {out['read_ram_MBps']:.0f} MB/s "
        f"({100 * out['read_ratio']:.0f}%)")
    return out


def _compare_compression(path: Path, batch_size: int, passes: int) -> dict:
    """Re-write the cache with each HDF5 compression filter, and without the per-chunk
    Fletcher-32 checksums the cache is written with (what verifying them costs), and time full
    shuffled reads and the whole load into RAM (what a search process does)."""
    import h5py
    import tempfile

    res = {}
    with h5py.File(path, "r") as src, tempfile.TemporaryDirectory() as tmp:
        for comp, checksum in (("none", False), ("none", True), ("lzf", True), ("gzip", True)):
            name_ = comp + ("+fletcher32" if checksum else "")
            dst_path = Path(tmp) / f"{name_}.h5"
            with h5py.File(dst_path, "w") as dst:
                for name, ds in src.items():
                    dst.create_dataset(name, data=ds[()], chunks=ds.chunks, fletcher32=checksum,
                                       compression=None if comp == "none" else comp)
                for k, v in src.attrs.items():
                    dst.attrs[k] = v
            with FeatureCache(dst_path) as c:
                t0 = time.perf_counter()
                for k in range(passes):
                    for _ in c.batches(batch_size, rng=np.random.default_rng(k)):
                        pass
                secs = (time.perf_counter() - t0) / passes
            t0 = time.perf_counter()
            FeatureCache(dst_path, in_memory=True).close()
            res[name_] = {"file_MB": dst_path.stat().st_size / 1e6, "epoch_read_s": secs,
                          "load_s": time.perf_counter() - t0}
    return res
