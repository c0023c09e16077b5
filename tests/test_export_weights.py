"""import-weights: a PyTorch state_dict (safetensors) + a design -> a guicnn model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from guicnn import cli
from guicnn.core import ConfigError, Sequential
from guicnn.core.export import torch_code
from guicnn.core.export.weights import import_weights
from guicnn.core.modelfile import load_model

DESIGN = {
    "name": "imported", "input_shape": [1, 8, 8],
    "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3}, {"type": "BatchNorm"}, {"type": "PReLU"},
        {"type": "MaxPool2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10},
    ],
}


@pytest.fixture
def design_file(tmp_path):
    path = tmp_path / "design.json"
    path.write_text(json.dumps(DESIGN))
    return path


def _state(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, 1, v.shape).astype(v.dtype) if v.dtype.kind == "f" else v
            for k, v in Sequential.from_config(DESIGN).state_dict().items()}


def test_weights_trained_in_pytorch_come_back_with_equal_outputs(design_file, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    namespace: dict = {}
    exec(compile(torch_code(DESIGN), "<export>", "exec"), namespace)
    torch.manual_seed(0)
    module = namespace["build_model"]()
    module.train()
    module(torch.rand(16, 1, 8, 8))  # moves the batch-norm statistics away from 0 and 1
    module.eval()
    weights = tmp_path / "weights.safetensors"
    save_torch(module.state_dict(), str(weights))
    out = tmp_path / "model.safetensors"
    assert cli.main(["import-weights", str(design_file), str(weights), "-o", str(out), "--data", "digits",
                     "--mean", "0.5", "--std", "0.25"]) == 0
    assert "wrote" in capsys.readouterr().err
    loaded = load_model(out)
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(loaded.model.forward(x), expected, rtol=1e-5, atol=1e-5)
    assert loaded.class_names == [str(i) for i in range(10)]
    assert loaded.normalization.mean == [0.5] and loaded.normalization.std == [0.25]
    assert cli.main(["evaluate", str(out), "--data", "digits"]) == 0  # the usual tools take it


def test_every_missing_extra_and_misshapen_tensor_is_named(design_file, tmp_path, capsys):
    state = _state()
    del state["0.bias"], state["1.running_var"]
    state["7.weight"] = np.zeros((3, 3), np.float32)
    state["5.weight"] = np.zeros((10, 99), np.float32)
    weights = tmp_path / "w.safetensors"
    save_file(state, str(weights))
    out = tmp_path / "model.safetensors"
    with pytest.raises(ConfigError) as info:
        import_weights(DESIGN, weights, out)
    message = str(info.value)
    assert message.startswith("w.safetensors do not fit imported: ")
    assert "missing 0.bias (layer 0 Conv2D, shape (4))" in message
    assert "missing 1.running_var (layer 1 BatchNorm, shape (4))" in message
    assert "extra 7.weight (shape (3, 3))" in message
    assert "5.weight has shape (10, 99) but layer 5 Dense needs (10, 36)" in message
    assert not out.exists()
    assert cli.main(["import-weights", str(design_file), str(weights), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing 0.bias" in err and not out.exists()


def test_ddp_prefix_and_missing_batch_counter_are_accepted(tmp_path):
    state = _state()
    del state["1.num_batches_tracked"]  # not needed for inference
    weights = tmp_path / "w.safetensors"
    save_file({f"module.{k}": v for k, v in state.items()}, str(weights))
    model = import_weights(DESIGN, weights, tmp_path / "m.safetensors")
    np.testing.assert_array_equal(model.named_parameters()["5.weight"], state["5.weight"])
    np.testing.assert_array_equal(load_model(tmp_path / "m.safetensors").model.named_buffers()["1.running_mean"],
                                  state["1.running_mean"])


def test_unreadable_weights_file_is_one_clear_error(design_file, tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"not a safetensors file at all")
    assert cli.main(["import-weights", str(design_file), str(weights), "-o", str(tmp_path / "m.safetensors")]) == 1
    assert "w.safetensors: not a readable safetensors file" in capsys.readouterr().err
    assert cli.main(["import-weights", str(design_file), str(weights), "-o", str(tmp_path / "m.safetensors"),
                     "--mean", "0.5"]) == 1
    assert "give both --mean and --std" in capsys.readouterr().err
