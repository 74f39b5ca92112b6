"""`nasseg prepare-scan`: the manifest of the real dataset files, so that `prepare` reruns when one changes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from nasseg.config import load_params
from nasseg.data.manifest import diff_manifests, scan_sources, write_manifest
from nasseg.progress import console, progress_bars


def main(
    params: Path = typer.Option(Path("params.yaml"), "--params", "-p",
                                help="params file; this stage reads data.sources and data.fingerprint."),
    out: Optional[Path] = typer.Option(None, "--out",
                                       help="the manifest to write (default: <data.root>/sources.json)"),
) -> None:
    """List the files of every real dataset named in params.yaml (data.sources) with a
    fingerprint each, and write them to --out only when that differs from what is there.

    Fingerprints (data.fingerprint): `stat` = size and mtime, one stat call per file;
    `sha1` = the content, which reads every byte of every dataset each time. Nothing is
    parsed (the COCO JSON is not loaded): the folders the loaders read are listed (VOC
    ImageSets/Segmentation/*.txt, JPEGImages, SegmentationClass; SBD *.txt, img, cls;
    COCO the annotation file and the image folder). Embedded sources are noted only.

    DVC runs this stage every time (always_changed); `prepare` depends on its output and
    therefore reruns exactly when a real file was added, removed or changed.
    """
    data = load_params(params).data
    path = out if out is not None else Path(data.root) / "sources.json"
    old = None
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError:
            old = None
    with progress_bars() as task:
        manifest = scan_sources(data, task)
    write_manifest(manifest, path)
    real = {k: v for k, v in manifest["sources"].items() if v["kind"] == "real"}
    what = ", ".join(f"{k} {v['files']} files ({v['bytes'] / 1e9:.2f} GB)" for k, v in real.items()) or \
        "no real source (all embedded)"
    console.print(f"prepare-scan: {what}; fingerprint {manifest['fingerprint']}", highlight=False)
    if old is not None and old != manifest:
        for line in diff_manifests(old, manifest):
            console.print(f"  changed: {line}", highlight=False)
    console.print(f"{'unchanged' if old == manifest else 'wrote'} {path}", highlight=False)
