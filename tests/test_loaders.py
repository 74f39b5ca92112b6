"""Dataset loaders on small files written in each public format, the real-data samples,
bad input, and the embedded (synthetic) sets read back through the real loaders."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from nasseg.data.datasets import COCOSegmentation, ListSegmentation, SBDSegmentation, VOCSegmentation, verify_dataset
from nasseg.data.labels import voc_colormap
from nasseg.errors import DataError
from nasseg.synthetic.segmentation import (EmbeddedSpec, coco_label, coco_scene, embedded_layout, write_coco, write_sbd,
                                           write_voc)

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
needs_realdata = pytest.mark.skipif(
    not REALDATA.is_dir(), reason=f"real-data samples not present at {REALDATA} (shared/realdata is not checked out)"
)


# ----------------------------------------------------------------------------- writers

def rand_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_jpeg(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, quality=95)
    return path


def save_palette(path: Path, label: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(label.astype(np.uint8), mode="P")
    im.putpalette(voc_colormap().reshape(-1).tolist())
    im.save(path)
    return path


def object_with_void(h: int, w: int, cls: int = 15) -> np.ndarray:
    """Background, one rectangular object of ``cls``, a 1-px void (255) border around it."""
    lab = np.zeros((h, w), np.uint8)
    lab[5:h - 5, 6:w - 6] = 255
    lab[6:h - 6, 7:w - 7] = cls
    return lab


def save_sbd_mat(path: Path, seg: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    present = np.array([c for c in np.unique(seg) if c > 0], dtype=np.uint8).reshape(-1, 1)
    bounds = np.empty((20, 1), dtype=object)
    for c in range(1, 21):
        bounds[c - 1, 0] = scipy.sparse.csc_matrix(np.zeros(seg.shape, bool))
    scipy.io.savemat(path, {"GTcls": {"Segmentation": seg.astype(np.uint8), "Boundaries": bounds,
                                      "CategoriesPresent": present}})
    return path


def make_voc(root: Path, ids=("x",), h: int = 24, w: int = 32) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    written = {}
    for k, i in enumerate(ids):
        img, lab = rand_image(h, w, k), object_with_void(h, w, cls=1 + k % 20)
        save_jpeg(root / "JPEGImages" / f"{i}.jpg", img)
        save_palette(root / "SegmentationClass" / f"{i}.png", lab)
        written[i] = (img, lab)
    lst = root / "ImageSets" / "Segmentation" / "train.txt"
    lst.parent.mkdir(parents=True, exist_ok=True)
    lst.write_text("".join(f"{i}\n" for i in ids))
    return written


def decoded(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ----------------------------------------------------------------------------- VOC / SBD

def test_voc_item_types_and_values(tmp_path):
    written = make_voc(tmp_path, ids=("x",), h=24, w=32)
    ds = VOCSegmentation(tmp_path, "train")
    assert len(ds) == 1
    image, mask = ds[0]
    assert isinstance(image, torch.Tensor) and image.dtype == torch.uint8 and image.shape == (3, 24, 32)
    assert isinstance(mask, torch.Tensor) and mask.dtype == torch.int64 and mask.shape == (24, 32)
    lab = written["x"][1]
    assert np.array_equal(mask.numpy(), lab.astype(np.int64))
    assert set(np.unique(mask.numpy()).tolist()) == {0, 1, 255}
    # the image is the decoded JPEG, channel-first
    assert np.array_equal(image.permute(1, 2, 0).numpy(), decoded(tmp_path / "JPEGImages" / "x.jpg"))


def test_voc_applies_transforms(tmp_path):
    make_voc(tmp_path)
    seen = []

    def tf(image, mask):
        seen.append((image.shape, mask.shape))
        return "img", "msk"

    ds = VOCSegmentation(tmp_path, "train", transforms=tf)
    assert ds[0] == ("img", "msk")
    assert seen == [((3, 24, 32), (24, 32))]


def test_sbd_reads_matlab_v5(tmp_path):
    h, w = 20, 28
    seg = np.zeros((h, w), np.uint8)
    seg[3:12, 4:15] = 7
    seg[10:18, 12:25] = 15
    save_sbd_mat(tmp_path / "cls" / "2008_000002.mat", seg)
    save_jpeg(tmp_path / "img" / "2008_000002.jpg", rand_image(h, w))
    (tmp_path / "train.txt").write_text("2008_000002\n")
    ds = SBDSegmentation(tmp_path, "train")
    image, mask = ds[0]
    assert image.dtype == torch.uint8 and image.shape == (3, h, w)
    assert mask.dtype == torch.int64
    assert np.array_equal(mask.numpy(), seg.astype(np.int64))


# ----------------------------------------------------------------------------- COCO

def _coco_fixture(tmp_path):
    """One 40 x 50 image: person polygon (large), car compressed RLE (small, on the person),
    a giraffe (cat 25, not VOC) elsewhere, and a person crowd region (uncompressed RLE)."""
    h, w = 40, 50
    save_jpeg(tmp_path / "images" / "000000000001.jpg", rand_image(h, w))
    person_poly = [[4.0, 4.0, 30.0, 4.0, 30.0, 30.0, 4.0, 30.0]]
    car = np.zeros((h, w), np.uint8)
    car[10:20, 20:38] = 1  # overlaps the person; smaller, so painted last
    car_rle = mask_utils.encode(np.asfortranarray(car))
    car_seg = {"size": car_rle["size"], "counts": car_rle["counts"].decode("ascii")}
    giraffe = np.zeros((h, w), np.uint8)
    giraffe[32:38, 2:12] = 1
    giraffe_rle = mask_utils.encode(np.asfortranarray(giraffe))
    crowd = np.zeros((h, w), np.uint8)
    crowd[25:36, 25:47] = 1  # overlaps the person's lower right corner
    flat = crowd.reshape(-1, order="F")
    runs, cur, n = [], 0, 0
    for v in flat:
        if v == cur:
            n += 1
        else:
            runs.append(n)
            cur, n = v, 1
    runs.append(n)
    crowd_seg = {"size": [h, w], "counts": [int(r) for r in runs]}

    person_m = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(person_poly, h, w))).astype(bool)
    crowd_m = mask_utils.decode(mask_utils.frPyObjects(crowd_seg, h, w)).astype(bool)
    assert np.array_equal(crowd_m, crowd.astype(bool))  # my uncompressed RLE is right
    car_m = mask_utils.decode(car_seg).astype(bool)
    anns = [
        # listed out of area order on purpose
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": car_seg, "area": float(car_m.sum()),
         "iscrowd": 0, "bbox": [20, 10, 18, 10]},
        {"id": 2, "image_id": 1, "category_id": 1, "segmentation": person_poly, "area": float(person_m.sum()),
         "iscrowd": 0, "bbox": [4, 4, 26, 26]},
        {"id": 3, "image_id": 1, "category_id": 25,
         "segmentation": {"size": giraffe_rle["size"], "counts": giraffe_rle["counts"].decode("ascii")},
         "area": float(giraffe.sum()), "iscrowd": 0, "bbox": [2, 32, 10, 6]},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": crowd_seg, "area": float(crowd_m.sum()),
         "iscrowd": 1, "bbox": [25, 25, 22, 11]},
    ]
    doc = {
        "images": [{"id": 1, "file_name": "000000000001.jpg", "height": h, "width": w}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 25, "name": "giraffe"}],
    }
    ann_file = tmp_path / "instances.json"
    ann_file.write_text(json.dumps(doc))
    # expected: my own painting, larger area first, crowd -> 255, unmapped category ignored
    layers = sorted([(person_m, 15, person_m.sum()), (car_m, 7, car_m.sum()), (crowd_m, 255, crowd_m.sum())],
                    key=lambda t: -t[2])
    expected = np.zeros((h, w), np.int64)
    for m, v, _ in layers:
        expected[m] = v
    return ann_file, expected, dict(person=person_m, car=car_m, giraffe=giraffe.astype(bool), crowd=crowd_m)


def test_coco_class_map(tmp_path):
    ann_file, expected, masks = _coco_fixture(tmp_path)
    ds = COCOSegmentation(tmp_path / "images", ann_file)
    assert len(ds) == 1
    image, mask = ds[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 40, 50)
    assert mask.dtype == torch.int64 and mask.shape == (40, 50)
    got = mask.numpy()
    assert np.array_equal(got, expected)
    # spelled out: the car sits on the person, the crowd region is void, the giraffe background
    assert (got[masks["car"]] == 7).all()
    assert (got[masks["person"] & ~masks["car"] & ~masks["crowd"]] == 15).all()
    assert (got[masks["crowd"]] == 255).all()
    assert (got[masks["giraffe"]] == 0).all()
    assert set(np.unique(got).tolist()) == {0, 7, 15, 255}


def test_coco_drops_images_without_voc_objects_unless_keep_empty(tmp_path):
    ann_file, _, _ = _coco_fixture(tmp_path)
    doc = json.loads(ann_file.read_text())
    save_jpeg(tmp_path / "images" / "2.jpg", rand_image(10, 12))
    doc["images"].append({"id": 2, "file_name": "2.jpg", "height": 10, "width": 12})
    doc["annotations"].append({"id": 9, "image_id": 2, "category_id": 25, "iscrowd": 0, "area": 4.0,
                               "segmentation": [[1.0, 1.0, 4.0, 1.0, 4.0, 4.0, 1.0, 4.0]], "bbox": [1, 1, 3, 3]})
    ann_file.write_text(json.dumps(doc))
    ds = COCOSegmentation(tmp_path / "images", ann_file)
    assert [s.mask for s in ds.samples] == [1] and ds.dropped_empty == 1
    ds = COCOSegmentation(tmp_path / "images", ann_file, keep_empty=True)
    assert len(ds) == 2
    _, mask = ds[1]
    assert mask.shape == (10, 12) and int(mask.abs().sum()) == 0


# ----------------------------------------------------------------------------- list files

def test_list_segmentation_formats(tmp_path):
    root = tmp_path / "root"
    a_img, b_img, c_img = rand_image(16, 20, 1), rand_image(18, 22, 2), rand_image(12, 14, 3)
    save_jpeg(root / "imgs" / "a.jpg", a_img)
    save_jpeg(root / "imgs" / "b.jpg", b_img)
    save_jpeg(root / "imgs" / "c.jpg", c_img)
    a_lab = np.zeros((16, 20), np.uint8)
    a_lab[2:9, 3:12] = 3
    a_lab[0, :] = 255
    save_palette(root / "masks" / "a.png", a_lab)
    b_lab = np.full((18, 22), 12, np.uint8)
    save_palette(root / "masks" / "b.png", b_lab)
    c_seg = np.zeros((12, 14), np.uint8)
    c_seg[4:10, 2:8] = 20
    save_sbd_mat(root / "cls" / "c.mat", c_seg)
    lst = tmp_path / "list.lst"
    lst.write_text(
        "# a comment line\n"
        "imgs/a.jpg\tmasks/a.png\n"
        "\n"
        "imgs/b.jpg\tmasks/b.png\tobj/b.png\n"  # the authors' 3-column format
        "imgs/c.jpg\tcls/c.mat\n"
    )
    ds = ListSegmentation(lst, root)
    assert len(ds) == 3
    assert [s.id for s in ds.samples] == ["a", "b", "c"]
    for (image, mask), (img, lab) in zip((ds[0], ds[1], ds[2]), ((a_img, a_lab), (b_img, b_lab), (c_img, c_seg))):
        assert image.dtype == torch.uint8 and image.shape == (3,) + lab.shape
        assert mask.dtype == torch.int64
        assert np.array_equal(mask.numpy(), lab.astype(np.int64))
    assert np.array_equal(ds[0][0].permute(1, 2, 0).numpy(), decoded(root / "imgs" / "a.jpg"))


def test_list_segmentation_whitespace_and_absolute_paths(tmp_path):
    img = save_jpeg(tmp_path / "d" / "a.jpg", rand_image(8, 8))
    msk = save_palette(tmp_path / "d" / "a.png", np.zeros((8, 8), np.uint8))
    lst = tmp_path / "l.txt"
    lst.write_text(f"{img} {msk}\n")
    ds = ListSegmentation(lst, tmp_path / "elsewhere")
    assert ds.samples[0].image == img and ds.samples[0].mask == msk
    assert ds[0][1].shape == (8, 8)


# ----------------------------------------------------------------------------- real files

@needs_realdata
def test_real_voc_pair_via_list(tmp_path):
    doc = REALDATA / "voc2012" / "aurora95__Keras-FCN" / "doc"
    lst = tmp_path / "real.lst"
    lst.write_text("2007_000129.jpg\t2007_000129.png\n")
    ds = ListSegmentation(lst, doc)
    image, mask = ds[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 500, 334)
    assert mask.dtype == torch.int64 and mask.shape == (500, 334)
    assert set(np.unique(mask.numpy()).tolist()) == {0, 2, 15, 255}
    assert verify_dataset(ds) == []


@needs_realdata
def test_real_authors_voc_examples(tmp_path):
    d = REALDATA / "authors" / "DrSleep__nas-segm-pytorch" / "examples" / "imgs" / "VOC"
    stems = sorted(p.stem for p in d.glob("*.jpg"))
    assert len(stems) == 5
    lst = tmp_path / "authors.lst"
    lst.write_text("".join(f"{s}.jpg\t{s}.png\n" for s in stems))
    ds = ListSegmentation(lst, d)
    assert len(ds) == 5
    seen = set()
    for i in range(len(ds)):
        image, mask = ds[i]
        assert image.dtype == torch.uint8 and image.shape[0] == 3
        assert mask.dtype == torch.int64 and tuple(mask.shape) == tuple(image.shape[1:])
        vals = set(np.unique(mask.numpy()).tolist())
        assert 255 in vals and 0 in vals and vals <= set(range(21)) | {255}
        with Image.open(d / f"{stems[i]}.png") as im:
            assert np.array_equal(mask.numpy(), np.asarray(im).astype(np.int64))
        seen |= vals
    assert seen == {0, 3, 8, 12, 15, 16, 18, 255}


# ----------------------------------------------------------------------------- bad input

def _list_pair(tmp_path, img_arr, lab, mask_name="m.png"):
    img = save_jpeg(tmp_path / "i.jpg", img_arr)
    msk = save_palette(tmp_path / mask_name, lab)
    lst = tmp_path / "l.lst"
    lst.write_text(f"i.jpg\t{mask_name}\n")
    return lst, img, msk


def test_missing_dataset_root(tmp_path):
    root = tmp_path / "nope"
    for make in (lambda: VOCSegmentation(root), lambda: SBDSegmentation(root),
                 lambda: COCOSegmentation(root, tmp_path / "a.json")):
        with pytest.raises(DataError, match=re.escape(str(root))):
            make()


def test_missing_list_file(tmp_path):
    lst = tmp_path / "none.lst"
    with pytest.raises(DataError, match=re.escape(str(lst))):
        ListSegmentation(lst, tmp_path)
    (tmp_path / "JPEGImages").mkdir()
    with pytest.raises(DataError, match="val.txt"):
        VOCSegmentation(tmp_path, "val")


def test_list_entry_naming_missing_file(tmp_path):
    save_jpeg(tmp_path / "i.jpg", rand_image(8, 8))
    lst = tmp_path / "l.lst"
    lst.write_text("i.jpg\tmissing.png\n")
    with pytest.raises(DataError) as err:
        ListSegmentation(lst, tmp_path)
    assert str(tmp_path / "missing.png") in str(err.value)


def test_voc_split_naming_missing_image(tmp_path):
    make_voc(tmp_path, ids=("a",))
    (tmp_path / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nghost\n")
    with pytest.raises(DataError) as err:
        VOCSegmentation(tmp_path, "train")
    assert str(tmp_path / "JPEGImages" / "ghost.jpg") in str(err.value)


def test_truncated_jpeg(tmp_path):
    lst, img, _ = _list_pair(tmp_path, rand_image(32, 40), np.zeros((32, 40), np.uint8))
    data = img.read_bytes()
    img.write_bytes(data[: len(data) // 2])
    ds = ListSegmentation(lst, tmp_path)  # existence only at construction
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(img) in str(err.value)


def test_mask_size_differs_from_image(tmp_path):
    lst, _, msk = _list_pair(tmp_path, rand_image(16, 20), np.zeros((16, 21), np.uint8))
    ds = ListSegmentation(lst, tmp_path)
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(msk) in str(err.value)
    assert "21x16" in str(err.value) and "20x16" in str(err.value)


def test_mask_value_out_of_range(tmp_path):
    lab = np.zeros((16, 20), np.uint8)
    lab[3, 4] = 30
    lst, _, msk = _list_pair(tmp_path, rand_image(16, 20), lab)
    ds = ListSegmentation(lst, tmp_path, num_classes=21)
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(msk) in str(err.value) and "30" in str(err.value)
    # with more classes the same mask is fine; 255 is always allowed
    assert ListSegmentation(lst, tmp_path, num_classes=31)[0][1][3, 4] == 30


def test_empty_list_file(tmp_path):
    lst = tmp_path / "empty.lst"
    lst.write_text("\n  \n# only a comment\n")
    with pytest.raises(DataError) as err:
        ListSegmentation(lst, tmp_path)
    assert str(lst) in str(err.value)
    (tmp_path / "ImageSets" / "Segmentation").mkdir(parents=True)
    split = tmp_path / "ImageSets" / "Segmentation" / "train.txt"
    split.write_text("\n")
    with pytest.raises(DataError) as err:
        VOCSegmentation(tmp_path, "train")
    assert str(split) in str(err.value)


def test_rgb_mask_rejected(tmp_path):
    img = save_jpeg(tmp_path / "i.jpg", rand_image(16, 20))
    rgb = voc_colormap()[object_with_void(16, 20)]  # colour-coded, as people often save it
    msk = tmp_path / "m.png"
    Image.fromarray(rgb, mode="RGB").save(msk)
    lst = tmp_path / "l.lst"
    lst.write_text("i.jpg\tm.png\n")
    ds = ListSegmentation(lst, tmp_path)
    with pytest.raises(DataError) as err:
        ds[0]
    assert str(msk) in str(err.value) and "RGB" in str(err.value)
    assert img.is_file()


def test_sbd_mat_without_gtcls(tmp_path):
    save_jpeg(tmp_path / "img" / "a.jpg", rand_image(8, 8))
    (tmp_path / "cls").mkdir()
    scipy.io.savemat(tmp_path / "cls" / "a.mat", {"GTinst": {"Segmentation": np.zeros((8, 8), np.uint8)}})
    (tmp_path / "train.txt").write_text("a\n")
    with pytest.raises(DataError) as err:
        SBDSegmentation(tmp_path)[0]
    assert str(tmp_path / "cls" / "a.mat") in str(err.value)


def test_skip_bad_at_construction_and_verify(tmp_path):
    ok = rand_image(16, 20)
    for name in ("good", "trunc", "big", "range"):
        save_jpeg(tmp_path / f"{name}.jpg", ok)
    lab = np.zeros((16, 20), np.uint8)
    save_palette(tmp_path / "good.png", lab)
    save_palette(tmp_path / "trunc.png", lab)
    save_palette(tmp_path / "big.png", np.zeros((17, 20), np.uint8))
    bad_vals = lab.copy()
    bad_vals[0, 0] = 30
    save_palette(tmp_path / "range.png", bad_vals)
    data = (tmp_path / "trunc.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    lst = tmp_path / "l.lst"
    lst.write_text("good.jpg\tgood.png\n"
                   "gone.jpg\tgood.png\n"
                   "trunc.jpg\ttrunc.png\n"
                   "good.jpg\tgone.png\n"
                   "big.jpg\tbig.png\n"
                   "range.jpg\trange.png\n")
    with pytest.raises(DataError, match="gone.jpg"):
        ListSegmentation(lst, tmp_path)
    ds = ListSegmentation(lst, tmp_path, skip_bad=True)
    assert len(ds) == 4
    assert len(ds.skipped) == 2
    assert str(tmp_path / "gone.jpg") in ds.skipped[0][1] and str(tmp_path / "gone.png") in ds.skipped[1][1]
    assert [s.id for s in ds.samples] == ["good", "trunc", "big", "range"]
    # without skip_bad, verify raises on the first bad content
    with pytest.raises(DataError, match="trunc.jpg"):
        verify_dataset(ds)
    dropped = verify_dataset(ds, skip_bad=True)
    # 2 missing at construction + 3 bad content
    assert len(dropped) == 5
    content_bad = dropped[2:]
    assert [i for i, _ in content_bad] == ["trunc", "big", "range"]
    assert str(tmp_path / "trunc.jpg") in content_bad[0][1]
    assert str(tmp_path / "big.png") in content_bad[1][1]
    assert str(tmp_path / "range.png") in content_bad[2][1]
    assert len(ds) == 1 and [s.id for s in ds.samples] == ["good"]
    image, mask = ds[0]
    assert mask.shape == (16, 20)


def test_all_missing_is_an_error_even_with_skip_bad(tmp_path):
    lst = tmp_path / "l.lst"
    lst.write_text("a.jpg\ta.png\n")
    with pytest.raises(DataError, match=re.escape(str(lst))):
        ListSegmentation(lst, tmp_path, skip_bad=True)


# ----------------------------------------------------------------------------- embedded sets

def test_embedded_coco_round_trip(tmp_path):
    spec = EmbeddedSpec()
    img_dir, ann = write_coco(tmp_path, "train", 8, spec)
    ds = COCOSegmentation(root=img_dir, annotation_file=ann, keep_empty=True)
    assert len(ds) == 8
    kinds = set()
    mismatches = {}
    for i, s in enumerate(ds.samples):
        img_id = int(s.mask)
        image, mask = ds[i]
        want = coco_label(coco_scene(spec, "train", img_id))
        assert mask.shape == want.shape == tuple(image.shape[1:])
        bad = np.argwhere(mask.numpy() != want)
        if len(bad):
            mismatches[img_id] = [(tuple(int(v) for v in p), int(mask[tuple(p)]), int(want[tuple(p)])) for p in bad]
    # {image id: [((y, x), read, expected), ...]}
    assert mismatches == {}, f"COCO reader and coco_label disagree: {mismatches}"
    for a in ds.coco.dataset["annotations"]:
        seg = a["segmentation"]
        kinds.add("poly" if isinstance(seg, list) else ("urle" if isinstance(seg["counts"], list) else "rle"))
    assert {"poly", "rle"} <= kinds


def test_embedded_voc_sbd(tmp_path):
    lay = embedded_layout(6, 2, 4, 10)
    spec = EmbeddedSpec()
    voc = write_voc(tmp_path, {"train": lay["voc_train"], "val": lay["voc_val"]}, spec)
    sbd = write_sbd(tmp_path, {"train": lay["sbd_train"], "val": lay["sbd_val"]}, spec)
    voc_val = VOCSegmentation(voc, "val")
    voc_train = VOCSegmentation(voc, "train")
    sbd_train = SBDSegmentation(sbd, "train")
    sbd_val = SBDSegmentation(sbd, "val")
    assert (len(voc_train), len(voc_val), len(sbd_train), len(sbd_val)) == (4, 10, 6, 2)
    for ds in (voc_train, voc_val, sbd_train, sbd_val):
        assert verify_dataset(ds) == []

    overlap = sorted({s.id for s in voc_val.samples} & {s.id for s in sbd_train.samples})
    assert overlap == [lay["voc_val"][0]] == [lay["sbd_train"][0]]
    vi = [s.id for s in voc_val.samples].index(overlap[0])
    si = [s.id for s in sbd_train.samples].index(overlap[0])
    v_img, v_mask = voc_val[vi]
    s_img, s_mask = sbd_train[si]
    assert torch.equal(v_img, s_img)  # same picture
    v, s = v_mask.numpy(), s_mask.numpy()
    assert (v == 255).any()
    assert not (s == 255).any()
    assert np.array_equal(v[v != 255], s[v != 255])  # VOC = SBD + a void border on background
    assert (s[v == 255] == 0).all()

    voc_has_void = any((voc_val[i][1] == 255).any() for i in range(len(voc_val)))
    sbd_has_void = any((ds[i][1] == 255).any() for ds in (sbd_train, sbd_val) for i in range(len(ds)))
    assert voc_has_void and not sbd_has_void


def test_embedded_writers_are_deterministic(tmp_path):
    lay = embedded_layout(6, 2, 4, 10)
    spec = EmbeddedSpec(seed=3)
    splits = {"train": lay["voc_train"], "val": lay["voc_val"]}
    a = write_voc(tmp_path / "a", splits, spec)
    b = write_voc(tmp_path / "b", splits, spec)
    sa = write_sbd(tmp_path / "a", {"train": lay["sbd_train"]}, spec)
    sb = write_sbd(tmp_path / "b", {"train": lay["sbd_train"]}, spec)
    for i in lay["voc_train"] + lay["voc_val"]:
        assert (a / "SegmentationClass" / f"{i}.png").read_bytes() == (b / "SegmentationClass" / f"{i}.png").read_bytes()
        assert np.array_equal(decoded(a / "JPEGImages" / f"{i}.jpg"), decoded(b / "JPEGImages" / f"{i}.jpg"))
    for i in lay["sbd_train"]:
        assert np.array_equal(decoded(sa / "img" / f"{i}.jpg"), decoded(sb / "img" / f"{i}.jpg"))
        ma = scipy.io.loadmat(sa / "cls" / f"{i}.mat", squeeze_me=True, struct_as_record=False)["GTcls"]
        mb = scipy.io.loadmat(sb / "cls" / f"{i}.mat", squeeze_me=True, struct_as_record=False)["GTcls"]
        assert np.array_equal(ma.Segmentation, mb.Segmentation)
        # byte-identical too (DVC hashes bytes; scipy would stamp the time in the header)
        assert (sa / "cls" / f"{i}.mat").read_bytes() == (sb / "cls" / f"{i}.mat").read_bytes()
    # a different seed gives different pictures
    c = write_voc(tmp_path / "c", {"train": lay["voc_train"][:1]}, EmbeddedSpec(seed=4))
    i = lay["voc_train"][0]
    ia, ic = decoded(a / "JPEGImages" / f"{i}.jpg"), decoded(c / "JPEGImages" / f"{i}.jpg")
    assert ia.shape != ic.shape or not np.array_equal(ia, ic)


def test_coco_bad_input(tmp_path):
    ann_file, _, _ = _coco_fixture(tmp_path)
    doc = json.loads(ann_file.read_text())
    # an image the JSON names but the folder lacks
    doc["images"][0]["file_name"] = "missing.jpg"
    ann_file.write_text(json.dumps(doc))
    with pytest.raises(DataError) as err:
        COCOSegmentation(tmp_path / "images", ann_file)
    assert str(tmp_path / "images" / "missing.jpg") in str(err.value)
    # not a COCO file
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]")
    with pytest.raises(DataError, match=re.escape(str(bad))):
        COCOSegmentation(tmp_path / "images", bad)
    bad.write_text("{not json")
    with pytest.raises(DataError, match=re.escape(str(bad))):
        COCOSegmentation(tmp_path / "images", bad)
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "none.json"))):
        COCOSegmentation(tmp_path / "images", tmp_path / "none.json")
    # a segmentation pycocotools cannot decode
    doc["images"][0]["file_name"] = "000000000001.jpg"
    doc["annotations"][0]["segmentation"] = {"size": [40, 50], "counts": 12}
    ann_file.write_text(json.dumps(doc))
    ds = COCOSegmentation(tmp_path / "images", ann_file)
    with pytest.raises(DataError, match="annotation 1 of image 1"):
        ds[0]


def test_coco_image_size_differs_from_json(tmp_path):
    ann_file, _, _ = _coco_fixture(tmp_path)
    save_jpeg(tmp_path / "images" / "000000000001.jpg", rand_image(40, 52))  # JSON says 50 wide
    ds = COCOSegmentation(tmp_path / "images", ann_file)
    with pytest.raises(DataError) as err:
        ds[0]
    assert "50x40" in str(err.value) and "52x40" in str(err.value) and "'1'" in str(err.value)
    # the only image is bad: skipping it leaves nothing, which is an error of its own
    with pytest.raises(DataError, match="every sample is bad"):
        verify_dataset(COCOSegmentation(tmp_path / "images", ann_file), skip_bad=True)


@needs_realdata
def test_real_tramac_voc_pair(tmp_path):
    d = REALDATA / "voc2012" / "Tramac__awesome-semantic-segmentation-pytorch" / "tests"
    lst = tmp_path / "t.lst"
    lst.write_text("test_img.jpg\ttest_mask.png\n")
    image, mask = ListSegmentation(lst, d)[0]
    assert image.shape == (3, 366, 500) and mask.shape == (366, 500)
    assert set(np.unique(mask.numpy()).tolist()) == {0, 1, 255}
