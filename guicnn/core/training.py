"""Training: a stoppable, pausable, deterministic generator of small frozen progress reports.

``Trainer.fit_iter`` runs mini-batch training and yields a :class:`StepReport` after every
batch, an :class:`EpochReport` (with validation loss, accuracy and confusion matrix) after
every epoch, and one :class:`EndReport` last. Reports hold plain numbers and copies, never
views into arrays that training keeps changing, so another thread may keep them.

Determinism: the model is built from ``settings.seed``; epoch ``e`` shuffles with
``default_rng([seed, e])``, and at its start every layer with a training mode (dropout,
stochastic pooling) and the augmentation get generators seeded ``[seed, e, k]``. A trainer
saved between two batches stores those generators' states, so loading it continues exactly
as if it had never stopped.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Union

import numpy as np

from .data import Dataset, Normalization, augment_batch, train_val_split
from .errors import ShapeError, TrainingError
from .health import PROBES as HEALTH_PROBES
from .health import LayerHealth, layer_health
from .losses import LOSSES, Loss, make_loss
from .model import Sequential
from .optim import DEFAULT_OPTIMIZER, OPTIMIZERS, Optimizer, make_optimizer, scheduled_lr

#: Seconds between checks of the stop event while paused.
PAUSE_POLL = 0.05
#: Stream number of the augmentation generator (layers use their index).
_AUGMENT_STREAM = 2**31 - 1
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")
#: Per-batch history: the training loss of every optimizer step and the (1-based) epoch it was in.
BATCH_HISTORY_KEYS = ("batch_loss", "batch_epoch")


# ---- settings ------------------------------------------------------------------------------

def _default_optimizer() -> dict[str, Any]:
    return {"type": DEFAULT_OPTIMIZER, "lr": OPTIMIZERS[DEFAULT_OPTIMIZER].field("lr").default}


def _default_augment() -> dict[str, Any]:
    return {"shift": 0, "flip": False}


@dataclass
class TrainSettings:
    """Everything that decides how a model is trained (JSON-able with to_dict/from_dict).

    ``optimizer`` is what :func:`~guicnn.core.optim.make_optimizer` takes, e.g.
    ``{"type": "sgd", "lr": 0.1, "momentum": 0.9}``; ``schedule`` is None or
    ``{"type": "step", "step_size": 5, "gamma": 0.5}`` / ``{"type": "cosine"}`` (per epoch);
    ``augment`` is ``{"shift": pixels, "flip": bool}``; ``normalize`` fits per-channel
    mean/std on the training split and applies them to every batch.
    """

    optimizer: dict[str, Any] = field(default_factory=_default_optimizer)
    loss: str = "cross_entropy"
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    schedule: dict[str, Any] | None = None
    augment: dict[str, Any] = field(default_factory=_default_augment)
    val_fraction: float = 0.2
    normalize: bool = True

    @property
    def lr(self) -> float:
        """The base learning rate of the optimizer settings."""
        kind = OPTIMIZERS.get(str(self.optimizer.get("type", DEFAULT_OPTIMIZER)).lower(), OPTIMIZERS[DEFAULT_OPTIMIZER])
        return float(self.optimizer.get("lr", kind.field("lr").default))

    def validate(self) -> TrainSettings:
        """Raise ValueError saying which setting is wrong and what would be right; return self."""
        if not isinstance(self.optimizer, dict):
            raise ValueError(f"optimizer must be an object like {{'type': 'adam', 'lr': 0.001}}, got {self.optimizer!r}")
        make_optimizer({"w": np.zeros(1, np.float32)}, self.optimizer)  # checks type and values
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; use one of {', '.join(LOSSES)}")
        for name in ("batch_size", "epochs", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.epochs < 0:
            raise ValueError(f"epochs must be 0 or more, got {self.epochs}")
        if self.seed < 0:
            raise ValueError(f"seed must be 0 or more, got {self.seed}")
        scheduled_lr(1.0, 0, self.schedule, max(self.epochs, 1))  # checks the schedule
        if not isinstance(self.augment, dict) or set(self.augment) - {"shift", "flip"}:
            raise ValueError(f"augment must be {{'shift': pixels, 'flip': true/false}}, got {self.augment!r}")
        shift = self.augment.get("shift", 0)
        if isinstance(shift, bool) or not isinstance(shift, int) or not 0 <= shift <= 16:
            raise ValueError(f"augment shift must be a whole number of pixels from 0 to 16, got {shift!r}")
        if not isinstance(self.augment.get("flip", False), bool):
            raise ValueError(f"augment flip must be true or false, got {self.augment.get('flip')!r}")
        if isinstance(self.val_fraction, bool) or not isinstance(self.val_fraction, (int, float)) \
                or not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be a number from 0 up to (not including) 1, got {self.val_fraction!r}")
        if not isinstance(self.normalize, bool):
            raise ValueError(f"normalize must be true or false, got {self.normalize!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able deep copy."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        """Settings from ``to_dict`` output; missing keys take defaults, unknown keys are refused."""
        if not isinstance(data, dict):
            raise ValueError(f"training settings must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**copy.deepcopy(data)).validate()


# ---- formatting ----------------------------------------------------------------------------

def format_duration(seconds: float) -> str:
    """0:07, 12:34 or 1:02:03 (ETAs and elapsed times); '–' when unknown."""
    if not math.isfinite(seconds):
        return "–"
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---- reports -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StepReport:
    """After every batch. ``epoch`` and ``batch`` count from 1; ``step`` counts all updates so far."""

    epoch: int
    epochs: int
    step: int
    batch: int
    batches_per_epoch: int
    samples_seen: int  # training samples of this epoch so far
    loss: float  # this batch
    accuracy: float  # this batch, 0..1
    running_loss: float  # mean over the epoch so far
    running_accuracy: float
    lr: float
    samples_per_sec: float
    elapsed: float  # seconds of training in this fit_iter call, pauses excluded


@dataclass(frozen=True)
class EpochReport:
    """After every epoch: training and validation results; ``confusion[true, predicted]`` (read-only)."""

    epoch: int
    epochs: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    samples_per_sec: float
    elapsed: float
    confusion: np.ndarray | None
    best_epoch: int
    history: dict[str, tuple]
    health: tuple[LayerHealth, ...] = ()  # per-layer health after this epoch (core.health)


@dataclass(frozen=True)
class EndReport:
    """Always the last report: ``reason`` is "finished", "stopped" or "diverged"."""

    reason: str
    message: str
    epoch: int  # completed epochs
    step: int
    health: tuple[LayerHealth, ...] = ()  # per-layer health at the end (core.health)


Report = Union[StepReport, EpochReport, EndReport]


@dataclass(frozen=True)
class EvalResult:
    """Loss and accuracy over a data set, ``confusion[true, predicted]`` counts, per-sample outputs."""

    loss: float
    accuracy: float
    confusion: np.ndarray
    probabilities: np.ndarray
    predictions: np.ndarray


# ---- evaluation ----------------------------------------------------------------------------

def _logit_end(model: Sequential, loss: Loss) -> int | None:
    """Cross-entropy takes logits: stop before a final Softmax layer so it is not applied twice."""
    return model.logits_end if loss.type_name == "cross_entropy" else None


def _fit_input(x: np.ndarray, model: Sequential) -> np.ndarray:
    """NCHW batches feed flat-input models ([features]) when the sizes agree."""
    if len(model.input_shape) == 1 and x.ndim != 2:
        return x.reshape(len(x), -1)
    return x


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 256,
             loss: str | Loss = "cross_entropy", normalization: Normalization | None = None) -> EvalResult:
    """Run ``model`` in inference mode over ``x`` (in batches) and score it against labels ``y``.

    ``probabilities`` are softmax outputs (N, K); ``predictions`` their argmax; the loss is
    the sample-weighted mean. ``normalization`` is applied to each batch first.
    """
    loss_fn = make_loss(loss) if isinstance(loss, str) else loss
    y = np.asarray(y)
    if len(x) != len(y):
        raise ShapeError(f"{len(x)} images but {len(y)} labels")
    upto = _logit_end(model, loss_fn)
    k = int(np.prod(model.output_shape))
    total, probs = 0.0, []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        if normalization is not None:
            xb = normalization.apply(xb)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a NaN loss is reported as NaN
            out = model.forward(_fit_input(xb, model), training=False, upto=upto).reshape(len(xb), -1)
            total += loss_fn.forward(out, y[start:start + batch_size]) * len(xb)
            probs.append(model.probabilities(out, upto=upto))
    model.clear_caches()
    probabilities = np.concatenate(probs) if probs else np.zeros((0, k), np.float32)
    predictions = probabilities.argmax(axis=1).astype(np.int64)
    labels = y.astype(np.int64)
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    n = max(len(y), 1)
    return EvalResult(loss=total / n, accuracy=float((predictions == labels).sum()) / n, confusion=confusion,
                      probabilities=probabilities, predictions=predictions)


# ---- helpers -------------------------------------------------------------------------------

def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch; a last batch of one sample joins the one before it
    (batch norm cannot train on a single sample)."""
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


def check_compatible(model: Sequential, data: Dataset, what: str = "") -> None:
    """TrainingError saying what to change when ``data`` cannot feed ``model``
    (image size, or more classes than outputs)."""
    what = f"{what} " if what else ""
    model_shape = tuple(model.input_shape)
    data_shape = tuple(data.input_shape)
    fits = data_shape == model_shape or (len(model_shape) == 1 and math.prod(data_shape) == model_shape[0])
    if not fits:
        raise TrainingError(
            f"the {what}images are {'x'.join(map(str, data_shape))} but the model expects "
            f"{'x'.join(map(str, model_shape))}; set the design's input_shape to {list(data_shape)} "
            "or choose matching data"
        )
    outputs = int(np.prod(model.output_shape))
    if len(data) and int(data.y.max()) >= outputs:
        raise TrainingError(
            f"the {what}data has {data.num_classes} classes but the model has {outputs} outputs; "
            f"set the units of the last Dense layer to {data.num_classes}"
        )


class _Clock:
    """Seconds of activity, not counting the time spent paused."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def wait_while_paused(self, pause: threading.Event | None, stop: threading.Event) -> None:
        if pause is None or not pause.is_set():
            return
        began = time.perf_counter()
        while pause.is_set() and not stop.is_set():
            stop.wait(PAUSE_POLL)  # sleeps; returns at once when stop is set
        self.paused += time.perf_counter() - began


class _Snapshot:
    """Preallocated copy of the weights, buffers and position, for undoing a diverged step."""

    def __init__(self, live: dict[str, np.ndarray]) -> None:
        self.arrays = {key: np.array(value, copy=True) for key, value in live.items()}
        self._pairs = [(self.arrays[key], value) for key, value in live.items()]
        self.meta: dict[str, Any] | None = None

    def capture(self, meta: dict[str, Any]) -> None:
        for target, value in self._pairs:
            np.copyto(target, value)
        self.meta = meta


def _empty_history() -> dict[str, list]:
    return {key: [] for key in HISTORY_KEYS + BATCH_HISTORY_KEYS}


def best_epoch(history: dict[str, list]) -> int:
    """1-based epoch with the best validation accuracy (lowest training loss without validation); 0 if none."""
    epochs = history.get("epoch", [])
    if not epochs:
        return 0
    val = history.get("val_accuracy", [])
    if val and all(v is not None for v in val):
        return int(epochs[int(np.argmax(val))])
    return int(epochs[int(np.argmin(history["train_loss"]))])


def _mean(total: float, count: int) -> float:
    return total / count if count else float("nan")


# ---- the trainer ---------------------------------------------------------------------------

class Trainer:
    """A model with its optimizer, loss, settings, history and position (epoch, batch, step).

    Train with :meth:`fit_iter`; save with :meth:`save`; continue later with
    :meth:`from_loaded` (exactly where it stopped, even between two batches of an epoch).
    ``normalization`` (fitted on the first training split when ``settings.normalize``) and
    ``dataset_info`` (name, input shape, class names) travel with the model file.
    """

    def __init__(self, model: Sequential, settings: TrainSettings | None = None, *,
                 normalization: Normalization | None = None) -> None:
        self.model = model
        self.settings = TrainSettings.from_dict((settings or TrainSettings()).to_dict())  # own copy
        self.loss: Loss = make_loss(self.settings.loss)
        self.optimizer: Optimizer = make_optimizer(model.named_parameters(), self.settings.optimizer)
        self.normalization = normalization
        self.dataset_info: dict[str, Any] = {}
        self.history: dict[str, list] = _empty_history()
        self.epoch = 0  # completed epochs
        self.batch = 0  # completed batches of the current epoch
        self.step = 0  # completed optimizer steps
        self._partial = [0.0, 0, 0]  # loss sum, correct, samples of the current epoch
        self._rng_epoch: int | None = None  # epoch the random streams below were seeded for
        self._aug_rng: np.random.Generator | None = None
        self._pending_rng: dict[str, Any] | None = None  # streams saved mid-epoch in a model file
        self._norm_stats: tuple[np.ndarray, np.ndarray] | None = None
        self.last_evaluation: EvalResult | None = None  # the validation pass of the last epoch
        self.last_health: tuple[LayerHealth, ...] = ()  # core.health figures of the last report
        self._health_x: np.ndarray | None = None  # normalised probe batch for the health figures

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any], settings: TrainSettings | None = None) -> Trainer:
        """Build a fresh model from a design config, initialised from ``settings.seed``."""
        settings = (settings or TrainSettings()).validate()
        return cls(Sequential.from_config(config, seed=settings.seed), settings)

    @classmethod
    def from_loaded(cls, loaded: Any, settings: TrainSettings | None = None) -> Trainer:
        """Continue from a :class:`~guicnn.core.modelfile.LoadedModel` (settings, optimizer state,
        history, position, normalisation); ``settings`` overrides the saved ones if given."""
        training = loaded.training or {}
        if settings is None:
            settings = TrainSettings.from_dict(training["settings"]) if "settings" in training else TrainSettings()
        norm = (loaded.dataset or {}).get("normalization")
        trainer = cls(loaded.model, settings, normalization=Normalization.from_dict(norm) if norm else None)
        trainer.dataset_info = {k: v for k, v in (loaded.dataset or {}).items() if k != "normalization"}
        saved_type = (training.get("optimizer") or {}).get("type")
        if loaded.optimizer_state and settings.optimizer.get("type", "adam") == saved_type:
            try:
                trainer.optimizer.load_state_dict(loaded.optimizer_state)
            except (ValueError, TypeError) as exc:
                raise TrainingError(f"the saved optimizer state does not fit the model: {exc}") from None
        history = loaded.history or {}
        trainer.history = {key: list(v) if isinstance(v := history.get(key), list) else []
                           for key in HISTORY_KEYS + BATCH_HISTORY_KEYS}
        try:
            trainer.epoch = int(training.get("epoch", len(trainer.history["epoch"])))
            trainer.batch = int(training.get("batch", 0))
            trainer.step = int(training.get("step", trainer.optimizer.steps))
            partial = training.get("partial") or {}
            trainer._partial = [float(partial.get("loss_sum", 0.0)), int(partial.get("correct", 0)),
                                int(partial.get("seen", 0))]
        except (TypeError, ValueError, AttributeError) as exc:
            raise TrainingError(f"the saved training position is invalid ({exc})") from None
        trainer._pending_rng = training.get("rng") if trainer.batch else None
        saved = training.get("settings")
        if trainer.batch and isinstance(saved, dict) and _reorders_epoch(saved, settings.to_dict()):
            trainer._restart_epoch()
        return trainer

    def set_settings(self, settings: TrainSettings) -> None:
        """Change settings between runs (e.g. a lower learning rate after divergence).

        The optimizer keeps its state when its type is unchanged, and starts fresh otherwise.
        """
        settings = TrainSettings.from_dict(settings.to_dict())  # own copy: fit_iter changes epochs
        state = self.optimizer.state_dict() if settings.optimizer.get("type", "adam") == self.optimizer.type_name else None
        optimizer = make_optimizer(self.model.named_parameters(), settings.optimizer)
        if state is not None:
            state.pop("lr", None)
            optimizer.load_state_dict(state)
        if self.batch and _reorders_epoch(self.settings.to_dict(), settings.to_dict()):
            self._restart_epoch()
        self.settings, self.optimizer, self.loss = settings, optimizer, make_loss(settings.loss)

    def _restart_epoch(self) -> None:
        """Count the current epoch from its start (its batches no longer line up with the new settings)."""
        self.batch = 0
        self._partial = [0.0, 0, 0]

    # ---- state for the model file ---------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        """JSON-able settings and position (the model file's ``training`` metadata)."""
        loss_sum, correct, seen = self._partial
        return {
            "settings": self.settings.to_dict(), "optimizer": self.optimizer.get_config(),
            "epoch": self.epoch, "batch": self.batch, "step": self.step,
            "partial": {"loss_sum": loss_sum, "correct": correct, "seen": seen},
            "rng": self._rng_states() if self.batch else None,
        }

    def _rng_states(self) -> dict[str, Any] | None:
        """JSON-able states of the epoch's random streams (needed to resume between batches)."""
        if self._rng_epoch != self.epoch:
            return self._pending_rng
        layers = {str(i): layer.rng.bit_generator.state for i, layer in enumerate(self.model.layers)
                  if layer.has_training_mode}
        return {"augment": self._aug_rng.bit_generator.state, "layers": layers}

    def dataset_metadata(self) -> dict[str, Any]:
        """The model file's ``dataset`` metadata: name, input shape, class names, normalisation."""
        info = dict(self.dataset_info)
        info["normalization"] = self.normalization.to_dict() if self.normalization else None
        return info

    def save(self, path: Any) -> None:
        """Write the model, optimizer state, settings, position, history and data info (atomically)."""
        from .modelfile import save_model

        save_model(path, self.model, optimizer=self.optimizer, training=self.training_state(),
                   history=self.history, dataset=self.dataset_metadata())

    # ---- data -----------------------------------------------------------------------------
    def split_data(self, data: Dataset | tuple) -> tuple[Dataset, Dataset | None]:
        """(train, validation) as training uses them: ``train_val_split`` with the settings' fraction and seed."""
        ds = self._as_dataset(data)
        if self.settings.val_fraction <= 0 or len(ds) < 2:
            return ds, None
        return train_val_split(ds, self.settings.val_fraction, seed=self.settings.seed)

    def _as_dataset(self, data: Dataset | tuple) -> Dataset:
        if isinstance(data, Dataset):
            return data
        if isinstance(data, tuple) and len(data) == 2:
            x, y = data
            k = int(np.prod(self.model.output_shape))
            x = np.asarray(x, dtype=np.float32)
            if x.ndim == 2:  # flat features: one "image" row each
                x = x.reshape(len(x), 1, 1, -1)
            names = self.dataset_info.get("class_names") or [str(i) for i in range(k)]
            return Dataset(x, np.asarray(y), names, name=self.dataset_info.get("name", "arrays"))
        raise TypeError(f"training data must be a Dataset or an (x, y) pair, got {type(data).__name__}")

    def _prepare(self, train: Dataset | tuple, val: Dataset | tuple | None) -> tuple[Dataset, Dataset | None]:
        if val is None:
            train, val = self.split_data(train)
        else:
            train, val = self._as_dataset(train), self._as_dataset(val)
        if len(train) == 0:
            raise TrainingError("there are no training samples")
        check_compatible(self.model, train, "training")
        if val is not None and len(val):
            check_compatible(self.model, val, "validation")
        else:
            val = None
        if self.settings.normalize and self.normalization is None:
            self.normalization = Normalization.fit(train.x)
        self._norm_stats = None
        if self.normalization is not None:
            channels = (-1, 1, 1)
            self._norm_stats = (np.asarray(self.normalization.mean, np.float32).reshape(channels),
                                np.asarray(self.normalization.std, np.float32).reshape(channels))
        probes = (val if val is not None else train).x[:HEALTH_PROBES]
        self._health_x = _fit_input(self.normalization.apply(probes) if self.normalization is not None
                                    else np.array(probes, np.float32), self.model)
        if not self.dataset_info:
            self.dataset_info = {"name": train.name, "source": train.source, "input_shape": list(train.input_shape),
                                 "class_names": list(train.class_names)}
        return train, val

    def _batch_x(self, x: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Gather, augment and normalise one batch; always a fresh array."""
        xb = x[index]
        aug = self.settings.augment
        if aug.get("shift", 0) or aug.get("flip", False):
            xb = augment_batch(xb, self._aug_rng, shift=int(aug.get("shift", 0)), flip=bool(aug.get("flip", False)))
        if self._norm_stats is not None:  # same arithmetic as Normalization.apply, in place on the copy
            mean, std = self._norm_stats
            xb -= mean
            xb /= std
        return _fit_input(xb, self.model)

    def _seed_epoch(self, epoch: int) -> None:
        """Dropout masks, stochastic pooling and augmentation depend only on (seed, epoch, stream)."""
        seed = self.settings.seed
        for index, layer in enumerate(self.model.layers):
            if layer.has_training_mode:
                layer.rng = np.random.default_rng([seed, epoch, index])
        self._aug_rng = np.random.default_rng([seed, epoch, _AUGMENT_STREAM])
        self._rng_epoch = epoch

    def _prepare_streams(self, epoch: int) -> None:
        """Seed a new epoch; continue (or load) the streams of a half-done one."""
        pending, self._pending_rng = self._pending_rng, None
        if self.batch and pending:
            try:
                for index, state in pending["layers"].items():
                    self.model.layers[int(index)].rng = _generator(state)
                self._aug_rng = _generator(pending["augment"])
                self._rng_epoch = epoch
                return
            except (KeyError, TypeError, ValueError, IndexError, AttributeError):
                pass  # unusable saved states: fall back to a fresh seed (training still works)
        if not self.batch or self._rng_epoch != epoch:
            self._seed_epoch(epoch)

    # ---- the loop -------------------------------------------------------------------------
    def train_step(self, xb: np.ndarray, yb: np.ndarray, upto: int | None,
                   grads: dict[str, np.ndarray]) -> tuple[float, int]:
        """One update: forward in training mode, loss, backward, optimizer step.

        Returns (loss, correct predictions); a non-finite loss returns before changing anything.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught below
            out = self.model.forward(xb, training=True, upto=upto)
            loss = self.loss.forward(out, yb)
            if not math.isfinite(loss):
                return loss, 0
            correct = int((out.reshape(len(out), -1).argmax(axis=1) == yb).sum())
            self.model.backward(self.loss.backward().reshape(out.shape), start=upto)
            self.optimizer.step(grads)
        return loss, correct

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {**self.model.named_parameters(), **self.model.named_buffers()}

    def _capture(self, snapshot: _Snapshot) -> None:
        snapshot.capture({
            "epoch": self.epoch, "batch": self.batch, "step": self.step, "partial": list(self._partial),
        })

    def _restore(self, snapshot: _Snapshot) -> None:
        """Put back the snapshot's weights and position; the optimizer starts afresh, since its
        running averages come from the diverging steps."""
        live = self._state_arrays()
        for key, saved in snapshot.arrays.items():
            np.copyto(live[key], saved)
        self.optimizer.state = {name: {} for name in self.optimizer.params}
        self.optimizer.steps = 0
        meta = snapshot.meta
        undone = self.step - meta["step"]
        if undone > 0:
            for key in BATCH_HISTORY_KEYS:
                del self.history[key][-undone:]
        self.epoch, self.batch, self.step = meta["epoch"], meta["batch"], meta["step"]
        self._partial = list(meta["partial"])
        self.model.clear_caches()

    def fit_iter(self, train: Dataset | tuple, val: Dataset | tuple | None = None, *,
                 epochs: int | None = None, stop: threading.Event | None = None,
                 pause: threading.Event | None = None) -> Iterator[Report]:
        """Train until ``settings.epochs`` epochs are complete, yielding reports.

        ``train`` is a Dataset or an (x, y) pair; without ``val`` it is split by
        ``settings.val_fraction`` (seeded). ``epochs`` replaces ``settings.epochs`` (the total,
        counting epochs already done). Setting ``stop`` ends training after the current batch;
        while ``pause`` is set it waits between batches (still honouring ``stop``). The last
        report is always an :class:`EndReport`.
        """
        if epochs is not None:
            self.settings.epochs = int(epochs)
            self.settings.validate()
        train, val = self._prepare(train, val)
        stop = stop or threading.Event()
        return self._loop(train, val, stop, pause)

    def _loop(self, train: Dataset, val: Dataset | None, stop: threading.Event,
              pause: threading.Event | None) -> Iterator[Report]:
        s = self.settings
        clock = _Clock()
        bounds = batch_bounds(len(train), s.batch_size)
        if self.batch > len(bounds):
            self._restart_epoch()
        upto = _logit_end(self.model, self.loss)
        grads = self.model.named_gradients()
        live = self._state_arrays()
        snapshots = (_Snapshot(live), _Snapshot(live))
        while self.epoch < s.epochs:
            epoch = self.epoch
            self.optimizer.lr = scheduled_lr(self.optimizer.base_lr, epoch, s.schedule, s.epochs)
            order = np.random.default_rng([s.seed, epoch]).permutation(len(train))
            self._prepare_streams(epoch)
            began, trained_before = clock.now(), self._partial[2]
            for batch in range(self.batch, len(bounds)):
                clock.wait_while_paused(pause, stop)
                if stop.is_set():
                    if self.batch:  # steps since the last epoch report: rate them
                        self._rate_health(snapshots[(self.step - 1) % 2])
                    yield self._end("stopped", self._stopped_message(len(bounds)))
                    return
                current = snapshots[self.step % 2]
                self._capture(current)
                index = order[bounds[batch][0]:bounds[batch][1]]
                yb = train.y[index]
                loss, correct = self.train_step(self._batch_x(train.x, index), yb, upto, grads)
                if not math.isfinite(loss):
                    yield self._diverged(loss, batch, len(bounds), current, snapshots[(self.step + 1) % 2])
                    return
                self.step += 1
                self.batch = batch + 1
                self.history["batch_loss"].append(loss)
                self.history["batch_epoch"].append(epoch + 1)
                self._partial = [self._partial[0] + loss * len(yb), self._partial[1] + correct,
                                 self._partial[2] + len(yb)]
                seen = self._partial[2]
                active = max(clock.now() - began, 1e-9)
                yield StepReport(
                    epoch=epoch + 1, epochs=s.epochs, step=self.step, batch=batch + 1,
                    batches_per_epoch=len(bounds), samples_seen=seen, loss=loss, accuracy=correct / len(yb),
                    running_loss=_mean(self._partial[0], seen), running_accuracy=_mean(self._partial[1], seen),
                    lr=self.optimizer.lr, samples_per_sec=(seen - trained_before) / active, elapsed=clock.now(),
                )
            train_seconds = max(clock.now() - began, 1e-9)
            self._rate_health(snapshots[(self.step - 1) % 2])
            yield self._finish_epoch(val, (self._partial[2] - trained_before) / train_seconds, train_seconds, clock)
        yield self._end("finished", f"finished {self.epoch} epoch{'s' if self.epoch != 1 else ''} "
                                    f"({self.step} steps)")

    def _finish_epoch(self, val: Dataset | None, samples_per_sec: float, seconds: float,
                      clock: _Clock) -> EpochReport:
        loss_sum, correct, seen = self._partial
        result = None
        if val is not None:
            result = evaluate(self.model, val.x, val.y, loss=self.loss, normalization=self.normalization)
        self.last_evaluation = result  # per-image predictions of this epoch, for galleries
        h = self.history
        h["epoch"].append(self.epoch + 1)
        h["train_loss"].append(_mean(loss_sum, seen))
        h["train_accuracy"].append(_mean(correct, seen))
        h["val_loss"].append(None if result is None else result.loss)
        h["val_accuracy"].append(None if result is None else result.accuracy)
        h["lr"].append(self.optimizer.lr)
        h["seconds"].append(round(seconds, 3))
        self.epoch += 1
        self._restart_epoch()
        confusion = None
        if result is not None:
            confusion = result.confusion.copy()
            confusion.flags.writeable = False
        return EpochReport(
            epoch=self.epoch, epochs=self.settings.epochs, step=self.step,
            train_loss=h["train_loss"][-1], train_accuracy=h["train_accuracy"][-1],
            val_loss=h["val_loss"][-1], val_accuracy=h["val_accuracy"][-1], lr=self.optimizer.lr,
            samples_per_sec=samples_per_sec, elapsed=clock.now(), confusion=confusion,
            best_epoch=best_epoch(h), history={k: tuple(v) for k, v in h.items()}, health=self.last_health,
        )

    def _rate_health(self, before: _Snapshot | None) -> None:
        """Layer health on the probe batch; the update ratio from ``before`` if it holds the
        weights of just before the last step."""
        if self._health_x is None or self.step == 0:
            return
        last_step = before is not None and before.meta is not None and before.meta["step"] == self.step - 1
        self.last_health = layer_health(self.model, self._health_x, before.arrays if last_step else None)

    def _end(self, reason: str, message: str) -> EndReport:
        self.model.clear_caches()
        return EndReport(reason=reason, message=message, epoch=self.epoch, step=self.step, health=self.last_health)

    def _stopped_message(self, batches: int) -> str:
        if self.batch:
            return f"stopped in epoch {self.epoch + 1} after step {self.batch} of {batches}"
        return f"stopped after epoch {self.epoch}"

    def _diverged(self, loss: float, batch: int, batches: int, current: _Snapshot, previous: _Snapshot) -> EndReport:
        """Restore the weights of the last step whose loss was finite (within this epoch)."""
        kind = "NaN" if math.isnan(loss) else "infinite"
        where = f"epoch {self.epoch + 1}, step {batch + 1}"
        lr = self.optimizer.lr
        good = previous if batch > 0 and previous.meta and previous.meta["epoch"] == self.epoch else current
        self._restore(good)
        self._rate_health(None)
        restored = good.meta["batch"]
        kept = (f"kept the weights from before step {restored + 1}" if restored
                else f"kept the weights from the start of epoch {self.epoch + 1}")
        hint = f"try a lower learning rate (now {lr:g})"
        if self.step == 0 and good is current:
            hint = "check the data for NaN or infinite values, or " + hint
        return self._end("diverged", f"loss became {kind} at {where}; {kept}; {hint}")

    def fit(self, train: Dataset | tuple, val: Dataset | tuple | None = None, **kwargs: Any) -> EndReport:
        """Run :meth:`fit_iter` to the end and return its EndReport."""
        report = None
        for report in self.fit_iter(train, val, **kwargs):
            pass
        return report

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> EvalResult:
        """:func:`evaluate` with this trainer's loss and normalisation."""
        return evaluate(self.model, _as_images(x), y, batch_size, self.loss, self.normalization)


def _reorders_epoch(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a half-done epoch cannot continue: its batches or split would differ."""
    return any(old.get(key) != new.get(key) for key in ("batch_size", "seed", "val_fraction"))


def _generator(state: dict[str, Any]) -> np.random.Generator:
    """A generator continuing from a saved ``bit_generator.state``."""
    kind = state["bit_generator"]
    if kind not in _BIT_GENERATORS:
        raise ValueError(f"unknown bit generator {kind!r}")
    bit_generator = getattr(np.random, kind)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _as_images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(len(x), 1, 1, -1) if x.ndim == 2 else x


__all__ = [
    "TrainSettings", "StepReport", "EpochReport", "EndReport", "Report", "EvalResult", "Trainer",
    "evaluate", "check_compatible", "batch_bounds", "best_epoch", "HISTORY_KEYS", "BATCH_HISTORY_KEYS",
]
