"""Hostile files, generated here: small files that declare huge contents, broken model files,
deep JSON. Each is refused with one message naming the file, before the memory is taken."""

from __future__ import annotations

import gzip
import json
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from guicnn.core import ConfigError, ModelFileError
from guicnn.core.data import DataError, load_dataset
from guicnn.core.designfile import load_design
from guicnn.core.modelfile import is_model_file, load_model, read_metadata, save_model
from guicnn.core.training import Trainer, TrainSettings

MB = 1024 * 1024
CHUNK = 4 * MB


class Peak:
    """Largest Python allocation (tracemalloc) inside the block, in bytes."""

    def __enter__(self) -> Peak:
        tracemalloc.start()
        return self

    def __exit__(self, *exc) -> None:
        _, self.bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()


def refused(exception, match: str, call, limit: int = 8 * MB):
    """``call()`` raises ``exception`` matching ``match`` while allocating less than ``limit``."""
    with Peak() as peak, pytest.raises(exception, match=match) as error:
        call()
    assert peak.bytes < limit, f"{peak.bytes:,} bytes allocated before refusing"
    return str(error.value)


# ---- CSV and NPZ labels: class counts -----------------------------------------------------

def test_one_csv_label_of_a_billion_does_not_build_a_billion_class_names(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("label,p0,p1,p2,p3\n0,0,1,2,3\n1000000000,4,5,6,7\n")
    assert path.stat().st_size < 60
    message = refused(DataError, "labels.csv: label 1,000,000,000 would make 1,000,000,001 classes",
                      lambda: load_dataset(path))
    assert "at most 100,000 classes" in message and "(data row 2)" in message


def test_a_csv_label_of_1e30_is_named_as_written(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("label,p0,p1,p2,p3\n1e30,0,1,2,3\n0,1,1,1,1\n")
    message = refused(DataError, r"huge.csv: label 1e\+30 would make 1e\+30 classes", lambda: load_dataset(path))
    assert "-9223372036854775808" not in message


def test_an_npz_label_of_1e12(tmp_path):
    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((2, 2, 2), np.uint8), y=np.array([0, 10**12]))
    refused(DataError, "labels.npz: label 1,000,000,000,000 would make 1,000,000,000,001 classes",
            lambda: load_dataset(path))


# ---- compressed arrays that inflate to gigabytes ------------------------------------------

def _gz_idx_of_zeros(path: Path, count: int, side: int) -> Path:
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(struct.pack(">IIII", 2051, count, side, side))
        left = count * side * side
        zeros = bytes(CHUNK)
        while left:
            out.write(zeros[:min(left, CHUNK)])
            left -= min(left, CHUNK)
    return path


def test_a_small_gz_idx_of_a_million_blank_images_is_not_inflated(tmp_path):
    images = _gz_idx_of_zeros(tmp_path / "train-images-idx3-ubyte.gz", 1_200_000, 8)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">II", 2049, 1_200_000)))
    assert images.stat().st_size < 200_000
    message = refused(DataError, "train-images-idx3-ubyte.gz: the header declares 1,200,000 images of 8x8: "
                                 r"73.2 MB compressed into", lambda: load_dataset(images))
    assert "only nearly constant data compresses better than 200:1" in message


def test_idx_data_over_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "1M")
    rng = np.random.default_rng(0)
    raw = struct.pack(">IIII", 2051, 20_000, 8, 8) + rng.integers(0, 256, 20_000 * 64, dtype=np.uint8).tobytes()
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(raw, compresslevel=1))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">II", 2049, 20_000)))
    refused(DataError, r"train-images-idx3-ubyte.gz: 20,000 images of 8x8 would need 6.1 MB of memory, more "
                       r"than the limit of 1.0 MB \(set by GUICNN_MEMORY_BUDGET", lambda: load_dataset(images))


def _npz_of_zeros(path: Path, shape: tuple[int, ...], dtype: str = "|u1") -> Path:
    """An NPZ whose x member is all zeros, written in chunks (the test never holds the array)."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    npy_header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            member.write(npy_header)
            left = int(np.prod(shape)) * np.dtype(dtype).itemsize
            zeros = bytes(CHUNK)
            while left:
                member.write(zeros[:min(left, CHUNK)])
                left -= min(left, CHUNK)
        with archive.open("y.npy", "w") as member:
            np.lib.format.write_array(member, np.zeros(shape[0], np.uint8))
    return path


def test_a_small_npz_holding_a_huge_zero_array_is_refused_from_its_header(tmp_path):
    path = _npz_of_zeros(tmp_path / "zeros.npz", (120_000, 28, 28))
    assert path.stat().st_size < 1 * MB
    refused(DataError, r"zeros.npz: array 'x' declares shape \(120000, 28, 28\) of uint8: 89.7 MB compressed into",
            lambda: load_dataset(path))


def test_npz_over_the_memory_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "2M")
    path = tmp_path / "noise.npz"
    np.savez(path, x=np.random.default_rng(1).integers(0, 255, (2000, 1, 16, 16), dtype=np.uint8),
             y=np.arange(2000) % 2)
    refused(DataError, r"noise.npz: array 'x' of shape \(2000, 1, 16, 16\) \(uint8\) would need 2.4 MB of memory",
            lambda: load_dataset(path))


def test_an_image_folder_over_the_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "set" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((300, 300), np.uint8)).save(tmp_path / "set" / c / f"{i}.png")
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "1M")
    refused(DataError, r"set: 6 images of 300x300 would need 7.7 MB of memory, more than the limit of 1.0 MB",
            lambda: load_dataset(str(tmp_path / "set")))


# ---- model files ---------------------------------------------------------------------------

MINI = {"name": "mini", "input_shape": [1, 4, 4], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 2}]}


def _model_file(path: Path, tensors: dict, **metadata) -> Path:
    meta = {"format": "guicnn/1", "architecture": json.dumps(MINI)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    save_file(tensors, str(path), metadata=meta)
    return path


def _good_tensors(dtype=np.float32) -> dict:
    return {"1.weight": np.ones((2, 16), dtype), "1.bias": np.zeros(2, dtype)}


def test_a_tiny_model_file_with_a_huge_design_is_refused_before_building_it(tmp_path):
    huge = {"input_shape": [1, 1000, 1000], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 200}]}
    path = _model_file(tmp_path / "tiny.safetensors", _good_tensors(), architecture=huge)
    assert path.stat().st_size < 12_000
    refused(ModelFileError, r"tiny.safetensors: the weights do not fit the architecture: 1.weight is stored with "
                            r"shape \(2, 16\), the design needs \(200, 1000000\)", lambda: load_model(path))


def test_a_model_file_whose_design_exceeds_the_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_MEMORY_BUDGET", "1M")
    huge = {"input_shape": [1, 100, 100], "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 100}]}
    path = _model_file(tmp_path / "big.safetensors", _good_tensors(), architecture=huge)
    refused(ModelFileError, r"big.safetensors: the saved design's 1,000,100 weights would need 3.8 MB of memory",
            lambda: load_model(path))


@pytest.mark.parametrize("value, words", [
    (np.nan, "1.weight holds 1 NaN value\\(s\\) of 32"),
    (np.inf, "1.weight holds 1 infinite value\\(s\\) of 32"),
])
def test_weights_with_nan_or_infinity_are_refused(tmp_path, value, words):
    tensors = _good_tensors()
    tensors["1.weight"][1, 3] = value
    path = _model_file(tmp_path / "broken.safetensors", tensors)
    refused(ModelFileError, f"broken.safetensors: {words}; the weights are broken", lambda: load_model(path))


def test_integer_weights_are_refused(tmp_path):
    path = _model_file(tmp_path / "ints.safetensors", _good_tensors(np.int64))
    refused(ModelFileError, r"ints.safetensors: 1.weight is stored as I64; weights must be floating point",
            lambda: load_model(path))
    assert load_model(_model_file(tmp_path / "ok.safetensors", _good_tensors())).model.parameter_count() == 34


@pytest.mark.parametrize("key, value, words", [
    ("dataset", {"class_names": {"0": "cat"}}, "the data set's class_names must be a list of names, got an object"),
    ("history", {"epoch": [1, 2], "val_accuracy": ["high", "low"]}, "the history's 'val_accuracy' holds 'high'"),
    ("history", {"epoch": [1, 2], "train_loss": [0.5]}, "the history's lists have different lengths"),
    ("training", {"epoch": "three"}, "the saved training 'epoch' must be a whole number, got 'three'"),
    ("training", {"settings": {"batch_size": -4}}, "the saved training settings are invalid"),
    ("dataset", {"normalization": {"mean": [0.1], "std": [0]}}, "the saved normalisation is invalid"),
    ("dataset", {"input_shape": "28x28"}, "the data set's input_shape must be"),
    ("architecture", "[" * 100_000 + "]" * 100_000, "the architecture metadata is nested too deeply"),
])
def test_broken_metadata_names_the_file_and_the_field(tmp_path, key, value, words):
    path = _model_file(tmp_path / "meta.safetensors", _good_tensors(), **{key: value})
    with pytest.raises(ModelFileError) as error:
        load_model(path)
    assert str(error.value).startswith("meta.safetensors: ") and words in str(error.value)
    with pytest.raises(ModelFileError):
        read_metadata(path)


def test_is_model_file_decides_by_content(tmp_path):
    model = Trainer.from_config(MINI, TrainSettings()).model
    saved = tmp_path / "renamed.json"
    save_model(saved, model)
    design = tmp_path / "design.safetensors"
    design.write_text(json.dumps(MINI))
    damaged = tmp_path / "cut.safetensors"
    damaged.write_bytes(saved.read_bytes()[:5])
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert is_model_file(saved) and not is_model_file(design)
    assert is_model_file(damaged)  # so that opening it says what is wrong with it
    assert not is_model_file(other) and not is_model_file(tmp_path / "missing.safetensors")


# ---- design files --------------------------------------------------------------------------

def test_json_nested_100000_deep(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"input_shape": [1, 8, 8], "layers": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="deep.json: the JSON is nested too deeply to be a design"):
        load_design(path)
