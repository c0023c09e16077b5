"""File loaders: round trips of small files written here, and refusal of broken files."""

from __future__ import annotations

import gzip
import io
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from guicnn.core.data import (
    CIFAR10_CLASSES,
    DataError,
    load_cifar10,
    load_csv,
    load_dataset,
    load_idx,
    load_image_folder,
    load_npz,
)

RNG = np.random.default_rng(1234)


# --------------------------------------------------------------------------- writers


def idx_images_bytes(images: np.ndarray) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes()


def idx_labels_bytes(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def write_idx_pair(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool) -> tuple[Path, Path]:
    suffix = ".gz" if gz else ""
    img = folder / f"{prefix}-images-idx3-ubyte{suffix}"
    lab = folder / f"{prefix}-labels-idx1-ubyte{suffix}"
    pack = gzip.compress if gz else (lambda b: b)
    img.write_bytes(pack(idx_images_bytes(images)))
    lab.write_bytes(pack(idx_labels_bytes(labels)))
    return img, lab


def cifar_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    return records.astype(np.uint8).tobytes()


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path) if mode else Image.fromarray(array).save(path)


def write_csv(path: Path, labels: np.ndarray, pixels: np.ndarray, header: bool = True) -> None:
    lines = []
    if header:
        lines.append(",".join(["label"] + [f"pixel{i}" for i in range(pixels.shape[1])]))
    for lab, row in zip(labels, pixels):
        lines.append(",".join([str(lab)] + [str(int(v)) for v in row]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    images = RNG.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    labels = np.array([0, 1, 2, 9, 3, 3, 1], dtype=np.uint8)
    img, lab = write_idx_pair(tmp_path, "train", images, labels, gz)
    ds = load_idx(img, lab)
    assert ds.x.shape == (7, 1, 5, 4) and ds.x.dtype == np.float32
    assert np.allclose(ds.x[:, 0] * 255, images)
    assert np.array_equal(ds.y, labels) and ds.y.dtype == np.int64
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.name == img.name
    # load_dataset finds the partner file from either file, and the pair in the folder
    for spec in (img, lab, tmp_path):
        again = load_dataset(spec)
        assert np.array_equal(again.x, ds.x) and np.array_equal(again.y, ds.y)


def test_idx_folder_picks_the_split(tmp_path):
    train = RNG.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    test = RNG.integers(0, 256, (2, 3, 3), dtype=np.uint8)
    write_idx_pair(tmp_path, "train", train, np.array([0, 1, 0, 1]), gz=True)
    write_idx_pair(tmp_path, "t10k", test, np.array([1, 1]), gz=True)
    assert len(load_dataset(tmp_path)) == 4
    assert len(load_dataset(tmp_path, split="test")) == 2
    for f in tmp_path.glob("t10k-*"):
        f.unlink()
    with pytest.raises(DataError, match="has no IDX image file for split 'test'"):
        load_dataset(tmp_path, split="test")


def test_idx_labels_out_of_range_and_count_mismatch(tmp_path):
    images = RNG.integers(0, 256, (3, 2, 2), dtype=np.uint8)
    img, lab = write_idx_pair(tmp_path, "train", images, np.array([0, 1, 7]), gz=False)
    with pytest.raises(DataError, match="label 7 of sample 2 is out of range for 2 classes") as e:
        load_idx(img, lab, class_names=["a", "b"])
    assert lab.name in str(e.value)
    lab.write_bytes(idx_labels_bytes(np.array([0, 1])))
    with pytest.raises(DataError, match="2 labels but .* holds 3 images"):
        load_idx(img, lab)


def test_idx_wrong_magic_message(tmp_path):
    images = RNG.integers(0, 256, (3, 2, 2), dtype=np.uint8)
    img, lab = write_idx_pair(tmp_path, "train", images, np.array([0, 1, 1]), gz=True)
    with pytest.raises(DataError) as e:
        load_idx(lab, img)
    assert str(e.value).startswith(
        "train-labels-idx1-ubyte.gz: expected magic 2051 for an IDX image file, found 2049"
    )


@pytest.mark.parametrize("gz", [False, True])
def test_idx_forged_header_fails_fast_without_allocating(tmp_path, gz):
    forged = struct.pack(">IIII", 2051, 10**9, 28, 28) + bytes(84)  # 100 bytes in all
    path = tmp_path / ("forged-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(forged) if gz else forged)
    labels = tmp_path / ("forged-labels-idx1-ubyte" + (".gz" if gz else ""))
    labels.write_bytes(idx_labels_bytes(np.zeros(10**3)))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DataError) as e:
            load_idx(path, labels)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.name in str(e.value) and "1,000,000,000 images of 28x28" in str(e.value)
    assert elapsed < 1.0
    assert peak < 5_000_000


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar_round_trip(tmp_path):
    batches = []
    for name, n in (("data_batch_1.bin", 3), ("data_batch_2.bin", 2), ("test_batch.bin", 4)):
        images = RNG.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labels = RNG.integers(0, 10, n, dtype=np.uint8)
        (tmp_path / name).write_bytes(cifar_bytes(images, labels))
        batches.append((images, labels))
    ds = load_cifar10(tmp_path)
    assert ds.x.shape == (5, 3, 32, 32) and ds.class_names == CIFAR10_CLASSES
    expected = np.concatenate([batches[0][0], batches[1][0]])
    assert np.allclose(ds.x * 255, expected)
    assert np.array_equal(ds.y, np.concatenate([batches[0][1], batches[1][1]]))
    test = load_cifar10(tmp_path, split="test")
    assert np.allclose(test.x * 255, batches[2][0]) and np.array_equal(test.y, batches[2][1])
    single = load_dataset(tmp_path / "data_batch_2.bin")
    assert np.allclose(single.x * 255, batches[1][0])
    assert np.array_equal(load_dataset(tmp_path).y, ds.y)
    # class names from batches.meta.txt when present
    (tmp_path / "batches.meta.txt").write_text("\n".join(f"k{i}" for i in range(10)) + "\n\n")
    assert load_cifar10(tmp_path).class_names == [f"k{i}" for i in range(10)]


def test_cifar_label_out_of_range(tmp_path):
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(cifar_bytes(images, np.array([3, 200])))
    with pytest.raises(DataError, match=r"data_batch_1\.bin: label byte 200 of record 1 is out of range"):
        load_cifar10(path)


def test_cifar_folder_without_batches(tmp_path):
    (tmp_path / "other.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="no CIFAR-10 train batches"):
        load_cifar10(tmp_path)


# --------------------------------------------------------------------------- image folder


def test_image_folder_grayscale_round_trip(tmp_path):
    cats = [RNG.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(3)]
    dogs = [RNG.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(2)]
    for i, a in enumerate(cats):
        write_png(tmp_path / "cat" / f"{i}.png", a)
    for i, a in enumerate(dogs):
        # a gray picture stored as RGB still counts as gray
        write_png(tmp_path / "dog" / f"{i}.png", np.repeat(a[:, :, None], 3, axis=2))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    write_png(tmp_path / ".hidden" / "x.png", cats[0])
    (tmp_path / "empty").mkdir()
    ds = load_image_folder(tmp_path, size=(8, 8))
    assert ds.class_names == ["cat", "dog"] and ds.input_shape == (1, 8, 8)
    assert np.array_equal(ds.y, [0, 0, 0, 1, 1])
    assert np.allclose(ds.x[:, 0] * 255, np.stack(cats + dogs), atol=1e-3)
    assert ds.name == tmp_path.name
    small = load_dataset(tmp_path, size=(6, 5))
    assert small.x.shape == (5, 1, 6, 5)


def test_image_folder_rgb_and_modes(tmp_path):
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 200
    gray = RNG.integers(0, 256, (4, 4), dtype=np.uint8)
    write_png(tmp_path / "a" / "red.png", red)
    write_png(tmp_path / "b" / "gray.png", gray)
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255  # top half opaque white, bottom half fully transparent
    write_png(tmp_path / "b" / "half.png", rgba)
    ds = load_image_folder(tmp_path, size=4)
    assert ds.input_shape == (3, 4, 4)
    assert np.allclose(ds.x[0, 0], 200 / 255) and np.allclose(ds.x[0, 1:], 0)
    assert np.allclose(ds.x[1] * 255, np.stack([gray] * 3), atol=1e-3)
    assert np.allclose(ds.x[2, :, :2], 1.0) and np.allclose(ds.x[2, :, 2:], 0.0)
    g = load_image_folder(tmp_path, size=4, color="grayscale")
    assert g.input_shape == (1, 4, 4)
    assert 0.2 < g.x[0].mean() < 0.3  # red 200 -> luminance 0.299 * 200
    assert load_image_folder(tmp_path, size=4, color="rgb").input_shape == (3, 4, 4)
    with pytest.raises(ValueError):
        load_image_folder(tmp_path, color="sepia")


def test_image_folder_without_classes(tmp_path):
    with pytest.raises(DataError, match="no class subfolders") as e:
        load_image_folder(tmp_path)
    assert tmp_path.name in str(e.value)
    with pytest.raises(DataError):
        load_dataset(tmp_path)


# --------------------------------------------------------------------------- CSV


def test_csv_kaggle_layout(tmp_path):
    labels = np.array([3, 0, 9, 1])
    pixels = RNG.integers(0, 256, (4, 16))
    pixels[0, 0] = 255
    path = tmp_path / "train.csv"
    write_csv(path, labels, pixels)
    ds = load_csv(path)
    assert ds.input_shape == (1, 4, 4) and ds.name == "train.csv"
    assert np.allclose(ds.x.reshape(4, 16) * 255, pixels, atol=1e-3)
    assert np.array_equal(ds.y, labels) and ds.class_names == [str(i) for i in range(10)]
    assert np.array_equal(load_dataset(path).y, labels)
    ds2 = load_csv(path, image_shape=(2, 8))
    assert ds2.input_shape == (1, 2, 8)


def test_csv_variants(tmp_path):
    pixels = RNG.integers(0, 2, (3, 4)).astype(float)
    path = tmp_path / "noheader.csv"
    write_csv(path, np.array([1, 0, 1]), pixels, header=False)
    ds = load_csv(path)
    assert ds.input_shape == (1, 2, 2) and np.array_equal(ds.y, [1, 0, 1])
    assert np.allclose(ds.x.reshape(3, 4), pixels)  # values in 0..1 are kept
    named = tmp_path / "named.csv"
    named.write_text("p0,p1,p2,p3,kind\n0,10,20,30,dog\n40,50,60,70,cat\n1,2,3,4,dog\n")
    ds = load_csv(named, label_column="kind")
    assert ds.class_names == ["cat", "dog"] and np.array_equal(ds.y, [1, 0, 1])
    assert np.allclose(ds.x[1].ravel() * 255, [40, 50, 60, 70], atol=1e-4)
    by_index = load_csv(named, label_column=4)
    assert np.array_equal(by_index.y, ds.y)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("label,pixel0,pixel1,pixel2,pixel3\n", "no data rows"),
        ("pixel0,pixel1,pixel2,pixel3\n1,2,3,4\n", "no 'label' column"),
        ("label,a,b,c,d\n-1,0,0,0,0\n", "label -1 in data row 1 is negative"),
        ("label,a,b,c,d\n1.5,0,0,0,0\n", "not a whole number"),
        ("label,a,b,c,d\n1,0,0,0,300\n", "go up to 300"),
        ("label,a,b,c,d,e\n1,0,0,0,0,0\n", "cannot infer a square image from 5"),
        ("label,a,b,c,d\n1,0,0,0,0\n2,0,0\n", "not a numeric CSV table"),
        ("label,a,b,c,d\n1,0,x,0,0\n", "not a numeric CSV table"),
    ],
)
def test_csv_refuses_bad_content(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as e:
        load_csv(path)
    assert "bad.csv" in str(e.value)


# --------------------------------------------------------------------------- NPZ


def test_npz_layouts(tmp_path):
    nhwc = RNG.integers(0, 256, (6, 5, 7, 3), dtype=np.uint8)
    y = np.arange(6) % 3
    p = tmp_path / "nhwc.npz"
    np.savez(p, x=nhwc, y=y, class_names=np.array(["a", "b", "c"]))
    ds = load_npz(p)
    assert ds.input_shape == (3, 5, 7) and ds.class_names == ["a", "b", "c"]
    assert np.allclose(ds.x * 255, nhwc.transpose(0, 3, 1, 2), atol=1e-3)
    nchw = RNG.random((4, 1, 6, 6)).astype(np.float32)
    p2 = tmp_path / "nchw.npz"
    np.savez_compressed(p2, images=nchw, labels=np.array([0, 1, 1, 0]))
    ds2 = load_npz(p2)
    assert np.array_equal(ds2.x, nchw) and ds2.class_names == ["0", "1"]
    p3 = tmp_path / "keras.npz"
    nhw = RNG.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    np.savez(p3, x_train=nhw, y_train=np.eye(3, dtype=np.uint8)[[0, 1, 2, 0, 1]], x_test=nhw[:2], y_test=np.array([1, 2]))
    ds3 = load_dataset(p3)
    assert ds3.input_shape == (1, 4, 4) and np.array_equal(ds3.y, [0, 1, 2, 0, 1])
    assert np.allclose(ds3.x[:, 0] * 255, nhw, atol=1e-3)
    assert np.array_equal(load_npz(p3, split="test").y, [1, 2])


def test_npz_refuses_object_arrays(tmp_path):
    p = tmp_path / "pickled.npz"
    objects = np.empty(2, dtype=object)
    objects[:] = [np.zeros((1, 2, 2)), np.ones((1, 2, 2))]
    np.savez(p, x=objects, y=np.array([0, 1]))
    with pytest.raises(DataError, match="pickle") as e:
        load_npz(p)
    assert "pickled.npz" in str(e.value)
    p2 = tmp_path / "names.npz"
    np.savez(p2, x=np.zeros((2, 1, 2, 2)), y=np.array([0, 1]), class_names=np.array(["a", 1], dtype=object))
    with pytest.raises(DataError, match="pickle"):
        load_dataset(p2)


def test_npz_label_out_of_range_and_missing_keys(tmp_path):
    p = tmp_path / "bad.npz"
    np.savez(p, x=np.zeros((3, 1, 2, 2)), y=np.array([0, 1, 5]), class_names=np.array(["a", "b"]))
    with pytest.raises(DataError, match="bad.npz: label 5 of sample 2 is out of range for 2 classes"):
        load_npz(p)
    p2 = tmp_path / "keys.npz"
    np.savez(p2, pictures=np.zeros((3, 1, 2, 2)), y=np.array([0, 1, 1]))
    with pytest.raises(DataError, match=r"keys\.npz: has no image and label arrays .*'pictures'"):
        load_npz(p2)
    p3 = tmp_path / "negative.npz"
    np.savez(p3, x=np.full((2, 1, 2, 2), -0.5), y=np.array([0, 1]))
    with pytest.raises(DataError, match="must not be negative"):
        load_npz(p3)
    p4 = tmp_path / "single.npy"
    np.save(p4, np.zeros(3))
    with pytest.raises(DataError, match=r"single\.npy: holds a single \.npy array"):
        load_npz(p4)


def test_npz_forged_shape_fails_without_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)})
    p = tmp_path / "forged.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.npy", header.getvalue() + bytes(100))
        buf = io.BytesIO()
        np.save(buf, np.zeros(10**9 % 7 + 3, dtype=np.int64))
        zf.writestr("y.npy", buf.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="forged.npz: array 'x' declares shape") as e:
            load_npz(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, str(e.value)


# --------------------------------------------------------------------------- broken files, every format


def _valid_file(fmt: str, folder: Path) -> Path:
    """A valid file of the format; returns the path to break (and to look for in messages)."""
    if fmt == "idx":
        img, _ = write_idx_pair(folder, "train", RNG.integers(0, 256, (6, 4, 4), dtype=np.uint8), np.arange(6), False)
        return img
    if fmt == "idx.gz":
        img, _ = write_idx_pair(folder, "train", RNG.integers(0, 256, (6, 4, 4), dtype=np.uint8), np.arange(6), True)
        return img
    if fmt == "cifar":
        path = folder / "data_batch_1.bin"
        path.write_bytes(cifar_bytes(RNG.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8), np.array([1, 2])))
        return path
    if fmt == "csv":
        path = folder / "digits.csv"
        write_csv(path, np.arange(5), RNG.integers(0, 256, (5, 16)))
        return path
    if fmt == "npz":
        path = folder / "set.npz"
        np.savez_compressed(path, x=RNG.integers(0, 256, (20, 1, 8, 8), dtype=np.uint8), y=np.arange(20) % 4)
        return path
    if fmt == "png":
        write_png(folder / "data" / "one" / "ok.png", RNG.integers(0, 256, (20, 20, 3), dtype=np.uint8))
        path = folder / "data" / "two" / "broken.png"
        write_png(path, RNG.integers(0, 256, (20, 20, 3), dtype=np.uint8))
        return path
    raise AssertionError(fmt)


def _break(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2] if path.suffix in (".gz", ".npz", ".png") else data[:-7])
    elif how == "wrong-magic":
        if path.name.startswith("train-images"):  # an IDX label file in place of the images
            raw = idx_labels_bytes(np.arange(6))
            path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
        elif path.suffix == ".bin":  # a label byte no CIFAR-10 batch has
            path.write_bytes(b"\xff" + data[1:])
        elif path.suffix == ".csv":  # a zip archive named .csv
            path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
        elif path.suffix == ".npz":  # a gzip stream named .npz
            path.write_bytes(gzip.compress(data))
        else:  # text named .png
            path.write_text("this is not a picture\n")
    elif how == "random":
        path.write_bytes(np.random.default_rng(99).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    else:
        raise AssertionError(how)


_LOADERS = {
    "idx": lambda p: load_idx(p, Path(str(p).replace("images-idx3", "labels-idx1"))),
    "idx.gz": lambda p: load_idx(p, Path(str(p).replace("images-idx3", "labels-idx1"))),
    "cifar": load_cifar10,
    "csv": load_csv,
    "npz": load_npz,
    "png": lambda p: load_image_folder(p.parent.parent, size=(8, 8)),
}


@pytest.mark.parametrize("how", ["empty", "truncated", "wrong-magic", "random"])
@pytest.mark.parametrize("fmt", list(_LOADERS))
def test_broken_files_raise_data_error_naming_the_file(tmp_path, fmt, how):
    path = _valid_file(fmt, tmp_path)
    _LOADERS[fmt](path)  # the intact file loads
    _break(path, how)
    with pytest.raises(DataError) as e:
        _LOADERS[fmt](path)
    assert path.name in str(e.value)
    with pytest.raises(DataError) as e:
        load_dataset(path.parent.parent if fmt == "png" else path)
    assert path.name in str(e.value)


# --------------------------------------------------------------------------- load_dataset dispatch


def test_load_dataset_unknown_inputs(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="nothing-here: no such file or folder, and not a data set name"):
        load_dataset(tmp_path / "nothing-here")
    junk = tmp_path / "blob.dat"
    junk.write_bytes(b"\x01\x02\x03\x04 some bytes")
    with pytest.raises(DataError, match="blob.dat: unrecognised data file"):
        load_dataset(junk)
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="folder: the folder holds no recognised data set"):
        load_dataset(tmp_path / "folder")
    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="mnist: not downloaded yet"):
        load_dataset("mnist")
    assert load_dataset("shapes", n=10, seed=1).x.shape == (10, 1, 28, 28)


# --------------------------------------------------------------------------- fuzzing

_FUZZ_NAMES = ["train-images-idx3-ubyte", "x.gz", "data_batch_1.bin", "f.csv", "f.npz", "blob"]


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(_FUZZ_NAMES),
    data=st.binary(max_size=400),
    prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x1f\x8b\x08\x00", b"\x00\x00\x08\x03", b"label,a\n"]),
)
def test_arbitrary_bytes_give_a_dataset_or_a_data_error(tmp_path_factory, name, data, prefix):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(prefix + data)
    try:
        ds = load_dataset(path)
    except DataError as exc:
        assert name in str(exc)
    else:
        assert ds.x.dtype == np.float32 and ds.x.ndim == 4 and len(ds.x) == len(ds.y)
