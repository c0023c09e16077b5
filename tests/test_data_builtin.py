"""Built-in data (digits, shapes) and the Dataset / split / normalisation / augmentation helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from guicnn.core.data import (
    DEFAULT_SHAPE_CLASSES,
    SHAPE_CLASSES,
    DataError,
    Dataset,
    Normalization,
    augment_batch,
    load_dataset,
    load_digits,
    make_shapes,
    train_val_split,
)
from guicnn.core.errors import ShapeError

# --------------------------------------------------------------------------- digits


def test_digits_is_the_uci_set():
    ds = load_digits()
    assert len(ds) == 1797
    assert ds.input_shape == (1, 8, 8)
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.class_names == [str(i) for i in range(10)]
    counts = ds.class_counts()
    assert counts.sum() == 1797 and counts.min() >= 170 and counts.max() <= 190
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0
    # the raw values are 0..16, so every pixel is a multiple of 1/16
    assert np.allclose(ds.x * 16, np.round(ds.x * 16), atol=1e-5)
    assert ds.name == "digits" and ds.source == "built-in"


def test_digits_first_image_is_a_zero():
    # The first sample of the UCI/sklearn digits is a 0 whose centre column is empty.
    ds = load_digits()
    assert ds.y[0] == 0 and ds.y[1] == 1
    first = ds.x[0, 0]
    assert first[3:5, 3:5].max() < 0.1 < first[:, 2].max()


def test_digits_via_load_dataset_returns_fresh_arrays():
    a = load_dataset("digits")
    a.x[:] = 0
    b = load_dataset("Digits")
    assert b.x.max() == 1.0


# --------------------------------------------------------------------------- shapes


def test_shapes_basic_properties():
    ds = make_shapes(3000)
    assert ds.x.shape == (3000, 1, 28, 28) and ds.x.dtype == np.float32
    assert ds.y.shape == (3000,) and ds.y.dtype == np.int64
    assert ds.class_names == list(DEFAULT_SHAPE_CLASSES)
    assert np.array_equal(ds.class_counts(), [600] * 5)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0
    # every picture holds a shape: some bright pixels well above the noise
    assert (ds.x.reshape(3000, -1).max(axis=1) > 0.6).all()


def test_shapes_deterministic_per_seed():
    a = make_shapes(200, seed=3)
    b = make_shapes(200, seed=3)
    c = make_shapes(200, seed=4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_shapes_balanced_with_remainder_and_custom_classes():
    ds = make_shapes(101, seed=1, classes=["line", "ring", "star"])
    assert ds.class_names == ["line", "ring", "star"]
    counts = ds.class_counts()
    assert counts.sum() == 101 and counts.max() - counts.min() <= 1
    all_classes = make_shapes(10 * len(SHAPE_CLASSES), classes=SHAPE_CLASSES)
    assert np.array_equal(all_classes.class_counts(), [10] * len(SHAPE_CLASSES))


def test_shapes_classes_differ_in_ink():
    # Filled shapes carry far more ink than strokes; the line the least.
    ds = make_shapes(1000, seed=0, noise=0.0)
    ink = ds.x.reshape(len(ds), -1).sum(axis=1)
    mean_ink = {name: ink[ds.y == i].mean() for i, name in enumerate(ds.class_names)}
    assert mean_ink["circle"] > mean_ink["cross"] > mean_ink["line"]
    assert mean_ink["square"] > mean_ink["triangle"] > mean_ink["line"]


def test_shapes_other_size_and_bad_arguments():
    ds = make_shapes(20, size=40, seed=2)
    assert ds.input_shape == (1, 40, 40)
    with pytest.raises(ValueError, match="unknown shape"):
        make_shapes(10, classes=["circle", "hexagon"])
    with pytest.raises(ValueError):
        make_shapes(0)


def test_shapes_generation_is_fast():
    make_shapes(100)  # warm-up
    start = time.perf_counter()
    make_shapes(3000)
    assert time.perf_counter() - start < 1.0


# --------------------------------------------------------------------------- Dataset


def _toy(n=20, classes=4):
    rng = np.random.default_rng(0)
    return Dataset(
        x=rng.random((n, 1, 3, 3), dtype=np.float32),
        y=np.arange(n) % classes,
        class_names=[f"c{i}" for i in range(classes)],
        name="toy",
    )


def test_dataset_info_subset_and_dtypes():
    ds = _toy()
    assert ds.y.dtype == np.int64 and len(ds) == 20 and ds.num_classes == 4
    info = ds.info()
    assert json.loads(json.dumps(info)) == info
    assert info["input_shape"] == [1, 3, 3] and info["num_samples"] == 20
    sub = ds.subset([3, 5, 7])
    assert len(sub) == 3 and np.array_equal(sub.y, [3, 1, 3]) and np.array_equal(sub.x[1], ds.x[5])
    assert len(ds.subset(ds.y == 0)) == 5
    assert len(ds.subset([])) == 0
    assert "toy" in repr(ds) and "array" not in repr(ds)


def test_dataset_validates_labels_and_shapes():
    with pytest.raises(DataError, match="label 4 is out of range"):
        Dataset(np.zeros((2, 1, 2, 2)), np.array([0, 4]), ["a", "b"], "bad")
    with pytest.raises(DataError, match="2 images but 3 labels"):
        Dataset(np.zeros((2, 1, 2, 2)), np.array([0, 1, 1]), ["a", "b"], "bad")
    with pytest.raises(DataError, match="NCHW"):
        Dataset(np.zeros((2, 2, 2)), np.array([0, 1]), ["a", "b"], "bad")


# --------------------------------------------------------------------------- split


def test_split_deterministic_disjoint_complete_stratified():
    ds = load_digits()
    tr1, va1 = train_val_split(ds, 0.2, seed=5)
    tr2, va2 = train_val_split(ds, 0.2, seed=5)
    assert np.array_equal(tr1.x, tr2.x) and np.array_equal(va1.y, va2.y)
    assert len(va1) == round(1797 * 0.2) and len(tr1) + len(va1) == 1797
    # disjoint and covering: identify samples by their pixel bytes plus label
    keys = lambda d: {(row.tobytes(), int(lab)) for row, lab in zip(d.x, d.y)}  # noqa: E731
    k_tr, k_va, k_all = keys(tr1), keys(va1), keys(ds)
    assert not (k_tr & k_va) and (k_tr | k_va) == k_all
    # stratified: each class's validation share is within one sample of 20 %
    counts, val_counts = ds.class_counts(), va1.class_counts()
    assert (np.abs(val_counts - counts * 0.2) <= 1).all()
    _, va3 = train_val_split(ds, 0.2, seed=6)
    assert not np.array_equal(va1.y, va3.y) or not np.array_equal(va1.x, va3.x)


def test_split_unstratified_and_edge_cases():
    ds = _toy(n=50, classes=5)
    tr, va = train_val_split(ds, 0.3, seed=0, stratify=False)
    assert len(va) == 15 and len(tr) == 35
    tr, va = train_val_split(ds, 0.0)
    assert len(va) == 0 and len(tr) == 50
    tiny = _toy(n=3, classes=3)
    tr, va = train_val_split(tiny, 0.1)
    assert len(va) == 1 and len(tr) == 2
    with pytest.raises(ValueError):
        train_val_split(ds, 1.0)


# --------------------------------------------------------------------------- normalisation


def test_normalization_fit_apply_roundtrip():
    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.normal(0.3, 0.1, (100, 1, 4, 4)), rng.normal(0.7, 0.2, (100, 1, 4, 4))], axis=1
    ).astype(np.float32)
    norm = Normalization.fit(x, chunk=7)
    assert np.allclose(norm.mean, x.mean(axis=(0, 2, 3)), atol=1e-6)
    assert np.allclose(norm.std, x.std(axis=(0, 2, 3)), atol=1e-6)
    z = norm.apply(x)
    assert z.dtype == np.float32
    assert np.allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-4) and np.allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-3)
    again = Normalization.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm
    assert np.allclose(again.invert(again.apply(x)), x, atol=1e-5)
    assert again.apply(x[0]).shape == (2, 4, 4)  # one CHW image
    with pytest.raises(ShapeError):
        norm.apply(np.zeros((1, 3, 4, 4), np.float32))


def test_normalization_constant_channel_does_not_divide_by_zero():
    norm = Normalization.fit(np.full((5, 1, 2, 2), 0.5, np.float32))
    assert norm.std == [1.0] and norm.mean == [0.5]
    with pytest.raises(ValueError):
        Normalization(mean=[0.0], std=[0.0])


# --------------------------------------------------------------------------- augmentation


def test_augment_shapes_dtype_and_no_mutation():
    x = make_shapes(64, seed=0).x
    before = x.copy()
    out = augment_batch(x, np.random.default_rng(0), shift=3, flip=True)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(x, before)
    assert not np.array_equal(out, x)
    assert np.array_equal(out, augment_batch(x, np.random.default_rng(0), shift=3, flip=True))


def _shifted(img, dy, dx):
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_augment_shift_zero_fills():
    rng = np.random.default_rng(2)
    x = rng.random((40, 2, 6, 7), dtype=np.float32) + 1.0  # no zeros in the input
    out = augment_batch(x, np.random.default_rng(3), shift=2)
    offsets = set()
    for img, res in zip(x, out):
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if np.array_equal(_shifted(img, dy, dx), res)]
        assert len(matches) == 1
        offsets.add(matches[0])
        dy, dx = matches[0]
        # exactly the uncovered border is zero
        assert (res == 0).sum() == 2 * (6 * 7 - (6 - abs(dy)) * (7 - abs(dx)))
    assert len(offsets) > 5  # offsets really vary


def test_augment_flip_really_flips():
    rng = np.random.default_rng(4)
    x = rng.random((60, 1, 5, 5), dtype=np.float32)
    out = augment_batch(x, np.random.default_rng(5), shift=0, flip=True)
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)]
    same = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same))
    assert 10 < sum(flipped) < 50
    assert np.array_equal(augment_batch(x, 0, shift=0, flip=False), x)


def test_core_data_does_not_import_qt():
    import guicnn

    root = str(Path(guicnn.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    code = "import sys, guicnn.core.data; print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == "[]"
