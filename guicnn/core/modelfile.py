"""The model file: one ``.safetensors`` file with weights, optimizer state and JSON metadata.

Tensors: every parameter and buffer under its ``state_dict`` name (``"0.weight"``,
``"1.running_mean"``), optimizer state under ``"optimizer.<param>.<slot>"`` plus
``optimizer.steps`` and ``optimizer.lr``. Metadata (all JSON strings): ``format``
(``guicnn/1``), ``architecture`` (the design config), ``training`` (settings and position),
``history`` (per-epoch lists), ``dataset`` (name, input shape, class names, normalisation).
Optionally the epoch time machine: a ``snapshots`` metadata entry (see
:mod:`guicnn.core.snapshots`; at most its ``MAX_BYTES`` of arrays, compressed), which leaves
the tensors exactly the weights and the optimizer state.

Reading checks the 8-byte header length against the file size before anything is parsed,
so a forged header cannot cause a large allocation; every problem becomes one
:class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from .designfile import atomic_write
from .errors import ConfigError, ModelFileError
from .model import Sequential
from .optim import Optimizer
from .snapshots import SnapshotError, SnapshotHistory

FORMAT = "guicnn/1"
FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer."
#: Largest header we parse (the safetensors library's own limit).
MAX_HEADER_BYTES = 100_000_000
METADATA_KEYS = ("architecture", "training", "history", "dataset")


@dataclass
class LoadedModel:
    """What :func:`load_model` read: a ready model plus everything saved with it."""

    path: Path
    model: Sequential
    config: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    snapshots: SnapshotHistory | None = None  # the epoch time machine, when saved

    @property
    def normalization(self):
        """The saved per-channel normalisation (a ``Normalization``) or None."""
        from .data import Normalization

        stats = self.dataset.get("normalization")
        return Normalization.from_dict(stats) if stats else None

    @property
    def class_names(self) -> list[str] | None:
        names = self.dataset.get("class_names")
        return [str(n) for n in names] if names else None


# ---- saving --------------------------------------------------------------------------------

def _json_safe(value: Any) -> Any:
    """NaN/inf become null (JSON has no such numbers); NumPy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _contiguous(value: Any) -> np.ndarray:
    """A C-ordered array of the same shape (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return np.array(value, order="C", copy=None)


def save_model(path: str | os.PathLike, model: Sequential, *, optimizer: Optimizer | dict | None = None,
               training: dict[str, Any] | None = None, history: dict[str, Any] | None = None,
               dataset: dict[str, Any] | None = None, snapshots: SnapshotHistory | None = None) -> None:
    """Save weights, buffers, optimizer state and metadata to one ``.safetensors`` file, atomically.

    ``optimizer`` is an Optimizer (its ``state_dict``; its config is added to ``training``)
    or an already-made state dict; ``snapshots`` the epoch time machine (if any).
    """
    tensors = {name: _contiguous(value) for name, value in model.state_dict().items()}
    training = dict(training or {})
    if isinstance(optimizer, Optimizer):
        training.setdefault("optimizer", optimizer.get_config())
        optimizer = optimizer.state_dict()
    for name, value in (optimizer or {}).items():
        tensors[OPTIMIZER_PREFIX + name] = _contiguous(value)
    metadata = {"format": FORMAT}
    for key, value in (("architecture", model.get_config()), ("training", training),
                       ("history", history or {}), ("dataset", dataset or {})):
        metadata[key] = json.dumps(_json_safe(value), allow_nan=False)
    if snapshots is not None and len(snapshots):
        metadata["snapshots"] = json.dumps(_json_safe(snapshots.to_file()), allow_nan=False)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


# ---- reading -------------------------------------------------------------------------------

def _read_header(path: Path) -> dict[str, Any]:
    """The parsed safetensors header, after checking its length against the file size."""
    name = path.name
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(8)
            if size == 0:
                raise ModelFileError(f"{name}: the file is empty")
            if head[:1] == b"{":
                raise ModelFileError(f"{name}: this is a JSON file (a design?), not a model file; "
                                     "model files are .safetensors files saved by guicnn")
            if len(head) < 8:
                raise ModelFileError(f"{name}: truncated ({size} bytes); not a model file")
            (length,) = struct.unpack("<Q", head)
            if length < 2 or length > size - 8 or length > MAX_HEADER_BYTES:
                raise ModelFileError(
                    f"{name}: not a model file, or truncated (its header claims {length:,} bytes "
                    f"but the file has {size:,})"
                )
            raw = handle.read(length)
    except OSError as exc:
        raise ModelFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{name}: not a model file (the header is not valid safetensors JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{name}: not a model file (the header is not a JSON object)")
    return header


def _check_format(name: str, metadata: Any) -> None:
    if not isinstance(metadata, dict) or "format" not in metadata:
        raise ModelFileError(f"{name}: a safetensors file, but not a guicnn model (no 'format' in its metadata)")
    fmt = metadata["format"]
    if fmt == FORMAT:
        return
    prefix, _, version = str(fmt).partition("/")
    if prefix == "guicnn" and version.isdigit() and int(version) > FORMAT_VERSION:
        raise ModelFileError(
            f"{name}: saved by a newer guicnn (format {fmt}); this version reads {FORMAT} — update guicnn to open it"
        )
    raise ModelFileError(f"{name}: unknown model format {fmt!r} (expected {FORMAT})")


def _parse_metadata(name: str, metadata: dict[str, str], snapshots: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"format": metadata["format"]}
    for key in METADATA_KEYS:
        if key not in metadata:
            if key == "architecture":
                raise ModelFileError(f"{name}: the model file has no architecture")
            out[key] = {}
            continue
        try:
            value = json.loads(metadata[key])
        except (TypeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{name}: the {key} metadata is not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise ModelFileError(f"{name}: the {key} metadata must be a JSON object, got {type(value).__name__}")
        out[key] = value
    if snapshots and "snapshots" in metadata:  # optional; checked against the model by load_model
        try:
            out["snapshots"] = json.loads(metadata["snapshots"])
        except (TypeError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{name}: the snapshots metadata is not valid JSON ({exc})") from None
    return out


def read_metadata(path: str | os.PathLike, *, snapshots: bool = False) -> dict[str, Any]:
    """The parsed metadata (``format``, ``architecture``, ``training``, ``history``, ``dataset``,
    and with ``snapshots=True`` the raw ``snapshots`` entry if any) without loading any weights;
    ModelFileError if the file is not a readable guicnn model."""
    path = Path(path)
    header = _read_header(path)
    metadata = header.get("__metadata__")
    _check_format(path.name, metadata)
    return _parse_metadata(path.name, metadata, snapshots)


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    try:
        with safe_open(str(path), framework="np") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        detail = str(exc).removeprefix("Error while deserializing header: ")
        raise ModelFileError(f"{path.name}: the model file is corrupt or truncated ({detail})") from None


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read a model file into a new :class:`LoadedModel` (nothing else is changed).

    Raises ModelFileError naming the file when it is empty, truncated, corrupt, foreign or
    of a newer format, or when its weights do not fit its architecture.
    """
    path = Path(path)
    meta = read_metadata(path, snapshots=True)
    config = meta["architecture"]
    try:
        model = Sequential.from_config(config, seed=0)
    except (ConfigError, ValueError) as exc:
        raise ModelFileError(f"{path.name}: the saved architecture is invalid: {exc}") from None
    tensors = _read_tensors(path)
    optimizer_state = {k[len(OPTIMIZER_PREFIX):]: v for k, v in tensors.items() if k.startswith(OPTIMIZER_PREFIX)}
    weights = {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}
    try:
        model.load_state_dict(weights, strict=True)
    except ValueError as exc:
        raise ModelFileError(f"{path.name}: the weights do not fit the architecture: {exc}") from None
    snapshots = None
    if "snapshots" in meta:
        try:
            snapshots = SnapshotHistory.from_file(meta["snapshots"], model)
        except SnapshotError as exc:
            raise ModelFileError(f"{path.name}: the epoch snapshots are invalid: {exc}") from None
    return LoadedModel(path=path, model=model, config=config, training=meta["training"],
                       history=meta["history"], dataset=meta["dataset"], optimizer_state=optimizer_state,
                       snapshots=snapshots)


def is_model_file(path: str | os.PathLike) -> bool:
    """True when ``path`` reads as a guicnn model file (header only)."""
    try:
        read_metadata(path)
    except ModelFileError:
        return False
    return True


__all__ = ["FORMAT", "LoadedModel", "save_model", "load_model", "read_metadata", "is_model_file"]
