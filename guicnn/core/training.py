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

One step, explained: while paused, setting ``fit_iter``'s ``step`` event runs exactly one
batch and attaches a :class:`~guicnn.core.step_explanation.StepExplanation` to its report;
:meth:`Trainer.step_once` does the same from a standing start. Either way the random streams
and the batch order are the ones an uninterrupted run uses, so stepping changes nothing about
where training goes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any, Iterator, Union

import numpy as np

from . import accelerate
from .checks import Problem, check_dataset, design_size_problem
from .data import Dataset, Normalization, augment_batch, train_val_split
from .errors import ConfigError, ShapeError, TrainingError
from .health import PROBES as HEALTH_PROBES
from .health import LayerHealth, layer_health
from .losses import LOSSES, Loss, make_loss
from .text import plural
from .model import Sequential
from .optim import DEFAULT_OPTIMIZER, OPTIMIZERS, Optimizer, make_optimizer, scheduled_lr
from .snapshots import SnapshotHistory, take_snapshot
from .step_explanation import StepExplanation, explained_step

#: Seconds between checks of the stop event while paused.
PAUSE_POLL = 0.05
#: Stream number of the augmentation generator (layers use their index).
_AUGMENT_STREAM = 2**31 - 1
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")

HISTORY_KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")
#: A batch loss this many times above the run's reference (its first batch loss, and at least
#: the loss of guessing for cross-entropy) means training has diverged, long before NaN.
DIVERGENCE_FACTOR = 10.0
#: An update that moves the weights further than this many times their own size is exploding.
MAX_RELATIVE_UPDATE = 10.0
#: Per-batch history: the training loss and accuracy of every optimizer step and the (1-based)
#: epoch it was in (files from before ``batch_accuracy`` lack it).
BATCH_HISTORY_KEYS = ("batch_loss", "batch_epoch", "batch_accuracy")


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
    #: Seed of the train/validation split; None: ``seed`` (the GUI's data panel sets its own).
    split_seed: int | None = None

    @property
    def data_split_seed(self) -> int:
        """The seed ``train_val_split`` gets: ``split_seed`` when set, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

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
        if self.split_seed is not None and (isinstance(self.split_seed, bool) or not isinstance(self.split_seed, int)
                                            or self.split_seed < 0):
            raise ValueError(f"split_seed must be a whole number ≥ 0 or null, got {self.split_seed!r}")
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
    explanation: StepExplanation | None = None  # for a step asked for while paused


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
    forward = accelerate.inference(model, upto=upto, samples=len(x))  # onnxruntime when installed
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        if normalization is not None:
            xb = normalization.apply(xb)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a NaN loss is reported as NaN
            out = forward(_fit_input(xb, model)).reshape(len(xb), -1)
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


class DataMismatchError(TrainingError):
    """The design and the data do not go together; ``problems`` holds each reason with its fixes."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.text() for p in problems))
        self.problems = problems


def check_compatible(model: Sequential, data: Dataset, what: str = "", purpose: str = "evaluate") -> None:
    """:class:`DataMismatchError` (a TrainingError) saying what to change when ``data`` cannot
    train (``purpose="train"``) or be scored by (``"evaluate"``) ``model``; see
    :func:`guicnn.core.checks.check_design_data` for the rules."""
    problems = check_dataset(model.get_config(), data, purpose=purpose, what=what)
    problems = [p for p in problems if p.kind != "too_large"]  # the model exists already
    if problems:
        raise DataMismatchError(problems)


class _Clock:
    """Seconds of activity, not counting the time spent paused."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def wait_while_paused(self, pause: threading.Event | None, stop: threading.Event,
                          step: threading.Event | None = None) -> bool:
        """Wait while ``pause`` is set; True when ``step`` was set meanwhile (it is cleared:
        the caller runs that one step and comes back here)."""
        if pause is None or not pause.is_set():
            return False
        began = time.perf_counter()
        requested = False
        while pause.is_set() and not stop.is_set():
            if step is not None and step.is_set():
                step.clear()
                requested = True
                break
            stop.wait(PAUSE_POLL)  # sleeps; returns at once when stop is set
        self.paused += time.perf_counter() - began
        return requested


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

    def relative_change(self, params: dict[str, np.ndarray]) -> float:
        """How far ``params`` moved since the capture, as a multiple of their size then."""
        moved = size = 0.0
        count = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for name, value in params.items():
                before = self.arrays[name]
                delta = value - before
                moved += float(np.vdot(delta, delta))
                size += float(np.vdot(before, before))
                count += before.size
        # weights that start at (near) zero: measure against a small size per weight instead
        return math.sqrt(moved) / max(math.sqrt(size), 1e-3 * math.sqrt(max(count, 1)))


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A copy of everything a model file holds, taken at one moment of training.

    ``metric`` is "val_accuracy" (higher is better) or "train_loss" (lower is better) and
    ``value`` its value for these weights. :meth:`Trainer.save` writes the live state;
    :meth:`save` writes this copy.
    """

    epoch: int
    batch: int
    step: int
    metric: str
    value: float
    config: dict[str, Any] = field(repr=False)
    tensors: dict[str, np.ndarray] = field(repr=False)
    optimizer: dict[str, np.ndarray] = field(repr=False)
    training: dict[str, Any] = field(repr=False)
    history: dict[str, list] = field(repr=False)
    dataset: dict[str, Any] = field(repr=False)

    def describe(self) -> str:
        """"epoch 6: validation accuracy 93.6%" (or "... in epoch 7, step 12: ...")."""
        where = f"epoch {self.epoch}" if not self.batch else f"epoch {self.epoch + 1}, step {self.batch}"
        if self.metric == "val_accuracy":
            return f"{where}: validation accuracy {100 * self.value:.1f}%"
        return f"{where}: training loss {self.value:.4f}"

    def save(self, path: Any) -> None:
        """Write this state as a model file (atomically)."""
        from .modelfile import save_state

        save_state(path, self.config, self.tensors, optimizer_state=self.optimizer, training=self.training,
                   history=self.history, dataset=self.dataset)


def _empty_history() -> dict[str, list]:
    return {key: [] for key in HISTORY_KEYS + BATCH_HISTORY_KEYS}


def align_batch_history(history: dict[str, list]) -> dict[str, list]:
    """Give ``history`` one per-batch accuracy per step (in place; returned): files written before
    they were kept, and by the PyTorch script, have losses only, so the missing accuracies of their
    first steps are None."""
    losses, accuracies = history.get("batch_loss") or [], list(history.get("batch_accuracy") or [])
    history["batch_accuracy"] = [None] * (len(losses) - len(accuracies)) + accuracies
    return history


def batch_positions(batch_epochs: list[Any]) -> list[float]:
    """x of each batch on the epoch axis (from ``history["batch_epoch"]``): batch i of B in epoch e
    sits at e - 1 + i / B, as the live curves place them."""
    counts: dict[Any, int] = {}
    for epoch in batch_epochs:
        counts[epoch] = counts.get(epoch, 0) + 1
    seen: dict[Any, int] = {}
    positions = []
    for epoch in batch_epochs:
        seen[epoch] = seen.get(epoch, 0) + 1
        positions.append(float(epoch) - 1 + seen[epoch] / counts[epoch] if epoch is not None else math.nan)
    return positions


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
        self.snapshots = SnapshotHistory()  # the epoch time machine
        #: the best scored state of the current run, counting the state it started from
        self.best: Checkpoint | None = None
        self.run_start_step = 0  # step at which the current run began (the best may be that state)
        self._loss_reference: float | None = None  # divergence: the run's first batch loss
        self.last_health: tuple[LayerHealth, ...] = ()  # core.health figures of the last report
        self._health_x: np.ndarray | None = None  # normalised probe batch for the health figures

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any], settings: TrainSettings | None = None) -> Trainer:
        """Build a fresh model from a design config, initialised from ``settings.seed``."""
        settings = (settings or TrainSettings()).validate()
        problem = design_size_problem(config, purpose="train", batch_size=settings.batch_size) \
            if isinstance(config, dict) else None
        if problem is not None:
            raise ConfigError(problem.message)
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
        trainer.history = align_batch_history({key: list(v) if isinstance(v := history.get(key), list) else []
                                               for key in HISTORY_KEYS + BATCH_HISTORY_KEYS})
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
        if getattr(loaded, "snapshots", None) is not None:
            trainer.snapshots = loaded.snapshots
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
                   history=align_batch_history(self.history), dataset=self.dataset_metadata(),
                   snapshots=self.snapshots)

    def checkpoint(self, metric: str, value: float) -> Checkpoint:
        """A copy of the current state (what :meth:`save` would write), scored ``value`` on ``metric``."""
        training = copy.deepcopy(self.training_state())
        training["optimizer"] = self.optimizer.get_config()
        return Checkpoint(
            epoch=self.epoch, batch=self.batch, step=self.step, metric=metric, value=float(value),
            config=self.model.get_config(), tensors=self.model.state_dict(), optimizer=self.optimizer.state_dict(),
            training=training, history=copy.deepcopy(self.history), dataset=copy.deepcopy(self.dataset_metadata()),
        )

    @property
    def current_is_best(self) -> bool:
        """Whether the live weights are the best of the run (or nothing was scored)."""
        return self.best is None or self.best.step == self.step

    # ---- data -----------------------------------------------------------------------------
    def split_data(self, data: Dataset | tuple) -> tuple[Dataset, Dataset | None]:
        """(train, validation) as training uses them: ``train_val_split`` with the settings' fraction and seed."""
        ds = self._as_dataset(data)
        if self.settings.val_fraction <= 0 or len(ds) < 2:
            return ds, None
        return train_val_split(ds, self.settings.val_fraction, seed=self.settings.data_split_seed)

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
        check_compatible(self.model, train, "training", purpose="train")
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
        if self.snapshots.probe is None:
            self.snapshots.set_probe((val if val is not None else train).x[0])
        self.best = None
        self.run_start_step = self.step
        if self.step and val is not None:  # continuing: the state it starts from is a candidate too
            start = evaluate(self.model, val.x, val.y, loss=self.loss, normalization=self.normalization)
            self.best = self.checkpoint("val_accuracy", start.accuracy)
        self._loss_reference = None
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
                   grads: dict[str, np.ndarray], keep: bool = False) -> tuple[float, int]:
        """One update: forward in training mode, loss, backward, optimizer step.

        Returns (loss, correct predictions); a non-finite loss returns before changing anything.
        ``keep`` leaves copies of every layer's output in ``model.activations``.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is caught below
            out = self.model.forward(xb, training=True, keep=keep, upto=upto)
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
                 pause: threading.Event | None = None, step: threading.Event | None = None) -> Iterator[Report]:
        """Train until ``settings.epochs`` epochs are complete, yielding reports.

        ``train`` is a Dataset or an (x, y) pair; without ``val`` it is split by
        ``settings.val_fraction`` (seeded). ``epochs`` replaces ``settings.epochs`` (the total,
        counting epochs already done). Setting ``stop`` ends training after the current batch;
        while ``pause`` is set it waits between batches (still honouring ``stop``), and setting
        ``step`` then runs one batch whose StepReport carries an ``explanation`` (the event is
        cleared; training stays paused). The last report is always an :class:`EndReport`.
        """
        if epochs is not None:
            self.settings.epochs = int(epochs)
            self.settings.validate()
        train, val = self._prepare(train, val)
        stop = stop or threading.Event()
        return self._loop(train, val, stop, pause, step)

    def step_once(self, train: Dataset | tuple, val: Dataset | tuple | None = None, *,
                  epochs: int | None = None) -> StepExplanation:
        """Train exactly one batch (the next one an uninterrupted run would train) and explain it.

        Takes the same arguments as :meth:`fit_iter`. When the batch completes an epoch, that
        epoch is finished as in ``fit_iter`` (validation, history, snapshot) and its report is
        the explanation's ``finished_epoch``. Raises TrainingError when every epoch is already
        done or the loss of the batch is not finite (then nothing changed but the position
        noted in the message).
        """
        stop, pause, step = threading.Event(), threading.Event(), threading.Event()
        pause.set()
        step.set()
        explanation: StepExplanation | None = None
        for report in self.fit_iter(train, val, epochs=epochs, stop=stop, pause=pause, step=step):
            if isinstance(report, StepReport):
                explanation = report.explanation
                stop.set()
            elif isinstance(report, EpochReport) and explanation is not None:
                explanation = dataclasses.replace(explanation, finished_epoch=report)
            elif isinstance(report, EndReport) and explanation is None:
                if report.reason == "finished":
                    raise TrainingError(f"all {self.settings.epochs} epochs are done; "
                                        "raise the number of epochs to train further")
                raise TrainingError(report.message)
        return explanation

    def _loop(self, train: Dataset, val: Dataset | None, stop: threading.Event,
              pause: threading.Event | None, step: threading.Event | None = None) -> Iterator[Report]:
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
                explain = clock.wait_while_paused(pause, stop, step)
                if stop.is_set():
                    if self.batch:  # steps since the last epoch report: rate them
                        self._rate_health(snapshots[(self.step - 1) % 2])
                    yield self._end("stopped", self._stopped_message(len(bounds)))
                    return
                current = snapshots[self.step % 2]
                self._capture(current)
                index = order[bounds[batch][0]:bounds[batch][1]]
                yb = train.y[index]
                explanation = None
                if explain:
                    loss, correct, explanation = explained_step(
                        self, self._batch_x(train.x, index), yb, upto, grads, epoch=epoch, batch=batch,
                        batches=len(bounds))
                else:
                    loss, correct = self.train_step(self._batch_x(train.x, index), yb, upto, grads)
                previous = snapshots[(self.step + 1) % 2]
                before = previous if batch > 0 and previous.meta and previous.meta["epoch"] == self.epoch else current
                if not math.isfinite(loss):
                    kind = "NaN" if math.isnan(loss) else "infinite"
                    yield self._diverged(f"loss became {kind} at {self._where(batch)}", before,
                                         data_hint=self.step == 0 and before is current)
                    return
                if self._loss_reference is None:
                    chance = math.log(max(math.prod(self.model.output_shape), 2)) \
                        if self.loss.type_name == "cross_entropy" else 0.0
                    self._loss_reference = max(loss, chance)
                elif loss > DIVERGENCE_FACTOR * self._loss_reference:
                    yield self._diverged(f"loss jumped to {loss:.4g} at {self._where(batch)}, more than "
                                         f"{DIVERGENCE_FACTOR:g} times its start ({self._loss_reference:.4g})", before)
                    return
                moved = current.relative_change(self.model.named_parameters())
                if not moved <= MAX_RELATIVE_UPDATE:
                    size = "to NaN or infinity" if not math.isfinite(moved) else f"{moved:.3g} times their own size"
                    yield self._diverged(f"the update at {self._where(batch)} moved the weights {size} "
                                         "(exploding gradients)", current)
                    return
                self.step += 1
                self.batch = batch + 1
                self.history["batch_loss"].append(loss)
                self.history["batch_epoch"].append(epoch + 1)
                self.history["batch_accuracy"].append(correct / len(yb))
                self._partial = [self._partial[0] + loss * len(yb), self._partial[1] + correct,
                                 self._partial[2] + len(yb)]
                seen = self._partial[2]
                active = max(clock.now() - began, 1e-9)
                yield StepReport(
                    epoch=epoch + 1, epochs=s.epochs, step=self.step, batch=batch + 1,
                    batches_per_epoch=len(bounds), samples_seen=seen, loss=loss, accuracy=correct / len(yb),
                    running_loss=_mean(self._partial[0], seen), running_accuracy=_mean(self._partial[1], seen),
                    lr=self.optimizer.lr, samples_per_sec=(seen - trained_before) / active, elapsed=clock.now(),
                    explanation=explanation,
                )
            train_seconds = max(clock.now() - began, 1e-9)
            self._rate_health(snapshots[(self.step - 1) % 2])
            yield self._finish_epoch(val, (self._partial[2] - trained_before) / train_seconds, train_seconds, clock)
        yield self._end("finished", f"finished {plural(self.epoch, 'epoch')} ({plural(self.step, 'step')})")

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
        self._record_snapshot(result)
        scored = self.checkpoint_if_best(h["val_accuracy"][-1], h["train_loss"][-1])
        if scored is not None:
            self.best = scored
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

    def _record_snapshot(self, result: EvalResult | None) -> None:
        """Add this epoch to the time machine (probe maps, filters, confusion, figures)."""
        probe = self.snapshots.probe
        x = None
        if probe is not None and probe.size == math.prod(self.model.input_shape):
            x = probe[None]
            if self.normalization is not None and x.ndim == 4:
                x = self.normalization.apply(x)
            x = _fit_input(x, self.model).reshape((1,) + tuple(self.model.input_shape))
        metrics = {key: self.history[key][-1] for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")}
        health = [_health_figures(h) for h in self.last_health] or None
        self.snapshots.add(take_snapshot(self.model, x, epoch=self.epoch, step=self.step,
                                         confusion=None if result is None else result.confusion, metrics=metrics,
                                         health=health))

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

    def _where(self, batch: int) -> str:
        return f"epoch {self.epoch + 1}, step {batch + 1}"

    def checkpoint_if_best(self, val_accuracy: float | None, train_loss: float) -> Checkpoint | None:
        """A checkpoint of the current state when its score beats :attr:`best`, else None."""
        metric, value = ("val_accuracy", val_accuracy) if val_accuracy is not None else ("train_loss", train_loss)
        if value is None or not math.isfinite(value):
            return None
        best = self.best
        # a tie goes to the newer weights (more training, same score): no second file for nothing
        if best is not None and best.metric == metric and not (
                value >= best.value if metric == "val_accuracy" else value <= best.value):
            return None
        return self.checkpoint(metric, value)

    def _diverged(self, what: str, good: _Snapshot, data_hint: bool = False) -> EndReport:
        """Restore the last good weights (``good``) and end the run, saying what happened."""
        lr = self.optimizer.lr
        self._restore(good)
        self._rate_health(None)
        restored = good.meta["batch"]
        kept = (f"kept the weights from before step {restored + 1}" if restored
                else f"kept the weights from the start of epoch {self.epoch + 1}")
        hint = f"try a lower learning rate (now {lr:g})"
        if data_hint:
            hint = "check the data for NaN or infinite values, or " + hint
        return self._end("diverged", f"{what}; {kept}; {hint}")

    def fit(self, train: Dataset | tuple, val: Dataset | tuple | None = None, **kwargs: Any) -> EndReport:
        """Run :meth:`fit_iter` to the end and return its EndReport."""
        report = None
        for report in self.fit_iter(train, val, **kwargs):
            pass
        return report

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> EvalResult:
        """:func:`evaluate` with this trainer's loss and normalisation."""
        return evaluate(self.model, _as_images(x), y, batch_size, self.loss, self.normalization)


def _health_figures(health: LayerHealth) -> dict[str, Any]:
    """A layer's health for a snapshot: its figures (4 significant digits) and status, not the
    advice text (which the figures give back)."""
    out = {}
    for key, value in dataclasses.asdict(health).items():
        if key == "explanation":
            continue
        out[key] = float(f"{value:.4g}") if isinstance(value, float) else value
    return out


def _reorders_epoch(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a half-done epoch cannot continue: its batches or split would differ."""
    return any(old.get(key) != new.get(key) for key in ("batch_size", "seed", "val_fraction", "split_seed"))


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
    "evaluate", "check_compatible", "batch_bounds", "batch_positions", "best_epoch", "HISTORY_KEYS", "Checkpoint",
    "DataMismatchError", "DIVERGENCE_FACTOR", "MAX_RELATIVE_UPDATE", "BATCH_HISTORY_KEYS", "StepExplanation",
]
