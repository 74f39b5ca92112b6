"""`nasseg predict`: a checkpoint or a trained name + images or folders -> masks, depth maps, skeletons."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from nasseg.progress import console, progress_bars, table
from nasseg.tools.predict import expand_inputs, load_predictor, predict_paths

from ..common import DEVICE, PRECISION, runtime_of
from . import options


def main(
    model: str = typer.Argument(..., help="a model.pt, or a trained name: found<k>, <mpii|coco|nyu>/<model> "
                                "(e.g. nyu/found0, coco/refinenet_lw_mbv2), teacher; with --untrained a zoo name "
                                "or a genotype"),
    inputs: List[Path] = typer.Argument(..., help="image files and/or folders of images (.jpg .jpeg .png .bmp)"),
    out: Path = typer.Option(Path("results/predict"), "--out", "-o", help="folder the outputs are written to"),
    flip: Optional[bool] = typer.Option(None, "--flip/--no-flip", help="average with the mirrored image (default: "
                                        "off for segmentation and depth, on for pose: the flip test)"),
    scales: Optional[str] = typer.Option(None, "--scales", help="segmentation: multi-scale testing, e.g. 0.75,1,1.25"),
    alpha: float = typer.Option(0.5, "--alpha", help="segmentation: opacity of the class colours in the overlay"),
    threshold: float = typer.Option(0.2, "--threshold", help="pose: joints scoring below this are not drawn"),
    box: Optional[str] = typer.Option(None, "--box", help="pose: the person box x,y,w,h in pixels, for every image "
                                      "(default: the whole image)"),
    untrained: bool = typer.Option(False, "--untrained", help="allow a zoo name or genotype with random weights"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="skip unreadable images (listed at the end) instead of "
                                  "stopping at the first"),
    root: Path = typer.Option(Path("."), "--root", help="project root the trained names are looked up in"),
    device: Optional[str] = DEVICE,
    precision: Optional[str] = PRECISION,
) -> None:
    """Predict on your own images with a trained model; one set of files per image in --out.

    MODEL is a checkpoint file or a name of the pipeline, looked up under --root: found<k>
    (models/train/found<k>/model.pt, from `nasseg train`), <task>/<model> with task mpii,
    coco or nyu (models/transfer/<task>/<model>/model.pt, from `nasseg transfer`), teacher
    (models/teacher/teacher.pt, from `nasseg teacher`). A zoo name or a genotype has no
    trained weights and runs only with --untrained.

    Writes per image <name> (its stem; <folder>_<stem> when two inputs share a stem):

    \b
    segmentation: <name>_mask.png     VOC class ids, palette PNG in VOC colours
                  <name>_overlay.jpg  classes blended in (.png for non-JPEG input)
    depth (nyu):  <name>_depth.png    magma_r over [0, max depth]: near bright
                  <name>_depth_mm.png 16-bit PNG, millimetres (NYU raw format)
    pose:         <name>_pose.png     skeleton over the image (COCO 17 / MPII 16)
                  <name>_pose.json    joints in image pixels, scores, names

    Pose is top-down on one person per image: the whole image, or --box, is its box. The model
    runs on --device in --precision.
    """
    runtime = runtime_of(None, device, precision)
    net, info = load_predictor(model, root=root, allow_untrained=untrained)
    person = options.box(box)
    for given, what, applies in ((scales, "--scales", "segmentation"), (person, "--box", "pose")):
        if given is not None and info["task"] != applies:
            console.print(f"note: {what} applies to {applies} only; {model} predicts {info['task']}.")
    files = expand_inputs(inputs)
    with progress_bars() as task:
        records = predict_paths(net, files, out, info=info, flip=flip, scales=options.scales(scales), alpha=alpha,
                                threshold=threshold, box=person, skip_bad=skip_bad, runtime=runtime,
                                progress=task("predict", len(files)),
                                log=lambda msg: console.print(f"[yellow]warning:[/] {msg}", highlight=False,
                                                              soft_wrap=True))
    done = [r for r in records if "skipped" not in r]
    bad = [r for r in records if "skipped" in r]
    if info["meta"].get("untrained"):
        console.print(f"[yellow]warning:[/] {model} ran with random weights (--untrained): the outputs are noise.")
    if bad:
        console.print(f"[yellow]skipped {len(bad)} unreadable image(s):[/]", highlight=False)
        for r in bad:
            console.print(f"  {r['input']}", highlight=False, soft_wrap=True)
    console.print(table("predict", ["model", "task", "images", "written", "skipped", "files", "out"],
                        [[model, info["task"], len(records), len(done), len(bad),
                          sum(len(r["outputs"]) for r in done), str(out)]]))
