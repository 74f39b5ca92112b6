"""`nasseg precompute`: the HDF5 feature cache that stage 1 of the search trains from."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nasseg.cache.precompute import precompute
from nasseg.config import load_params
from nasseg.progress import console, progress_bars, table

from .common import DEVICE, PRECISION, runtime_of


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file; reads `data`, `pretrain.out`, `teacher.out`, `precompute`."),
    system: str = typer.Option("cells", "--system", help="cells: the CVPR 2019 system (top-level sections); wacv: "
                               "the WACV 2020 template system (the `wacv` section's data, precompute and search)."),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Run the frozen encoder and the teacher once; store taps, labels and teacher logits.

    Reads: data/lists/meta_train.lst and meta_val.lst, <pretrain.out>/encoder.pt,
    <teacher.out>/teacher.pt. Writes <precompute.out>/train.h5 (`precompute.n` augmented
    crops: encoder taps, labels at `label_stride`, teacher logits) and val.h5 (every
    meta-val image padded to `val_size`: taps and full-resolution labels), each with a
    fingerprint of what made it. Files appear only when complete (written as .tmp, then renamed).
    With --system wacv: CamVid's meta-train/val (wacv.data.root/lists), into wacv.precompute.out,
    without teacher logits (wacv.precompute.teacher: false).
    Encoder and teacher run on --device in --precision; the features are stored in
    precompute.dtype whatever the precision (recorded in the fingerprint when not fp32).
    """
    p = load_params(params).for_system(system)
    runtime = runtime_of(p, device, precision)
    rows = []
    with progress_bars() as task:
        for split in ("train", "val"):
            path, rep = precompute(p, split, task, runtime=runtime)
            rows.append([str(path), rep["n"], f"{rep['size']}×{rep['size']}", f"{rep['bytes'] / 2**20:.1f}",
                         f"{rep.get('fp16_max_rel_error', 0):.1e}",
                         f"{rep['teacher_argmax_changed_by_fp16']:.1e}" if "teacher_argmax_changed_by_fp16" in rep else "",
                         f"{rep['data_seconds']:.1f}"])
    console.print(table("precompute: feature cache", ["file", "samples", "crop", "MiB", "fp16 max rel. error",
                                                      "teacher argmax changed by fp16", "input wait s"], rows))
