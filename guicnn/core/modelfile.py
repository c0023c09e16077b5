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

from .analysis import analyze, make_layer
from .designfile import atomic_write
from .errors import ConfigError, ModelFileError, printable
from .limits import MAX_CLASSES, MAX_LAYERS, over_budget
from .model import Sequential
from .optim import Optimizer
from .snapshots import SnapshotError, SnapshotHistory

FORMAT = "guicnn/1"
FORMAT_VERSION = 1
OPTIMIZER_PREFIX = "optimizer."
#: Largest header we parse (the safetensors library's own limit).
MAX_HEADER_BYTES = 100_000_000
METADATA_KEYS = ("architecture", "training", "history", "dataset")
#: safetensors dtypes guicnn reads as weights (integers and booleans are refused).
FLOAT_DTYPES = ("F16", "F32", "F64")


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
    or an already-made state dict; ``snapshots`` the epoch time machine (if any). A failed write
    raises SaveError and leaves any existing file unchanged.
    """
    training = dict(training or {})
    if isinstance(optimizer, Optimizer):
        training.setdefault("optimizer", optimizer.get_config())
        optimizer = optimizer.state_dict()
    save_state(path, model.get_config(), model.state_dict(), optimizer_state=optimizer, training=training,
               history=history, dataset=dataset, snapshots=snapshots)


def save_state(path: str | os.PathLike, config: dict[str, Any], tensors: dict[str, np.ndarray], *,
               optimizer_state: dict[str, np.ndarray] | None = None, training: dict[str, Any] | None = None,
               history: dict[str, Any] | None = None, dataset: dict[str, Any] | None = None,
               snapshots: SnapshotHistory | None = None) -> None:
    """:func:`save_model` from arrays already copied out of a model (e.g. a training checkpoint)."""
    arrays = {name: _contiguous(value) for name, value in tensors.items()}
    for name, value in (optimizer_state or {}).items():
        arrays[OPTIMIZER_PREFIX + name] = _contiguous(value)
    metadata = {"format": FORMAT}
    for key, value in (("architecture", config), ("training", training or {}),
                       ("history", history or {}), ("dataset", dataset or {})):
        metadata[key] = json.dumps(_json_safe(value), allow_nan=False)
    if snapshots is not None and len(snapshots):
        metadata["snapshots"] = json.dumps(_json_safe(snapshots.to_file()), allow_nan=False)
    atomic_write(path, lambda tmp: save_file(arrays, str(tmp), metadata=metadata))


def model_file_size(tensors: dict[str, np.ndarray], optimizer_state: dict[str, np.ndarray] | None = None) -> int:
    """Roughly the bytes a model file of these arrays takes (for checking free space first)."""
    arrays = list(tensors.values()) + list((optimizer_state or {}).values())
    return sum(int(np.asarray(a).nbytes) for a in arrays) + 64 * 1024


# ---- reading -------------------------------------------------------------------------------

def _parse_json(raw: str | bytes, name: str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise ModelFileError(f"{name}: {what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelFileError(f"{name}: {what} is nested too deeply to be a guicnn model file") from None


def _read_header(path: Path) -> dict[str, Any]:
    """The parsed safetensors header, after checking its length against the file size."""
    name = printable(path.name)
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
    except IsADirectoryError:
        raise ModelFileError(f"{name}: is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFileError(f"{name}: not a model file (the header is not valid safetensors JSON)") from None
    header = _parse_json(text, name, "the header")
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
            f"{name}: saved by a newer guicnn (format {printable(fmt)}); this version reads {FORMAT} — "
            "update guicnn to open it"
        )
    raise ModelFileError(f"{name}: unknown model format {printable(repr(fmt))} (expected {FORMAT})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), type(value).__name__)


def _check_history(name: str, history: dict[str, Any]) -> None:
    from .training import BATCH_HISTORY_KEYS, HISTORY_KEYS

    for group in (HISTORY_KEYS, BATCH_HISTORY_KEYS):  # one entry per epoch; one per optimizer step
        lengths = {}
        for key in group:
            if key not in history:
                continue
            values = history[key]
            if not isinstance(values, list):
                raise ModelFileError(f"{name}: the history's {key!r} must be a list of numbers, got "
                                     f"{_type_name(values)}")
            bad = [v for v in values if v is not None and not _is_number(v)]
            if bad:
                raise ModelFileError(f"{name}: the history's {key!r} holds {printable(repr(bad[0]))[:40]}, "
                                     "not a number")
            lengths[key] = len(values)
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k} {n}" for k, n in lengths.items())
            raise ModelFileError(f"{name}: the history's lists have different lengths ({listed})")


def _check_dataset(name: str, dataset: dict[str, Any]) -> None:
    from .data import Normalization

    names = dataset.get("class_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, (str, int)) and not isinstance(n, bool)
                                                  for n in names):
            raise ModelFileError(f"{name}: the data set's class_names must be a list of names, got "
                                 f"{_type_name(names)}")
        if len(names) > MAX_CLASSES:
            raise ModelFileError(f"{name}: {len(names):,} class names; guicnn supports at most {MAX_CLASSES:,}")
    for key in ("name", "source", "spec"):
        if dataset.get(key) is not None and not isinstance(dataset[key], str):
            raise ModelFileError(f"{name}: the data set's {key!r} must be text, got {_type_name(dataset[key])}")
    shape = dataset.get("input_shape")
    if shape is not None and not (isinstance(shape, list) and len(shape) in (1, 3)
                                  and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ModelFileError(f"{name}: the data set's input_shape must be [channels, height, width], "
                             f"got {printable(repr(shape))[:60]}")
    norm = dataset.get("normalization")
    if norm is not None:
        try:
            if not isinstance(norm, dict):
                raise ValueError(f"expected an object with 'mean' and 'std', got {_type_name(norm)}")
            Normalization.from_dict(norm)
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{name}: the saved normalisation is invalid ({printable(exc)})") from None


def _check_training(name: str, training: dict[str, Any]) -> None:
    from .training import TrainSettings

    settings = training.get("settings")
    if settings is not None:
        try:
            TrainSettings.from_dict(settings)
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{name}: the saved training settings are invalid ({printable(exc)})") from None
    for key in ("epoch", "batch", "step"):
        value = training.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise ModelFileError(f"{name}: the saved training {key!r} must be a whole number, got "
                                 f"{printable(repr(value))[:40]}")
    for key in ("partial", "optimizer", "rng"):
        if training.get(key) is not None and not isinstance(training[key], dict):
            raise ModelFileError(f"{name}: the saved training {key!r} must be an object, got "
                                 f"{_type_name(training[key])}")


def _parse_metadata(name: str, metadata: dict[str, str], snapshots: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"format": metadata["format"]}
    for key in METADATA_KEYS:
        if key not in metadata:
            if key == "architecture":
                raise ModelFileError(f"{name}: the model file has no architecture")
            out[key] = {}
            continue
        value = _parse_json(metadata[key], name, f"the {key} metadata")
        if not isinstance(value, dict):
            raise ModelFileError(f"{name}: the {key} metadata must be a JSON object, got {type(value).__name__}")
        out[key] = value
    if snapshots and "snapshots" in metadata:  # optional; checked against the model by load_model
        out["snapshots"] = _parse_json(metadata["snapshots"], name, "the snapshots metadata")
    layers = out["architecture"].get("layers")
    if isinstance(layers, list) and len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{name}: the saved design has {len(layers):,} layers; guicnn builds at most "
                             f"{MAX_LAYERS:,}")
    _check_training(name, out["training"])
    _check_history(name, out["history"])
    _check_dataset(name, out["dataset"])
    return out


def read_metadata(path: str | os.PathLike, *, snapshots: bool = False) -> dict[str, Any]:
    """The parsed metadata (``format``, ``architecture``, ``training``, ``history``, ``dataset``,
    and with ``snapshots=True`` the raw ``snapshots`` entry if any) without loading any weights;
    ModelFileError if the file is not a readable guicnn model."""
    path = Path(path)
    header = _read_header(path)
    metadata = header.get("__metadata__")
    _check_format(printable(path.name), metadata)
    return _parse_metadata(printable(path.name), metadata, snapshots)


def expected_state_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """``state_dict`` names and shapes a design's model has, computed without allocating them.

    ConfigError when the design is invalid.
    """
    return _expected_state(config)[0]


def _expected_state(config: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """(state names → shapes, the names that are trainable parameters)."""
    analysis = analyze(config)
    if not analysis.valid:
        raise ConfigError("; ".join(analysis.errors[:3]))
    shapes: dict[str, tuple[int, ...]] = {}
    params: set[str] = set()
    for index, (layer_config, info) in enumerate(zip(config["layers"], analysis.layers)):
        layer = make_layer(layer_config, index)
        for key, shape in layer.param_shapes(info.input_shape).items():
            shapes[f"{index}.{key}"] = tuple(int(d) for d in shape)
            params.add(f"{index}.{key}")
        for key, shape in layer.buffer_shapes(info.input_shape).items():
            shapes[f"{index}.{key}"] = tuple(int(d) for d in shape)
    return shapes, params


def _check_tensors(name: str, header: dict[str, Any], config: dict[str, Any]) -> None:
    """The header's tensors against what the design needs: names, shapes, float dtypes, memory."""
    try:
        expected, params = _expected_state(config)
    except (ConfigError, ValueError) as exc:
        raise ModelFileError(f"{name}: the saved architecture is invalid: {printable(exc)}") from None
    need = 4 * sum(math.prod(s) for s in expected.values())
    if (message := over_budget(need, f"the saved design's {need // 4:,} weights")):
        raise ModelFileError(f"{name}: {message}")
    stored = {k: v for k, v in header.items() if k != "__metadata__" and not k.startswith(OPTIMIZER_PREFIX)}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:6])}"] if missing else []) + (
            [f"unexpected {', '.join(printable(u) for u in unexpected[:6])}"] if unexpected else [])
        raise ModelFileError(f"{name}: the weights do not fit the architecture: {'; '.join(parts)}")
    for key, shape in expected.items():
        entry = stored[key]
        if not isinstance(entry, dict):
            raise ModelFileError(f"{name}: the header entry of {key} is not an object")
        if tuple(entry.get("shape") or ()) != shape and not (shape == () and entry.get("shape") == []):
            raise ModelFileError(f"{name}: the weights do not fit the architecture: {key} is stored with shape "
                                 f"{tuple(entry.get('shape') or ())}, the design needs {shape}")
        if key in params and entry.get("dtype") not in FLOAT_DTYPES:
            raise ModelFileError(f"{name}: {key} is stored as {printable(entry.get('dtype'))}; weights must be "
                                 f"floating point ({', '.join(FLOAT_DTYPES)})")


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    try:
        with safe_open(str(path), framework="np") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        detail = str(exc).removeprefix("Error while deserializing header: ")
        raise ModelFileError(f"{printable(path.name)}: the model file is corrupt or truncated ({detail})") from None


def _check_finite(name: str, weights: dict[str, np.ndarray]) -> None:
    for key, value in weights.items():
        if not np.isfinite(value).all():
            nan = int(np.isnan(value).sum())
            inf = int(np.isinf(value).sum())
            what = " and ".join(p for p in (f"{nan:,} NaN" if nan else "", f"{inf:,} infinite" if inf else "") if p)
            raise ModelFileError(f"{name}: {key} holds {what} value(s) of {value.size:,}; the weights are "
                                 "broken (saved from a diverged run?)")


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read a model file into a new :class:`LoadedModel` (nothing else is changed).

    Raises ModelFileError naming the file when it is empty, truncated, corrupt, foreign or
    of a newer format, when its metadata is malformed, when its weights do not fit its
    architecture (checked from the header, before anything is allocated), are not floating
    point, or hold NaN or infinite values.
    """
    path = Path(path)
    name = printable(path.name)
    header = _read_header(path)
    metadata = header.get("__metadata__")
    _check_format(name, metadata)
    meta = _parse_metadata(name, metadata, snapshots=True)
    config = meta["architecture"]
    _check_tensors(name, header, config)
    try:
        model = Sequential.from_config(config, seed=0)
    except (ConfigError, ValueError) as exc:
        raise ModelFileError(f"{name}: the saved architecture is invalid: {printable(exc)}") from None
    tensors = _read_tensors(path)
    optimizer_state = {k[len(OPTIMIZER_PREFIX):]: v for k, v in tensors.items() if k.startswith(OPTIMIZER_PREFIX)}
    weights = {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}
    _check_finite(name, {k: v for k, v in weights.items() if v.dtype.kind == "f"})
    try:
        model.load_state_dict(weights, strict=True)
    except ValueError as exc:
        raise ModelFileError(f"{name}: the weights do not fit the architecture: {exc}") from None
    snapshots = None
    if "snapshots" in meta:
        try:
            snapshots = SnapshotHistory.from_file(meta["snapshots"], model)
        except SnapshotError as exc:
            raise ModelFileError(f"{name}: the epoch snapshots are invalid: {printable(exc)}") from None
    return LoadedModel(path=path, model=model, config=config, training=meta["training"],
                       history=meta["history"], dataset=meta["dataset"], optimizer_state=optimizer_state,
                       snapshots=snapshots)


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is to be opened as a model file rather than a design — decided by content.

    A model file starts with its header length (8 bytes, little-endian, no larger than the
    file) and then ``{``; a design is JSON text. A file that is neither counts as a model
    file when it is named ``*.safetensors``, so that opening a damaged model file says
    what is wrong with it. The one rule for the CLI and the window.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= size - 8:
        return True
    if head.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] == b"{":
        return False
    return p.suffix.lower() == ".safetensors"


__all__ = ["FORMAT", "LoadedModel", "save_model", "save_state", "load_model", "read_metadata", "is_model_file",
           "expected_state_shapes", "model_file_size"]
