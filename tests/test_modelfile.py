"""Model file: round trip, exact resume, atomic save, and clear errors for bad files."""

from __future__ import annotations

import json
import os
import struct
import threading
import tracemalloc

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file
from test_training import TINY, assert_same_weights, blobs, same_history, settings

from guicnn.core import ModelFileError, Sequential, modelfile
from guicnn.core.modelfile import FORMAT, load_model, read_metadata, save_model
from guicnn.core.training import StepReport, Trainer, TrainSettings


def trained(tmp_path, epochs: int = 1) -> tuple[Trainer, os.PathLike]:
    trainer = Trainer.from_config(TINY, settings(epochs=epochs))
    trainer.fit(blobs())
    path = tmp_path / "tiny.safetensors"
    trainer.save(path)
    return trainer, path


# ---- round trip ----------------------------------------------------------------------------

def test_file_holds_state_dict_names_optimizer_state_and_json_metadata(tmp_path):
    trainer, path = trained(tmp_path)
    with safe_open(str(path), framework="np") as handle:
        keys = set(handle.keys())
        meta = handle.metadata()
        tracked = handle.get_tensor("1.num_batches_tracked")
        steps = handle.get_tensor("optimizer.steps")
    assert {"0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var", "6.weight"} <= keys
    assert {"optimizer.0.weight.exp_avg", "optimizer.6.bias.exp_avg_sq", "optimizer.lr"} <= keys
    assert tracked.shape == () and tracked.dtype == np.int64 and int(tracked) == 6
    assert steps.shape == () and int(steps) == 6
    assert meta["format"] == FORMAT
    assert json.loads(meta["architecture"]) == TINY
    training = json.loads(meta["training"])
    assert training["settings"]["batch_size"] == 16 and training["epoch"] == 1 and training["step"] == 6
    assert json.loads(meta["history"])["epoch"] == [1]
    dataset = json.loads(meta["dataset"])
    assert dataset["class_names"] == ["tl", "br", "none"] and set(dataset["normalization"]) == {"mean", "std"}


def test_load_gives_an_equal_model_and_everything_saved(tmp_path):
    trainer, path = trained(tmp_path)
    loaded = load_model(path)
    assert loaded.config == TINY and loaded.model.get_config() == TINY
    assert_same_weights(trainer.model, loaded.model)
    probe = blobs(10, seed=5).x
    np.testing.assert_array_equal(loaded.model.forward(probe), trainer.model.forward(probe))
    assert loaded.class_names == ["tl", "br", "none"]
    assert loaded.normalization.mean == trainer.normalization.mean
    assert loaded.history["train_loss"] == trainer.history["train_loss"]
    assert int(loaded.optimizer_state["steps"]) == 6
    for name, slots in trainer.optimizer.state.items():
        for slot, value in slots.items():
            np.testing.assert_array_equal(loaded.optimizer_state[f"{name}.{slot}"], value)
    assert read_metadata(path)["training"]["step"] == 6


def test_architecture_only_model_saves_and_loads(tmp_path):
    model = Sequential.from_config(TINY, seed=4)
    save_model(tmp_path / "bare.safetensors", model)
    loaded = load_model(tmp_path / "bare.safetensors")
    assert_same_weights(model, loaded.model)
    assert loaded.optimizer_state == {} and loaded.history == {} and loaded.normalization is None


def test_non_finite_history_values_are_saved_as_null(tmp_path):
    model = Sequential.from_config(TINY)
    save_model(tmp_path / "m.safetensors", model, history={"val_loss": [float("nan"), 1.0]})
    assert load_model(tmp_path / "m.safetensors").history["val_loss"] == [None, 1.0]


# ---- exact resume --------------------------------------------------------------------------

def test_train_save_load_continue_equals_training_straight(tmp_path):
    straight = Trainer.from_config(TINY, settings(epochs=3))
    straight.fit(blobs())
    first = Trainer.from_config(TINY, settings(epochs=2))
    first.fit(blobs())
    first.save(tmp_path / "two.safetensors")
    resumed = Trainer.from_loaded(load_model(tmp_path / "two.safetensors"))
    assert (resumed.epoch, resumed.step) == (2, 12)
    assert resumed.fit(blobs(), epochs=3).reason == "finished"
    assert_same_weights(straight.model, resumed.model, atol=1e-6)
    assert same_history(straight, resumed)


def test_stop_mid_epoch_save_load_continue_equals_training_straight(tmp_path):
    straight = Trainer.from_config(TINY, settings(epochs=2))
    straight.fit(blobs())
    stop = threading.Event()
    first = Trainer.from_config(TINY, settings(epochs=2))
    for report in first.fit_iter(blobs(), stop=stop):
        if isinstance(report, StepReport) and report.step == 9:
            stop.set()
    first.save(tmp_path / "half.safetensors")
    resumed = Trainer.from_loaded(load_model(tmp_path / "half.safetensors"))
    assert (resumed.epoch, resumed.batch, resumed.step) == (1, 3, 9)
    resumed.fit(blobs())
    assert_same_weights(straight.model, resumed.model, atol=1e-6)
    assert same_history(straight, resumed)


# ---- atomic save ---------------------------------------------------------------------------

def test_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    trainer, path = trained(tmp_path)
    before = path.read_bytes()

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(modelfile, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        trainer.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.safetensors"]


# ---- bad files -----------------------------------------------------------------------------

def _plain_safetensors(path, metadata=None):
    save_file({"0.weight": np.zeros((2, 2), np.float32)}, str(path), metadata=metadata)


def _with_metadata(path, tmp_path, **changes):
    """A copy of a good model file with some metadata entries replaced (None removes)."""
    with safe_open(str(path), framework="np") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        meta = dict(handle.metadata())
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    out = tmp_path / "changed.safetensors"
    save_file(tensors, str(out), metadata=meta)
    return out


BAD_BYTES = {
    "empty": (b"", "the file is empty"),
    "four bytes": (b"\x10\x00\x00\x00", "truncated"),
    "random": (np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not a model file"),
    "zero header": (struct.pack("<Q", 0) + b"{}", "not a model file"),
    "header not json": (struct.pack("<Q", 6) + b"\xff\xfe{abc", "not valid safetensors JSON"),
    "header a list": (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
    "design json": (json.dumps(TINY).encode(), "JSON file (a design?)"),
}


@pytest.mark.parametrize("case", sorted(BAD_BYTES))
def test_bad_bytes_give_one_clear_error_naming_the_file(case, tmp_path):
    data, words = BAD_BYTES[case]
    path = tmp_path / "broken.safetensors"
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert "broken.safetensors" in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("cut", [8, 40, -1, -100])
def test_truncated_model_files_are_refused(cut, tmp_path):
    _, path = trained(tmp_path)
    data = path.read_bytes()
    short = tmp_path / "short.safetensors"
    short.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match="short.safetensors.*(truncated|corrupt)"):
        load_model(short)


@pytest.mark.parametrize("length", [2**63 + 5, 2**40, 10**9])
def test_forged_header_length_allocates_nothing_large(length, tmp_path):
    path = tmp_path / "forged.safetensors"
    path.write_bytes(struct.pack("<Q", length) + b'{"__metadata__": {"format": "guicnn/1"}}')
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="header claims"):
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def _forge_header(path, out, change):
    data = bytearray(path.read_bytes())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    change(header)
    text = json.dumps(header).encode()
    out.write_bytes(struct.pack("<Q", len(text)) + text + bytes(data[8 + length:]))
    return out


def test_forged_tensor_offsets_are_refused_by_safetensors(tmp_path):
    _, path = trained(tmp_path)
    forged = _forge_header(path, tmp_path / "offsets.safetensors",
                           lambda h: h["0.weight"].update(data_offsets=[0, 10**12]))
    with pytest.raises(ModelFileError, match="offsets.safetensors: the model file is corrupt"):
        load_model(forged)


def test_a_forged_tensor_shape_is_refused_from_the_header_before_building(tmp_path):
    _, path = trained(tmp_path)
    forged = _forge_header(path, tmp_path / "shape.safetensors",
                           lambda h: h["0.weight"].update(shape=[4000, 4000, 4000]))
    with pytest.raises(ModelFileError, match=r"shape.safetensors: the weights do not fit the architecture: "
                                             r"0.weight is stored with shape \(4000, 4000, 4000\)"):
        load_model(forged)


def test_plain_safetensors_file_is_not_a_model(tmp_path):
    path = tmp_path / "weights.safetensors"
    _plain_safetensors(path)
    with pytest.raises(ModelFileError, match="weights.safetensors: a safetensors file, but not a guicnn model"):
        load_model(path)


def test_newer_format_asks_for_an_update(tmp_path):
    path = tmp_path / "future.safetensors"
    _plain_safetensors(path, {"format": "guicnn/2", "architecture": json.dumps(TINY)})
    with pytest.raises(ModelFileError, match=r"future.safetensors: saved by a newer guicnn \(format guicnn/2\).*update"):
        load_model(path)


def test_foreign_format_is_named(tmp_path):
    path = tmp_path / "other.safetensors"
    _plain_safetensors(path, {"format": "pt"})
    with pytest.raises(ModelFileError, match="other.safetensors: unknown model format 'pt'"):
        load_model(path)


@pytest.mark.parametrize("changes, words", [
    ({"architecture": None}, "has no architecture"),
    ({"architecture": "{not json"}, "architecture metadata is not valid JSON"),
    ({"history": "[1, 2]"}, "history metadata must be a JSON object"),
    ({"architecture": json.dumps({**TINY, "layers": [{"type": "Conv3D"}]})}, "saved architecture is invalid"),
    ({"architecture": json.dumps({**TINY, "input_shape": [1, 8, 8]})}, "weights do not fit the architecture"),
])
def test_inconsistent_metadata_is_explained(changes, words, tmp_path):
    _, path = trained(tmp_path)
    changed = _with_metadata(path, tmp_path, **changes)
    with pytest.raises(ModelFileError, match=words) as info:
        load_model(changed)
    assert "changed.safetensors" in str(info.value)


def test_missing_tensor_is_named(tmp_path):
    _, path = trained(tmp_path)
    with safe_open(str(path), framework="np") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys() if k != "1.running_var"}
        meta = handle.metadata()
    out = tmp_path / "missing.safetensors"
    save_file(tensors, str(out), metadata=meta)
    with pytest.raises(ModelFileError, match="missing 1.running_var"):
        load_model(out)


def test_missing_file_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="nothing.safetensors: cannot read"):
        load_model(tmp_path / "nothing.safetensors")


def test_settings_can_be_overridden_when_continuing(tmp_path):
    _, path = trained(tmp_path)
    resumed = Trainer.from_loaded(load_model(path), TrainSettings(epochs=2, batch_size=16, optimizer={"type": "sgd"}))
    assert resumed.optimizer.type_name == "sgd" and resumed.epoch == 1
    assert resumed.fit(blobs()).reason == "finished" and resumed.epoch == 2


def test_mid_epoch_file_without_random_states_still_resumes(tmp_path):
    stop = threading.Event()
    first = Trainer.from_config(TINY, settings(epochs=1))
    for report in first.fit_iter(blobs(), stop=stop):
        if isinstance(report, StepReport) and report.step == 2:
            stop.set()
    first.save(tmp_path / "half.safetensors")
    assert read_metadata(tmp_path / "half.safetensors")["training"]["rng"]["layers"].keys() == {"1", "3", "5"}
    training = read_metadata(tmp_path / "half.safetensors")["training"]
    training["rng"] = {"layers": {"5": {"bit_generator": "os.system"}}}
    changed = _with_metadata(tmp_path / "half.safetensors", tmp_path, training=json.dumps(training))
    resumed = Trainer.from_loaded(load_model(changed))
    assert resumed.fit(blobs()).reason == "finished" and resumed.step == 6


def test_random_states_are_saved_only_between_batches(tmp_path):
    _, path = trained(tmp_path)
    assert read_metadata(path)["training"]["rng"] is None
