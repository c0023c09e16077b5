"""Epoch time machine: one compact snapshot per epoch, bounded memory, saved in the model file."""

from __future__ import annotations

import base64
import json
import re
import zlib

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from test_training import TINY, blobs, settings

from guicnn.core import ModelFileError, Sequential
from guicnn.core.modelfile import load_model, save_model
from guicnn.core.snapshots import (
    MAP_CHANNELS,
    MAP_SIDE,
    MAX_BYTES,
    MAX_SNAPSHOTS,
    EpochSnapshot,
    SnapshotHistory,
    _map_shape,
    shrink_map,
    take_snapshot,
)
from guicnn.core.training import EpochReport, Trainer


def small(epoch: int, size: int = 10) -> EpochSnapshot:
    return EpochSnapshot(epoch=epoch, step=10 * epoch, feature_maps=(np.full(size, epoch, np.float16),), filters={},
                         confusion=None)


# ---- bounded memory ------------------------------------------------------------------------

def test_thinning_keeps_at_most_the_limit_evenly_spaced_with_first_and_last():
    history = SnapshotHistory()
    for epoch in range(1, 1001):
        history.add(small(epoch))
        assert len(history) <= MAX_SNAPSHOTS
    epochs = history.epochs
    assert epochs[0] == 1 and epochs[-1] == 1000
    gaps = np.diff(epochs[:-1])
    assert len(set(gaps.tolist())) == 1  # evenly spaced (the latest epoch is kept besides)
    assert gaps[0] == history.stride and 0 < epochs[-1] - epochs[-2] <= history.stride
    assert len(history) > MAX_SNAPSHOTS // 2  # thinning by halves never leaves fewer than half
    # each kept snapshot is the one of its epoch
    assert all(int(s.feature_maps[0][0]) == s.epoch for s in history if s.epoch < 2048)


def test_the_byte_budget_bounds_how_many_large_snapshots_are_kept():
    history = SnapshotHistory(max_bytes=100_000)
    for epoch in range(1, 301):
        history.add(small(epoch, size=5_000))  # 10 KB each
        assert history.nbytes <= 100_000
    assert 5 <= len(history) <= 10
    assert history.epochs[0] == 1 and history.epochs[-1] == 300


def test_a_repeated_epoch_replaces_the_later_snapshots():
    history = SnapshotHistory()
    for epoch in (1, 2, 3):
        history.add(small(epoch))
    history.add(small(2))
    assert history.epochs == [1, 2]
    assert history.at_epoch(5).epoch == 2 and history.at_epoch(1).epoch == 1 and history.at_epoch(0) is None


def test_shrink_map_block_averages_and_caps_channels():
    maps = np.arange(40 * 28 * 28, dtype=np.float32).reshape(40, 28, 28)
    shrunk = shrink_map(maps)
    assert shrunk.dtype == np.float16 and shrunk.shape == (MAP_CHANNELS, 14, 14)
    np.testing.assert_allclose(shrunk[3, 2, 5], maps[3, 4:6, 10:12].mean(), rtol=1e-3)
    small_maps = np.random.default_rng(0).random((4, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(shrink_map(small_maps), small_maps.astype(np.float16))
    odd = shrink_map(np.ones((2, 33, 17), np.float32))  # 33 needs a factor of 3, the edge repeats
    assert odd.shape == (2, 11, 6) and np.all(odd == 1)
    assert shrink_map(np.arange(1000, dtype=np.float32)).shape == (256,)
    for shape in [(3, 5, 5), (64, 224, 224), (8, 16, 17), (1, 1, 100), (10,), (4000,)]:
        assert shrink_map(np.zeros(shape, np.float32)).shape == _map_shape(shape)
        assert max(_map_shape(shape)[1:] or (0,)) <= MAP_SIDE


# ---- training records them -----------------------------------------------------------------

def test_training_keeps_a_snapshot_per_epoch_with_that_epochs_filters_maps_and_confusion():
    data = blobs()
    trainer = Trainer.from_config(TINY, settings(epochs=3))
    seen = {}
    for report in trainer.fit_iter(data):
        if isinstance(report, EpochReport):
            model = trainer.model
            x = trainer.normalization.apply(trainer.snapshots.probe[None])
            maps = model.feature_maps(x)
            seen[report.epoch] = (model.layers[0].params["weight"].copy(), report.confusion.copy(), maps,
                                  report.val_accuracy, report.health)
    assert trainer.snapshots.epochs == [1, 2, 3]
    _, val = trainer.split_data(data)
    np.testing.assert_array_equal(trainer.snapshots.probe, val.x[0])  # the first validation image
    for snapshot in trainer.snapshots:
        weight, confusion, maps, accuracy, health = seen[snapshot.epoch]
        np.testing.assert_array_equal(snapshot.filters[0], weight)
        np.testing.assert_array_equal(snapshot.confusion, confusion)
        for layer, activation in enumerate(maps):
            np.testing.assert_array_equal(snapshot.feature_maps[layer], shrink_map(activation[0]))
        assert snapshot.metrics["val_accuracy"] == accuracy
        assert health and [h["index"] for h in snapshot.health] == [h.index for h in health]
        for saved, figures in zip(snapshot.health, health):  # the epoch's core.health figures
            assert saved["status"] == figures.status
            if figures.dead_share is not None:
                assert saved["dead_share"] == pytest.approx(figures.dead_share, rel=1e-3)
    first, last = trainer.snapshots[0], trainer.snapshots[-1]
    assert not np.array_equal(first.filters[0], last.filters[0])  # the filters moved
    assert first.step == 6 and last.step == 18


def test_snapshots_change_nothing_about_training(monkeypatch):
    data = blobs()
    a = Trainer.from_config(TINY, settings(epochs=2))
    a.fit(data)
    assert len(a.snapshots) == 2
    b = Trainer.from_config(TINY, settings(epochs=2))
    monkeypatch.setattr(b, "_record_snapshot", lambda result: None)
    b.fit(data)
    assert len(b.snapshots) == 0
    for key, value in a.model.state_dict().items():
        np.testing.assert_array_equal(value, b.model.state_dict()[key])


def test_the_probe_is_fixed_by_the_first_snapshot():
    history = SnapshotHistory()
    assert history.set_probe(np.zeros((1, 6, 6), np.float32))
    history.add(small(1))
    assert not history.set_probe(np.ones((1, 6, 6), np.float32))
    assert history.probe.max() == 0


def test_take_snapshot_without_a_probe_keeps_filters_only():
    model = Sequential.from_config(TINY)
    snapshot = take_snapshot(model, None, epoch=1, step=1)
    assert all(m is None for m in snapshot.feature_maps) and list(snapshot.filters) == [0]
    assert snapshot.confusion is None


# ---- the model file ------------------------------------------------------------------------

def test_snapshots_survive_save_and_open(tmp_path):
    trainer = Trainer.from_config(TINY, settings(epochs=4))
    trainer.fit(blobs())
    path = tmp_path / "m.safetensors"
    trainer.save(path)
    with safe_open(str(path), framework="np") as handle:
        keys = set(handle.keys())
        meta = json.loads(handle.metadata()["snapshots"])
    # the tensors stay the weights and the optimizer state (PyTorch loads them as they are)
    assert keys == set(trainer.model.state_dict()) | {"optimizer." + k for k in trainer.optimizer.state_dict()}
    assert [item["epoch"] for item in meta["items"]] == [1, 2, 3, 4]
    assert set(meta["items"][0]["filters"]) == {"0"} and meta["items"][3]["confusion"]["dtype"] == "int32"
    loaded = load_model(path)
    history = loaded.snapshots
    assert history.epochs == [1, 2, 3, 4] and history.stride == trainer.snapshots.stride
    np.testing.assert_array_equal(history.probe, trainer.snapshots.probe)
    for saved, original in zip(history, trainer.snapshots):
        assert saved.step == original.step and saved.metrics == pytest.approx(original.metrics)
        np.testing.assert_array_equal(saved.confusion, original.confusion)
        assert saved.filters.keys() == original.filters.keys()
        for a, b in zip(saved.feature_maps, original.feature_maps):
            np.testing.assert_array_equal(a, b)
    # a continued run keeps them and adds its epochs
    resumed = Trainer.from_loaded(loaded)
    resumed.fit(blobs(), epochs=5)
    assert resumed.snapshots.epochs == [1, 2, 3, 4, 5]


def test_a_model_without_snapshots_still_opens(tmp_path):
    model = Sequential.from_config(TINY)
    path = tmp_path / "plain.safetensors"
    save_model(path, model)
    assert load_model(path).snapshots is None


def _save_with(tmp_path, history: SnapshotHistory):
    model = Sequential.from_config(TINY)
    path = tmp_path / "bad.safetensors"
    save_model(path, model, snapshots=history)
    return path


@pytest.mark.parametrize("spoil, words", [
    (lambda s: s.filters.update({0: np.zeros((2, 1, 3, 3), np.float32)}), "filters of layer 0: float32 (2, 1, 3, 3) saved, expected float32 (4, 1, 3, 3)"),
    (lambda s: s.filters.update({2: np.zeros((4, 1, 3, 3), np.float32)}), "layer 2 is a ReLU, it has no filters"),
    (lambda s: s.metrics.update({"val_accuracy": "high"}), "metrics must be numbers"),
])
def test_bad_snapshots_are_refused_with_a_clear_message(tmp_path, spoil, words):
    model = Sequential.from_config(TINY)
    history = SnapshotHistory()
    history.add(take_snapshot(model, None, epoch=1, step=1))
    spoil(history[0])
    with pytest.raises(ModelFileError, match="the epoch snapshots are invalid: snapshot 1: .*" + words.replace("(", r"\(")
                       .replace(")", r"\)")):
        load_model(_save_with(tmp_path, history))


def _rewrite_snapshots(path, change) -> None:
    """Rewrite a model file with its snapshots metadata changed by ``change(dict)``."""
    with safe_open(str(path), framework="np") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = dict(handle.metadata())
    snapshots = json.loads(metadata["snapshots"])
    change(snapshots)
    metadata["snapshots"] = json.dumps(snapshots)
    save_file(tensors, str(path), metadata=metadata)


@pytest.mark.parametrize("change, words", [
    (lambda m: m["items"][0]["filters"]["0"].update(zlib="not base64!"), "the filters of layer 0: the data is corrupt"),
    (lambda m: m["items"][0]["filters"]["0"].update(
        zlib=base64.b64encode(zlib.compress(bytes(10**7))).decode()), "the filters of layer 0: the data does not hold"),
    (lambda m: m["items"][1].update(epoch=1), "snapshot 2: epoch 1 must be a whole number after 1"),
    (lambda m: m["items"].extend([m["items"][0]] * 300), "more than the 200 allowed"),
    (lambda m: m.update(items="many"), "must be an object with an 'items' list"),
    (lambda m: m["items"][0]["maps"].update({"99": {}}), "'maps' must be keyed by layer numbers from 0 to 7"),
])
def test_corrupt_snapshots_in_a_file_are_refused(tmp_path, change, words):
    trainer = Trainer.from_config(TINY, settings(epochs=2))
    trainer.fit(blobs())
    path = tmp_path / "m.safetensors"
    trainer.save(path)
    _rewrite_snapshots(path, change)
    with pytest.raises(ModelFileError, match=re.escape(words)):
        load_model(path)


def test_snapshots_of_another_design_are_refused(tmp_path):
    other = Sequential.from_config({**TINY, "layers": TINY["layers"][:1] + [{"type": "Flatten"},
                                                                             {"type": "Dense", "units": 3}]})
    history = SnapshotHistory()
    history.add(take_snapshot(other, np.zeros((1, 1, 6, 6), np.float32), epoch=1, step=1,
                              confusion=np.eye(3, dtype=np.int64)))
    path = _save_with(tmp_path, history)  # TINY's layer 1 is a BatchNorm of shape (4, 6, 6)
    with pytest.raises(ModelFileError, match="snapshot 1: the feature map of layer 1"):
        load_model(path)


def test_snapshots_take_no_more_than_the_budget_in_the_file(tmp_path):
    trainer = Trainer.from_config(TINY, settings(epochs=1))
    trainer.fit(blobs())
    for epoch in range(2, 400):  # a long run, simulated by repeating the last snapshot
        trainer.snapshots.add(EpochSnapshot(**{**trainer.snapshots[-1].__dict__, "epoch": epoch}))
    path = tmp_path / "long.safetensors"
    trainer.save(path)
    without = tmp_path / "none.safetensors"
    save_model(without, trainer.model, optimizer=trainer.optimizer, training=trainer.training_state(),
               history=trainer.history, dataset=trainer.dataset_metadata())
    assert len(trainer.snapshots) <= MAX_SNAPSHOTS
    assert trainer.snapshots.nbytes <= MAX_BYTES
    # compressed, then base64 (4/3), plus JSON: about 200 bytes per array, 300 per snapshot and
    # 250 per layer's health figures
    arrays = sum(1 + len(s.filters) + sum(m is not None for m in s.feature_maps) for s in trainer.snapshots)
    health = sum(len(s.health or ()) for s in trainer.snapshots)
    growth = path.stat().st_size - without.stat().st_size
    assert growth <= 4 / 3 * 1.01 * trainer.snapshots.nbytes + 200 * arrays + 300 * len(trainer.snapshots) \
        + 250 * health
    assert load_model(path).snapshots.epochs == trainer.snapshots.epochs
