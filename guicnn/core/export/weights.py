"""Weights coming back from PyTorch: a state_dict (as safetensors) plus a design → a guicnn model file.

Tensor names are those of the exported ``nn.Sequential`` (``"0.weight"``, ``"3.running_mean"``),
so weights trained with ``guicnn export --format pytorch`` or ``pytorch-script`` code load one
to one. Every missing, extra or misshapen tensor is named in one error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelFileError
from ..model import Sequential

#: Buffers PyTorch keeps that inference does not need: filled with 0 when absent.
OPTIONAL_BUFFERS = ("num_batches_tracked",)
#: Prefix ``DistributedDataParallel`` adds to every name of the module it wraps.
DDP_PREFIX = "module."


def read_state_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as NumPy arrays; ModelFileError naming the file otherwise."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path.name}: no such weights file")
    try:
        with safe_open(str(path), framework="np") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        hint = ""
        if "bf16" in str(exc).lower() or "bfloat16" in str(exc).lower():
            hint = "; save the tensors as float32 (state = {k: v.float() for k, v in state.items()})"
        raise ModelFileError(f"{path.name}: not a readable safetensors file ({exc}){hint}") from None


def state_problems(model: Sequential, state: dict[str, np.ndarray]) -> list[str]:
    """One line per missing, extra or misshapen tensor of ``state`` for ``model`` (empty when it fits)."""
    expected = {**model.named_parameters(), **model.named_buffers()}
    problems = []
    for name, target in expected.items():
        if name not in state and name.rsplit(".", 1)[-1] not in OPTIONAL_BUFFERS:
            problems.append(f"missing {name} ({_owner(model, name)}, shape {_shape(target.shape)})")
    for name in state:
        if name not in expected:
            problems.append(f"extra {name} (shape {_shape(np.shape(state[name]))}): the design has no such tensor")
    for name, target in expected.items():
        if name in state and tuple(np.shape(state[name])) != tuple(target.shape):
            problems.append(f"{name} has shape {_shape(np.shape(state[name]))} but {_owner(model, name)} "
                            f"needs {_shape(target.shape)}")
    return problems


def _owner(model: Sequential, name: str) -> str:
    index = int(name.split(".", 1)[0])
    return f"layer {index} {model.layers[index].type_name}"


def _shape(shape: Any) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def model_from_state(config: dict[str, Any], state: dict[str, np.ndarray], *,
                     source: str = "the weights") -> Sequential:
    """The design built and filled with ``state`` (a PyTorch state_dict as NumPy arrays).

    A ``module.`` prefix (from DistributedDataParallel) is dropped; ConfigError lists every
    missing, extra or misshapen tensor.
    """
    model = Sequential.from_config(config, seed=0)
    if state and all(name.startswith(DDP_PREFIX) for name in state):
        state = {name[len(DDP_PREFIX):]: value for name, value in state.items()}
    problems = state_problems(model, state)
    if problems:
        title = config.get("name") or "the design"
        raise ConfigError(f"{source} do not fit {title}: " + "; ".join(problems))
    for name, target in {**model.named_parameters(), **model.named_buffers()}.items():
        if name in state:
            target[...] = np.asarray(state[name]).astype(target.dtype, copy=False)
    return model


def write_model_file(path: str | os.PathLike, config: dict[str, Any], state: dict[str, np.ndarray], *,
                     settings: dict[str, Any] | None = None, history: dict[str, list] | None = None,
                     epoch: int | None = None, step: int = 0, dataset: dict[str, Any] | None = None,
                     normalization: Any = None, optimizer_state: dict[str, np.ndarray] | None = None,
                     source: str = "the weights") -> Sequential:
    """Write a guicnn model file from weights trained elsewhere (the PyTorch training script, an import).

    ``settings`` are guicnn ``TrainSettings`` as a dict; ``history`` uses the trainer's keys;
    ``optimizer_state`` holds running averages named ``"<param>.<slot>"`` (``"0.weight.exp_avg"``),
    kept when they fit so that ``guicnn train`` can continue the run. Returns the model written.
    """
    from ..training import HISTORY_KEYS, Trainer, TrainSettings

    model = model_from_state(config, state, source=source)
    trainer = Trainer(model, TrainSettings.from_dict(settings) if settings else None, normalization=normalization)
    if history:
        trainer.history.update({key: list(value) for key, value in history.items() if key in trainer.history})
    trainer.epoch = len(trainer.history[HISTORY_KEYS[0]]) if epoch is None else int(epoch)
    trainer.step = int(step)
    trainer.dataset_info = {k: v for k, v in (dataset or {}).items() if k != "normalization"}
    if optimizer_state:
        try:
            trainer.optimizer.load_state_dict({**optimizer_state, "steps": np.array(step, np.int64)})
        except ValueError:
            pass  # another optimizer's averages: guicnn starts its own when training continues
    trainer.save(path)
    return model


def import_weights(config: dict[str, Any], weights_path: str | os.PathLike, out_path: str | os.PathLike, *,
                   dataset: dict[str, Any] | None = None, normalization: Any = None) -> Sequential:
    """A PyTorch state_dict saved as safetensors + a design → a guicnn model file; returns the model.

    ``dataset`` (name, class names, input shape) and ``normalization`` (how the inputs were
    normalised in PyTorch) are stored so that evaluation and prediction treat images alike.
    """
    name = Path(weights_path).name
    state = read_state_file(weights_path)
    state = {k: v for k, v in state.items() if not k.startswith("optimizer.")}
    return write_model_file(out_path, config, state, dataset=dataset, normalization=normalization, source=name,
                            epoch=0)


__all__ = ["read_state_file", "state_problems", "model_from_state", "write_model_file", "import_weights"]
