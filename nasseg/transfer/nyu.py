"""NYU Depth v2's labelled set: ``nyu_depth_v2_labeled.mat`` and ``splits.mat``, read and written.

The **labelled set** ``nyu_depth_v2_labeled.mat`` (1,449 frames) is a MATLAB v7.3 file,
i.e. HDF5 behind a 512-byte MATLAB text header. h5py sees MATLAB's column-major arrays
transposed: ``images`` is (N, 3, W, H) uint8 and ``depths`` (N, W, H) float32 metres
(dense: the official release in-paints the Kinect holes; ``rawDepths`` keeps them). With
the official ``splits.mat`` (``trainNdxs`` 795, ``testNdxs`` 654; 1-based uint16 column
vectors) it gives the standard 795 / 654 split. :class:`NYULabeled` is a depth source of
:class:`nasseg.transfer.depth_data.DepthDataset`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..data.io import savemat_reproducible
from ..errors import DataError

NYU_SIZE = (640, 480)  # (W, H) of every NYU Depth v2 frame
NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)  # fx, fy, cx, cy at 640 x 480 (colour camera)

# MATLAB v7.3 files are HDF5 with a 512-byte user block: 116 bytes of text, 8 bytes of
# subsystem offset, version 0x0200 and the endian mark 'IM'. A fixed text (no "Created
# on" time) keeps the bytes reproducible.
_MAT73_TEXT = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 "
               b"HDF5 schema 1.00 .")
_MAT73_HEADER = _MAT73_TEXT.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM"
_USERBLOCK = 512
_MAT5_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, written by nasseg (NYU Depth v2 splits)"


class FrameIndexError(DataError, IndexError):
    """An index outside a depth source; an IndexError too, so plain iteration stops."""


# ----------------------------------------------------------------------------- splits


def read_nyu_splits(path: str | Path) -> dict[str, np.ndarray]:
    """The official ``splits.mat`` as 0-based int64 index arrays ``{"train", "test"}``.

    Reads MATLAB v5 (the released file) and, for convenience, v7.3 (HDF5) copies."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: NYU Depth v2 split file not found. Point the depth data params at the "
                        "official splits.mat (trainNdxs / testNdxs), or run `nasseg prepare-transfer` for the embedded one.")
    keys = {"train": "trainNdxs", "test": "testNdxs"}
    raw = _read_mat_vectors(path, tuple(keys.values()))
    out = {}
    for split, key in keys.items():
        v = np.asarray(raw[key])
        if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v != np.round(v)) or v.min() < 1:
            raise DataError(f"{path}: {key} must hold 1-based frame numbers (integers >= 1); got "
                            f"{v.dtype} values from {v.min() if v.size else 'none'}. Is this the NYU splits.mat?")
        out[split] = v.reshape(-1).astype(np.int64) - 1
    overlap = np.intersect1d(out["train"], out["test"])
    if overlap.size:
        raise DataError(f"{path}: {overlap.size} frames are in both trainNdxs and testNdxs "
                        f"(e.g. {int(overlap[0]) + 1}). The split file is corrupt; use the official one.")
    return out


def _read_mat_vectors(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        head = f.read(128)
    if _is_hdf5(path):
        import h5py

        try:
            with h5py.File(path, "r") as h5:
                missing = [n for n in names if n not in h5]
                if missing:
                    raise DataError(f"{path}: no variable {missing[0]} in this v7.3 .mat (holds {sorted(h5.keys())}). "
                                    "Expected the NYU splits.mat with trainNdxs and testNdxs.")
                return {n: np.asarray(h5[n][()]) for n in names}
        except OSError as err:
            raise DataError(f"{path}: unreadable HDF5 (v7.3) .mat file ({err}). Re-download splits.mat.") from None
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as err:  # scipy raises several unrelated types for a bad file
        what = "a MATLAB file" if head.startswith(b"MATLAB") else "not a MATLAB .mat file"
        raise DataError(f"{path}: unreadable split file, {what} ({type(err).__name__}: {err}). "
                        "Re-download the official splits.mat.") from None
    missing = [n for n in names if n not in mat]
    if missing:
        have = sorted(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: no variable {missing[0]} (the file holds {have}). "
                        "Expected the NYU splits.mat with trainNdxs and testNdxs.")
    return {n: mat[n] for n in names}


def write_nyu_splits(path: str | Path, train_idx0: Sequence[int], test_idx0: Sequence[int]) -> Path:
    """Write a ``splits.mat`` like the official one: MATLAB v5, ``trainNdxs`` / ``testNdxs``
    as 1-based uint16 column vectors (n x 1); byte-reproducible (fixed text header)."""
    path = Path(path)
    tr, te = (np.asarray(v, dtype=np.int64).reshape(-1) for v in (train_idx0, test_idx0))
    for name, v in (("train", tr), ("test", te)):
        if v.size and (v.min() < 0 or v.max() + 1 > np.iinfo(np.uint16).max):
            raise ValueError(f"{name} indices must be 0-based and below {np.iinfo(np.uint16).max}")
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat_reproducible(path, {"trainNdxs": (tr + 1).astype(np.uint16).reshape(-1, 1),
                                "testNdxs": (te + 1).astype(np.uint16).reshape(-1, 1)}, _MAT5_HEADER)
    return path


# ----------------------------------------------------------------------------- labelled .mat


def _is_hdf5(path: Path) -> bool:
    import h5py

    try:
        return bool(h5py.is_hdf5(str(path)))
    except Exception:
        return False


def write_nyu_labeled(path: str | Path, images: Sequence[np.ndarray], depths: Sequence[np.ndarray],
                      raw_depths: Optional[Sequence[np.ndarray]] = None) -> Path:
    """Write ``nyu_depth_v2_labeled.mat`` in the release's layout (MATLAB v7.3 = HDF5).

    ``images``: H x W x 3 uint8; ``depths`` (and optional ``rawDepths``): H x W float32
    metres. On disk, as h5py shows the real file: ``images`` (N, 3, W, H) uint8,
    ``depths`` (N, W, H) float32, each with MATLAB's ``MATLAB_class`` attribute; chunked one
    frame per chunk and deflated, as MATLAB writes v7.3. The same inputs give the same bytes
    (no object timestamps, fixed header)."""
    import h5py

    path = Path(path)
    n = len(images)
    if n == 0 or len(depths) != n or (raw_depths is not None and len(raw_depths) != n):
        raise ValueError(f"need as many depths as images (got {n} images, {len(depths)} depths)")
    h, w = np.asarray(images[0]).shape[:2]
    for i in range(n):
        im, dp = np.asarray(images[i]), np.asarray(depths[i])
        if im.shape != (h, w, 3) or im.dtype != np.uint8:
            raise ValueError(f"image {i}: expected uint8 {h}x{w}x3, got {im.dtype} {im.shape}")
        if dp.shape != (h, w):
            raise ValueError(f"depth {i}: expected {h}x{w}, got {dp.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opts = dict(compression="gzip", compression_opts=4, track_times=False)
    with h5py.File(tmp, "w", userblock_size=_USERBLOCK, track_order=False, libver="earliest") as f:
        ds = f.create_dataset("images", shape=(n, 3, w, h), dtype=np.uint8, chunks=(1, 3, w, h), **opts)
        for i in range(n):
            ds[i] = np.asarray(images[i]).transpose(2, 1, 0)
        ds.attrs["MATLAB_class"] = np.bytes_(b"uint8")
        fields = [("depths", depths)] + ([("rawDepths", raw_depths)] if raw_depths is not None else [])
        for name, frames in fields:
            ds = f.create_dataset(name, shape=(n, w, h), dtype=np.float32, chunks=(1, w, h), shuffle=True, **opts)
            for i in range(n):
                ds[i] = np.asarray(frames[i], dtype=np.float32).T
            ds.attrs["MATLAB_class"] = np.bytes_(b"single")
    with open(tmp, "r+b") as f:
        f.write(_MAT73_HEADER)
    os.replace(tmp, path)
    return path


class NYULabeled:
    """Frames of the labelled ``nyu_depth_v2_labeled.mat`` (optionally a subset).

    ``indices``: 0-based frame numbers (e.g. ``read_nyu_splits(...)["train"]``), None for
    all. ``depth_key``: ``"depths"`` (dense, in-painted; the usual target) or
    ``"rawDepths"`` (Kinect holes as 0). The HDF5 file is opened lazily, once per process:
    a pickled or forked copy (DataLoader workers) reopens its own handle."""

    def __init__(self, mat_path: str | Path, indices: Optional[Sequence[int]] = None, *, depth_key: str = "depths"):
        import h5py

        self.path = Path(mat_path)
        self.depth_key = depth_key
        self._h5 = None
        self._pid = None
        if not self.path.is_file():
            raise DataError(f"{self.path}: labelled NYU Depth v2 file not found. Point the depth data params at "
                            "nyu_depth_v2_labeled.mat, or run `nasseg prepare-transfer` for the embedded one.")
        if not _is_hdf5(self.path):
            with open(self.path, "rb") as f:
                head = f.read(128)
            if head.startswith(b"MATLAB 5.0"):
                what = "a MATLAB v5 .mat file (e.g. splits.mat)"
            elif head.startswith(b"MATLAB"):
                what = "a MATLAB .mat file without HDF5 inside"
            else:
                what = "not a MATLAB v7.3 / HDF5 file"
            raise DataError(f"{self.path}: {what}; the labelled set must be the v7.3 (HDF5) "
                            "nyu_depth_v2_labeled.mat holding 'images' and 'depths'. Check which file the param names.")
        try:
            with h5py.File(self.path, "r") as f:
                for key in ("images", depth_key):
                    if key not in f or not isinstance(f[key], h5py.Dataset):
                        raise DataError(f"{self.path}: no '{key}' dataset (the file holds {sorted(f.keys())}). "
                                        "Expected nyu_depth_v2_labeled.mat with images and depths.")
                ishape, dshape = tuple(f["images"].shape), tuple(f[depth_key].shape)
                idtype, ddtype = f["images"].dtype, f[depth_key].dtype
        except OSError as err:
            raise DataError(f"{self.path}: unreadable HDF5 file ({err}). "
                            "Re-download it, or re-run `nasseg prepare-transfer`.") from None
        if len(ishape) != 4 or ishape[1] != 3 or idtype != np.uint8:
            raise DataError(f"{self.path}: 'images' is {idtype} {ishape}; expected uint8 (N, 3, W, H) as in "
                            "nyu_depth_v2_labeled.mat.")
        if len(dshape) != 3 or ddtype.kind != "f":
            raise DataError(f"{self.path}: '{depth_key}' is {ddtype} {dshape}; expected float (N, W, H) metres.")
        if dshape != (ishape[0],) + ishape[2:]:
            raise DataError(f"{self.path}: 'images' {ishape} and '{depth_key}' {dshape} disagree (N, W, H must match). "
                            "The file is corrupt or not the NYU labelled set.")
        self.num_frames = int(ishape[0])
        self.size_wh = (int(ishape[2]), int(ishape[3]))
        if indices is None:
            self.indices = np.arange(self.num_frames, dtype=np.int64)
        else:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            bad = idx[(idx < 0) | (idx >= self.num_frames)]
            if bad.size:
                raise DataError(f"{self.path}: frame index {int(bad[0])} (0-based) is outside the file's "
                                f"{self.num_frames} frames. The split file does not belong to this labelled set.")
            self.indices = idx

    def __len__(self) -> int:
        return len(self.indices)

    def _file(self):
        import h5py

        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"], state["_pid"] = None, None
        return state

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def describe(self, i: int) -> str:
        return f"{self.path} frame {int(self.indices[i])} (0-based)"

    def load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame ``i`` of this subset: (uint8 3 x H x W image, float32 1 x H x W depth in metres)."""
        if not -len(self) <= i < len(self):
            raise FrameIndexError(f"{self.path}: index {i} out of range for {len(self)} frames.")
        k = int(self.indices[i])
        try:
            f = self._file()
            rgb = np.asarray(f["images"][k]).transpose(2, 1, 0)  # (3, W, H) -> H x W x 3
            depth = np.asarray(f[self.depth_key][k], dtype=np.float32).T  # (W, H) -> H x W
        except OSError as err:
            raise DataError(f"{self.describe(i)}: read failed ({err}). "
                            "The file may be truncated; re-download it.") from None
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        return image, torch.from_numpy(np.ascontiguousarray(depth))[None]

    def __repr__(self) -> str:
        return f"NYULabeled({self.path}, {len(self)} frames)"
