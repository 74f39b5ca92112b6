"""`nasseg prepare`: datasets on disk and the list files every later stage reads."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from nasseg.config import load_params
from nasseg.data.catalog import build_lists, embedded_dir, generate_embedded, lists_dir
from nasseg.progress import console, progress_bars, table


def main(
    only: str = typer.Option("all", "--only", help="all | segmentation (VOC/SBD/COCO) | transfer (COCO keypoints, "
                             "MPII, NYUv2 for the transfer stage) | street (CamVid, Cityscapes for the WACV system)."),
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p", help="params file; this stage reads its `data` section."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad",
        help="Drop samples whose files are missing, unreadable, of the wrong size or with out-of-range labels, "
        "and report how many; without it the first bad sample stops the stage with its file named."),
) -> None:
    """Render the embedded datasets (unless params point at real ones) and write the lists.

    Reads: params.yaml `data` (sizes of the embedded VOC/SBD/COCO-format sets, or
    `data.sources.{voc,sbd,coco}` paths to real datasets on disk).
    Writes: <data.root>/embedded/ (VOCdevkit/VOC2012, benchmark_RELEASE/dataset, coco/),
    <data.root>/lists/*.lst (image<TAB>mask lists: voc_train, voc_val, sbd, trainaug,
    meta_train, meta_val), lists/coco_train.json and lists/summary.json.
    Transfer sets (`transfer.data`): <transfer.data.root>/coco (person_keypoints JSON),
    mpii (HRNet JSON + gt_valid.mat), nyu (labelled .mat, splits.mat, raw RGB/depth pairs),
    each unless `transfer.data.<set>` points at the real one; then every set is opened once.
    Street sets (`wacv.data`, the second system): <wacv.data.root>/embedded/CamVid (SegNet
    layout and lists) and cityscapes (leftImg8bit/, gtFine/ labelIds), unless
    `wacv.data.sources.{camvid,cityscapes}` point at the real ones; lists camvid_{train,val,test},
    cityscapes_{train,val} and meta_train/meta_val (= CamVid train/val, the search's split).
    """
    if only not in ("all", "segmentation", "transfer", "street"):
        raise typer.BadParameter(f"--only must be all, segmentation, transfer or street, not {only!r}")
    if only in ("all", "transfer"):
        _transfer(load_params(params), skip_bad)
    if only in ("all", "street"):
        _street(load_params(params), skip_bad)
    if only in ("transfer", "street"):
        return
    p = load_params(params).data
    with progress_bars() as task:
        generate_embedded(p, task)
        reports = build_lists(p, skip_bad=skip_bad, progress=task)
    summary = {
        "num_classes": p.num_classes,
        "sets": {r.name: {"source": r.source, "images": r.images, "skipped": len(r.skipped), "note": r.note}
                 for r in reports},
        "skipped": {r.name: [{"id": i, "reason": why} for i, why in r.skipped] for r in reports if r.skipped},
        "class_pixels": {r.name: r.class_pixels.tolist() for r in reports if r.class_pixels is not None},
    }
    lists_dir(p).joinpath("summary.json").write_text(json.dumps(summary, indent=1))
    embedded_dir(p).mkdir(parents=True, exist_ok=True)
    rows = []
    for r in reports:
        present = "" if r.class_pixels is None else f"{int((r.class_pixels[1:] > 0).sum())}/{p.num_classes - 1}"
        rows.append([r.name, r.source, r.images, len(r.skipped), present, r.note])
    console.print(table("prepare: datasets", ["set", "source", "images", "skipped", "classes seen", "note"], rows))
    skipped = sum(len(r.skipped) for r in reports)
    if skipped:
        console.print(f"[yellow]{skipped} bad sample(s) skipped (--skip-bad); reasons in {lists_dir(p) / 'summary.json'}[/]")


def _transfer(params, skip_bad: bool) -> None:
    from nasseg.transfer.catalog import POSE_SETS, generate_transfer_embedded, nyu_source, pose_records

    tp = params.transfer.data
    with progress_bars() as task:
        generate_transfer_embedded(tp, task)
    rows = []
    for name in POSE_SETS:
        kind = POSE_SETS[name][0]
        w, h = getattr(params.transfer, kind).input
        records, _ = pose_records(name, tp, aspect=w / h, skip_bad=skip_bad)
        source = "real" if getattr(tp, "coco_keypoints" if kind == "coco" else "mpii") is not None else "embedded"
        rows.append([name, source, len({r.image_id for r in records}), len(records)])
    for name in ("nyu_train", "nyu_test"):
        rows.append([name, "real" if tp.nyu is not None else "embedded", len(nyu_source(name, tp)), "-"])
    console.print(table("prepare: transfer sets", ["set", "source", "images", "people"], rows))


def _street(params, skip_bad: bool) -> None:
    import shutil

    from nasseg.data.street import build_street_lists
    from nasseg.data.synthetic_street import write_camvid, write_cityscapes

    w = params.wacv.data
    e = w.embedded
    emb, lists = Path(w.root) / "embedded", Path(w.root) / "lists"
    with progress_bars() as task:
        camvid = w.sources.camvid
        if camvid is None:
            shutil.rmtree(emb / "CamVid", ignore_errors=True)
            sizes = {"train": e.camvid.train, "val": e.camvid.val, "test": e.camvid.test}
            camvid = write_camvid(emb, sizes, tuple(e.camvid_size), e.seed, task("render CamVid", sum(sizes.values())))
        cityscapes = w.sources.cityscapes
        if cityscapes is None:
            shutil.rmtree(emb / "cityscapes", ignore_errors=True)
            sizes = {"train": e.cityscapes.train, "val": e.cityscapes.val}
            cityscapes = write_cityscapes(emb, sizes, tuple(e.cityscapes_size), e.seed,
                                          task("render Cityscapes", sum(sizes.values())))
        shutil.rmtree(lists, ignore_errors=True)
        lists.mkdir(parents=True)
        reports = build_street_lists(lists, Path(camvid), Path(cityscapes), skip_bad=skip_bad, progress=task)
    # the template search's meta-train / meta-val: CamVid train / val
    shutil.copyfile(lists / "camvid_train.lst", lists / "meta_train.lst")
    shutil.copyfile(lists / "camvid_val.lst", lists / "meta_val.lst")
    summary = {
        "sources": {"camvid": "real" if w.sources.camvid else "embedded",
                    "cityscapes": "real" if w.sources.cityscapes else "embedded"},
        "sets": {r.name: {"images": r.images, "skipped": len(r.skipped)} for r in reports},
        "skipped": {r.name: [{"id": i, "reason": why} for i, why in r.skipped] for r in reports if r.skipped},
        "class_pixels": {r.name: r.class_pixels.tolist() for r in reports if r.class_pixels is not None},
    }
    (lists / "summary.json").write_text(json.dumps(summary, indent=1))
    rows = []
    for r in reports:
        n = len(r.class_pixels) if r.class_pixels is not None else 0
        seen = "" if r.class_pixels is None else f"{int((r.class_pixels > 0).sum())}/{n}"
        source = "real" if getattr(w.sources, r.source, None) else "embedded"
        rows.append([r.name, source, r.images, len(r.skipped), seen])
    console.print(table("prepare: street sets (WACV system)", ["set", "source", "images", "skipped", "classes seen"],
                        rows))
    skipped = sum(len(r.skipped) for r in reports)
    if skipped:
        console.print(f"[yellow]{skipped} bad sample(s) skipped (--skip-bad); reasons in {lists / 'summary.json'}[/]")
