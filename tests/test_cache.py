"""The feature cache: atomic write, fingerprint refusal, reader shapes/dtypes/order."""
import multiprocessing as mp
import os

import h5py
import numpy as np
import pytest
import torch

from nasseg.cache import CacheSpec, FeatureCache, write_cache
from nasseg.errors import NassegError

SPEC = CacheSpec(n=50, tap_shapes=((4, 8, 8), (6, 4, 4), (8, 2, 2), (10, 1, 1)), label_shape=(8, 8),
                 teacher_shape=(3, 8, 8), chunk=8)


def _batches(n=50, bs=7, seed=0):
    rng = np.random.default_rng(seed)
    for s in range(0, n, bs):
        b = min(bs, n - s)
        out = {f"tap{i}": rng.normal(size=(b, *shape)).astype(np.float32) for i, shape in enumerate(SPEC.tap_shapes)}
        out["labels"] = np.full((b, 8, 8), s, dtype=np.uint8) + np.arange(b, dtype=np.uint8)[:, None, None]
        out["labels"][:, 0, 0] = 255
        out["teacher"] = torch.randn(b, 3, 8, 8)
        yield out


FP = {"encoder_sha256": "aa", "n": 50, "augment": {"crop": 32}}


def test_write_then_read_shapes_dtypes_and_every_sample_once(tmp_path):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    assert path.is_file() and not (tmp_path / "c.h5.tmp").exists()
    with h5py.File(path) as f:
        assert f["tap0"].dtype == np.float16 and f["labels"].dtype == np.uint8
        assert f["tap0"].chunks == (8, 4, 8, 8)
    with FeatureCache(path, FP) as cache:
        assert len(cache) == 50
        assert cache.shapes() == {"tap0": (4, 8, 8), "tap1": (6, 4, 4), "tap2": (8, 2, 2), "tap3": (10, 1, 1),
                                  "labels": (8, 8), "teacher": (3, 8, 8)}
        seen = []
        for b in cache.batches(16, rng=np.random.default_rng(1)):
            assert b["tap0"].dtype == torch.float32 and b["labels"].dtype == torch.int64
            assert b["tap3"].shape[1:] == (10, 1, 1) and b["teacher"].shape[1:] == (3, 8, 8)
            assert (b["labels"][:, 0, 0] == 255).all()
            seen += b["labels"][:, 1, 1].tolist()
        assert sorted(seen) == list(range(50))  # each sample exactly once per epoch
        assert seen != list(range(50))  # shuffled


def test_unshuffled_order_and_values_match_what_was_written(tmp_path):
    written = list(_batches())
    path = write_cache(tmp_path / "c.h5", SPEC, iter(written), FP)
    tap0 = np.concatenate([b["tap0"] for b in written])
    with FeatureCache(path) as cache:
        got = torch.cat([b["tap0"] for b in cache.batches(10, shuffle=False)]).numpy()
    assert got.shape == tap0.shape
    np.testing.assert_allclose(got, tap0.astype(np.float16).astype(np.float32))
    assert np.abs(got - tap0).max() < 1e-2  # float16 storage


def test_in_memory_gives_the_same_epoch_contents(tmp_path):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    with FeatureCache(path, in_memory=True) as cache:
        ids = sorted(i for b in cache.batches(16, rng=np.random.default_rng(3)) for i in b["labels"][:, 1, 1].tolist())
    assert ids == list(range(50))


def test_same_rng_same_order(tmp_path):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    with FeatureCache(path) as cache:
        a = [b["labels"][:, 1, 1].tolist() for b in cache.batches(16, rng=np.random.default_rng(5))]
        b = [b["labels"][:, 1, 1].tolist() for b in cache.batches(16, rng=np.random.default_rng(5))]
    assert a == b


def test_fingerprint_mismatch_refused_with_the_differing_keys(tmp_path):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    with pytest.raises(NassegError, match="encoder_sha256") as err:
        FeatureCache(path, dict(FP, encoder_sha256="bb"))
    assert "nasseg precompute" in str(err.value)
    with pytest.raises(NassegError, match="seed"):
        FeatureCache(path, dict(FP, seed=1))


def test_too_few_samples_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError, match="only 14 of 50"):
        write_cache(tmp_path / "c.h5", SPEC, (b for _, b in zip(range(2), _batches())), FP)
    assert not (tmp_path / "c.h5").exists() and not (tmp_path / "c.h5.tmp").exists()


def _slow_writer(path):
    def gen():
        for b in _batches():
            yield b
        import time
        time.sleep(60)  # never finishes: killed from outside
    write_cache(path, SPEC, gen(), FP)


def test_killed_writer_leaves_no_cache_that_looks_whole(tmp_path):
    path = tmp_path / "c.h5"
    spec = CacheSpec(**{**SPEC.__dict__, "n": 10_000})
    ctx = mp.get_context("fork")
    p = ctx.Process(target=lambda: write_cache(path, spec, _forever(), FP))
    p.start()
    for _ in range(200):  # wait until the temporary file is being written
        if (tmp_path / "c.h5.tmp").exists():
            break
        p.join(0.05)
    os.kill(p.pid, 9)
    p.join()
    assert not path.exists()
    with pytest.raises(NassegError, match="interrupted write"):
        FeatureCache(path)


def _forever():
    import time
    while True:
        yield from _batches()
        time.sleep(0.01)


def test_missing_or_corrupt_cache_is_a_clear_error(tmp_path):
    with pytest.raises(NassegError, match="not found"):
        FeatureCache(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(NassegError, match="not a readable HDF5"):
        FeatureCache(bad)


def test_precompute_in_bf16_writes_a_valid_cache_a_reader_takes(tmp_path, monkeypatch):
    """Encoder and teacher in bf16 autocast on the CPU (random weights: only the format counts);
    the cache holds finite float16 features and records the precision, which no reader checks."""
    import nasseg.cache.precompute as pc
    from nasseg.config import parse_params
    from nasseg.data.prepare import build_lists, generate_embedded
    from nasseg.models.encoder import MobileNetV2Encoder
    from nasseg.runtime import Runtime
    from nasseg.training.recipes import build_teacher

    p = parse_params({
        "data": {"root": str(tmp_path / "data"), "embedded": {"voc": {"train": 4, "val": 4}, "sbd": {"train": 4, "val": 2},
                 "coco": {"train": 2}, "min_size": 40, "max_size": 48}, "augment": {"crop": 32, "min_side": 32}},
        "pretrain": {"out": str(tmp_path / "pre")}, "teacher": {"out": str(tmp_path / "tea"), "depth": 18},
        "precompute": {"out": str(tmp_path / "cache"), "n": 6, "chunk": 4, "val_size": 48,
                       "augment": {"crop": 32, "min_side": 32}}})
    generate_embedded(p.data)
    build_lists(p.data)
    for f in ("pre/encoder.pt", "tea/teacher.pt"):  # the fingerprint hashes them; the loaders are replaced
        (tmp_path / f).parent.mkdir(parents=True)
        (tmp_path / f).write_bytes(f.encode())
    torch.manual_seed(0)
    monkeypatch.setattr(pc, "load_frozen_encoder", lambda params: MobileNetV2Encoder().eval())
    monkeypatch.setattr(pc, "load_frozen_teacher", lambda params: build_teacher(params).eval())
    runtime = Runtime.of(None, device="cpu", precision="bf16")
    for split in ("train", "val"):
        path, _ = pc.precompute(p, split, batch_size=4, runtime=runtime)
        with FeatureCache(path, pc.cache_fingerprint(p, split)) as c:
            assert c.fingerprint["precision"] == "bf16" and len(c) == (6 if split == "train" else 1)  # meta-val: 1
            for b in c.batches(4, shuffle=False):
                assert all(torch.isfinite(v).all() for k, v in b.items() if k != "labels")
    assert "precision" not in pc.cache_fingerprint(p, "train", "fp32")  # fp32 caches keep their fingerprints


@pytest.mark.parametrize("in_memory", [True, False])
def test_bytes_flipped_inside_a_chunk_are_caught_naming_the_dataset_and_chunk(tmp_path, in_memory):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    with h5py.File(path, "r") as f:  # where chunk 3 (samples 24-31) of tap0 lies in the file
        ds = f["tap0"]
        info = ds.id.get_chunk_info_by_coord((24, 0, 0, 0))
    assert FeatureCache(path).checksummed
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + info.size // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(NassegError, match=r"c\.h5: dataset 'tap0', chunk 3 \(samples 24-31\) is corrupt"):
        cache = FeatureCache(path, in_memory=in_memory)
        for _ in cache.batches(8):
            pass


def test_a_truncated_cache_is_a_clear_error_not_a_traceback(tmp_path):
    path = write_cache(tmp_path / "c.h5", SPEC, _batches(), FP)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * 0.6)])
    with pytest.raises(NassegError, match=r"c\.h5: .*(corrupt|not a readable HDF5)"):
        FeatureCache(path, in_memory=True)
