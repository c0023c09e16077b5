"""The command line as a new user meets it, and under faults: a full disk (RLIMIT_FSIZE), a
read-only target, SIGTERM, Ctrl+C, a closed pipe. Nothing lost, nothing absurd, no traceback."""

from __future__ import annotations

import errno
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import tomllib
from PIL import Image
from robust_helpers import digit_folder, fill_disk_in

from guicnn import cli
from guicnn.core import modelfile
from guicnn.core.errors import SaveError
from guicnn.core.modelfile import load_model

REPO = Path(__file__).resolve().parent.parent

MINI = {
    "name": "mini digits", "dataset": "digits", "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
        {"type": "Softmax"},
    ],
}


def call(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("guicnn: error: ") and "internal error" not in err and "Traceback" not in err
    return lines[0].removeprefix("guicnn: error: ")


def program(*argv, env=None, **kwargs) -> subprocess.CompletedProcess:
    """``python -m guicnn ...`` as a user runs it."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "guicnn", *map(str, argv)], capture_output=True, text=True,
                          timeout=120, env=environment, **kwargs)


def write(path: Path, design: dict) -> Path:
    path.write_text(json.dumps(design))
    return path


def design8(units: int = 3, **extra) -> dict:
    return {"name": "d8", "input_shape": [1, 8, 8], **extra, "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "Flatten"}, {"type": "Dense", "units": units}]}


@pytest.fixture(scope="module")
def good_model(tmp_path_factory) -> Path:
    """A model that scores well on the digits (trained once for the module)."""
    folder = tmp_path_factory.mktemp("good")
    path = folder / "good.safetensors"
    assert cli.main(["train", str(write(folder / "mini.json", MINI)), "--epochs", "6", "--lr", "0.01",
                     "--out", str(path), "--quiet"]) == 0
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---- 1. a user's own image folder ----------------------------------------------------------

def test_a_folder_of_8x8_pngs_trains_an_8x8_design(capsys, tmp_path):
    data = digit_folder(tmp_path / "eights")
    code, out, err = call(capsys, "train", write(tmp_path / "d8.json", design8()), "--data", data, "--epochs", "1",
                          "--quiet")
    assert code == 0, err
    assert out.splitlines()[0] == "training d8 on eights: 90 samples, 3 classes, input 1×8×8"
    assert "note:" not in err


def test_a_folder_is_read_at_the_designs_size_and_says_so(capsys, tmp_path):
    data = digit_folder(tmp_path / "big", scale=4)  # 32x32 pictures
    code, out, err = call(capsys, "train", write(tmp_path / "d8.json", design8()), "--data", data, "--epochs", "1",
                          "--quiet")
    assert code == 0, err
    assert "note: resized 90 of 90 images from 32x32 to 8x8" in err and "input 1×8×8" in out


def test_mixed_sizes_without_a_design_size_ask_for_image_size(capsys, tmp_path):
    data = digit_folder(tmp_path / "mixed")
    digit_folder(tmp_path / "mixed", classes=(3,), scale=2)
    flat = {"input_shape": [64], "layers": [{"type": "Dense", "units": 4}]}
    code, _, err = call(capsys, "train", write(tmp_path / "flat.json", flat), "--data", data, "--epochs", "1")
    line = error_line(err)
    assert code == 1 and "mixed: the images have 2 different sizes: 8x8 (90 images" in line
    assert line.endswith("choose one size (height x width) to resize them all to with --image-size HxW")
    code, _, err = call(capsys, "train", tmp_path / "flat.json", "--data", data, "--epochs", "1",
                        "--image-size", "8x8", "--quiet")
    assert code == 0, err
    assert "note: resized 30 of 120 images from 16x16 to 8x8" in err


def test_class_and_folder_names_that_are_not_utf8_work_on_a_utf8_terminal(tmp_path):
    root = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    digit_folder(root)
    (root / "d0").rename(root / os.fsdecode(b"z\xff"))
    design = write(tmp_path / "d8.json", design8())
    model = root / "m.safetensors"
    image = next((root / os.fsdecode(b"z\xff")).iterdir())
    env = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    trained = program("train", design, "--data", root, "--epochs", "1", "--out", model, env=env)
    assert trained.returncode == 0, trained.stderr
    assert "training d8 on caf\\xe9:" in trained.stdout and "m.safetensors" in trained.stdout
    for args in (("summary", model), ("predict", model, image), ("evaluate", model)):
        result = program(*args, env=env)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    assert "caf\\xe9" in program("summary", model, env=env).stdout
    assert "z\\xff" in program("predict", model, image, env=env).stdout


# ---- 2. a data set's own test part ---------------------------------------------------------

def test_evaluate_the_test_subfolder_of_an_image_folder(capsys, tmp_path):
    data = digit_folder(tmp_path / "split", per_class=40, test=10)
    model = tmp_path / "m.safetensors"
    assert call(capsys, "train", write(tmp_path / "d8.json", design8()), "--data", data, "--epochs", "3",
                "--lr", "0.01", "--out", model, "--quiet")[0] == 0
    code, out, err = call(capsys, "evaluate", model, "--split", "test")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("split (test, 30 samples): loss ")
    assert [line.split()[0] for line in lines[2:]] == ["d0", "d1", "d2"]
    assert sum(int(v) for line in lines[2:] for v in line.split()[1:4]) == 30


def test_evaluate_split_test_of_the_digits_says_there_is_none(capsys, good_model):
    code, _, err = call(capsys, "evaluate", good_model, "--split", "test")
    assert code == 1 and "no separate test part" in error_line(err)


# ---- 3. nonsense is refused before training, with the fix ----------------------------------

@pytest.mark.parametrize("design, words", [
    ({**MINI, "layers": MINI["layers"][:4] + [{"type": "Dense", "units": 20}, {"type": "Softmax"}]},
     "the training data has 10 classes but the model has 20 outputs; it needs one output per class; "
     "set the last Dense layer's units to 10"),
    ({"name": "empty", "dataset": "digits", "input_shape": [1, 8, 8], "layers": []},
     "the design has no weights to train (0 layers, none with parameters); it needs e.g. a Dense layer with one "
     "output per class (10); add Flatten + Dense(10)"),
])
def test_nonsense_designs_are_refused_before_the_first_step(capsys, tmp_path, design, words):
    code, out, err = call(capsys, "train", write(tmp_path / "bad.json", design), "--epochs", "5",
                          "--out", tmp_path / "m.safetensors")
    assert code == 1 and error_line(err) == words
    assert "epoch" not in out and not (tmp_path / "m.safetensors").exists()


def test_a_single_class_is_refused(capsys, tmp_path):
    data = digit_folder(tmp_path / "one", classes=(4,))
    code, _, err = call(capsys, "train", write(tmp_path / "d8.json", design8(units=1)), "--data", data)
    assert code == 1 and error_line(err).startswith("the training data has only one class ('d4', 24 samples)")


def test_a_design_too_large_for_memory_is_refused_with_numbers(capsys, tmp_path):
    huge = {"name": "huge", "input_shape": [1, 100000, 100000], "layers": [
        {"type": "Flatten"}, {"type": "Dense", "units": 10}]}
    path = write(tmp_path / "huge.json", huge)
    assert call(capsys, "summary", path)[0] == 0  # looking at it costs nothing
    code, _, err = call(capsys, "train", path, "--data", "digits")
    line = error_line(err)
    assert code == 1 and "100,000,000,010 weights" in line and "more than the limit of" in line


# ---- 4. a bad run never destroys a good model ----------------------------------------------

def test_a_learning_rate_of_1e6_leaves_a_good_model_file_untouched(capsys, good_model, tmp_path):
    model = tmp_path / "good.safetensors"
    shutil.copy(good_model, model)
    before = model.read_bytes()
    code, out, err = call(capsys, "train", model, "--lr", "1e6", "--epochs", "2")
    assert code == 1
    assert "(exploding gradients)" in error_line(err) and "try a lower learning rate (now 1e+06)" in err
    assert f"{model} is unchanged (no step of this run was kept)" in out
    assert model.read_bytes() == before and not (tmp_path / "good.last.safetensors").exists()


def test_a_worse_run_keeps_the_better_file_and_says_where_each_is(capsys, good_model, tmp_path):
    model = tmp_path / "good.safetensors"
    shutil.copy(good_model, model)
    before = model.read_bytes()
    saved_val = load_model(model).history["val_accuracy"][-1]
    code, out, err = call(capsys, "train", model, "--lr", "0.3", "--epochs", "2")
    assert code == 0, err
    last = tmp_path / "good.last.safetensors"
    assert model.read_bytes() == before
    worse = load_model(last).history["val_accuracy"][-1]
    assert worse < saved_val - 0.2 and load_model(last).training["epoch"] == 8
    assert (f"{model} is unchanged: its weights (epoch 6: validation accuracy {100 * saved_val:.1f}%) score "
            f"better than the new ones (epoch 8: validation accuracy {100 * worse:.1f}%)") in out
    assert f"saved the last weights (epoch 8: validation accuracy {100 * worse:.1f}%) to {last}" in out


def test_with_another_out_the_best_goes_there_and_the_last_beside_it(capsys, good_model, tmp_path):
    out_file = tmp_path / "next.safetensors"
    code, out, err = call(capsys, "train", good_model, "--lr", "0.3", "--epochs", "2", "--out", out_file)
    assert code == 0, err
    best, last = load_model(out_file), load_model(tmp_path / "next.last.safetensors")
    assert best.training["epoch"] == 6 and last.training["epoch"] == 8
    for key, value in load_model(good_model).model.state_dict().items():
        np.testing.assert_array_equal(best.model.state_dict()[key], value)
    assert "saved the best weights (epoch 6: validation accuracy" in out and str(out_file) in out


def test_an_improving_run_replaces_the_file(capsys, good_model, tmp_path):
    model = tmp_path / "good.safetensors"
    shutil.copy(good_model, model)
    code, out, err = call(capsys, "train", model, "--lr", "0.001", "--epochs", "1")
    assert code == 0, err
    assert load_model(model).training["epoch"] == 7 and f"saved to {model} (epoch 7: validation accuracy" in out


# ---- 5. the output is checked before the work, and survives faults -------------------------

@pytest.mark.parametrize("target, words", [
    ("missing/m.safetensors", "cannot save m.safetensors: the folder {tmp}/missing does not exist"),
    ("/sys/m.safetensors", "cannot save /sys/m.safetensors: permission denied (in /sys)"),
    (".", "cannot save to {tmp}: it is a folder; give a file name"),
    ("mini.json", "{tmp}/mini.json exists and is not a model file; choose another --out"),
])
def test_the_output_is_checked_before_training(capsys, tmp_path, target, words):
    design = write(tmp_path / "mini.json", MINI)
    out = target if target.startswith("/") else str(tmp_path / target)
    started = time.perf_counter()
    code, stdout, err = call(capsys, "train", design, "--epochs", "50", "--out", out)
    assert code == 1 and error_line(err).startswith(words.format(tmp=tmp_path).rstrip("/"))
    assert "epoch" not in stdout and time.perf_counter() - started < 5


def _limit_file_size(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_leaves_the_existing_model_unchanged_and_no_temp_file(good_model, tmp_path):
    model = tmp_path / "good.safetensors"
    shutil.copy(good_model, model)
    before = model.read_bytes()
    env = {"TMPDIR": str(tmp_path), "HOME": str(tmp_path)}
    result = program("train", model, "--epochs", "1", "--lr", "0.001", "--quiet", env=env, cwd=tmp_path,
                     preexec_fn=_limit_file_size(len(before) // 2))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert (f"guicnn: error: file too large (over the size limit for files) while saving {model}; "
            "the existing good.safetensors is unchanged") in result.stderr
    assert "could not save the trained weights anywhere else either" in result.stderr
    assert model.read_bytes() == before and leftovers(tmp_path) == []


def test_no_space_left_on_device_is_said_plainly(monkeypatch, good_model, tmp_path):
    from safetensors import SafetensorError

    def full_disk(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\0" * 100)  # a partial write
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                              "message: \"No space left on device\" }) (os error 28)")

    model = tmp_path / "good.safetensors"
    shutil.copy(good_model, model)
    before = model.read_bytes()
    loaded = load_model(model)
    monkeypatch.setattr(modelfile, "save_file", full_disk)
    with pytest.raises(SaveError) as error:
        modelfile.save_model(model, loaded.model)
    assert str(error.value) == (f"no space left on device while saving {model}; "
                                "the existing good.safetensors is unchanged")
    assert model.read_bytes() == before and leftovers(tmp_path) == []
    with pytest.raises(SaveError, match="new.safetensors was not written"):
        modelfile.save_model(tmp_path / "new.safetensors", loaded.model)


def test_a_failed_save_keeps_the_trained_weights_elsewhere(capsys, monkeypatch, tmp_path):
    import tempfile

    target = tmp_path / "full"
    target.mkdir()
    rescue = tmp_path / "rescue"
    rescue.mkdir()
    fill_disk_in(monkeypatch, target)
    monkeypatch.setattr(tempfile, "tempdir", str(rescue))
    code, out, err = call(capsys, "train", write(tmp_path / "mini.json", MINI), "--epochs", "1",
                          "--out", target / "m.safetensors", "--quiet")
    assert code == 1
    assert f"guicnn: error: no space left on device while saving {target}/m.safetensors; m.safetensors was not " \
           "written" in err
    (rescued,) = rescue.iterdir()
    assert f"the trained weights saved to {rescued} instead" in err
    assert rescued.name.startswith("m.rescued-") and load_model(rescued).training["epoch"] == 1
    assert leftovers(target) == []


def test_sigterm_stops_training_after_the_batch_and_saves(tmp_path):
    design = write(tmp_path / "mini.json", MINI)
    out = tmp_path / "m.safetensors"
    process = subprocess.Popen(
        [sys.executable, "-m", "guicnn", "train", str(design), "--epochs", "500", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        for line in process.stdout:
            if line.startswith("epoch 1/500"):
                process.send_signal(signal.SIGTERM)
                break
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping after this batch" in stderr and "Traceback" not in stderr
    assert "continue with: guicnn train" in stdout
    assert 1 <= load_model(out).training["epoch"] < 500 and leftovers(tmp_path) == []


def test_a_signal_during_the_save_lets_the_save_finish(capsys, monkeypatch, tmp_path):
    original = modelfile.save_file

    def save_then_signal(tensors, filename, metadata=None):
        original(tensors, filename, metadata=metadata)
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the temporary file is not yet in place

    monkeypatch.setattr(modelfile, "save_file", save_then_signal)
    code, out, err = call(capsys, "train", write(tmp_path / "mini.json", MINI), "--epochs", "1",
                          "--out", tmp_path / "m.safetensors", "--quiet")
    assert code == 0 and "finishing the save first" in err
    assert load_model(tmp_path / "m.safetensors").training["epoch"] == 1 and leftovers(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_new_model_files_get_the_usual_permissions(good_model, tmp_path):
    previous = os.umask(0o022)
    try:
        loaded = load_model(good_model)
        new = tmp_path / "new.safetensors"
        modelfile.save_model(new, loaded.model)
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        os.chmod(new, 0o600)  # the user's own choice is kept on replacing
        modelfile.save_model(new, loaded.model)
        assert stat.S_IMODE(new.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


# ---- 7. every message names the file and the problem ---------------------------------------

def test_a_decompression_bomb_given_to_predict(capsys, good_model, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    code, _, err = call(capsys, "predict", good_model, bomb)
    assert code == 1 and error_line(err).startswith("bomb.png: is too large to decode safely")


def test_nan_weights_are_refused_not_predicted(capsys, good_model, tmp_path):
    loaded = load_model(good_model)
    loaded.model.named_parameters()["4.weight"][0, 0] = np.nan
    broken = tmp_path / "nan.safetensors"
    modelfile.save_model(broken, loaded.model, dataset=loaded.dataset)
    image = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    for command in (("predict", broken, image), ("summary", broken), ("evaluate", broken)):
        code, out, err = call(capsys, *command)
        assert code == 1 and "nan %" not in out
        assert error_line(err).startswith("nan.safetensors: 4.weight holds 1 NaN value(s) of 1,280")


def test_broken_metadata_is_an_error_not_an_internal_error(capsys, tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "meta.safetensors"
    design = {"input_shape": [4], "layers": [{"type": "Dense", "units": 2}]}
    save_file({"0.weight": np.zeros((2, 4), np.float32), "0.bias": np.zeros(2, np.float32)}, str(path),
              metadata={"format": "guicnn/1", "architecture": json.dumps(design),
                        "dataset": json.dumps({"class_names": {"a": 1}}),
                        "history": json.dumps({"epoch": [1], "val_accuracy": ["0.9"]})})
    code, _, err = call(capsys, "summary", path)
    assert code == 1 and error_line(err).startswith("meta.safetensors: the history's 'val_accuracy' holds '0.9'")


def test_terminal_escapes_in_names_are_printed_harmlessly(capsys, tmp_path):
    evil = {**MINI, "name": "\x1b]0;owned\x07\x1b[2J\x1b[31mred\u202etxt"}
    code, out, err = call(capsys, "summary", write(tmp_path / "evil.json", evil))
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert 'Model "\\x1b]0;owned\\x07\\x1b[2J\\x1b[31mred\\u202etxt"' in out


def test_a_closed_pipe_ends_quietly(capsys, monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["layers"]) == cli.EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""
    # as a real program whose reader has already gone (``guicnn layers | head``)
    read, write_end = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "guicnn", "layers"], stdout=write_end, stderr=subprocess.PIPE,
                                text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        os.close(write_end)
    assert result.returncode == cli.EXIT_BROKEN_PIPE and result.stderr == ""


# guicnn's entry point, announcing on stderr the moment its start-up handlers are in place (the
# interpreter's own start-up, before any guicnn code runs, is Python's).
STARTER = """
import signal, sys
from guicnn import __main__ as entry
install = signal.signal
def announce(number, handler):
    previous = install(number, handler)
    if number == signal.SIGTERM and handler is entry._quit_while_starting:
        sys.stderr.write("go\\n")
        sys.stderr.flush()
    return previous
signal.signal = announce
sys.argv[1:] = ["summary", "lenet5"]
sys.exit(entry.run())
"""


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.08, 0.2, 0.5])
def test_ctrl_c_in_the_first_moments_prints_no_traceback(delay):
    # the signal lands while NumPy and the core load, or while the command runs
    process = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert process.stderr.readline() == "go\n"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "Error" not in err and "KeyboardInterrupt" not in err, err
    # 130 from guicnn; 0 or death by the signal itself when it came as the program was ending
    assert process.returncode in (cli.EXIT_INTERRUPTED, 0, -signal.SIGINT)


# ---- 8. installed as users install it ------------------------------------------------------

def test_presets_and_digits_are_package_data():
    from guicnn.resources import resource_dir

    folder = resource_dir()
    assert folder.parent == REPO / "guicnn"  # inside the package, so a wheel carries it
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["guicnn.resources"]
    shipped = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert {"digits.npz", "presets/lenet5.json"} <= set(shipped)
    assert all(any(fnmatch(name, pattern) for pattern in patterns) for name in shipped), shipped
    scripts = config["project"]
    assert scripts["scripts"]["guicnn"] == "guicnn.__main__:run"
    assert scripts["gui-scripts"]["guicnn-gui"] == "guicnn.ui.app:main"


def test_guicnn_gui_help_works_without_a_display():
    starter = "import sys; sys.argv[0] = 'guicnn-gui'; from guicnn.ui.app import main; sys.exit(main(['--help']))"
    result = subprocess.run([sys.executable, "-c", starter], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "minimal"})
    assert result.returncode == 0 and result.stdout.startswith("usage: guicnn-gui")


def test_too_little_free_space_is_found_before_training(capsys, monkeypatch, tmp_path):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(10**9, 10**9 - 1000, 1000))
    code, out, err = call(capsys, "train", write(tmp_path / "mini.json", MINI), "--epochs", "50",
                          "--out", tmp_path / "m.safetensors")
    assert code == 1 and "epoch" not in out
    assert error_line(err).startswith(f"cannot save {tmp_path}/m.safetensors: it needs about ")
    assert "but only 1000 B are free in" in err


def test_a_second_ctrl_c_aborts_without_saving(capsys, monkeypatch, tmp_path):
    original = cli.epoch_line

    def interrupt_twice(report):
        os.kill(os.getpid(), signal.SIGINT)  # asks to stop after the batch
        os.kill(os.getpid(), signal.SIGINT)  # the user insists
        return original(report)

    monkeypatch.setattr(cli, "epoch_line", interrupt_twice)
    code, out, err = call(capsys, "train", write(tmp_path / "mini.json", MINI), "--epochs", "50",
                          "--out", tmp_path / "m.safetensors", "--quiet")
    assert code == cli.EXIT_INTERRUPTED and err.strip().endswith("guicnn: interrupted")
    assert not (tmp_path / "m.safetensors").exists() and leftovers(tmp_path) == []
