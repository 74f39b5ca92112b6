"""Prediction on one's own images: masks, depth maps and skeletons from a checkpoint or a name.

A model is what :mod:`nasseg.models.resolve` resolves: a checkpoint file, a trained name of
the pipeline (``found<k>``, ``<mpii|coco|nyu>/<model>``, ``teacher``, under the project
root), or a zoo name or genotype, which have random weights and so run only with
``allow_untrained`` (the CLI's ``--untrained``) as 21-class segmentation models.

The checkpoint's ``meta["task"]`` picks what is predicted: none (``nasseg train``,
``nasseg teacher``) is semantic segmentation, ``nyu`` depth, ``mpii`` / ``coco`` pose.

Outputs of :func:`predict_paths` per image, named ``<name>_<what>`` (drawn by :mod:`.render`):

* segmentation: ``<name>_mask.png``, the class ids as a palette ('P') PNG with the VOC
  colours, as VOC's ``SegmentationClass`` files (readable back with ``read_mask``), and
  ``<name>_overlay.jpg`` (``.png`` for a non-JPEG input): the image with every
  non-background class blended in its VOC colour;
* depth: ``<name>_depth.png``, metres through the ``magma_r`` colour map over
  ``[0, max_depth]`` (**near = bright** yellow-white, far = dark purple-black; the same scale
  for every image), and ``<name>_depth_mm.png``, a 16-bit grey PNG of depth in
  millimetres (NYU's raw convention; ``read_depth_png`` reads it back in metres);
* pose: ``<name>_pose.png`` (the skeleton drawn over the image) and ``<name>_pose.json``
  (joints in image pixels, their heatmap scores and names, the box the crop came from).

``<name>`` is the image's stem. When two inputs share a stem (``a/img.jpg``,
``b/img.png``) every one of them is named ``<folder>_<stem>`` (``a_img``, ``b_img``), and a
name still taken gets ``-2``, ``-3``, ... in input order, so no output overwrites another.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..data.io import open_rgb
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..errors import DataError, NassegError
from ..models.resolve import load_model
from ..outputs import write_json
from ..runtime import CPU_FP32, Runtime
from .render import colorize, depth_colormap, draw_skeleton, overlay, save_depth_png16, skeleton_of

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
POSE_TASKS = ("mpii", "coco")
MIN_DEPTH = 1e-3  # params' transfer.nyu.min_depth: predictions are clamped to [MIN_DEPTH, max_depth]


# ----------------------------------------------------------------------------- models

def task_of(meta: dict) -> str:
    """"segmentation", "pose" or "depth" from a checkpoint's meta."""
    t = meta.get("task") if isinstance(meta, dict) else None
    if t in POSE_TASKS:
        return "pose"
    if t == "nyu":
        return "depth"
    return "segmentation"


def with_task(info: dict, source: str) -> dict:
    """A model's info with what it predicts (``task``) and where it came from (``source``)."""
    meta = info.get("meta") or {}
    task = task_of(meta)
    if task == "pose":
        missing = [k for k in ("input_wh", "flip_pairs") if k not in meta]
        if missing:
            raise NassegError(f"{source}: a pose checkpoint without {', '.join(missing)} in its meta; use a model.pt "
                              "written by `nasseg transfer`.")
    return {**info, "task": task, "meta": meta, "source": source}


def load_predictor(spec, *, root: Path = Path("."), allow_untrained: bool = False) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, info) of what :func:`nasseg.models.resolve.resolve` takes; a zoo name
    or genotype only with ``allow_untrained``. ``info``: ``{"arch", "meta", "ref", "task",
    "source"}`` with task "segmentation", "pose" or "depth"."""
    model, info = load_model(spec, root=root, allow_untrained=allow_untrained)
    return model, with_task(info, str(spec).strip())


# ----------------------------------------------------------------------------- helpers

def _device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def to_input(image: Image.Image | np.ndarray) -> torch.Tensor:
    """A (1, 3, H, W) float32 tensor: RGB in [0, 1] normalised with the ImageNet mean / std."""
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, np.float32) / 255.0
    arr = (arr - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())[None]


# ----------------------------------------------------------------------------- segmentation

@torch.no_grad()
def predict_segmentation(model: torch.nn.Module, image: Image.Image, *, flip: bool = False,
                         scales: Sequence[float] = (1.0,)) -> np.ndarray:
    """Class ids (H, W) uint8 at the image's own size (logits upsampled, optional flip and
    multi-scale averaging as ``nasseg evaluate``)."""
    from ..training.evaluate import predict_logits

    logits = predict_logits(model, to_input(image).to(_device(model)), flip=flip, scales=tuple(scales))
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


# ----------------------------------------------------------------------------- depth

@torch.no_grad()
def predict_depth(model: torch.nn.Module, image: Image.Image, meta: dict, *, flip: bool = False) -> np.ndarray:
    """Depth in metres, float32 (H, W) at the image's size: the output channel upsampled to
    the image, exponentiated for ``meta["output"] == "log_depth"`` (as DepthObjective), then
    clamped to ``[1e-3, meta["max_depth"]]`` (the range the evaluation scores). ``flip``
    averages with the mirrored image's prediction. (No multi-scale: a rescaled image reads as
    a nearer or farther scene, so scales would not average.)"""
    from ..training.evaluate import predict_logits

    out = predict_logits(model, to_input(image).to(_device(model)), flip=flip).float()
    if out.shape[1] != 1:
        raise NassegError(f"a depth model gives one output channel; this one gives {out.shape[1]}. Is the checkpoint "
                          "a `nasseg transfer` nyu model?")
    depth = out.exp() if meta.get("output") == "log_depth" else out
    max_depth = float(meta.get("max_depth", 10.0))
    return depth[0, 0].clamp(MIN_DEPTH, max_depth).cpu().numpy().astype(np.float32)


# ----------------------------------------------------------------------------- pose

def whole_image_box(width: int, height: int) -> tuple[float, float, float, float]:
    return 0.0, 0.0, float(width), float(height)


def pose_crop(box, image_wh, input_wh, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """(center, scale_wh) of the crop for a box ``(x, y, w, h)`` (COCO's bbox convention),
    as the COCO loader builds them: the box clipped to the image, centred, grown to the
    model input's aspect (w/h) and multiplied by ``padding``."""
    from ..transfer.pose_formats import box_to_wh, clip_box

    clipped = clip_box(box, image_wh)
    if clipped is None:
        raise NassegError(f"pose box {list(box)} (x, y, w, h) lies outside the {image_wh[0]}x{image_wh[1]} image.")
    center, bw, bh = clipped
    return center, box_to_wh(bw, bh, input_wh[0] / input_wh[1], padding)


@torch.no_grad()
def predict_pose(model: torch.nn.Module, image: Image.Image, meta: dict, *, box=None,
                 flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Top-down pose of one person: ``(joints (K, 2) float64 image pixels, scores (K,))``.

    The box ``(x, y, w, h)`` defaults to the whole image; it is cropped as in training
    (centre, the input's aspect, padding 1.25) to ``meta["input_wh"]``, normalised, its
    heatmaps taken with the flip test (``meta["flip_pairs"]``), decoded (arg-max with the
    quarter-pixel shift) and mapped back through the crop. Scores are the heatmap maxima.
    Joints are clipped to the image: the padded crop reaches past the image, and the
    annotations these models learn from (COCO, MPII) lie inside it."""
    from ..transfer.pose_geometry import crop_affine, decode_heatmaps, heatmap_to_image, warp_image
    from ..transfer.tasks import predict_heatmaps

    input_wh = tuple(int(v) for v in meta["input_wh"])
    flip_pairs = [tuple(p) for p in meta.get("flip_pairs", ())]
    image = image.convert("RGB")
    box = whole_image_box(image.width, image.height) if box is None else box
    center, scale = pose_crop(box, (image.width, image.height), input_wh)
    crop = warp_image(image, crop_affine(center, scale, 0.0, input_wh), input_wh)
    heat = predict_heatmaps(model, to_input(crop).to(_device(model)), flip_pairs, flip).float().cpu()
    stride = input_wh[1] // heat.shape[2]
    if stride < 1 or input_wh[1] != stride * heat.shape[2] or input_wh[0] != stride * heat.shape[3]:
        raise NassegError(f"pose model: heatmaps {heat.shape[3]}x{heat.shape[2]} for a {input_wh[0]}x{input_wh[1]} "
                          "crop are no whole stride; is meta['input_wh'] the size it was trained on?")
    coords, maxvals = decode_heatmaps(heat.numpy())
    joints = heatmap_to_image(coords, center[None], scale[None], input_wh, stride)[0]
    joints[:, 0] = np.clip(joints[:, 0], 0.0, image.width - 1.0)
    joints[:, 1] = np.clip(joints[:, 1], 0.0, image.height - 1.0)
    return joints, np.asarray(maxvals[0], np.float32)


# ----------------------------------------------------------------------------- files

def expand_inputs(inputs: Iterable) -> list[Path]:
    """Files as given, folders as their images (.jpg .jpeg .png .bmp, any case, sorted, not
    recursive); each file once, in order."""
    out: list[Path] = []
    seen: set = set()
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
            if not files:
                raise NassegError(f"{p}: folder holds no images ({', '.join(IMAGE_EXTS)}).")
        elif p.is_file():
            files = [p]
        else:
            raise NassegError(f"{p}: no such file or folder. Give image files or folders of images.")
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def output_names(files: Sequence[Path]) -> list[str]:
    """One output name per input: the stem; for stems given more than once,
    ``<folder>_<stem>``; then ``-2``, ``-3``, ... while a name is taken."""
    stems = [f.stem for f in files]
    counts = {s: stems.count(s) for s in stems}
    used: set = set()
    names = []
    for f, s in zip(files, stems):
        base = s if counts[s] == 1 else f"{f.resolve().parent.name or 'root'}_{s}"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names.append(name)
    return names


def predict_image(model, info: dict, image: Image.Image, out_dir: Path, name: str, *, source: Path | None = None,
                  flip: Optional[bool] = None, scales: Sequence[float] = (1.0,), alpha: float = 0.5,
                  threshold: float = 0.2, box=None) -> dict:
    """Predict one image and write its files (see the module doc); returns the record."""
    task, meta = info["task"], info["meta"]
    out_dir = Path(out_dir)
    rec = {"input": str(source) if source else name, "name": name, "task": task, "size": [image.width, image.height]}
    if task == "segmentation":
        mask = predict_segmentation(model, image, flip=bool(flip), scales=scales)
        ext = ".jpg" if source is not None and source.suffix.lower() in (".jpg", ".jpeg") else ".png"
        files = [out_dir / f"{name}_mask.png", out_dir / f"{name}_overlay{ext}"]
        colorize(mask).save(files[0])
        overlay(image, mask, alpha).save(files[1], **({"quality": 92} if ext == ".jpg" else {}))
        rec["classes"] = sorted(int(c) for c in np.unique(mask))
    elif task == "depth":
        depth = predict_depth(model, image, meta, flip=bool(flip))
        files = [out_dir / f"{name}_depth.png", out_dir / f"{name}_depth_mm.png"]
        depth_colormap(depth, float(meta.get("max_depth", 10.0))).save(files[0])
        save_depth_png16(depth, files[1])
        rec.update(min_m=float(depth.min()), max_m=float(depth.max()), median_m=float(np.median(depth)))
    else:
        joints, scores = predict_pose(model, image, meta, box=box, flip=True if flip is None else flip)
        limbs, names = skeleton_of(len(joints))
        files = [out_dir / f"{name}_pose.png", out_dir / f"{name}_pose.json"]
        draw_skeleton(image, joints, scores, limbs, threshold).save(files[0])
        write_json({"image": rec["input"], "task": meta.get("task"), "size": rec["size"],
                    "box_xywh": list(box) if box is not None else list(whole_image_box(image.width, image.height)),
                    "threshold": threshold, "names": list(names),
                    "joints": [[round(float(x), 2), round(float(y), 2)] for x, y in joints],
                    "scores": [round(float(s), 4) for s in scores]}, files[1])
        rec["joints_drawn"] = int((scores >= threshold).sum())
    rec["outputs"] = [str(f) for f in files]
    return rec


def predict_paths(spec_or_model, inputs: Iterable, out_dir: Path = Path("results/predict"), *,
                  info: Optional[dict] = None, root: Path = Path("."), allow_untrained: bool = False,
                  flip: Optional[bool] = None, scales: Sequence[float] = (1.0,), alpha: float = 0.5,
                  threshold: float = 0.2, box=None, skip_bad: bool = False,
                  progress: Optional[Callable[[], None]] = None,
                  log: Callable[[str], None] = print, runtime: Optional[Runtime] = None) -> list[dict]:
    """Predict every image of ``inputs`` (files and folders, :func:`expand_inputs`) into ``out_dir``.

    ``spec_or_model``: what :func:`load_predictor` takes, or a model with its ``info`` (at least
    ``{"meta": ...}``). ``flip`` None is the task's default (off for segmentation and
    depth, the flip test for pose); ``scales`` apply to segmentation only; ``box`` (x, y, w, h)
    is the person box of pose for every image (default: the whole image). An unreadable
    image stops the run with a DataError naming it, or with ``skip_bad`` is reported through
    ``log`` and recorded as ``{"input", "skipped": why}``. ``runtime``: the device the model is
    moved to and the precision it runs in (None: where the model is, in fp32). Returns one
    record per image."""
    if isinstance(spec_or_model, torch.nn.Module):
        model = spec_or_model.eval()
        info = with_task(info or {"meta": {}}, getattr(model, "name", "model"))
    else:
        model, info = load_predictor(spec_or_model, root=root, allow_untrained=allow_untrained)
    if runtime is not None:
        model = runtime.prepare(model)
    scales = tuple(float(s) for s in scales)
    if not scales or any(s <= 0 for s in scales):
        raise NassegError(f"--scales {list(scales)}: give positive numbers, e.g. 0.75,1,1.25")
    if not 0.0 <= alpha <= 1.0:
        raise NassegError(f"--alpha {alpha}: the overlay's opacity must lie in [0, 1].")
    files = expand_inputs(inputs)
    names = output_names(files)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for f, name in zip(files, names):
        try:
            image = open_rgb(f)
        except DataError as err:
            if not skip_bad:
                raise
            log(f"skipped {f}: {err}")
            records.append({"input": str(f), "name": name, "task": info["task"], "skipped": str(err)})
        else:
            rt = runtime or CPU_FP32  # (no runtime: the model stays where it is, in fp32)
            with rt.autocast(), rt.varying_shapes():  # images of any size: no cuDNN autotuning per size
                records.append(predict_image(model, info, image, out_dir, name, source=f, flip=flip, scales=scales,
                                             alpha=alpha, threshold=threshold, box=box))
        if progress:
            progress()
    return records
