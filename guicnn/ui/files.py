"""Reading and writing what the File menu opens and saves: design JSON or trained .safetensors models."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from guicnn.core import GuicnnError, ModelFileError, Sequential, modelfile
from guicnn.core.designfile import load_design, save_design

MODEL_SUFFIX = ".safetensors"
DESIGN_SUFFIX = ".json"
OPEN_FILTER = "Designs and models (*.json *.safetensors);;Designs (*.json);;Trained models (*.safetensors)"
DESIGN_FILTER = "Design (*.json)"
MODEL_FILTER = "Trained model (*.safetensors)"


@dataclass
class OpenedFile:
    """A design read from disk, with trained weights when it was a model file."""

    config: dict[str, Any]
    weights: dict[str, np.ndarray] | None = None
    model_info: dict[str, Any] = field(default_factory=dict)


def is_model_path(path: str | Path) -> bool:
    """Whether a path to *save to* names a model file (the suffix chooses the format)."""
    return Path(path).suffix.lower() == MODEL_SUFFIX


def read_file(path: str | Path) -> OpenedFile:
    """Read a design or model (told apart by content, as the CLI does); GuicnnError (or OSError)
    with the loader's message on failure."""
    if not modelfile.is_model_file(path):
        return OpenedFile(load_design(path))
    loaded = modelfile.load_model(path)
    info = {
        "training": loaded.training, "history": loaded.history,
        "dataset": loaded.dataset, "optimizer_state": loaded.optimizer_state, "snapshots": loaded.snapshots,
    }
    return OpenedFile(loaded.config, loaded.model.state_dict(), info)


def write_file(path: str | Path, config: dict[str, Any], weights: dict[str, np.ndarray] | None = None,
               model_info: dict[str, Any] | None = None) -> None:
    """Save a model when the path is .safetensors and there are weights, else the design JSON."""
    if not is_model_path(path):
        save_design(path, config)
        return
    if weights is None:
        raise ModelFileError(f"{Path(path).name}: there are no trained weights to save; save the design as .json")
    model = Sequential.from_config(config)
    model.load_state_dict(weights)
    info = model_info or {}
    modelfile.save_model(path, model, optimizer=info.get("optimizer_state") or None,
                         training=info.get("training"), history=info.get("history"), dataset=info.get("dataset"),
                         snapshots=info.get("snapshots"))


def open_error_text(exc: BaseException) -> str:
    """The loader's message for a failed open or save (OSError has no guicnn wording of its own)."""
    if isinstance(exc, GuicnnError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename or 'file'}: {exc.strerror or exc}"
    return str(exc)


def safe_stem(name: str) -> str:
    """A file name from a design name: 'LeNet-5' -> 'LeNet-5', 'a/b' -> 'a_b'."""
    stem = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in name).strip() or "design"
    return stem.replace(" ", "_")


def loaded_model(config: dict[str, Any], weights: dict[str, np.ndarray], model_info: dict[str, Any] | None = None,
                 path: str | Path | None = None) -> modelfile.LoadedModel:
    """The open document's trained model as the core's ``LoadedModel`` (a new model holding copies
    of the weights, so a worker thread may use it while the document changes)."""
    model = Sequential.from_config(config)
    model.load_state_dict(weights)
    info = model_info or {}
    return modelfile.LoadedModel(path=Path(path) if path else None, model=model, config=config,
                                 training=info.get("training") or {}, history=info.get("history") or {},
                                 dataset=info.get("dataset") or {}, optimizer_state=info.get("optimizer_state") or {})
