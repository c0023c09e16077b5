"""One image reader for everything; image folders keep their size; a data set's own test part."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from guicnn import cli
from guicnn.core.data import DataError, load_dataset, load_image_folder
from guicnn.core.data.auto import SHAPES_TEST_SEED
from guicnn.core.data.images import MAX_IMAGE_PIXELS, luma, read_header, read_image
from guicnn.core.data.loaders import ImageSizeError


def _save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _folder(root: Path, sizes: dict[str, tuple[int, int]], per_class: int = 3, color: bool = False) -> Path:
    for c, (h, w) in sizes.items():
        for i in range(per_class):
            shape = (h, w, 3) if color else (h, w)
            _save(root / c / f"{i}.png", _noise(shape, seed=sum(map(ord, c)) * 100 + i))
    return root


# ---- one reader ----------------------------------------------------------------------------

def test_the_cli_and_the_folder_loader_read_a_file_identically(tmp_path):
    rgba = _noise((37, 23, 4), seed=1)
    rgba[..., 3] = np.where(np.arange(23)[None, :] < 10, 0, 255)  # left part transparent
    path = _save(tmp_path / "set" / "a" / "one.png", rgba, "RGBA")
    _save(tmp_path / "set" / "b" / "two.png", _noise((37, 23, 4), seed=2), "RGBA")
    for channels in (1, 3):
        folder = load_image_folder(tmp_path / "set", size=(12, 9), color="grayscale" if channels == 1 else "rgb")
        through_cli = cli.load_image(path, (channels, 12, 9))
        through_core = read_image(path, size=(12, 9), channels=channels)
        np.testing.assert_array_equal(through_cli, through_core)
        np.testing.assert_array_equal(folder.x[0], through_core)


def test_transparent_parts_become_black_and_gray_is_pillows_luma(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, 2:, 3] = 255  # right half opaque white, left half transparent white
    x = read_image(_save(tmp_path / "t.png", rgba, "RGBA"), channels=1)
    assert x.shape == (1, 4, 4)
    np.testing.assert_array_equal(x[0, :, :2], 0.0)
    np.testing.assert_array_equal(x[0, :, 2:], 1.0)
    colour = _noise((5, 6, 3), seed=4)
    assert np.array_equal(luma(colour), np.asarray(Image.fromarray(colour).convert("L")))


def test_sixteen_bit_images_keep_their_high_byte(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((3, 3), 0x8000, np.uint16)).save(path)
    x = read_image(path)
    assert x.shape == (1, 3, 3) and np.allclose(x, 0x80 / 255)


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [7_000, 100_000])  # above guicnn's limit; above Pillow's own bomb limit
def test_decompression_bombs_are_refused_from_the_header(tmp_path, side):
    path = _png_header_only(tmp_path / "bomb.png", side, side)
    with pytest.raises(DataError, match=r"bomb.png: .*at most 40,000,000 pixels"):
        read_image(path)
    assert side * side > MAX_IMAGE_PIXELS


def test_a_missing_or_broken_image_names_the_file(tmp_path):
    with pytest.raises(DataError, match="gone.png: no such image file"):
        read_image(tmp_path / "gone.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(DataError, match="text.png: is not an image"):
        read_image(tmp_path / "text.png")
    assert read_header(_save(tmp_path / "ok.png", _noise((5, 7)))).size == (5, 7)


# ---- image folders keep their size ---------------------------------------------------------

def test_a_folder_keeps_the_images_own_size_when_they_agree(tmp_path):
    ds = load_dataset(str(_folder(tmp_path / "small", {"a": (8, 8), "b": (8, 8)})))
    assert ds.input_shape == (1, 8, 8) and ds.notes == [] and ds.class_names == ["a", "b"]


def test_different_sizes_are_listed_and_a_size_is_asked_for(tmp_path):
    root = _folder(tmp_path / "mixed", {"a": (8, 8), "b": (16, 12)}, per_class=2)
    _save(root / "a" / "big.png", _noise((16, 12)))
    with pytest.raises(ImageSizeError) as error:
        load_image_folder(root)
    assert error.value.sizes == {(16, 12): 3, (8, 8): 2}
    assert str(error.value) == ("mixed: the images have 2 different sizes: 16x12 (3 images, e.g. a/big.png), "
                                "8x8 (2 images, e.g. a/0.png); choose one size (height x width) to resize them all to")
    ds = load_image_folder(root, size=(10, 10))
    assert ds.input_shape == (1, 10, 10) and ds.notes == ["resized 5 of 5 images from 8x8, 16x12 to 10x10"]


def test_a_design_decides_the_size_unless_one_is_asked_for(tmp_path):
    root = str(_folder(tmp_path / "big", {"a": (28, 28), "b": (28, 28)}))
    ds = load_dataset(root, design_shape=(1, 8, 8))
    assert ds.input_shape == (1, 8, 8) and ds.notes == ["resized 6 of 6 images from 28x28 to 8x8"]
    assert load_dataset(root, design_shape=(1, 8, 8), image_size=(14, 14)).input_shape == (1, 14, 14)
    assert load_dataset(root, design_shape=[64]).input_shape == (1, 28, 28)  # a flat design has no image size


def test_the_design_channels_decide_when_gray_and_colour_images_are_mixed(tmp_path):
    root = tmp_path / "mixed"
    _folder(root, {"gray": (6, 6)})
    _folder(root, {"colour": (6, 6)}, color=True)
    assert load_dataset(str(root)).input_shape == (3, 6, 6)
    gray = load_dataset(str(root), design_shape=(1, 6, 6))
    assert gray.input_shape == (1, 6, 6) and "read as gray for the design's 1 input channel" in gray.notes[0]
    assert load_dataset(str(root), design_shape=(3, 6, 6)).input_shape == (3, 6, 6)
    only_gray = _folder(tmp_path / "gray", {"a": (6, 6), "b": (6, 6)})
    assert load_dataset(str(only_gray)).input_shape == (1, 6, 6)
    rgb = load_dataset(str(only_gray), design_shape=(3, 6, 6))  # gray copied into R, G and B
    assert rgb.input_shape == (3, 6, 6) and np.array_equal(rgb.x[:, 0], rgb.x[:, 2])


def test_other_data_refuse_a_size_not_their_own(tmp_path):
    with pytest.raises(DataError, match="digits: its images are 8x8; only image folders are resized"):
        load_dataset("digits", image_size=(28, 28))
    assert load_dataset("digits", image_size=(8, 8)).input_shape == (1, 8, 8)


def test_folder_names_that_are_not_utf8_become_readable_class_names(tmp_path):
    root = tmp_path / "names"
    bad = os.fsdecode(b"caf\xe9")
    _folder(root, {bad: (4, 4), "tea": (4, 4)})
    ds = load_dataset(str(root))
    assert ds.class_names == ["caf\\xe9", "tea"]
    "".join(ds.class_names).encode("utf-8")  # printable and storable in a model file


# ---- a data set's own test part ------------------------------------------------------------

def test_an_image_folder_with_a_test_subfolder(tmp_path):
    root = tmp_path / "set"
    _folder(root, {"cat": (5, 5), "dog": (5, 5), "owl": (5, 5)}, per_class=2)
    _folder(root / "test", {"dog": (5, 5), "owl": (5, 5)}, per_class=4)
    train = load_dataset(str(root))
    assert train.class_names == ["cat", "dog", "owl"] and len(train) == 6  # test/ is no class
    test = load_dataset(str(root), split="test")
    # the classes (and so the label numbers) are the training part's, though test/ has no cats
    assert test.class_names == ["cat", "dog", "owl"] and len(test) == 8
    assert np.array_equal(np.bincount(test.y, minlength=3), [0, 4, 4])
    _folder(root / "test", {"emu": (5, 5)}, per_class=1)
    with pytest.raises(DataError, match="class folder\\(s\\) emu of the test part are not among the classes cat"):
        load_dataset(str(root), split="test")


def test_train_and_test_subfolders(tmp_path):
    root = tmp_path / "split"
    _folder(root / "train", {"a": (4, 4), "b": (4, 4)}, per_class=3)
    _folder(root / "test", {"a": (4, 4), "b": (4, 4)}, per_class=1)
    assert len(load_dataset(str(root))) == 6 and len(load_dataset(str(root), split="test")) == 2
    with pytest.raises(DataError, match="has no test part: expected a test/ subfolder"):
        load_dataset(str(_folder(tmp_path / "plain", {"a": (4, 4), "b": (4, 4)})), split="test")


def _idx(path: Path, magic: int, array: np.ndarray) -> None:
    dims = b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(struct.pack(">I", magic) + dims + array.astype(np.uint8).tobytes())


def test_an_idx_folder_and_a_cifar_folder_have_test_parts(tmp_path):
    idx = tmp_path / "idx"
    idx.mkdir()
    for prefix, n, label in (("train", 6, 1), ("t10k", 4, 2)):
        _idx(idx / f"{prefix}-images-idx3-ubyte", 2051, np.zeros((n, 5, 5)))
        _idx(idx / f"{prefix}-labels-idx1-ubyte", 2049, np.array([0] * (n - 1) + [label]))
    assert len(load_dataset(str(idx))) == 6
    test = load_dataset(str(idx), split="test")
    assert len(test) == 4 and test.y.max() == 2
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    for name, n in (("data_batch_1.bin", 3), ("test_batch.bin", 2)):
        records = np.zeros((n, 3073), np.uint8)
        records[:, 0] = 7
        (cifar / name).write_bytes(records.tobytes())
    assert len(load_dataset(str(cifar))) == 3 and len(load_dataset(str(cifar), split="test")) == 2


def test_named_sets_test_parts():
    test = load_dataset("shapes", split="test", n=50)
    train = load_dataset("shapes", n=50)
    assert test.input_shape == train.input_shape and not np.array_equal(test.x, train.x)
    assert np.array_equal(test.x, load_dataset("shapes", n=50, seed=SHAPES_TEST_SEED).x)
    with pytest.raises(DataError, match="digits: the built-in digits are one set of 1,797 images with no separate "
                                        "test part"):
        load_dataset("digits", split="test")
