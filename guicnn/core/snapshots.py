"""Epoch time machine: a compact snapshot of the network after every epoch, in bounded memory.

A snapshot keeps what the Training, Filters and Confusion views show, shrunk to a budget:
the probe image's feature maps (the first :data:`MAP_CHANNELS` channels of each layer,
block-averaged down to at most :data:`MAP_SIDE` pixels a side, float16; flat outputs keep
their first :data:`MAX_FLAT` values), the Conv2D filters (float32, layers in order while they
fit in :data:`FILTER_VALUES` values), the validation confusion matrix (up to
:data:`MAX_CLASSES` classes), the epoch's figures and the per-layer health figures when there
are any. A LeNet-5 snapshot is about 30 KB.

:class:`SnapshotHistory` holds at most :data:`MAX_SNAPSHOTS` snapshots and :data:`MAX_BYTES`
of arrays. Beyond that it thins: it keeps the first epoch, every ``stride``-th epoch after it
and the latest one, doubling the stride whenever the budget is full, so the kept epochs stay
evenly spaced (1, 3, 5, … then 1, 5, 9, …). The model file keeps them in its ``snapshots``
metadata entry (arrays zlib-compressed and base64-encoded, so the file's tensors stay exactly
the weights and the optimizer state); :meth:`SnapshotHistory.from_file` checks them against
the model and these limits before use.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

#: Most snapshots kept (thinned beyond this).
MAX_SNAPSHOTS = 200
#: Most bytes of snapshot arrays kept, in memory and in the model file (4 MiB).
MAX_BYTES = 4 * 2**20
#: Feature maps are block-averaged down to at most this many pixels a side...
MAP_SIDE = 16
#: ...and keep this many channels per layer.
MAP_CHANNELS = 32
#: Values kept of a flat layer output (Dense, Flatten, global pools).
MAX_FLAT = 256
#: Feature-map values kept per snapshot (later layers are left out beyond it).
MAP_VALUES = 128 * 1024
#: Conv2D weight values kept per snapshot (layers in order while they fit).
FILTER_VALUES = 16 * 1024
#: Confusion matrices are kept up to this many classes.
MAX_CLASSES = 100
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")


class SnapshotError(ValueError):
    """Saved snapshots that do not fit the model or the limits (the message says which and why)."""


@dataclass(frozen=True)
class EpochSnapshot:
    """The network after ``epoch`` (1-based) epochs and ``step`` optimizer steps.

    ``feature_maps[i]`` is layer i's output for the history's probe image (shrunk, float16;
    None when left out), ``filters`` maps a Conv2D layer index to its weights (out, in, kh, kw).
    """

    epoch: int
    step: int
    feature_maps: tuple[np.ndarray | None, ...]
    filters: dict[int, np.ndarray]
    confusion: np.ndarray | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    health: Any = None  # JSON-able per-layer health figures, when the trainer has them

    @property
    def nbytes(self) -> int:
        arrays = [m for m in self.feature_maps if m is not None] + list(self.filters.values())
        if self.confusion is not None:
            arrays.append(self.confusion)
        return int(sum(a.nbytes for a in arrays))


def shrink_map(activation: np.ndarray) -> np.ndarray:
    """One layer's output for one image, as kept in a snapshot (float16).

    (C, H, W): the first MAP_CHANNELS channels, each block-averaged by the smallest whole
    factor that brings both sides to MAP_SIDE or less (edges padded by repetition);
    anything else: flattened, the first MAX_FLAT values.
    """
    a = np.asarray(activation, dtype=np.float32)
    if a.ndim != 3:
        return a.reshape(-1)[:MAX_FLAT].astype(np.float16)
    a = a[:MAP_CHANNELS]
    c, h, w = a.shape
    factor = max(1, math.ceil(max(h, w) / MAP_SIDE))
    if factor > 1:
        ph, pw = -h % factor, -w % factor
        if ph or pw:
            a = np.pad(a, ((0, 0), (0, ph), (0, pw)), mode="edge")
        a = a.reshape(c, a.shape[1] // factor, factor, a.shape[2] // factor, factor).mean(axis=(2, 4))
    with np.errstate(over="ignore"):  # values beyond float16's range become ±inf, shown as such
        return a.astype(np.float16)


def take_snapshot(model, x: np.ndarray | None, *, epoch: int, step: int, confusion: np.ndarray | None = None,
                  metrics: dict[str, float | None] | None = None, health: Any = None) -> EpochSnapshot:
    """A snapshot of ``model`` now; ``x`` is the normalised probe batch (1, ...) or None.

    The probe runs in inference mode, which draws no random numbers and changes no statistics.
    """
    maps: list[np.ndarray | None] = [None] * len(model.layers)
    if x is not None:
        with np.errstate(all="ignore"):  # a diverging model may overflow; its maps show it
            model.forward(x, training=False, keep=True)
        activations, model.activations = model.activations or [], None
        budget = MAP_VALUES
        for index, activation in enumerate(activations):
            shrunk = shrink_map(activation[0])
            if shrunk.size > budget:
                break
            maps[index] = shrunk
            budget -= shrunk.size
        model.clear_caches()
    filters, budget = {}, FILTER_VALUES
    for index, layer in enumerate(model.layers):
        weight = layer.params.get("weight") if layer.type_name == "Conv2D" else None
        if weight is None:
            continue
        if weight.size > budget:
            break
        filters[index] = np.array(weight, dtype=np.float32, copy=True)
        budget -= weight.size
    if confusion is not None:
        confusion = np.asarray(confusion)
        confusion = confusion.astype(np.int32) if len(confusion) <= MAX_CLASSES else None
    return EpochSnapshot(epoch=int(epoch), step=int(step), feature_maps=tuple(maps), filters=filters,
                         confusion=confusion, metrics=dict(metrics or {}), health=health)


class SnapshotHistory:
    """Epoch snapshots of one training run, thinned to ``max_count`` and ``max_bytes``.

    ``probe`` is the raw image (C, H, W) whose feature maps the snapshots keep; it is fixed by
    the first snapshot so that every epoch shows the same image.
    """

    def __init__(self, max_count: int = MAX_SNAPSHOTS, max_bytes: int = MAX_BYTES) -> None:
        if max_count < 2:
            raise ValueError(f"a snapshot history keeps at least 2 snapshots (first and last), got {max_count}")
        self.max_count = int(max_count)
        self.max_bytes = int(max_bytes)
        self.snapshots: list[EpochSnapshot] = []
        self.probe: np.ndarray | None = None
        self.stride = 1  # epochs between kept snapshots (the latest is always kept too)

    def __len__(self) -> int:
        return len(self.snapshots)

    def __iter__(self) -> Iterator[EpochSnapshot]:
        return iter(self.snapshots)

    def __getitem__(self, index: int) -> EpochSnapshot:
        return self.snapshots[index]

    @property
    def epochs(self) -> list[int]:
        return [s.epoch for s in self.snapshots]

    @property
    def nbytes(self) -> int:
        probe = 0 if self.probe is None else self.probe.nbytes
        return probe + sum(s.nbytes for s in self.snapshots)

    def set_probe(self, image: np.ndarray | None) -> bool:
        """Choose the probe image (raw, (C, H, W)); only before the first snapshot. Returns
        whether it was taken."""
        if self.snapshots:
            return False
        self.probe = None if image is None else np.array(image, dtype=np.float32, copy=True)
        return True

    def at_epoch(self, epoch: int) -> EpochSnapshot | None:
        """The snapshot of ``epoch``, or else the latest one before it (None if there is none)."""
        best = None
        for snapshot in self.snapshots:
            if snapshot.epoch > epoch:
                break
            best = snapshot
        return best

    def capacity(self) -> int:
        """How many snapshots fit: ``max_count``, or fewer when they are large (at least 2)."""
        if not self.snapshots:
            return self.max_count
        probe = 0 if self.probe is None else self.probe.nbytes
        largest = max(s.nbytes for s in self.snapshots)
        fit = (self.max_bytes - probe) // max(largest, 1)
        return int(max(2, min(self.max_count, fit)))

    def add(self, snapshot: EpochSnapshot) -> None:
        """Append (a repeated or earlier epoch replaces the snapshots from it on) and thin."""
        while self.snapshots and self.snapshots[-1].epoch >= snapshot.epoch:
            self.snapshots.pop()
        if len(self.snapshots) >= 2 and not self._on_grid(self.snapshots[-1].epoch):
            self.snapshots.pop()  # it was kept only for being the latest
        self.snapshots.append(snapshot)
        while len(self.snapshots) > self.capacity():
            self.stride *= 2
            latest = self.snapshots[-1]
            self.snapshots = [s for s in self.snapshots[:-1] if self._on_grid(s.epoch)] + [latest]

    def clear(self) -> None:
        self.snapshots.clear()
        self.probe = None
        self.stride = 1

    def _on_grid(self, epoch: int) -> bool:
        return (epoch - self.snapshots[0].epoch) % self.stride == 0

    # ---- the model file --------------------------------------------------------------------
    def to_file(self) -> dict[str, Any]:
        """The JSON-able ``snapshots`` metadata of the model file (arrays zlib-compressed, base64)."""
        items = []
        for s in self.snapshots:
            items.append({
                "epoch": s.epoch, "step": s.step, "metrics": s.metrics, "health": s.health,
                "maps": {str(i): _encode(m) for i, m in enumerate(s.feature_maps) if m is not None},
                "filters": {str(i): _encode(w) for i, w in s.filters.items()},
                "confusion": None if s.confusion is None else _encode(s.confusion),
            })
        return {"version": 1, "stride": self.stride, "budget_bytes": self.max_bytes,
                "probe": None if self.probe is None else _encode(self.probe), "items": items}

    @classmethod
    def from_file(cls, metadata: Any, model) -> SnapshotHistory:
        """Snapshots read from a model file's ``snapshots`` metadata, checked against ``model``
        and the limits; SnapshotError names the first problem."""
        return _read(cls(), metadata, model)


# ---- reading and checking ------------------------------------------------------------------

_DTYPES = {"float16": np.float16, "float32": np.float32, "int32": np.int32}


def _encode(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array)
    data = base64.b64encode(zlib.compress(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(), 6))
    return {"dtype": array.dtype.name, "shape": list(array.shape), "zlib": data.decode("ascii")}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SnapshotError(message)


def _decode(value: Any, what: str, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """An array from ``_encode`` output that must have this dtype and shape (checked before inflating)."""
    expected = f"{np.dtype(dtype).name} {shape}"
    _check(isinstance(value, dict) and isinstance(value.get("zlib"), str), f"{what}: not an encoded array")
    _check(value.get("dtype") == np.dtype(dtype).name and value.get("shape") == list(shape),
           f"{what}: {value.get('dtype')} {tuple(value.get('shape') or ())} saved, expected {expected}")
    size = math.prod(shape) * np.dtype(dtype).itemsize
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(base64.b64decode(value["zlib"], validate=True), size + 1)
    except (ValueError, zlib.error):
        raise SnapshotError(f"{what}: the data is corrupt") from None
    _check(len(raw) == size and inflater.eof, f"{what}: the data does not hold {expected}")
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)


def _read(history: SnapshotHistory, metadata: Any, model) -> SnapshotHistory:
    _check(isinstance(metadata, dict) and isinstance(metadata.get("items"), list),
           "the snapshots metadata must be an object with an 'items' list")
    items = metadata["items"]
    _check(len(items) <= MAX_SNAPSHOTS, f"{len(items)} snapshots, more than the {MAX_SNAPSHOTS} allowed")
    stride = metadata.get("stride", 1)
    _check(isinstance(stride, int) and not isinstance(stride, bool) and stride >= 1,
           f"the snapshot stride {stride!r} must be a whole number ≥ 1")
    history.stride = stride
    if metadata.get("probe") is not None:
        history.probe = _decode(metadata["probe"], "the probe image", np.float32, _probe_shape(metadata["probe"], model))
    layers = model.layers
    outputs = int(np.prod(model.output_shape))
    last_epoch = 0
    for k, item in enumerate(items):
        where = f"snapshot {k + 1}"
        _check(isinstance(item, dict), f"{where}: not an object")
        epoch, step = item.get("epoch"), item.get("step")
        _check(_whole(epoch) and epoch > last_epoch, f"{where}: epoch {epoch!r} must be a whole number after {last_epoch}")
        _check(_whole(step) and step >= 0, f"{where}: step {step!r} must be a whole number ≥ 0")
        last_epoch = epoch
        maps: list[np.ndarray | None] = [None] * len(layers)
        for i, value in _by_layer(item.get("maps"), len(layers), where, "maps").items():
            maps[i] = _decode(value, f"{where}: the feature map of layer {i}", np.float16,
                              _map_shape(layers[i].output_shape))
        filters = {}
        for i, value in _by_layer(item.get("filters"), len(layers), where, "filters").items():
            weight = layers[i].params.get("weight") if layers[i].type_name == "Conv2D" else None
            _check(weight is not None, f"{where}: layer {i} is a {layers[i].type_name}, it has no filters")
            filters[i] = _decode(value, f"{where}: the filters of layer {i}", np.float32, tuple(weight.shape))
        confusion = None
        if item.get("confusion") is not None:
            confusion = _decode(item["confusion"], f"{where}: the confusion matrix", np.int32, (outputs, outputs))
            _check(bool((confusion >= 0).all()), f"{where}: the confusion matrix has negative counts")
        metrics = item.get("metrics") or {}
        _check(isinstance(metrics, dict) and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                                                 for v in metrics.values()), f"{where}: the metrics must be numbers")
        history.snapshots.append(EpochSnapshot(epoch=epoch, step=step, feature_maps=tuple(maps), filters=filters,
                                               confusion=confusion, metrics=dict(metrics), health=item.get("health")))
        _check(history.nbytes <= MAX_BYTES, f"the snapshots take more than the {MAX_BYTES:,} bytes allowed")
    return history


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _probe_shape(value: Any, model) -> tuple[int, ...]:
    """The saved probe's own shape when it holds as many values as the model's input, else the input shape."""
    shape = value.get("shape") if isinstance(value, dict) else None
    if isinstance(shape, list) and all(_whole(d) and d > 0 for d in shape) and \
            math.prod(shape) == math.prod(model.input_shape) and len(shape) <= 3:
        return tuple(shape)
    return tuple(model.input_shape)


def _by_layer(value: Any, count: int, where: str, what: str) -> dict[int, Any]:
    _check(value is None or (isinstance(value, dict) and all(k.isdigit() and int(k) < count for k in value)),
           f"{where}: '{what}' must be keyed by layer numbers from 0 to {count - 1}")
    return {int(k): v for k, v in (value or {}).items()}


def _map_shape(output_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape :func:`shrink_map` gives a layer output of this shape."""
    if len(output_shape) != 3:
        return (min(math.prod(output_shape), MAX_FLAT),)
    c, h, w = output_shape
    factor = max(1, math.ceil(max(h, w) / MAP_SIDE))
    return (min(c, MAP_CHANNELS), math.ceil(h / factor), math.ceil(w / factor))


__all__ = ["EpochSnapshot", "SnapshotHistory", "SnapshotError", "take_snapshot", "shrink_map", "MAX_SNAPSHOTS",
           "MAX_BYTES", "MAP_SIDE", "MAP_CHANNELS"]
