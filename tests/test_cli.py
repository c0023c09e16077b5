"""The command line, run in-process (main([...])) and once as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from guicnn import cli
from guicnn.core.data import load_digits
from guicnn.core.modelfile import load_model
from guicnn.core.training import StepReport
from guicnn.resources import resource_path

REPO = Path(__file__).resolve().parent.parent

# Small and quick on the built-in 8x8 digits.
DIGITS = {
    "name": "mini digits",
    "dataset": "digits",
    "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": 1},
        {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2},
        {"type": "Flatten"},
        {"type": "Dense", "units": 10},
        {"type": "Softmax"},
    ],
}


def call(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("guicnn: error: ")
    return lines[0]


@pytest.fixture
def design(tmp_path) -> Path:
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(DIGITS))
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "mini.safetensors"
    design = path.parent / "mini.json"
    design.write_text(json.dumps(DIGITS))
    assert cli.main(["train", str(design), "--epochs", "3", "--out", str(path), "--lr", "0.01", "--quiet"]) == 0
    return path


# ---- summary -------------------------------------------------------------------------------

def test_summary_of_a_preset_by_name(capsys):
    code, out, err = call(capsys, "summary", "lenet5")
    assert code == 0 and err == ""
    assert 'Model "LeNet-5"' in out and "Total params: 61,706" in out and "Design: valid" in out


def test_summary_of_an_invalid_design_exits_1_with_the_errors(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input_shape": [1, 4, 4], "layers": [{"type": "MaxPool2D", "pool_size": 8}]}))
    code, out, err = call(capsys, "summary", path)
    assert code == 1
    assert "ERROR" in out
    assert "layer 0 MaxPool2D: window 8x8 is larger than the 4x4 input" in one_error_line(err)


@pytest.mark.parametrize("target, words", [
    ("no_such_thing", "no_such_thing: no such file, and not a preset (digits_small, lenet5"),
    ("missing.json", "missing.json: no such file"),
])
def test_summary_of_something_unknown(capsys, target, words):
    code, _, err = call(capsys, "summary", target)
    assert code == 1 and words in one_error_line(err)


def test_summary_of_a_model_file_shows_the_training(capsys, model_file):
    code, out, _ = call(capsys, "summary", model_file)
    assert code == 0
    assert 'Model "mini digits"' in out and "Trained: 3 epochs" in out and "Data: digits (10 classes" in out


def test_summary_of_a_broken_model_file(capsys, tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00" * 5)
    code, _, err = call(capsys, "summary", path)
    assert code == 1 and "broken.safetensors: truncated" in one_error_line(err)


# ---- train ---------------------------------------------------------------------------------

def test_train_prints_epochs_and_saves_a_loadable_model(capsys, model_file):
    loaded = load_model(model_file)
    assert loaded.training["epoch"] == 3 and loaded.dataset["name"] == "digits"
    assert loaded.history["val_accuracy"][-1] > 0.8


def test_train_output_lines(capsys, design, tmp_path):
    out_file = tmp_path / "m.safetensors"
    code, out, err = call(capsys, "train", design, "--epochs", "2", "--batch-size", "32", "--seed", "1",
                          "--val-fraction", "0.25", "--optimizer", "sgd", "--lr", "0.05", "--out", out_file)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "training mini digits on digits: 1,797 samples, 10 classes, input 1×8×8"
    assert lines[1].startswith("epoch 1/2  loss ") and "val_acc" in lines[1] and "lr 0.05" in lines[1]
    assert lines[2].startswith("epoch 2/2")
    assert "finished 2 epochs" in out and f"saved to {out_file}" in out
    settings = load_model(out_file).training["settings"]
    assert settings["optimizer"] == {"type": "sgd", "lr": 0.05}
    assert (settings["batch_size"], settings["seed"], settings["val_fraction"]) == (32, 1, 0.25)


def test_train_continues_a_model_file(capsys, model_file, tmp_path):
    more = tmp_path / "more.safetensors"
    code, out, err = call(capsys, "train", model_file, "--epochs", "1", "--out", more)
    assert code == 0, err
    assert "epoch 4/4" in out
    assert load_model(more).training["epoch"] == 4
    code, _, err = call(capsys, "train", more)
    assert code == 1 and "already trained 4 epochs; use --epochs N" in one_error_line(err)


def test_ctrl_c_stops_cleanly_and_still_saves(capsys, design, tmp_path, monkeypatch):
    out_file = tmp_path / "stopped.safetensors"
    original = cli.epoch_line

    def interrupt_after_first_epoch(report):
        if report.epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl+C sends
        return original(report)

    monkeypatch.setattr(cli, "epoch_line", interrupt_after_first_epoch)
    code, out, err = call(capsys, "train", design, "--epochs", "50", "--out", out_file)
    assert code == 0, err
    assert "stopping after this batch" in err
    assert "stopped after epoch 1" in out and "continue with: guicnn train" in out
    assert load_model(out_file).training["epoch"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_diverging_training_exits_1_and_keeps_finite_weights(capsys, design, tmp_path):
    out_file = tmp_path / "nan.safetensors"
    code, out, err = call(capsys, "train", design, "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3",
                          "--out", out_file)
    assert code == 1
    assert "(exploding gradients)" in err and "try a lower learning rate (now 1e+06)" in err and "Traceback" not in err
    weights = load_model(out_file).model.state_dict()
    assert all(np.isfinite(v).all() for v in weights.values())


@pytest.mark.parametrize("extra, words", [
    (["--data", "shapes"], "images are 1×28×28 but the design's input_shape is 1×8×8; set the input to 1×28×28"),
    (["--data", "nowhere.npz"], "nowhere.npz: no such file or folder"),
    (["--val-fraction", "1.5"], "val_fraction"),
])
def test_train_errors_are_one_line(capsys, design, extra, words):
    code, _, err = call(capsys, "train", design, "--epochs", "1", *extra)
    assert code == 1 and words in one_error_line(err)


def test_train_without_data_says_how_to_choose(capsys, tmp_path):
    path = tmp_path / "nodata.json"
    path.write_text(json.dumps({k: v for k, v in DIGITS.items() if k != "dataset"}))
    code, _, err = call(capsys, "train", path)
    assert code == 1 and "say which data to train on with --data" in one_error_line(err)


def test_train_without_out_says_it_was_not_saved(capsys, design):
    code, _, err = call(capsys, "train", design, "--epochs", "1", "--quiet")
    assert code == 0 and "not saved (add --out" in err


def test_progress_line_format():
    report = StepReport(epoch=2, epochs=5, step=781, batch=312, batches_per_epoch=469, samples_seen=19968,
                        loss=0.3, accuracy=0.9, running_loss=0.2141, running_accuracy=0.9312, lr=0.001,
                        samples_per_sec=1850.0, elapsed=20.0)
    assert cli.progress_line(report, batch_size=64) == (
        "epoch 2/5 [#######.....] 312/469 loss 0.214 acc 93.1% 1,850 samples/s ETA 0:05")
    assert cli.format_duration(3725) == "1:02:05"


def test_progress_bar_redraws_in_place():
    import io

    stream = io.StringIO()
    bar = cli.ProgressBar(stream, enabled=True)
    bar.show("long text here", force=True)
    bar.show("short", force=True)
    bar.clear()
    assert stream.getvalue() == "\rlong text here\rshort         \r              \r"


# ---- evaluate and predict ------------------------------------------------------------------

def test_evaluate_prints_accuracy_and_a_confusion_table(capsys, model_file):
    code, out, err = call(capsys, "evaluate", model_file, "--split", "val")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("digits (val, 359 samples): loss ") and "accuracy" in lines[0]
    assert lines[1].split()[:4] == ["true", "\\", "predicted", "0"] and lines[1].endswith("accuracy")
    assert len(lines) == 12 and lines[2].startswith("0 ")
    counts = [int(v.replace(",", "")) for line in lines[2:] for v in line.split()[1:11]]
    assert sum(counts) == 359


def test_evaluate_on_other_shaped_data_is_refused(capsys, model_file):
    code, _, err = call(capsys, "evaluate", model_file, "--data", "shapes")
    assert code == 1 and "images are 1×28×28 but the design's input_shape is 1×8×8" in one_error_line(err)


def test_predict_reads_images_and_prints_top_k(capsys, model_file, tmp_path):
    from PIL import Image

    digits = load_digits()
    paths = []
    for i in range(10):
        path = tmp_path / f"digit{i}.png"
        # upscale so predict has to resize back to the model's 8x8
        Image.fromarray((digits.x[i, 0] * 255).astype(np.uint8)).resize((32, 32), Image.NEAREST).save(path)
        paths.append(path)
    code, out, err = call(capsys, "predict", model_file, *paths, "--top-k", "2")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 10
    assert all(line.count("%") == 2 for line in lines)
    top = [line.split(": ")[1].split(" ")[0] for line in lines]
    assert sum(t == digits.class_names[y] for t, y in zip(top, digits.y[:10])) >= 7


def test_predict_with_an_unreadable_image(capsys, model_file, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    code, _, err = call(capsys, "predict", model_file, path)
    assert code == 1 and "notes.png: is not an image in a format Pillow can read" in one_error_line(err)


# ---- data, layers, export ------------------------------------------------------------------

def test_data_list(capsys):
    code, out, _ = call(capsys, "data", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["digits", "built", "in"] and "mnist" in out


def test_data_download_of_an_unknown_set(capsys, tmp_path):
    code, _, err = call(capsys, "data", "download", "imagenet", "--cache", tmp_path)
    assert code == 1 and "imagenet" in one_error_line(err)


def test_data_download_from_an_unreachable_mirror(capsys, tmp_path):
    import socket

    with socket.socket() as sock:  # a port on which nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = call(capsys, "data", "download", "mnist", "--cache", tmp_path,
                        "--base-url", f"http://127.0.0.1:{port}")
    assert code == 1
    one_error_line(err)


def test_layers_lists_every_type_with_its_fields(capsys):
    from guicnn.core import layer_types

    code, out, _ = call(capsys, "layers")
    assert code == 0
    for name in layer_types():
        assert f"\n{name} (" in "\n" + out
    assert "filters" in out and "pool_size" in out and "negative_slope" in out


def test_export_writes_pytorch_code(capsys, model_file, tmp_path):
    target = tmp_path / "net.py"
    code, _, err = call(capsys, "export", model_file, "--format", "pytorch", "-o", target)
    assert code == 0 and f"wrote {target}" in err
    source = target.read_text()
    compile(source, str(target), "exec")
    assert 'load_file("mini.safetensors")' in source and "nn.Conv2d(1, 8, kernel_size=3, padding=1)" in source
    code, out, _ = call(capsys, "export", "lenet5")
    assert code == 0 and "def build_model()" in out


def test_unexpected_errors_are_one_line_too(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("something odd\nwith two lines")

    monkeypatch.setattr(cli, "cmd_layers", boom)
    code, _, err = call(capsys, "layers")
    assert code == 1
    assert err.strip() == "guicnn: internal error: RuntimeError: something odd with two lines " \
                          "(set GUICNN_DEBUG=1 for details)"


# ---- as a real program ---------------------------------------------------------------------

def test_python_dash_m_guicnn_runs_without_qt():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "guicnn", "summary", str(resource_path("presets", "lenet5.json"))],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "Total params: 61,706" in result.stdout
    check = subprocess.run(
        [sys.executable, "-c", "import sys, guicnn.cli, guicnn.core.training, guicnn.core.modelfile, "
                               "guicnn.core.export; sys.exit(any(m.split('.')[0] in ('PySide6', 'pyqtgraph') "
                               "or m.startswith('guicnn.ui') for m in sys.modules))"],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=env,
    )
    assert check.returncode == 0, check.stderr


def test_train_on_a_set_not_downloaded_says_how_to_get_it(capsys, design, tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path / "empty-cache"))
    code, _, err = call(capsys, "train", design, "--data", "fashion_mnist")
    assert code == 1
    assert "fashion-mnist is not downloaded yet; get it with: guicnn data download fashion-mnist" in one_error_line(err)


def test_choosing_another_optimizer_uses_its_default_learning_rate(capsys, design, tmp_path):
    out_file = tmp_path / "sgd.safetensors"
    code, _, err = call(capsys, "train", design, "--epochs", "1", "--optimizer", "rmsprop", "--out", out_file)
    assert code == 0, err
    assert load_model(out_file).training["optimizer"]["lr"] == 0.01


def test_data_given_as_a_path_is_found_again_when_continuing(capsys, design, tmp_path):
    digits = load_digits()
    npz = tmp_path / "few_digits.npz"
    np.savez(npz, x=digits.x[:300], y=digits.y[:300])
    out_file = tmp_path / "npz.safetensors"
    code, _, err = call(capsys, "train", design, "--data", npz, "--epochs", "1", "--out", out_file)
    assert code == 0, err
    assert load_model(out_file).dataset["spec"] == str(npz.resolve())
    code, out, err = call(capsys, "train", out_file, "--epochs", "1")
    assert code == 0, err
    assert "epoch 2/2" in out
    code, out, err = call(capsys, "evaluate", out_file)
    assert code == 0 and "300 samples" in out.splitlines()[0]


@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop"])
def test_cli_optimizer_defaults_are_the_cores(capsys, design, tmp_path, kind):
    """--optimizer without --lr trains with the core's field defaults (the panel shows the same)."""
    from guicnn.core.optim import OPTIMIZERS, make_optimizer

    out = tmp_path / f"{kind}.safetensors"
    code, _, err = call(capsys, "train", design, "--epochs", "1", "--optimizer", kind, "--out", out, "-q")
    assert code == 0, err
    saved = load_model(out).training["settings"]["optimizer"]
    params = {"w": np.zeros(1, np.float32)}
    assert make_optimizer(params, saved).get_config() == make_optimizer(params, OPTIMIZERS[kind].defaults()).get_config()


def test_optimizer_constructors_default_to_their_field_specs():
    """The keyword defaults of each optimizer class are the Field defaults the UI and CLI show."""
    import inspect

    from guicnn.core.optim import OPTIMIZERS

    for cls in OPTIMIZERS.values():
        signature = inspect.signature(cls.__init__).parameters
        for spec in cls.fields:
            assert signature[spec.name].default == spec.default, (cls.type_name, spec.name)
