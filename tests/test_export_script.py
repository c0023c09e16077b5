"""The PyTorch training script: exported from a model file, run on CPU (one process and under
torchrun with two), and its result opened and evaluated by guicnn."""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from guicnn import cli
from guicnn.core.data import Normalization, load_dataset, load_digits
from guicnn.core.export.torch_script import training_script
from guicnn.core.modelfile import load_model
from guicnn.core.optim import scheduled_lr
from guicnn.core.training import Trainer, TrainSettings

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parent.parent
DESIGN = {
    "name": "script digits", "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 6, "kernel_size": 3, "padding": "same"}, {"type": "BatchNorm"},
        {"type": "ReLU"}, {"type": "MinPool2D", "pool_size": 2}, {"type": "Flatten"},
        {"type": "Dropout", "rate": 0.2}, {"type": "Dense", "units": 10}, {"type": "Softmax"},
    ],
}
SETTINGS = TrainSettings(optimizer={"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True}, batch_size=32,
                         epochs=1, seed=4, schedule={"type": "step", "step_size": 1, "gamma": 0.5},
                         augment={"shift": 1, "flip": True}, val_fraction=0.25)


def _write_idx(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    n, h, w = images.shape
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """An IDX folder of 240 digits, a guicnn model trained one epoch on it, and its exported script."""
    root = tmp_path_factory.mktemp("script")
    digits = load_digits()
    images = np.round(digits.x[:240, 0] * 255).astype(np.uint8)
    folder = root / "idx"
    folder.mkdir()
    _write_idx(folder, images, digits.y[:240])
    data = load_dataset(folder)
    trainer = Trainer.from_config(DESIGN, SETTINGS)
    trainer.dataset_info = {"name": data.name, "spec": str(folder), "input_shape": list(data.input_shape),
                            "class_names": list(data.class_names)}
    trainer.fit(data)
    model = root / "digits.safetensors"
    trainer.save(model)
    script = root / "train_digits.py"
    assert cli.main(["export", str(model), "--format", "pytorch-script", "-o", str(script)]) == 0
    return SimpleNamespace(root=root, folder=folder, data=data, model=model, script=script)


def _run(command: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _val_accuracy(capsys, model: Path, folder: Path) -> float:
    capsys.readouterr()
    assert cli.main(["evaluate", str(model), "--data", str(folder), "--split", "val"]) == 0
    return float(re.search(r"accuracy (\d+\.\d+)%", capsys.readouterr().out).group(1)) / 100


def test_script_is_readable_and_carries_the_model_files_settings(workspace):
    code = workspace.script.read_text(encoding="utf-8")
    compile(code, "train_digits.py", "exec")
    assert '--data", default="' + str(workspace.folder) + '"' in code  # the data it was trained on
    assert "optimizer = torch.optim.SGD(trained.parameters(), lr=args.lr" in code and "nesterov=True" in code
    assert "StepLR(optimizer, step_size=1, gamma=0.5)" in code
    assert '"augment": {"shift": 1, "flip": True}' in code and '"val_fraction": 0.25' in code
    assert "MinPool2d(kernel_size=2),  # 3:" in code and "class MinPool2d(nn.Module)" in code
    assert "DistributedDataParallel" in code and "DistributedSampler" in code


@pytest.mark.parametrize("optimizer, schedule", [
    ({"type": "adam", "lr": 0.002, "betas": [0.8, 0.99], "weight_decay": 0.001}, {"type": "cosine"}),
    ({"type": "rmsprop", "lr": 0.01, "momentum": 0.5, "centered": True}, {"type": "step", "step_size": 2,
                                                                           "gamma": 0.3}),
    ({"type": "sgd", "lr": 0.1}, None),
])
def test_generated_optimizer_and_schedule_follow_guicnns(optimizer, schedule):
    settings = TrainSettings(optimizer=optimizer, schedule=schedule, epochs=6)
    code = training_script(DESIGN, settings=settings)
    lines = [line.strip() for line in code.splitlines() if line.strip().startswith(("optimizer =", "scheduler ="))]
    namespace = {"torch": torch, "args": SimpleNamespace(lr=optimizer["lr"], epochs=6),
                 "trained": torch.nn.Linear(2, 2)}
    exec("\n".join(lines), namespace)
    opt = namespace["optimizer"]
    group = opt.param_groups[0]
    for key, value in optimizer.items():
        if key != "type":
            assert group[key] == (tuple(value) if isinstance(value, list) else value), key
    rates = []
    for _ in range(6):
        rates.append(group["lr"])
        opt.step()
        if namespace["scheduler"] is not None:
            namespace["scheduler"].step()
    expected = [scheduled_lr(optimizer["lr"], epoch, schedule, 6) for epoch in range(6)]
    np.testing.assert_allclose(rates, expected, rtol=1e-9)


def test_script_trains_on_cpu_and_guicnn_opens_and_evaluates_the_result(workspace, capsys):
    out = workspace.root / "torch.safetensors"
    result = _run([sys.executable, str(workspace.script), "--data", str(workspace.folder), "--epochs", "2",
                   "--out", str(out), "--device", "cpu"], workspace.root)
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    loaded = load_model(out)
    assert loaded.config["layers"] == DESIGN["layers"]
    assert loaded.history["epoch"] == [1, 2]
    assert len(loaded.history["batch_loss"]) == loaded.training["step"] == 2 * 6  # 180 training images / 32
    assert loaded.training["settings"]["optimizer"]["type"] == "sgd"
    assert loaded.training["settings"]["augment"] == {"shift": 1, "flip": True}
    assert loaded.history["lr"] == [0.05, 0.025]  # the step schedule
    # The same split and normalisation as guicnn: guicnn's score of its own validation split equals
    # what the script measured on its validation split.
    train, _ = Trainer(loaded.model, SETTINGS).split_data(workspace.data)
    assert loaded.normalization == Normalization.fit(train.x)
    assert _val_accuracy(capsys, out, workspace.folder) == pytest.approx(loaded.history["val_accuracy"][-1],
                                                                         abs=1 / 60 + 1e-9)
    assert loaded.class_names == list(workspace.data.class_names)


@pytest.mark.slow
def test_script_runs_unchanged_under_torchrun_with_two_cpu_processes_from_a_model_file(workspace, capsys):
    out = workspace.root / "ddp.safetensors"
    result = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   str(workspace.script), "--data", str(workspace.folder), "--epochs", "1", "--out", str(out),
                   "--device", "cpu", "--init", str(workspace.model)], workspace.root)
    assert "2 processes on cpu" in result.stdout
    assert result.stdout.count("saved to") == 1  # only rank 0 writes
    start, loaded = load_model(workspace.model), load_model(out)
    assert loaded.history["epoch"] == [1, 2]  # the guicnn epoch, then the PyTorch one
    assert loaded.history["train_loss"][0] == start.history["train_loss"][0]
    assert loaded.normalization == start.normalization  # --init keeps the model's normalisation
    # guicnn's epoch had 6 batches of the 180 images; each process then took 90 in batches of 32.
    assert len(loaded.history["batch_loss"]) == loaded.training["step"] == 6 + 3
    assert not [p for p in workspace.root.iterdir() if p.name.startswith(".ddp")]  # no stray temporary files
    assert 0.0 <= _val_accuracy(capsys, out, workspace.folder) <= 1.0
