"""Colour shapes and the rule that names the data every design (and every preset) trains on now."""

from __future__ import annotations

import numpy as np
import pytest

from guicnn.core.data import (
    BUILTIN_DATASETS,
    DATASETS,
    dataset_dir,
    load_dataset,
    make_shapes,
    make_shapes_rgb,
    suggest_data,
)
from guicnn.core.designfile import load_preset, preset_names
from guicnn.core.training import Trainer, TrainSettings, check_compatible


def test_colour_shapes_are_seeded_rgb_pictures_of_the_same_shapes():
    data = make_shapes_rgb(n=300, seed=4)
    assert data.x.shape == (300, 3, 32, 32) and data.x.dtype == np.float32
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    assert data.name == "shapes-rgb" and data.source == "built-in"
    again = make_shapes_rgb(n=300, seed=4)
    np.testing.assert_array_equal(data.x, again.x)
    assert not np.array_equal(data.x, make_shapes_rgb(n=300, seed=5).x)
    grey = make_shapes(n=300, size=32, seed=4)
    np.testing.assert_array_equal(data.y, grey.y)  # the class is the shape, whatever its colour
    assert data.class_names == grey.class_names
    # really colour: the channels differ, and the colour varies from picture to picture
    spread = data.x.max(axis=(2, 3)) - data.x.min(axis=(2, 3))  # (n, 3) contrast per channel
    assert np.abs(data.x[:, 0] - data.x[:, 1]).mean() > 0.05
    assert spread.std(axis=0).min() > 0.05
    assert make_shapes_rgb(n=20, size=12).x.shape == (20, 3, 12, 12)
    with pytest.raises(ValueError, match="noise must be between 0 and 1"):
        make_shapes_rgb(noise=2)


def test_colour_shapes_load_by_name_and_alias():
    assert "shapes-rgb" in BUILTIN_DATASETS
    for name in ("shapes-rgb", "shapes_rgb32", "Shapes_RGB"):
        assert load_dataset(name, n=30).x.shape == (30, 3, 32, 32)


@pytest.mark.parametrize("preset, now, made_for", [
    ("lenet5", "shapes", "mnist"), ("tiny_vgg", "shapes-rgb", "cifar10"),
    ("digits_small", "digits", "digits"), ("shapes_cnn", "shapes", "shapes"),
])
def test_each_preset_names_data_it_trains_on_now_and_the_set_it_was_made_for(tmp_path, preset, now, made_for):
    suggestion = suggest_data(load_preset(preset), cache=tmp_path)  # an empty download cache
    assert (suggestion.now, suggestion.made_for) == (now, made_for)
    expected = DATASETS[made_for].total_size if made_for in DATASETS else 0
    assert suggestion.download_bytes == expected


def test_a_downloaded_set_the_design_was_made_for_is_used_at_once(tmp_path):
    folder = dataset_dir("mnist", tmp_path)
    folder.mkdir(parents=True)
    for remote in DATASETS["mnist"].files:  # files of the right size count as downloaded
        with open(folder / remote.filename, "wb") as handle:
            handle.truncate(remote.size)
    suggestion = suggest_data(load_preset("lenet5"), cache=tmp_path)
    assert (suggestion.now, suggestion.made_for, suggestion.download_bytes) == ("mnist", "mnist", 0)


@pytest.mark.parametrize("shape, now, options", [
    ([1, 8, 8], "digits", {}), ([1, 28, 28], "shapes", {}), ([1, 32, 32], "shapes", {"size": 32}),
    ([3, 32, 32], "shapes-rgb", {}), ([3, 64, 64], "shapes-rgb", {"size": 64}),
    ([3, 7, 7], None, {}), ([1, 28, 20], None, {}), ([2, 28, 28], None, {}),
])
def test_without_a_named_set_the_input_shape_decides(shape, now, options):
    suggestion = suggest_data({"input_shape": shape, "layers": []})
    assert (suggestion.now, suggestion.now_options, suggestion.made_for) == (now, options, None)
    if now is not None:
        assert load_dataset(now, **({"n": 10} if now != "digits" else {}), **options).input_shape == tuple(shape)


@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_trains_out_of_the_box_on_the_data_it_names(tmp_path, preset):
    design = load_preset(preset)
    suggestion = suggest_data(design, cache=tmp_path)
    assert suggestion.now is not None, f"{preset} names no data it can train on now"
    options = dict(suggestion.now_options, **({"n": 120} if suggestion.now != "digits" else {}))
    data = load_dataset(suggestion.now, **options)
    trainer = Trainer.from_config(design, TrainSettings(batch_size=40, epochs=1))
    check_compatible(trainer.model, data)
    report = trainer.fit(data)
    assert report.reason == "finished" and trainer.step > 0


def test_ten_shapes_for_ten_outputs_and_a_small_cnn_tells_them_apart():
    """LeNet-5 has ten outputs: the suggestion draws ten shapes, each one a class a CNN can learn."""
    from guicnn.core.data import SHAPE_CLASSES, train_val_split

    assert len(SHAPE_CLASSES) == 10 and SHAPE_CLASSES[:7] == ("circle", "square", "triangle", "cross", "line",
                                                              "ring", "star")  # the first seven unchanged
    suggestion = suggest_data(load_preset("lenet5"))
    assert suggestion.now_options == {"classes": list(SHAPE_CLASSES)}
    data = load_dataset("shapes", n=1500, seed=2, **suggestion.now_options)
    train, val = train_val_split(data, 0.2, seed=0)
    trainer = Trainer.from_config(load_preset("lenet5"), TrainSettings(batch_size=32, epochs=4,
                                                                      optimizer={"type": "adam", "lr": 0.003}))
    trainer.fit(train, val)
    accuracy = trainer.history["val_accuracy"][-1]
    assert accuracy > 0.85, accuracy
