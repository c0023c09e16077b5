"""TrainingController: joins the design document, the data, the core Trainer and the worker thread.

It owns the one Trainer of the open document. Everything the views show during training
comes from *snapshots* computed in the worker thread between batches (probe feature maps,
weight copies, gradients), so the GUI thread never reads arrays the optimizer is writing.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from guicnn.core import GuicnnError, Sequential
from guicnn.core.compare import PinnedModel, predict_image
from guicnn.core.data import Dataset, Normalization, train_val_split, validation_count
from guicnn.core.parallel import job_threads
from guicnn.core.snapshots import SnapshotHistory
from guicnn.core.step_explanation import StepExplanation
from guicnn.core.training import (
    EndReport,
    EpochReport,
    EvalResult,
    StepReport,
    Trainer,
    TrainSettings,
    check_compatible,
    evaluate,
)
from guicnn.ui.worker import Job, JobContext, lower_thread_priority

SNAPSHOT_RATE = 2.5  # feature-map refreshes per second while training
STEP_RATE = 20.0  # step reports per second at most (the newest wins; epoch reports always arrive)


def _copy(array: np.ndarray) -> np.ndarray:
    return np.array(array, dtype=np.float32, copy=True)


class FrozenLayer:
    """A layer's type, card text, parameters and gradients, copied for the GUI thread."""

    def __init__(self, layer) -> None:
        self.type_name = layer.type_name
        self.output_shape = layer.output_shape
        self._text = layer.describe()
        self.params = {k: _copy(v) for k, v in layer.params.items()}
        self.grads = {k: _copy(v) for k, v in layer.grads.items()}

    def describe(self) -> str:
        return self._text


class FrozenModel:
    """What the weight views read of a model (``layers`` with params/grads), frozen in time."""

    def __init__(self, model: Sequential) -> None:
        self.layers = [FrozenLayer(layer) for layer in model.layers]
        self.input_shape = model.input_shape


@dataclass(frozen=True)
class EpochExamples:
    """The validation images with what the model made of them at an epoch's end (for the
    confusion gallery and the misclassified view)."""

    images: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    class_names: list[str]


@dataclass(frozen=True)
class TrainingSnapshot:
    """What the views show of the model at one moment of training, copied in the worker thread
    between two batches (never a view of an array the optimizer writes)."""

    step: int
    epoch_end: bool
    model: FrozenModel
    probe: np.ndarray | None = None  # the raw probe image (C, H, W)
    activations: list[np.ndarray] | None = None  # every layer's output for the probe
    probabilities: np.ndarray | None = None  # the probe's class probabilities
    examples: EpochExamples | None = None  # at an epoch's end, when there is validation data
    # At an epoch's end: the time machine's probe image and epoch snapshots (never changed once taken).
    time_machine: tuple[np.ndarray | None, list] | None = None


@dataclass(frozen=True)
class Evaluation:
    """The document's trained weights scored on a data set's validation part (an opened model's
    confusion matrix and misclassified images, before any training in this session)."""

    confusion: np.ndarray
    examples: EpochExamples
    epochs: int  # epochs the weights were trained for
    weights: dict[str, np.ndarray]  # the weights scored (stale if the document's are others by now)


@dataclass(frozen=True)
class TestResult:
    """The trained model scored on a data set's own test part."""

    dataset: Dataset
    result: EvalResult
    seconds: float


class TrainingController(QObject):
    """Starts, pauses, stops and finishes training runs of the open design."""

    started = Signal(object)  # {"first_epoch", "epochs", "batches_per_epoch", "continued"}
    step = Signal(object)  # StepReport (throttled)
    explained = Signal(object)  # StepExplanation of a batch run with the Step button
    epoch = Signal(object)  # EpochReport
    snapshot = Signal(object)  # TrainingSnapshot
    finished = Signal(object)  # EndReport
    failed = Signal(str)  # a message for the user (a refused start, an error)
    crashed = Signal(str, str)  # an unexpected exception in the worker: message, traceback
    stateChanged = Signal(str)  # "idle", "running", "paused"
    evaluated = Signal(object)  # Evaluation of the document's weights (see evaluate_document)
    testFinished = Signal(object)  # TestResult
    testFailed = Signal(str)  # why the test set could not be scored

    def __init__(self, document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.trainer: Trainer | None = None
        self._job: Job | None = None
        self._step_event = threading.Event()  # set: train one explained batch while paused
        self._state = "idle"
        self._val: Dataset | None = None
        self._probe: np.ndarray | None = None  # (C, H, W) raw image in [0, 1]
        self._class_names: list[str] = []
        self._stored_weights: dict[str, np.ndarray] | None = None  # what _store_weights gave the document
        self._evaluation: Job | None = None
        self._test_job: Job | None = None
        document.file_changed.connect(self._document_replaced)

    # ---- state -------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def is_running(self) -> bool:
        """From the moment a run is started (before its thread is) until it has ended."""
        return self._state != "idle" or (self._job is not None and self._job.is_running())

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def has_progress(self) -> bool:
        """Whether there are trained weights to continue from (this session's or an opened model's);
        not after an edit dropped them (the trainer's model is then another design)."""
        if self.document.weights is not None:
            return True
        return self.trainer is not None and self.trainer.step > 0 and \
            self.trainer.model.get_config() == self.document.config

    def set_probe(self, image: np.ndarray | None) -> None:
        """The image whose feature maps are shown (raw, (C, H, W) in [0, 1]); thread-safe swap."""
        self._probe = None if image is None else np.array(image, dtype=np.float32, copy=True)

    # ---- starting ----------------------------------------------------------------------
    def start(self, settings: TrainSettings, train: Dataset, val: Dataset | None, *, continue_training: bool,
              split: tuple[float, int] | None = None, paused: bool = False) -> bool:
        """Start a run in the worker thread (``paused``: waiting for Step or Resume); returns False
        (after emitting ``failed``) if it cannot.

        With ``split=(val_fraction, seed)``, ``train`` is the whole data set and ``val`` None: the
        worker thread splits it (``train_val_split``), since copying a large set takes long enough
        to freeze the window.
        """
        if self.is_running():
            self.failed.emit("Training is already running.")
            return False
        analysis = self.document.analysis
        if not analysis.valid:
            self.failed.emit("The design has errors; fix them first: " + "; ".join(analysis.errors[:3]))
            return False
        if split is not None:  # the saved settings say how the data was split (guicnn evaluate --split val)
            settings = dataclasses.replace(settings, val_fraction=float(split[0]), split_seed=int(split[1]))
        try:
            trainer = self._trainer_for(settings, continue_training)
            check_compatible(trainer.model, train, "training", purpose="train")
        except (GuicnnError, ValueError) as exc:
            self.failed.emit(str(exc))
            return False
        self.trainer = trainer
        self._val = val
        self._class_names = list(train.class_names)
        first_epoch = trainer.epoch
        total = first_epoch + settings.epochs
        training_samples = len(train) - (validation_count(len(train), split[0]) if split else 0)
        batches = max(1, -(-training_samples // settings.batch_size))
        # Every core but one (core.parallel.job_threads, a per-thread cap): the window keeps a core
        # for drawing; on two cores, one training thread was faster *and* smoother than two.
        job = Job(lambda context: self._run(context, trainer, train, val, total, split), name="training",
                  progress_interval=1.0 / STEP_RATE, threads=job_threads())
        job.progress.connect(self.step)
        job.reported.connect(self._on_report)
        job.succeeded.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.set_paused(paused)
        self._step_event = threading.Event()
        self._job = job
        self.document.set_read_only(True)
        self._set_state("paused" if paused else "running")
        self.started.emit({"first_epoch": first_epoch, "epochs": total, "batches_per_epoch": batches,
                           "continued": continue_training and first_epoch > 0})
        job.start()
        return True

    def _run(self, context: JobContext, trainer: Trainer, train: Dataset, val: Dataset | None,
             epochs: int, split: tuple[float, int] | None = None) -> EndReport | None:
        """The worker thread's loop: step reports throttled, a snapshot every 1/SNAPSHOT_RATE s
        and at each epoch's end (before its report), a last one with the final weights (so the
        window draws the end without computing), the end report as the result."""
        lower_thread_priority()
        if split is not None:
            train, val = train_val_split(train, split[0], seed=split[1])
            self._val = val
        last_snapshot, end = 0.0, None
        for report in trainer.fit_iter(train, val, epochs=epochs, stop=context.stop_event,
                                       pause=context.pause_event, step=self._step_event):
            if isinstance(report, StepReport) and report.explanation is not None:  # the Step button's
                context.report(report)
                context.report(self._snapshot(False))
                last_snapshot = time.monotonic()
                context.report(report.explanation)
            elif isinstance(report, StepReport):
                context.progress(report)
                now = time.monotonic()
                if now - last_snapshot >= 1.0 / SNAPSHOT_RATE:
                    context.report(self._snapshot(False))
                    last_snapshot = now
            elif isinstance(report, EpochReport):
                context.report(self._snapshot(True))
                last_snapshot = time.monotonic()
                context.report(report)
            elif isinstance(report, EndReport):
                end = report
        context.report(self._snapshot(False))
        return end

    def _trainer_for(self, settings: TrainSettings, continue_training: bool) -> Trainer:
        config = self.document.config
        if continue_training and self.trainer is not None and self.trainer.model.get_config() == config:
            self.trainer.set_settings(settings)
            return self.trainer
        if continue_training and self.document.weights is not None:
            return self._trainer_from_document(settings)
        return Trainer.from_config(config, settings)

    def _trainer_from_document(self, settings: TrainSettings) -> Trainer:
        """Continue from weights that came with an opened model file."""
        from guicnn.core.modelfile import LoadedModel

        model = Sequential.from_config(self.document.config, seed=settings.seed)
        model.load_state_dict(self.document.weights)
        info = self.document.model_info or {}
        loaded = LoadedModel(path=self.document.path, model=model, config=self.document.config,
                             training=info.get("training") or {}, history=info.get("history") or {},
                             dataset=info.get("dataset") or {}, optimizer_state=info.get("optimizer_state") or {},
                             snapshots=info.get("snapshots"))
        return Trainer.from_loaded(loaded, settings)

    # ---- the test set ----------------------------------------------------------------
    def is_testing(self) -> bool:
        return self._test_job is not None

    def evaluate_test(self, load) -> bool:
        """Score the trained model on the data ``load(progress, stop)`` returns (a data set's test
        part), in a worker thread, on a copy of the model; ``testFinished`` or ``testFailed`` follows."""
        if self.is_running() or self._test_job is not None:
            return False
        model = self.predict_model()
        if model is None:
            self.testFailed.emit("There is no trained model to score yet: train first.")
            return False
        scored = Sequential.from_config(model.get_config(), seed=0)  # the GUI thread keeps using its own
        scored.load_state_dict(model.state_dict())
        trainer = self.trainer
        normalization = trainer.normalization if trainer is not None else None
        loss = trainer.settings.loss if trainer is not None else "cross_entropy"

        def run(context: JobContext) -> TestResult:
            started = time.perf_counter()
            data = load(lambda *_progress: None, context.stop_event)
            check_compatible(scored, data, "test")
            result = evaluate(scored, data.x, data.y, loss=loss, normalization=normalization)
            return TestResult(data, result, time.perf_counter() - started)

        self._test_job = _scoring_job(run, "test", self._on_test_finished, self._on_test_failed)
        return True

    def _on_test_finished(self, result: TestResult) -> None:
        self._test_job = None
        self.testFinished.emit(result)

    def _on_test_failed(self, message: str, details: str, _cancelled: bool = False) -> None:
        self._test_job = None
        self.testFailed.emit(message if not details else f"Scoring the test set failed: {message}")

    # ---- controlling -------------------------------------------------------------------
    def set_paused(self, paused: bool) -> None:
        if self._job is None or self._state == "idle":
            return
        self._job.set_paused(paused)
        self._set_state("paused" if paused else "running")

    def step_once(self, settings: TrainSettings, train: Dataset, val: Dataset | None, *,
                  continue_training: bool, split: tuple[float, int] | None = None) -> bool:
        """Train exactly one batch in the worker and explain it (``explained`` follows).

        When idle this starts a paused run (Resume then trains on exactly as an uninterrupted
        run would); while a run is going it is :meth:`request_step`.
        """
        if self._job is None or self._state == "idle":
            if not self.start(settings, train, val, continue_training=continue_training, split=split, paused=True):
                return False
        return self.request_step()

    def request_step(self) -> bool:
        """Pause the run (after its current batch) and train one explained batch."""
        if self._job is None or self._state == "idle":
            return False
        self._job.set_paused(True)
        self._step_event.set()
        self._set_state("paused")
        return True

    def stop(self) -> None:
        """Ask the run to stop after the current batch (the finished signal follows)."""
        if self._job is not None:
            self._job.cancel()

    def shutdown(self, keep_weights: bool = False) -> None:
        """Stop and join the worker thread (window closing); safe to call at any time.

        With ``keep_weights`` the weights trained so far go to the document, as after Stop.
        """
        if self._evaluation is not None:
            self._evaluation.blockSignals(True)
            self._evaluation.shutdown()
            self._evaluation = None
        if self._test_job is not None:
            self._test_job.blockSignals(True)
            self._test_job.shutdown()
            self._test_job = None
        if self._job is not None:
            self._job.blockSignals(True)  # its queued reports are moot now
            self._job.shutdown()
            self._job = None
            if keep_weights:
                self._store_weights()
        if self._state != "idle":
            self.document.set_read_only(False)
            self._set_state("idle")

    # ---- worker callbacks (GUI thread) ----------------------------------------------------
    def _on_report(self, report: Any) -> None:
        if isinstance(report, TrainingSnapshot):
            self.snapshot.emit(report)
        elif isinstance(report, EpochReport):
            self.epoch.emit(report)
        elif isinstance(report, StepReport):
            self.step.emit(report)
        elif isinstance(report, StepExplanation):
            self.explained.emit(report)

    def _on_finished(self, report: Any) -> None:
        self._join()
        self._store_weights()
        self.finished.emit(report)

    def _on_failed(self, message: str, details: str, _cancelled: bool = False) -> None:
        self._join()
        self._store_weights()
        self.failed.emit(f"Training stopped with an internal error: {message}")
        self.crashed.emit(message, details)

    def _join(self) -> None:
        if self._job is not None:
            self._job.thread.quit()
            self._job.thread.wait()
            self._job = None
        self.document.set_read_only(False)
        self._set_state("idle")

    def _store_weights(self) -> None:
        """The trained weights belong to the open document (saved with it as a model file)."""
        trainer = self.trainer
        if trainer is None or trainer.step == 0:
            return
        info = {"training": trainer.training_state(), "history": trainer.history,
                "dataset": trainer.dataset_metadata(), "optimizer_state": trainer.optimizer.state_dict(),
                "snapshots": trainer.snapshots}
        self._stored_weights = trainer.model.state_dict()
        self.document.set_trained_weights(self._stored_weights, info)

    def owns_document_weights(self) -> bool:
        """True when the document's weights are the ones this controller's trainer produced
        (so a file event was a save, not another design or model being opened)."""
        weights = self.document.weights
        return self.trainer is not None and weights is not None and weights is self._stored_weights

    def _document_replaced(self) -> None:
        # Opened or new document: its weights (if any) are the starting point, not our trainer's.
        # A save also lands here, and then the trainer stays.
        if not self.is_running() and self.trainer is not None and self.trainer.step and \
                not self.owns_document_weights():
            self.trainer = None

    # ---- snapshots (worker thread, between batches) ------------------------------------------
    def _snapshot(self, epoch_end: bool) -> TrainingSnapshot:
        trainer = self.trainer
        model = trainer.model
        probe = self._probe
        maps: dict[str, Any] = {}
        with np.errstate(all="ignore"):  # a diverging model may overflow; the trainer reports that
            if probe is not None and probe.shape == model.input_shape:
                output = model.forward(self._normalise(probe[None]), training=False, keep=True)
                maps = {"probe": probe, "activations": [a[0] for a in model.activations],
                        "probabilities": model.probabilities(output)[0]}
            frozen = FrozenModel(model)
            examples = None
            if epoch_end and self._val is not None and len(self._val):
                examples = self._epoch_examples(model, trainer)
        time_machine = (trainer.snapshots.probe, list(trainer.snapshots)) if epoch_end else None
        return TrainingSnapshot(step=trainer.step, epoch_end=epoch_end, model=frozen, examples=examples,
                                time_machine=time_machine, **maps)

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """What the trained model receives for a raw image (C, H, W): the trainer's normalisation applied."""
        return self._normalise(np.asarray(image, np.float32)[None])[0]

    def _normalise(self, x: np.ndarray) -> np.ndarray:
        """The trainer's input normalisation (the probe is kept raw for display)."""
        norm = self.trainer.normalization if self.trainer is not None else None
        return norm.apply(x) if norm is not None else np.asarray(x, np.float32)

    def _epoch_examples(self, model: Sequential, trainer: Trainer) -> EpochExamples:
        """Per-image results for the confusion gallery (from the trainer's own validation pass).
        Dead units and the rest of the layer health come with the epoch report (core.health)."""
        val = self._val
        scored = trainer.last_evaluation
        if scored is None or len(scored.predictions) != len(val):
            scored = evaluate(model, val.x, val.y, loss=trainer.settings.loss, normalization=trainer.normalization)
        confidence = scored.probabilities[np.arange(len(val)), scored.predictions]
        # The validation arrays are never written during training: shared, not copied.
        return EpochExamples(images=val.x, labels=val.y, predictions=scored.predictions.copy(),
                             confidence=confidence.astype(np.float32), class_names=list(self._class_names))

    # ---- scoring an opened model (worker thread) ---------------------------------------------
    def evaluate_document(self, dataset: Dataset, split: tuple[float, int]) -> bool:
        """Score the document's trained weights on the validation part of ``dataset`` (split by
        ``(val_fraction, seed)`` as training splits it) in a worker thread; ``evaluated`` follows.
        False when there is nothing to score; data that does not fit the model is skipped quietly."""
        weights = self.document.weights
        if self.is_running() or weights is None or not self.document.analysis.valid:
            return False
        config, epochs = self.document.config, len((self.document.model_info.get("history") or {}).get("epoch") or [])
        loss = self._saved_settings().loss
        norm = (self.document.model_info.get("dataset") or {}).get("normalization")

        def score(_context: JobContext) -> Evaluation | None:
            model = Sequential.from_config(config, seed=0)
            model.load_state_dict(weights)
            try:
                check_compatible(model, dataset, "evaluation")
            except (GuicnnError, ValueError):
                return None  # other data than the model's: nothing to show, nothing to complain about
            _, val = train_val_split(dataset, split[0], seed=split[1])
            if not len(val):
                return None
            scored = evaluate(model, val.x, val.y, loss=loss, normalization=Normalization.from_dict(norm) if norm else None)
            confidence = scored.probabilities[np.arange(len(val)), scored.predictions].astype(np.float32)
            examples = EpochExamples(images=val.x, labels=val.y, predictions=scored.predictions, confidence=confidence,
                                     class_names=list(dataset.class_names))
            return Evaluation(confusion=scored.confusion, examples=examples, epochs=epochs, weights=weights)

        if self._evaluation is not None:
            self._evaluation.cancel()  # superseded: its result is ignored
        self._evaluation = _scoring_job(score, "evaluation", self._on_evaluated, self._on_evaluation_failed)
        return True

    def _on_evaluation_failed(self, message: str, _details: str, _cancelled: bool) -> None:
        if self.sender() is self._evaluation:
            self._evaluation = None
            self.failed.emit(f"Could not score the trained weights on the data: {message}")

    def _on_evaluated(self, result: Evaluation | None) -> None:
        if self.sender() is not self._evaluation:
            return
        self._evaluation = None
        if result is not None and result.weights is self.document.weights and not self.is_running():
            self.evaluated.emit(result)

    # ---- prediction (GUI thread, only while idle) ----------------------------------------
    def predict(self, image: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """Class probabilities and every layer's activation for one raw image, or None if no model."""
        model = self.predict_model()
        if model is None:
            return None
        result = predict_image(model, image, self.trainer.normalization if self.trainer is not None else None)
        return None if result is None else (result.probabilities, result.activations)

    def snapshot_history(self) -> SnapshotHistory | None:
        """The epoch snapshots of the trained model the views show (None before any training)."""
        if self.is_running():
            return None
        trainer = self.trainer
        if trainer is not None and trainer.model.get_config() == self.document.config:
            return trainer.snapshots
        if self.document.weights is not None:
            return self.document.model_info.get("snapshots")
        return None

    def pin(self, label: str = "A") -> PinnedModel | None:
        """A frozen copy of the trained model (design, weights, normalisation, curves) for A/B
        comparison; None while training or before any training."""
        if self.predict_model() is None:
            return None
        return PinnedModel.from_trainer(self.trainer, label)

    def predict_model(self) -> Sequential | None:
        """The trained model of the document (None while training or before any training)."""
        if self.is_running():
            return None
        if self.trainer is not None and self.trainer.model.get_config() == self.document.config:
            return self.trainer.model
        if self.document.weights is not None and self.document.analysis.valid:
            # An opened model: its trainer also brings the saved normalisation for predictions.
            try:
                self.trainer = self._trainer_from_document(self._saved_settings())
            except (GuicnnError, ValueError):
                return None
            return self.trainer.model
        return None

    def _saved_settings(self) -> TrainSettings:
        saved = (self.document.model_info.get("training") or {}).get("settings")
        try:
            return TrainSettings.from_dict(saved) if isinstance(saved, dict) else TrainSettings()
        except ValueError:
            return TrainSettings()


def _scoring_job(fn, name: str, succeeded, failed) -> Job:
    """Start scoring a model in a worker thread (every core but one: the window keeps a core)."""
    job = Job(fn, name=name, threads=job_threads())
    job.succeeded.connect(succeeded)
    job.failed.connect(failed)
    job.start()
    return job
