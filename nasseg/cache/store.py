"""Writing and reading the feature cache (one HDF5 file per split).

Layout of a cache file (``N`` samples, crop ``S``, label stride ``r``):

=============  ====================  =======  ==========================================
dataset        shape                 dtype    what
=============  ====================  =======  ==========================================
``tap0..3``    N x C_i x S/s_i ...   float16  encoder outputs (strides 4, 8, 16, 32)
``labels``     N x S/r x S/r         uint8    class indices, 255 = void (nearest)
``teacher``    N x K x S/4 x S/4     float16  teacher logits (training split only)
=============  ====================  =======  ==========================================

Every dataset is chunked by ``chunk`` samples so that a chunk is one contiguous read.
The file's attribute ``fingerprint`` (JSON) records what made it: encoder and teacher
weight hashes, the list file's hash, transform params, N, seed (and the autocast precision
when not fp32); every chunk carries HDF5's Fletcher-32 checksum, verified as it is read (a
mismatch names the file, dataset and chunk); a reader given the run's expected fingerprint refuses a file that differs in
anything but the precision, which records how the features were computed, not what they are. Files are written to ``<name>.tmp`` and
renamed when complete, so an interrupted run never leaves a cache that looks whole.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import h5py
import numpy as np
import torch

from ..errors import NassegError

TAPS = ("tap0", "tap1", "tap2", "tap3")
PROVENANCE = ("precision",)  # fingerprint keys a reader takes whatever their value


@dataclass(frozen=True)
class CacheSpec:
    n: int
    tap_shapes: tuple  # ((C, H, W), ...) per tap
    label_shape: tuple  # (H, W)
    teacher_shape: Optional[tuple] = None  # (K, H, W) or None
    dtype: str = "float16"
    chunk: int = 32
    compression: Optional[str] = None  # None | "lzf" | "gzip"


def fingerprint_mismatch(stored: dict, expected: dict) -> list[str]:
    keys = sorted((set(stored) | set(expected)) - set(PROVENANCE))
    return [k for k in keys if stored.get(k) != expected.get(k)]


def write_cache(path: Path, spec: CacheSpec, batches: Iterator[dict], fingerprint: dict,
                progress: Optional[Callable[[int], None]] = None) -> Path:
    """Write batches (dicts of numpy/torch arrays named like the datasets) into ``path``
    atomically. ``progress(n)`` is called with the number of samples written so far."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    chunk = min(spec.chunk, spec.n)
    shapes = {f"tap{i}": (s, spec.dtype) for i, s in enumerate(spec.tap_shapes)}
    shapes["labels"] = (spec.label_shape, "uint8")
    if spec.teacher_shape is not None:
        shapes["teacher"] = (spec.teacher_shape, spec.dtype)
    try:
        with h5py.File(tmp, "w") as f:
            dsets = {name: f.create_dataset(name, shape=(spec.n, *shape), dtype=dtype, chunks=(chunk, *shape),
                                            compression=spec.compression, fletcher32=True)  # a checksum per chunk
                     for name, (shape, dtype) in shapes.items()}
            filled = 0
            for batch in batches:
                b = len(batch["labels"])
                b = min(b, spec.n - filled)
                for name, ds in dsets.items():
                    arr = batch[name][:b]
                    if isinstance(arr, torch.Tensor):
                        arr = arr.detach().cpu().numpy()
                    ds[filled:filled + b] = arr.astype(ds.dtype, copy=False)
                filled += b
                if progress:
                    progress(filled)
                if filled >= spec.n:
                    break
            if filled < spec.n:
                raise RuntimeError(f"only {filled} of {spec.n} samples were produced")
            f.attrs["fingerprint"] = json.dumps(fingerprint, sort_keys=True)
            f.attrs["n"] = spec.n
            f.attrs["chunk"] = chunk
            f.attrs["complete"] = True
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class FeatureCache:
    """Reads a cache file: shapes, fingerprint check, and shuffled batches.

    Batches are read in blocks of ``window`` chunks (one contiguous HDF5 read per dataset
    and block); shuffling permutes the block order and the samples inside a block. ``in_memory=True`` loads everything once (when it fits) and then
    shuffles sample by sample. Batches are dicts of float32 tensors (``tap0..3``,
    ``teacher``) and an int64 ``labels`` tensor (255 = void)."""

    def __init__(self, path: str | Path, expected_fingerprint: Optional[dict] = None, *, in_memory: bool = False,
                 window: int = 16):
        self.path = Path(path)
        if not self.path.is_file():
            tmp = self.path.with_name(self.path.name + ".tmp")
            hint = " (an interrupted write left only a .tmp file, which is never used)" if tmp.exists() else ""
            raise NassegError(f"{self.path}: feature cache not found{hint}. Run `nasseg precompute` first.")
        try:
            self._f = h5py.File(self.path, "r")
        except OSError as err:
            raise NassegError(f"{self.path}: not a readable HDF5 feature cache ({err}). Delete it and rerun "
                              "`nasseg precompute`.") from None
        if not self._f.attrs.get("complete", False):
            raise NassegError(f"{self.path}: incomplete feature cache. Delete it and rerun `nasseg precompute`.")
        self.fingerprint = json.loads(self._f.attrs["fingerprint"])
        if expected_fingerprint is not None:
            diff = fingerprint_mismatch(self.fingerprint, expected_fingerprint)
            if diff:
                raise NassegError(
                    f"{self.path}: the feature cache was made with different inputs ({', '.join(diff)} differ). "
                    "Rerun `nasseg precompute` (or `dvc repro`) so the cache matches the current params and weights.")
        self.n = int(self._f.attrs["n"])
        self.chunk = int(self._f.attrs["chunk"])
        self.names = [n for n in (*TAPS, "labels", "teacher") if n in self._f]
        self.window = window
        self.checksummed = all(self._f[n].fletcher32 for n in self.names)
        self._ram = {n: self._load(n) for n in self.names} if in_memory else None

    def _load(self, name: str, sel=np.s_[()], out: Optional[np.ndarray] = None, dest=None):
        """Read ``name[sel]`` (into ``out[dest]`` when given). HDF5 verifies each chunk's
        Fletcher-32 checksum as it reads; a failed read (a checksum mismatch, a truncated file)
        is a NassegError naming the file, the dataset and the first bad chunk."""
        try:
            if out is None:
                return self._f[name][sel]
            self._f[name].read_direct(out, sel, dest)
            return out
        except OSError as err:
            ds, bad = self._f[name], None
            for i in range(0, ds.shape[0], self.chunk):
                try:
                    ds[i:i + self.chunk]
                except OSError:
                    bad = i
                    break
            where = (f"chunk {bad // self.chunk} (samples {bad}-{min(ds.shape[0], bad + self.chunk) - 1})"
                     if bad is not None else "a read")
            raise NassegError(f"{self.path}: dataset '{name}', {where} is corrupt ({str(err).strip()}). "
                              "Delete the file and rerun `nasseg precompute`.") from None

    def export(self) -> dict:
        """The whole cache as arrays plus what a reader needs (for :meth:`from_arrays`): what the
        search puts once into Ray's object store, so every trial on a node shares one copy."""
        arrays = self._ram if self._ram is not None else {n: self._load(n) for n in self.names}
        return {"arrays": arrays, "fingerprint": self.fingerprint, "n": self.n, "chunk": self.chunk,
                "path": str(self.path)}

    @classmethod
    def from_arrays(cls, exported: dict, window: int = 16) -> "FeatureCache":
        """A cache served from arrays another process loaded (:meth:`export`; read-only, e.g. zero-copy
        from Ray's object store): batches exactly as ``in_memory=True`` gives them, no file opened."""
        self = cls.__new__(cls)
        self.path, self._f = Path(exported["path"]), None
        self.fingerprint, self.n, self.chunk = exported["fingerprint"], exported["n"], exported["chunk"]
        self._ram = exported["arrays"]
        self.names = [n for n in (*TAPS, "labels", "teacher") if n in self._ram]
        self.window = window
        return self

    def __len__(self) -> int:
        return self.n

    def shapes(self) -> dict:
        src = self._ram if self._f is None else self._f
        return {n: tuple(src[n].shape[1:]) for n in self.names}

    def nbytes(self) -> int:
        src = self._ram if self._f is None else self._f
        return sum(src[n].dtype.itemsize * int(np.prod(src[n].shape)) for n in self.names)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def _to_torch(arrays: dict) -> dict:
        out = {}
        for k, v in arrays.items():
            t = torch.from_numpy(np.ascontiguousarray(v))
            out[k] = t.long() if k == "labels" else t.float()
        return out

    def _read(self, start: int, stop: int) -> dict:
        if self._ram is not None:
            return {n: self._ram[n][start:stop] for n in self.names}
        return {n: self._load(n, np.s_[start:stop]) for n in self.names}

    def batches(self, batch_size: int, *, shuffle: bool = True, rng: Optional[np.random.Generator] = None,
                drop_last: bool = False) -> Iterator[dict]:
        rng = rng or np.random.default_rng(0)
        if self._ram is not None:  # whole cache in RAM: shuffle per sample
            order = rng.permutation(self.n) if shuffle else np.arange(self.n)
            for s in range(0, self.n, batch_size):
                idx = np.sort(order[s:s + batch_size]) if shuffle else order[s:s + batch_size]
                if drop_last and len(idx) < batch_size:
                    return
                yield self._to_torch({n: self._ram[n][idx] for n in self.names})
            return
        # Blocks of `window` consecutive chunks: one contiguous read per dataset and block,
        # blocks in random order, samples shuffled inside a block (the cache's sample order
        # is itself random: meta-train is a seeded permutation).
        block = self.chunk * self.window
        n_blocks = (self.n + block - 1) // block
        order = rng.permutation(n_blocks) if shuffle else np.arange(n_blocks)
        carry = None
        bufs = {n: np.empty((block, *self._f[n].shape[1:]), self._f[n].dtype) for n in self.names}
        for k in order:
            start, stop = int(k) * block, min(self.n, (int(k) + 1) * block)
            for n in self.names:  # straight into reused buffers: no allocation, one copy
                self._load(n, np.s_[start:stop], bufs[n], np.s_[0:stop - start])
            data = {n: bufs[n][:stop - start] for n in self.names}
            if carry is not None:
                data = {n: np.concatenate([carry[n], data[n]]) for n in self.names}
            m = len(data["labels"])
            perm = rng.permutation(m) if shuffle else np.arange(m)
            full = (m // batch_size) * batch_size
            for s in range(0, full, batch_size):
                idx = np.sort(perm[s:s + batch_size])  # sorted gathers are faster; the batch is the same set
                yield self._to_torch({n: data[n][idx] for n in self.names})
            carry = {n: data[n][perm[full:]] for n in self.names} if full < m else None  # a copy: bufs are reused
        if carry is not None and not drop_last:
            yield self._to_torch(carry)
