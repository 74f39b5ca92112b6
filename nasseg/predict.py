"""Prediction on one's own images: masks, depth maps and skeletons from a checkpoint or a name.

A model is given as (:func:`resolve`):

* a **checkpoint file** (``model.pt`` of ``nasseg train`` / ``nasseg transfer``, ``teacher.pt``);
* a **trained name** of the pipeline, looked up under the project root: ``found<k>``
  (``models/train/found<k>/model.pt``), ``<task>/<model>`` with task ``mpii``, ``coco`` or
  ``nyu`` (``models/transfer/<task>/<model>/model.pt``, e.g. ``nyu/found0``,
  ``coco/refinenet_lw_mbv2``) and ``teacher`` (``models/teacher/teacher.pt``);
* a **zoo name** (``list_archs()``) or a **genotype** text: random weights, so only with
  ``allow_untrained`` (the CLI's ``--untrained``); a 21-class segmentation model.

The checkpoint's ``meta["task"]`` picks what is predicted: none (``nasseg train``,
``nasseg teacher``) is semantic segmentation, ``nyu`` depth, ``mpii`` / ``coco`` pose.

Outputs of :func:`predict_paths` per image, named ``<name>_<what>``:

* segmentation: ``<name>_mask.png``, the class ids as a palette ('P') PNG with the VOC
  colours, as VOC's ``SegmentationClass`` files (readable back with ``read_mask``), and
  ``<name>_overlay.jpg`` (``.png`` for a non-JPEG input): the image with every
  non-background class blended in its VOC colour (see :func:`overlay`);
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

import json
import re
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .data.io import open_rgb
from .data.palette import VOID, voc_colormap
from .data.transforms import IMAGENET_MEAN, IMAGENET_STD
from .errors import DataError, NassegError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
TRANSFER_TASKS = ("mpii", "coco", "nyu")
POSE_TASKS = ("mpii", "coco")
DEPTH_CMAP = "magma_r"
MIN_DEPTH = 1e-3  # params' transfer.nyu.min_depth: predictions are clamped to [MIN_DEPTH, max_depth]

_TRAINED = {  # name pattern -> (path under the root, the stage that writes it)
    "found": ("models/train/{name}/model.pt", "`nasseg train` (or `dvc repro train`)"),
    "teacher": ("models/teacher/teacher.pt", "`nasseg teacher` (or `dvc repro teacher`)"),
    "transfer": ("models/transfer/{name}/model.pt", "`nasseg transfer` (or `dvc repro transfer`)"),
}


# ----------------------------------------------------------------------------- models

def task_of(meta: dict) -> str:
    """"segmentation", "pose" or "depth" from a checkpoint's meta."""
    t = meta.get("task") if isinstance(meta, dict) else None
    if t in POSE_TASKS:
        return "pose"
    if t == "nyu":
        return "depth"
    return "segmentation"


def trained_names(root: Path = Path(".")) -> list[str]:
    """The trained names whose checkpoint exists under ``root``."""
    root = Path(root)
    names = sorted(p.parent.name for p in (root / "models" / "train").glob("found*/model.pt"))
    names += sorted(f"{p.parent.parent.name}/{p.parent.name}" for t in TRANSFER_TASKS
                    for p in (root / "models" / "transfer" / t).glob("*/model.pt"))
    if (root / _TRAINED["teacher"][0]).is_file():
        names.append("teacher")
    return names


def _listing(root: Path) -> str:
    return ", ".join(trained_names(root)) or "none"


def is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long for a path, a NUL byte
        return False


def trained_file(spec: str) -> Optional[tuple[str, str]]:
    """(relative path, writing stage) of a trained name, or None when ``spec`` is none."""
    if re.fullmatch(r"found\d+", spec):
        path, stage = _TRAINED["found"]
        return path.format(name=spec), stage
    if spec == "teacher":
        return _TRAINED["teacher"]
    task, sep, model = spec.partition("/")
    if sep and task in TRANSFER_TASKS and model and "/" not in model and not model.lstrip().startswith("["):
        path, stage = _TRAINED["transfer"]
        return path.format(name=spec), stage
    return None


def _finish_info(info: dict, source: str) -> dict:
    meta = info.get("meta") or {}
    task = task_of(meta)
    if task == "pose":
        missing = [k for k in ("input_wh", "flip_pairs") if k not in meta]
        if missing:
            raise NassegError(f"{source}: a pose checkpoint without {', '.join(missing)} in its meta; use a model.pt "
                              "written by `nasseg transfer`.")
    return {**info, "task": task, "meta": meta, "source": source}


def resolve(spec, *, root: Path = Path("."), allow_untrained: bool = False) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, info) for a checkpoint path, a trained name, or (with
    ``allow_untrained``) a zoo name / genotype. ``info``: ``{"arch", "meta", "task", "source"}``
    with task "segmentation", "pose" or "depth"."""
    from .models.checkpoint import arch_of, load_checkpoint
    from .models.zoo import build_model, list_archs

    text = str(spec).strip()
    root = Path(root)
    if is_file(text):
        model, info = load_checkpoint(text)
        return model, _finish_info(info, text)
    if text.endswith((".pt", ".pth")):
        load_checkpoint(text)  # raises: not found, with what to give instead
    trained = trained_file(text)
    if trained is not None:
        rel, stage = trained
        path = root / rel
        if not path.is_file():
            have = trained_names(root)
            raise NassegError(f"{text}: no trained checkpoint at {path}; it is written by {stage}. Run that stage "
                              f"first, or pass --root to the project that has it. Trained names under {root}: "
                              f"{', '.join(have) or 'none'}.")
        model, info = load_checkpoint(path)
        return model, _finish_info(info, text)
    zoo = text in list_archs()
    if text.startswith("["):
        from .spaces import parse_genotype

        try:
            text = parse_genotype(text).to_text()
        except Exception as err:
            raise NassegError(f"{spec!r}: malformed genotype ({err}).") from None
    elif not zoo:
        raise NassegError(f"{text}: neither a checkpoint file nor a model name. Give a model.pt, a trained name "
                          f"(found<k>, <mpii|coco|nyu>/<model>, teacher; here: {_listing(root)}), or with "
                          f"--untrained a zoo name ({', '.join(list_archs())}) or a genotype.")
    if not allow_untrained:
        raise NassegError(f"{text}: has no trained weights (a zoo name or genotype builds with random weights, and its "
                          "masks would be noise). Give a trained name (found<k>, <mpii|coco|nyu>/<model>, teacher; "
                          f"here: {_listing(root)}) or a model.pt, or pass --untrained to run it untrained anyway.")
    model = build_model(text, num_classes=21).eval()
    arch = arch_of(text, num_classes=21) if text.startswith("[") else arch_of(name=text, num_classes=21)
    return model, _finish_info({"arch": arch, "meta": {"untrained": True}}, text)


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
    from .training.evaluate import predict_logits

    logits = predict_logits(model, to_input(image).to(_device(model)), flip=flip, scales=tuple(scales))
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


def colorize(mask: np.ndarray) -> Image.Image:
    """A palette ('P') image of the class ids with the VOC colours, as VOC's SegmentationClass PNGs."""
    m = np.ascontiguousarray(mask, np.uint8)
    im = Image.frombytes("P", (m.shape[1], m.shape[0]), m.tobytes())
    im.putpalette(voc_colormap(256).reshape(-1).tolist())
    return im


def overlay(image: Image.Image, mask: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The image with each pixel of a non-background class blended with its VOC colour:
    ``(1 - alpha) * image + alpha * colour``. Background (0) and void (255) pixels are left
    untouched, so the scene stays visible where nothing was found."""
    if not 0.0 <= alpha <= 1.0:
        raise NassegError(f"--alpha {alpha}: the overlay's opacity must lie in [0, 1].")
    rgb = np.asarray(image.convert("RGB"), np.float32)
    mask = np.asarray(mask)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"overlay: mask {mask.shape} and image {rgb.shape[:2]} (H, W) differ")
    colour = voc_colormap(256)[mask.astype(np.uint8)].astype(np.float32)
    fg = ((mask != 0) & (mask != VOID))[..., None]
    out = np.where(fg, (1.0 - alpha) * rgb + alpha * colour, rgb)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


# ----------------------------------------------------------------------------- depth

@torch.no_grad()
def predict_depth(model: torch.nn.Module, image: Image.Image, meta: dict, *, flip: bool = False) -> np.ndarray:
    """Depth in metres, float32 (H, W) at the image's size: the output channel upsampled to
    the image, exponentiated for ``meta["output"] == "log_depth"`` (as DepthObjective), then
    clamped to ``[1e-3, meta["max_depth"]]`` (the range the evaluation scores). ``flip``
    averages with the mirrored image's prediction. (No multi-scale: a rescaled image reads as
    a nearer or farther scene, so scales would not average.)"""
    from .training.evaluate import predict_logits

    out = predict_logits(model, to_input(image).to(_device(model)), flip=flip)
    if out.shape[1] != 1:
        raise NassegError(f"a depth model gives one output channel; this one gives {out.shape[1]}. Is the checkpoint "
                          "a `nasseg transfer` nyu model?")
    depth = out.exp() if meta.get("output") == "log_depth" else out
    max_depth = float(meta.get("max_depth", 10.0))
    return depth[0, 0].clamp(MIN_DEPTH, max_depth).cpu().numpy().astype(np.float32)


def depth_colormap(depth: np.ndarray, max_depth: float, *, cmap: str = DEPTH_CMAP,
                   min_depth: float = 0.0) -> Image.Image:
    """An RGB rendering of metres over the fixed range ``[min_depth, max_depth]`` (the same
    colours mean the same depth in every image). With the default ``magma_r``, near is bright
    (light yellow) and far is dark (black-purple)."""
    from matplotlib import colormaps

    span = max(float(max_depth) - float(min_depth), 1e-9)
    t = np.clip((np.asarray(depth, np.float64) - min_depth) / span, 0.0, 1.0)
    rgba = colormaps[cmap](t, bytes=True)
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")


def depth_to_mm(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres, ``round(depth * 1000)`` clipped to 0..65535."""
    return np.clip(np.rint(np.asarray(depth, np.float64) * 1000.0), 0, 65535).astype(np.uint16)


def save_depth_png16(depth: np.ndarray, path: Path) -> Path:
    """A 16-bit grey PNG of depth in millimetres (NYU raw / ``read_depth_png`` convention)."""
    mm = depth_to_mm(depth)
    Image.frombytes("I;16", (mm.shape[1], mm.shape[0]), mm.astype("<u2").tobytes()).save(path)
    return Path(path)


# ----------------------------------------------------------------------------- pose

def whole_image_box(width: int, height: int) -> tuple[float, float, float, float]:
    return 0.0, 0.0, float(width), float(height)


def pose_crop(box, image_wh, input_wh, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """(center, scale_wh) of the crop for a box ``(x, y, w, h)`` (COCO's bbox convention),
    as the COCO loader builds them: the box clipped to the image, centred, grown to the
    model input's aspect (w/h) and multiplied by ``padding``."""
    from .transfer.pose_data import box_to_wh, clip_box

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
    from .transfer.pose_data import crop_affine, decode_heatmaps, heatmap_to_image, warp_image
    from .transfer.tasks import predict_heatmaps

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


def skeleton_of(k: int) -> tuple[tuple, tuple[str, ...]]:
    """(limbs, joint names) for K joints: COCO's 17 keypoints, MPII's 16 joints, else no limbs."""
    from .transfer.pose_data import COCO_KEYPOINTS, COCO_SKELETON, MPII_JOINTS, MPII_SKELETON

    if k == len(COCO_KEYPOINTS):
        return COCO_SKELETON, COCO_KEYPOINTS
    if k == len(MPII_JOINTS):
        return MPII_SKELETON, MPII_JOINTS
    return (), tuple(f"joint_{i}" for i in range(k))


def _limb_colours(n: int) -> list[tuple[int, int, int]]:
    from matplotlib import colormaps

    cm = colormaps["hsv"]
    return [tuple(int(c) for c in cm(i / max(n, 1), bytes=True)[:3]) for i in range(n)]


def draw_skeleton(image: Image.Image, joints: np.ndarray, scores: np.ndarray, skeleton: Iterable = None,
                  threshold: float = 0.2) -> Image.Image:
    """An RGB copy of the image with limbs as coloured lines and joints as white-rimmed dots;
    joints scoring below ``threshold`` (and limbs touching them) are not drawn. ``skeleton``
    defaults to COCO's (17 joints) or MPII's (16)."""
    out = image.convert("RGB").copy()
    joints = np.asarray(joints, np.float64)
    scores = np.asarray(scores, np.float64)
    limbs = skeleton_of(len(joints))[0] if skeleton is None else tuple(skeleton)
    draw = ImageDraw.Draw(out)
    size = max(out.width, out.height)
    width, radius = max(1, round(size / 160)), max(2, round(size / 110))
    ok = scores >= threshold
    for (a, b), colour in zip(limbs, _limb_colours(len(limbs))):
        if ok[a] and ok[b]:
            draw.line([tuple(joints[a]), tuple(joints[b])], fill=colour, width=width)
    for (x, y), good in zip(joints, ok):
        if good:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 64, 64),
                         outline=(255, 255, 255))
    return out


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


def _write_json(obj, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


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
        _write_json({"image": rec["input"], "task": meta.get("task"), "size": rec["size"],
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
                  log: Callable[[str], None] = print) -> list[dict]:
    """Predict every image of ``inputs`` (files and folders, :func:`expand_inputs`) into ``out_dir``.

    ``spec_or_model``: what :func:`resolve` takes, or a model with its ``info`` (at least
    ``{"meta": ...}``). ``flip`` None is the task's default (off for segmentation and
    depth, the flip test for pose); ``scales`` apply to segmentation only; ``box`` (x, y, w, h)
    is the person box of pose for every image (default: the whole image). An unreadable
    image stops the run with a DataError naming it, or with ``skip_bad`` is reported through
    ``log`` and recorded as ``{"input", "skipped": why}``. Returns one record per image."""
    if isinstance(spec_or_model, torch.nn.Module):
        model = spec_or_model.eval()
        info = _finish_info(info or {"meta": {}}, getattr(model, "name", "model"))
    else:
        model, info = resolve(spec_or_model, root=root, allow_untrained=allow_untrained)
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
            records.append(predict_image(model, info, image, out_dir, name, source=f, flip=flip, scales=scales,
                                         alpha=alpha, threshold=threshold, box=box))
        if progress:
            progress()
    return records
