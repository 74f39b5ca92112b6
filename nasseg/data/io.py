"""Reading images and masks with checks that name the file and the fix; writing MATLAB files reproducibly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from .labels import VOID


def open_rgb(path: str | Path) -> Image.Image:
    """An RGB PIL image (grey, CMYK and palette images are converted), fully decoded so a
    truncated file fails here with its name, not later."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found. Check the dataset root and the list or annotation file "
                        "that names it.")
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(
            f"{path}: unreadable or truncated image ({err}). Re-extract the file, or pass --skip-bad to drop it."
        ) from None


def read_image(path: str | Path) -> torch.Tensor:
    """An RGB image as a uint8 tensor 3 x H x W (see :func:`open_rgb`)."""
    arr = np.asarray(open_rgb(path))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _read_png_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("P", "L", "I", "I;16"):
                raise DataError(
                    f"{path}: mask has mode {im.mode}; expected a single-channel class-index PNG "
                    "(palette 'P' as in VOC, or grey 'L'). Colour-coded masks must be converted to indices first, "
                    "or pass --skip-bad to drop it."
                )
            return np.asarray(im).astype(np.int64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: unreadable or truncated mask ({err}). Pass --skip-bad to drop it.") from None


def _read_sbd_mat(path: Path) -> np.ndarray:
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as err:  # scipy raises several unrelated types for a bad file
        raise DataError(f"{path}: not a readable MATLAB .mat file ({err}). Pass --skip-bad to drop it.") from None
    if "GTcls" not in mat or not hasattr(mat["GTcls"], "Segmentation"):
        raise DataError(
            f"{path}: no GTcls.Segmentation field; expected an SBD 'cls/*.mat' file "
            "(instance files 'inst/*.mat' hold GTinst instead). Pass --skip-bad to drop it."
        )
    return np.asarray(mat["GTcls"].Segmentation).astype(np.int64)


def read_mask(path: str | Path) -> np.ndarray:
    """A class-index mask as int64 H x W: palette/grey PNG (VOC, lists) or SBD ``cls/*.mat``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: mask file not found. Check the dataset root and the list file that names it.")
    if path.suffix.lower() == ".mat":
        arr = _read_sbd_mat(path)
    else:
        arr = _read_png_mask(path)
    if arr.ndim != 2:
        raise DataError(f"{path}: mask must be 2-D (H x W), got shape {arr.shape}.")
    return arr


def savemat_reproducible(path: str | Path, content: dict, header: bytes) -> None:
    """``scipy.io.savemat`` (MATLAB v5, compressed) with ``header`` as the 116-byte text
    header, where scipy stamps the creation time: the same content gives the same bytes
    (DVC hashes bytes)."""
    import scipy.io

    if len(header) > 116:
        raise ValueError(f"a MATLAB v5 text header holds 116 bytes, not {len(header)}")
    scipy.io.savemat(path, content, do_compression=True)
    with open(path, "r+b") as f:
        f.write(header.ljust(116))


def check_mask(mask: np.ndarray, image_hw: tuple[int, int], num_classes: int, where: str) -> None:
    """Raise a DataError when the mask's size or values do not fit the image and the label set."""
    if tuple(mask.shape) != tuple(image_hw):
        raise DataError(
            f"{where}: mask size {mask.shape[1]}x{mask.shape[0]} (WxH) differs from its image "
            f"{image_hw[1]}x{image_hw[0]}. Masks must be pixel-aligned with their images; pass --skip-bad to drop it."
        )
    bad = (mask < 0) | ((mask >= num_classes) & (mask != VOID))
    if bad.any():
        values = sorted(int(v) for v in np.unique(mask[bad]))[:10]
        raise DataError(
            f"{where}: mask values {values} are outside [0, {num_classes}) and are not {VOID} (void). "
            f"Check data.num_classes in params.yaml, or pass --skip-bad to drop it."
        )
