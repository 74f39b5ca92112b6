"""What ``nasseg prepare-transfer`` does: the pose and depth sets on disk, each opened once.

The embedded sets (:mod:`nasseg.synthetic.pose`, :mod:`nasseg.synthetic.depth`) are
rendered under ``transfer.data.root`` for every set params do not point at a real one;
then every set is read once, so that a bad file stops this stage, not a training run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from ..config import TransferDataParams, TransferParams
from ..data.names import DEPTH_SETS, POSE_SETS
from .catalog import nyu_source, pose_records


def generate_transfer_embedded(tp: TransferDataParams, progress: Optional[Callable] = None,
                               tasks=("coco", "mpii", "nyu")) -> dict:
    """Render the embedded pose and depth sets whose real counterparts params do not name."""
    from ..synthetic.depth import write_nyu_embedded
    from ..synthetic.pose import write_coco_keypoints, write_mpii

    e, root, out = tp.embedded, Path(tp.root), {}

    def tick(name, n):
        return progress(name, n) if progress else None

    size = tuple(e.pose_size)
    if "coco" in tasks and tp.coco_keypoints is None:
        for split, n in (("train2017", e.coco.train), ("val2017", e.coco.val)):
            out[f"coco_{split}"] = str(write_coco_keypoints(root / "coco", split, n, seed=e.seed, size=size,
                                                            progress=tick(f"COCO keypoints {split}", n)))
    if "mpii" in tasks and tp.mpii is None:
        for split, n in (("train", e.mpii.train), ("valid", e.mpii.val)):
            out[f"mpii_{split}"] = str(write_mpii(root / "mpii", split, n, seed=e.seed, size=size,
                                                  progress=tick(f"MPII {split}", n)))
    if "nyu" in tasks and tp.nyu is None:
        n = e.nyu_labeled + e.nyu_raw_train
        paths = write_nyu_embedded(root / "nyu", n_labeled=e.nyu_labeled, n_test=e.nyu_test,
                                   n_raw_train=e.nyu_raw_train, seed=e.seed, size=tuple(e.depth_size),
                                   progress=tick("NYUv2 frames", n))
        out.update({f"nyu_{k}": str(v) for k, v in paths.items()})
    return out


def prepare_transfer(params: TransferParams, *, skip_bad: bool = False,
                     progress: Optional[Callable] = None) -> list[tuple[str, str, int, int | None]]:
    """Render the embedded sets and open every set once: ``(set, source, images, people)``
    per set (people is None for depth sets)."""
    tp = params.data
    generate_transfer_embedded(tp, progress)
    rows = []
    for name, (kind, _) in POSE_SETS.items():
        w, h = getattr(params, kind).input
        records, _ = pose_records(name, tp, aspect=w / h, skip_bad=skip_bad)
        source = "real" if getattr(tp, "coco_keypoints" if kind == "coco" else "mpii") is not None else "embedded"
        rows.append((name, source, len({r.image_id for r in records}), len(records)))
    for name in DEPTH_SETS:
        rows.append((name, "real" if tp.nyu is not None else "embedded", len(nyu_source(name, tp)), None))
    return rows
