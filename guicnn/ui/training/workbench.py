"""The training workbench: data and training panels, the inspection views, and their wiring.

The main window creates one ``Workbench`` and gives it the design area (the layer stack above
the summary): that becomes the "Design" tab of ``tabs``, next to "Training" (curves and feature
maps), "One step" (the last explained training step), "Filters", "Weights", "Confusion",
"Misclassified", "Predict" and "Step through" (a convolution or pooling, value by value). The
window puts ``tabs`` in its centre and the Data and Train panels beside the Inspector. Views
subscribe to the controller's signals and never talk to each other.

The epoch time machine: a slider under the feature maps, the filters and the confusion matrix
(kept in step) replays the core's per-epoch snapshots; its right end is the live model. A/B:
"Pin as A" keeps a frozen copy of the trained model; the curves overlay it and Predict shows
both models' answers and feature maps for the same image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QSplitter, QTabWidget, QVBoxLayout, QWidget

from guicnn.core import Sequential
from guicnn.core.checks import check_dataset, design_size_problem
from guicnn.core.compare import PinnedModel, differences
from guicnn.core.layers.common import fmt_shape
from guicnn.core.data import BUILTIN_DATASETS, suggest_data
from guicnn.core.parallel import thread_limit
from guicnn.core.text import plural
from guicnn.core.training import TrainSettings
from guicnn.core.walkthrough import build_layer, can_walk, layer_input
from guicnn.ui.data.panel import DataPanel
from guicnn.ui.training.controller import FrozenModel, TrainingController, TrainingSnapshot
from guicnn.ui.training.panel import TrainingPanel
from guicnn.ui.views.common import layer_labels
from guicnn.ui.views.compare_maps import FeatureMapsPair
from guicnn.ui.views.confusion import ConfusionView, MisclassifiedView
from guicnn.ui.views.curves import CurvesView
from guicnn.ui.views.feature_maps import FeatureMapsView
from guicnn.ui.views.filters import FiltersView
from guicnn.ui.views.histograms import HistogramsView
from guicnn.ui.views.predict import PredictView
from guicnn.ui.views.step import StepView
from guicnn.ui.views.walkthrough import WalkthroughView
from guicnn.ui.widgets.scroll_page import ScrollPage
from guicnn.ui.widgets.time_machine import LIVE, TimeMachineBar

TABS = ("Design", "Training", "One step", "Filters", "Weights", "Confusion", "Misclassified", "Predict",
        "Step through")
REPLAY_TABS = ("Training", "Filters", "Confusion")  # the tabs with a time-machine slider


def _with_bar(view: QWidget, bar: QWidget) -> QWidget:
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(0)
    column.addWidget(view, 1)
    column.addWidget(bar)
    return box


class Workbench(QObject):
    """Owns the training-related panels and views of one main window."""

    healthChanged = Signal(object)  # tuple of core.health.LayerHealth (empty: unknown) for the cards

    def __init__(self, window, design_area: QWidget, *, initial_data: str | None = "auto") -> None:
        super().__init__(window)
        self.window = window  # the owner: parent of dialogs, its status bar and docks
        self.document = window.document
        self.controller = TrainingController(self.document, self)
        self.data_panel = DataPanel()
        self.training_panel = TrainingPanel()
        self._build_views(design_area)
        self._untrained: tuple[dict, Sequential] | None = None  # design -> random-weight model for previews
        self._class_names: list[str] = []
        self._probe_from_predict = False
        self._example_images: np.ndarray | None = None
        self._last_snapshot: TrainingSnapshot | None = None
        self._user_picked_cell = False
        self._auto_selecting = False
        self._time_machine: tuple[np.ndarray | None, list] = (None, [])  # (probe, epoch snapshots)
        self._replay = LIVE  # the snapshot index the replaying views show, or LIVE
        self._live_examples: tuple | None = None  # the confusion gallery's images of the live model
        self.pinned: PinnedModel | None = None
        self._health: tuple = ()
        # Edits come in bursts (typing, undo): redraw the model views once the burst is over.
        self._idle_refresh = QTimer(self)
        self._idle_refresh.setSingleShot(True)
        self._idle_refresh.setInterval(150)
        self._idle_refresh.timeout.connect(self._refresh_idle_views)
        self._suggestion_key: tuple | None = None
        self._auto_data = initial_data is not None  # load fitting data when a new design needs it
        self._connect()
        self._design_changed()
        self._document_replaced()
        self._refresh_test_button()
        if initial_data:
            QTimer.singleShot(0, lambda: self._load_initial_data(initial_data))

    # ---- layout ------------------------------------------------------------------------
    def _build_views(self, design_area: QWidget) -> None:
        self.curves = CurvesView()
        self.feature_maps = FeatureMapsView()
        self.filters = FiltersView()
        self.histograms = HistogramsView()
        self.confusion = ConfusionView()
        self.misclassified = MisclassifiedView()
        self.predict = PredictView()
        self.step_view = StepView()
        self.compare_maps = FeatureMapsPair()
        self.compare_maps.setVisible(False)
        self.time_bars = {tab: TimeMachineBar() for tab in REPLAY_TABS}
        for bar in self.time_bars.values():
            bar.positionChanged.connect(self._replay_changed)
        self.walkthrough = WalkthroughView()
        training = QSplitter(Qt.Orientation.Vertical)
        training.addWidget(self.curves)
        training.addWidget(_with_bar(self.feature_maps, self.time_bars["Training"]))
        training.setStretchFactor(0, 1)  # curves as tall as the feature maps: at 1366x768 they were squat
        training.setStretchFactor(1, 1)
        training.setChildrenCollapsible(False)  # a small window keeps both readable
        predict = QSplitter(Qt.Orientation.Vertical)
        predict.addWidget(self.predict)
        predict.addWidget(self.compare_maps)
        predict.setStretchFactor(0, 1)
        predict.setStretchFactor(1, 1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for title, widget in zip(TABS, (design_area, training, self.step_view,
                                        _with_bar(self.filters, self.time_bars["Filters"]), self.histograms,
                                        _with_bar(self.confusion, self.time_bars["Confusion"]),
                                        self.misclassified, predict, self.walkthrough)):
            self.tabs.addTab(ScrollPage(widget), title)  # scrolls when the window is small
        self.tabs.setTabToolTip(TABS.index("Training"),
                                "Loss and accuracy curves, and the feature maps of the probe image, live")
        self.tabs.setTabToolTip(TABS.index("One step"),
                                "What one training step changed (press Step in the Train panel)")
        self.tabs.setTabToolTip(TABS.index("Confusion"), "Which classes are confused with which, after each epoch")
        self.tabs.setTabToolTip(TABS.index("Step through"),
                                "How a convolution or pooling layer computes its output, value by value")

    def show_tab(self, title: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(title))

    # ---- wiring ------------------------------------------------------------------------
    def _connect(self) -> None:
        doc, data, panel, ctl = self.document, self.data_panel, self.training_panel, self.controller
        doc.changed.connect(self._design_changed)
        doc.file_changed.connect(self._document_replaced)
        doc.weights_changed.connect(self._weights_changed)
        data.datasetChanged.connect(self._dataset_changed)
        data.probeChanged.connect(self._probe_changed)
        data.fixRequested.connect(self.apply_fix)
        data.datasetChanged.connect(lambda _ds: self._refresh_test_button())
        panel.startRequested.connect(self.start_training)
        panel.fixRequested.connect(lambda fix: self.apply_fix(fix, train_after=True))
        panel.testRequested.connect(self.evaluate_test_set)
        ctl.testFinished.connect(self._test_finished)
        ctl.testFailed.connect(self._test_failed)
        panel.pauseRequested.connect(ctl.set_paused)
        panel.stopRequested.connect(ctl.stop)
        panel.stepRequested.connect(self.step_training)
        panel.pinRequested.connect(self.pin_model)
        panel.unpinRequested.connect(self.unpin_model)
        ctl.explained.connect(self._explained)
        ctl.started.connect(self._run_started)
        ctl.stateChanged.connect(self._state_changed)
        ctl.step.connect(self._step)
        ctl.epoch.connect(self._epoch)
        ctl.snapshot.connect(self._snapshot)
        ctl.finished.connect(self._finished)
        ctl.failed.connect(self._failed)
        ctl.crashed.connect(self._crashed)
        ctl.evaluated.connect(self._show_evaluation)
        self.predict.imageReady.connect(self._predict_image)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.confusion.cellClicked.connect(self._cell_clicked)
        self.confusion.exampleActivated.connect(self._use_example_as_probe)
        self.misclassified.exampleActivated.connect(self._use_example_as_probe)
        self.walkthrough.layerRequested.connect(self._show_walkthrough_layer)

    def _load_initial_data(self, which: str) -> None:
        if self.data_panel.dataset() is not None or self.data_panel.is_busy():
            return
        if which == "auto":
            self._load_suggested_data()
        else:
            self.data_panel.load_builtin(which)

    def _load_suggested_data(self) -> None:
        """Load the data the core suggests for the design (built in, or already downloaded)."""
        suggestion = suggest_data(self.document.config)
        if suggestion.now in BUILTIN_DATASETS:
            self.data_panel.load_builtin(suggestion.now, **suggestion.now_options)
        elif suggestion.now is not None:
            self.data_panel.load_remote(suggestion.now, download=False)

    # ---- design and data ------------------------------------------------------------------
    def _design_changed(self) -> None:
        analysis = self.document.analysis
        self.data_panel.set_design(self.document.config)
        config = self.document.config
        key = (config.get("dataset"), tuple(config.get("input_shape") or ()))
        if key != self._suggestion_key:  # (it looks in the download cache: not on every keystroke)
            self._suggestion_key = key
            self.data_panel.set_suggestion(suggest_data(config))
        labels = ["?" if info.output_shape is None else f"{info.index} · {info.description} → "
                  f"{fmt_shape(info.output_shape)}" for info in analysis.layers]
        types = [info.type for info in analysis.layers]
        for view in (self.feature_maps, self.predict.feature_maps):
            view.set_layers(labels, types)
            view.set_design(self.document.config if analysis.valid else None)
        self.walkthrough.set_layers([(info.index, f"{info.index} · {info.description}") for info in analysis.layers
                                     if can_walk(info.type) and info.output_shape is not None])
        if self._health:  # the figures were of another network
            self._set_health(())
        if analysis.input_shape is not None and len(analysis.input_shape) == 3:
            self.predict.set_input_shape(analysis.input_shape)
        self._idle_refresh.start()

    def _document_replaced(self) -> None:
        if self.controller.owns_document_weights():  # saved, not replaced: keep every view as it is
            self.training_panel.set_has_progress(True)
            return
        if self.document.undo_stack.count():  # a save (opening a file clears the undo history)
            return
        info = self.document.model_info or {}
        self._set_health(())
        saved = (info.get("training") or {}).get("settings")
        if isinstance(saved, dict):
            try:
                self.training_panel.set_settings(TrainSettings.from_dict(saved))
            except ValueError:
                pass
        self._show_saved_training()
        self._load_time_machine()
        self._refresh_idle_views()
        dataset = self.data_panel.dataset()
        if self._auto_data and dataset is not None and not self.data_panel.is_busy() \
                and tuple(dataset.input_shape) != self.document.analysis.input_shape:
            self._load_suggested_data()  # a new design the loaded data cannot feed

    def _show_saved_training(self) -> None:
        """What the document's weights went through: curves (per batch too) and epoch log from the
        saved history, and — computed in a worker once fitting data is loaded — the confusion
        matrix and misclassified images. Without weights: a fresh, untrained state."""
        history = (self.document.model_info or {}).get("history") if self.document.weights is not None else None
        self.curves.clear()
        if history:
            self.curves.set_history(history)
        self.training_panel.show_history(history)
        self.training_panel.set_has_progress(self.controller.has_progress())
        self.confusion.clear()
        self.misclassified.clear()
        self._evaluate_document()

    def _evaluate_document(self) -> None:
        dataset = self.data_panel.dataset()
        if dataset is not None and self.document.weights is not None and not self.controller.is_running():
            self.controller.evaluate_document(dataset, self.data_panel.split_settings())

    def _show_evaluation(self, result) -> None:
        examples = result.examples
        self._example_images = examples.images
        self.confusion.set_confusion(result.confusion, self._class_names,
                                     subtitle=f"validation set, the model after {plural(result.epochs, 'epoch')}")
        args = (examples.images, examples.labels, examples.predictions, examples.confidence)
        self.confusion.set_examples(*args)
        self.misclassified.set_examples(*args, class_names=self._class_names)
        self._user_picked_cell = False
        self._show_commonest_mistake(result.confusion)

    def _weights_changed(self, reason: str) -> None:
        """An edit dropped the trained weights (``reason``), or Undo brought them back ("")."""
        if reason:
            self.curves.clear()
            self.confusion.clear()
            self.misclassified.clear()
            self.training_panel.show_weights_dropped(reason)
            self.training_panel.set_has_progress(self.controller.has_progress())
        else:
            self._show_saved_training()

    def _dataset_changed(self, dataset) -> None:
        self._class_names = list(dataset.class_names)
        self.predict.set_class_names(self._class_names)
        self.confusion.clear()
        self.misclassified.clear()
        self._evaluate_document()

    def _probe_changed(self, _index: int) -> None:
        self._probe_from_predict = False
        self.controller.set_probe(self.data_panel.probe_image())
        self._refresh_idle_views()

    def apply_fix(self, fix, train_after: bool = False) -> bool:
        """Apply a one-click fix to the design (one undoable edit); with ``train_after`` (the fix of a
        refused start) training starts when nothing else is in the way."""
        refused = self.document.apply_fix(fix)
        if refused:
            self.window.show_message(refused)
            return False
        self.window.show_message(f"{fix.description} (Edit ▸ Undo takes it back).")
        self.training_panel.show_problems([])
        if train_after:
            self.start_training(self.training_panel.mode.currentData() if self.controller.has_progress() else False)
        return True

    # ---- training ------------------------------------------------------------------------
    def start_training(self, continue_training: bool) -> bool:
        inputs = self._run_inputs()
        return inputs is not None and self.controller.start(*inputs, continue_training=continue_training,
                                                            split=self.data_panel.split_settings())

    def step_training(self, continue_training: bool) -> bool:
        """The Step button: one explained batch (starting a paused run when idle)."""
        if self.controller.state != "idle":
            return self.controller.request_step()
        inputs = self._run_inputs()
        return inputs is not None and self.controller.step_once(*inputs, continue_training=continue_training,
                                                                split=self.data_panel.split_settings())

    def _run_inputs(self) -> tuple | None:
        """(settings, the whole data set, None) for a new run, split by ``split_settings`` in the
        worker, with the probe set; None (and the reason shown, with its fixes) if the settings are
        invalid, there is no data, or the data cannot feed the design."""
        try:
            settings = self.training_panel.settings()
        except ValueError as exc:
            self.training_panel.show_error(str(exc))
            return None
        if self.data_panel.dataset() is None:
            self.training_panel.show_error("Load a data set first (the Data panel).")
            self.window.docks["data"].raise_()
            return None
        # The core's check, before any weight is built: what cannot work is refused with its fixes.
        # (On the whole data set: the split is made in the worker thread, as copying a large set
        # here would freeze the window; the stratified split keeps every class in training.)
        problems = check_dataset(self.document.config, self.data_panel.dataset(), purpose="train",
                                 what="training", batch_size=settings.batch_size)
        self.training_panel.show_problems(problems)
        if problems:
            self.window.docks["training"].raise_()
            self.window.show_message("Training was not started: " + problems[0].text())
            return None
        self.controller.set_probe(self._current_probe())
        # The worker thread splits the data (split_settings): copying a large set here would freeze the window.
        return settings, self.data_panel.dataset(), None

    def _explained(self, explanation) -> None:
        self.step_view.set_explanation(explanation)
        self.show_tab("One step")
        self.window.show_message(f"Step {explanation.step}: loss on its batch {explanation.loss_before:.4f} → "
                                 f"{explanation.loss_after:.4f}. Step again, or Resume to train on.")

    def _run_started(self, info: dict[str, Any]) -> None:
        self._last_snapshot = None
        if not info["continued"]:
            self.curves.clear()
            self._user_picked_cell = False
            self._set_time_machine(None, [])
        self.training_panel.run_started(info["first_epoch"], info["epochs"], info["batches_per_epoch"])
        self.training_panel.set_can_pin(False)
        self.show_tab("Training")
        self.window.docks["training"].raise_()
        self.window.show_message("Training… the design is locked until it stops.")

    def _state_changed(self, state: str) -> None:
        self.training_panel.set_state(state)
        self.data_panel.set_read_only(state != "idle")
        if state == "idle":
            self.training_panel.set_has_progress(self.controller.has_progress())
            self.training_panel.set_can_pin(self.controller.predict_model() is not None)
        self._update_time_bars()

    # ---- the test set --------------------------------------------------------------------
    def _refresh_test_button(self) -> None:
        self.training_panel.set_test_available(self.data_panel.test_part_missing())

    def evaluate_test_set(self) -> bool:
        """Score the trained model on the data set's own test part (in a worker); the Confusion
        tab then shows that set's confusion matrix and its images."""
        missing = self.data_panel.test_part_missing()
        load = self.data_panel.test_loader()
        if missing is not None or load is None:
            self.training_panel.show_error(missing or "This data set has no test part.")
            return False
        if not self.controller.evaluate_test(load):
            return False
        self.training_panel.set_testing(True)
        self.window.show_message("Scoring the test set…")
        return True

    def _test_finished(self, test) -> None:
        self.training_panel.set_testing(False)
        result, data = test.result, test.dataset
        summary = (f"test set ({data.name}, {len(data):,} images): loss {result.loss:.4f}, "
                   f"accuracy {100 * result.accuracy:.2f}%")
        self.training_panel.log(summary)
        self.training_panel.status.setText(summary[:1].upper() + summary[1:])
        self.confusion.set_confusion(result.confusion, list(data.class_names),
                                     subtitle=f"test set: {len(data):,} images, accuracy {100 * result.accuracy:.1f}%")
        confidence = result.probabilities[np.arange(len(data)), result.predictions].astype(np.float32)
        self._example_images = data.x
        self.confusion.set_examples(data.x, data.y, result.predictions, confidence)
        self.misclassified.set_examples(data.x, data.y, result.predictions, confidence,
                                        class_names=list(data.class_names))
        self._user_picked_cell = False
        self._show_commonest_mistake(result.confusion)
        self.show_tab("Confusion")
        self.window.show_message(summary[:1].upper() + summary[1:])

    def _test_failed(self, message: str) -> None:
        self.training_panel.set_testing(False)
        self.training_panel.show_error(message)
        self.window.show_message(message)

    def _step(self, report) -> None:
        self.training_panel.show_step(report)
        position = report.epoch - 1 + report.batch / report.batches_per_epoch
        self.curves.add_step(position, report.loss, report.accuracy)

    def _epoch(self, report) -> None:
        self.training_panel.show_epoch(report)
        self._set_health(report.health)
        self.curves.add_epoch(report.epoch, report.val_loss, report.val_accuracy,
                              report.train_loss, report.train_accuracy)
        if report.confusion is not None and self._replay == LIVE:
            self.confusion.set_confusion(report.confusion, self._class_names,
                                         subtitle=f"validation set after epoch {report.epoch}")
            self._show_commonest_mistake(report.confusion)

    def _show_commonest_mistake(self, confusion: np.ndarray) -> None:
        """Until the user picks a cell, the gallery shows the most frequent confusion."""
        if self._user_picked_cell:
            return
        mistakes = np.array(confusion, copy=True)
        np.fill_diagonal(mistakes, 0)
        if mistakes.max() == 0:  # none left: no headline about a mistake that is gone
            self.confusion.clear_selection()
        else:
            true_class, predicted = np.unravel_index(int(np.argmax(mistakes)), mistakes.shape)
            self._auto_selecting = True
            try:
                self.confusion.select_cell(int(true_class), int(predicted))
            finally:
                self._auto_selecting = False

    def _cell_clicked(self, _true_class: int, _predicted: int) -> None:
        if not self._auto_selecting:
            self._user_picked_cell = True

    def _snapshot(self, snap: TrainingSnapshot) -> None:
        """Show a training snapshot; only the visible tab is drawn (the others on showing)."""
        self._last_snapshot = snap
        if snap.examples is not None:
            ex = snap.examples
            self._example_images = ex.images
            args = (ex.images, ex.labels, ex.predictions, ex.confidence)
            self._live_examples = args
            if self._replay == LIVE:
                self.confusion.set_examples(*args)
            self.misclassified.set_examples(*args, class_names=self._class_names)
        if snap.time_machine is not None:
            self._set_time_machine(*snap.time_machine)
        self._draw_snapshot(snap, self.tabs.tabText(self.tabs.currentIndex()))

    def _draw_snapshot(self, snap: TrainingSnapshot, tab: str) -> None:
        if self._replay != LIVE and tab in REPLAY_TABS:
            return  # the time machine shows an earlier epoch there
        if tab == "Training" and snap.activations is not None:
            self.feature_maps.set_activations(snap.probe, snap.activations, self._class_names)
        elif tab == "Predict" and snap.probabilities is not None and self._probe_from_predict:
            self.predict.show_probabilities(snap.probabilities)
            if snap.activations is not None:
                self.predict.feature_maps.set_activations(snap.probe, snap.activations, self._class_names)
        elif tab == "Filters":
            self.filters.set_model(snap.model)
        elif tab == "Weights":
            self.histograms.update_from_model(snap.model)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.tabText(index) == "Step through":
            self._show_walkthrough_layer(self.walkthrough.requested_layer())
            return
        if self._replay != LIVE and self.tabs.tabText(index) in REPLAY_TABS:
            self._draw_replay(self.tabs.tabText(index))
            return
        if self.controller.is_running():
            if self._last_snapshot is not None:
                self._draw_snapshot(self._last_snapshot, self.tabs.tabText(index))
        else:
            self._refresh_idle_views()

    def _set_health(self, health: tuple) -> None:
        """Layer health (core.health) to the Weights tab's dead-unit chart and, via healthChanged, the cards."""
        self._health = tuple(health)
        self.histograms.set_health(self._health)
        self.healthChanged.emit(self._health)

    @property
    def health(self) -> tuple:
        return self._health

    def _finished(self, report) -> None:
        self._load_time_machine()
        self.training_panel.show_end(report)
        if report is not None and report.health:
            self._set_health(report.health)
        if report is not None and report.reason == "diverged":
            QMessageBox.warning(self.window, "Training diverged", report.message)
        self.window.show_message(report.message if report is not None else "Training ended.")
        if self._last_snapshot is None:  # else the worker's final snapshot has drawn the end state
            self._refresh_idle_views()

    def _failed(self, message: str) -> None:
        self.training_panel.show_error(message)
        self.window.show_message(message)

    def _crashed(self, message: str, details: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Critical, "Training failed", message, parent=self.window)
        box.setDetailedText(details)
        box.exec()

    # ---- probe, prediction and idle views ---------------------------------------------------
    def _current_probe(self) -> np.ndarray | None:
        if self._probe_from_predict:
            image = self.predict.current_image()
            if image is not None:
                return image
        return self.data_panel.probe_image()

    def _predict_image(self, image: np.ndarray) -> None:
        """A drawn or loaded image: it becomes the probe, and the model's answer is shown."""
        self._probe_from_predict = True
        self.controller.set_probe(image)
        if not self.controller.is_running():
            model, trained = self._preview_model()
            # Untrained too: the drawing's feature maps are worth tracing before any training.
            if model is not None and tuple(image.shape) == model.input_shape:
                self._refresh_probe_views(model, trained, self.tabs.tabText(self.tabs.currentIndex()))
            elif self.pinned is not None:
                self._show_comparison(image, None)

    def _use_example_as_probe(self, index: int) -> None:
        """A double-clicked validation image becomes the Predict pane's input (and the probe)."""
        images = self._example_images
        if images is not None and 0 <= index < len(images):
            self.predict.set_image(images[index])
            self.show_tab("Predict")

    def _preview_model(self) -> tuple[Sequential | None, bool]:
        """The trained model, or (for a fresh design) the design with random weights."""
        result = self.controller.predict_model()
        if result is not None:
            return result, True
        analysis = self.document.analysis
        if not analysis.valid or not analysis.layers:
            return None, False
        config = self.document.config
        if design_size_problem(config, analysis, purpose="evaluate") is not None:
            return None, False  # too large to build: the summary says so, training refuses with the numbers
        if self._untrained is None or self._untrained[0] != config:
            self._untrained = (config, Sequential.from_config(config, seed=0))
        return self._untrained[1], False

    def _refresh_idle_views(self) -> None:
        """Feature maps, filters and weights of the current model for the current probe
        (only the visible tab is drawn; the others when they are shown)."""
        if self.controller.is_running():
            return
        analysis = self.document.analysis
        if analysis.valid and analysis.layers:  # made now, a few at a time, not when training starts
            self.feature_maps.prepare_overview([info.output_shape for info in analysis.layers])
        tab = self.tabs.tabText(self.tabs.currentIndex())
        if tab == "Step through":
            self._show_walkthrough_layer(self.walkthrough.requested_layer())
            return
        if tab not in ("Training", "Filters", "Weights", "Predict"):
            return
        if self._replay != LIVE and tab in REPLAY_TABS:
            self._draw_replay(tab)
            return
        model, trained = self._preview_model()
        if model is None:
            self.filters.clear()
            self.histograms.clear()
            self.feature_maps.clear()
            return
        if tab == "Filters":
            self.filters.set_model(FrozenModel(model))
        elif tab == "Weights":
            self.histograms.update_from_model(FrozenModel(model))
        else:
            self._refresh_probe_views(model, trained, tab)

    def _refresh_probe_views(self, model: Sequential, trained: bool, tab: str) -> None:
        probe = self._current_probe()
        if probe is None or tuple(probe.shape) != model.input_shape:
            self.feature_maps.clear()
            return
        result = self.controller.predict(probe) if trained else None
        if result is None:
            with np.errstate(all="ignore"):
                activations = [a[0] for a in model.feature_maps(probe[None])]
            probabilities = None
        else:
            probabilities, activations = result
        if tab == "Training":
            caption = None if trained else "untrained: random weights"
            self.feature_maps.set_activations(probe, activations, self._class_names, probe_caption=caption)
        if probabilities is not None and self._probe_from_predict:
            if self.pinned is not None:
                self._show_comparison(probe, (probabilities, activations))
            else:
                self.predict.show_probabilities(probabilities)
        if tab == "Predict" and self._probe_from_predict:
            caption = "your drawing" if trained else "your drawing · untrained: random weights"
            self.predict.feature_maps.set_activations(probe, activations, self._class_names, probe_caption=caption)

    # ---- epoch time machine ------------------------------------------------------------------
    def _load_time_machine(self) -> None:
        """The snapshots of the model the views show (an opened file's, or this session's)."""
        history = self.controller.snapshot_history()
        if history is None:
            self._set_time_machine(None, [])
        else:
            self._set_time_machine(history.probe, list(history))

    def _set_time_machine(self, probe: np.ndarray | None, snapshots: list) -> None:
        """New snapshots (an epoch ended, or another model): a replay stays on its epoch (or the
        latest kept one before it; live when there is none)."""
        shown = self.replay_snapshot()
        self._time_machine = (probe, list(snapshots))
        if shown is not None:
            earlier = [i for i, s in enumerate(snapshots) if s.epoch <= shown.epoch]
            self._replay = earlier[-1] if earlier else LIVE
        self._update_time_bars()

    def _update_time_bars(self) -> None:
        snapshots = self._time_machine[1]
        epochs = [s.epoch for s in snapshots]
        notes = []
        for s in snapshots:
            accuracy = s.metrics.get("val_accuracy")
            notes.append("" if accuracy is None else f"validation {100 * accuracy:.1f}%")
        running = self.controller.state != "idle"
        live = "live · training" if running else ("live · the model now" if epochs else "live")
        for bar in self.time_bars.values():
            bar.set_epochs(epochs, notes, live)
            bar.set_position(self._replay)

    def _replay_changed(self, index: int) -> None:
        """A time-machine slider moved: every replaying view follows (the visible one redraws now)."""
        self._replay = index
        for bar in self.time_bars.values():
            bar.set_position(index)
        tab = self.tabs.tabText(self.tabs.currentIndex())
        if index == LIVE:
            if self._live_examples is not None:
                self.confusion.set_examples(*self._live_examples)
            if self._last_snapshot is not None and self.controller.is_running():
                self._draw_snapshot(self._last_snapshot, tab)
            else:
                self._refresh_idle_views()
            self._restore_live_confusion()
        else:
            self._draw_replay(tab)

    def _restore_live_confusion(self) -> None:
        snapshots = self._time_machine[1]
        if snapshots and snapshots[-1].confusion is not None:
            self.confusion.set_confusion(snapshots[-1].confusion, self._class_names,
                                         subtitle=f"validation set after epoch {snapshots[-1].epoch}")

    def replay_snapshot(self):
        """The epoch snapshot the replaying views show, or None for live."""
        return None if self._replay == LIVE else self._time_machine[1][self._replay]

    def _draw_replay(self, tab: str) -> None:
        snapshot = self.replay_snapshot()
        if snapshot is None:
            return
        layers = self.document.analysis.layers
        names = {info.index: f"{info.index} · {info.description}" for info in layers}
        when = f"after epoch {snapshot.epoch} (time machine)"
        if tab == "Training":
            probe = self._time_machine[0]
            maps = [np.zeros((1, 1, 1), np.float32) if m is None else m.astype(np.float32)
                    for m in snapshot.feature_maps]
            if probe is not None and probe.ndim == 3:
                self.feature_maps.set_activations(probe, maps, self._class_names,
                                                  probe_caption=f"{when}; maps shrunk to at most 16×16")
        elif tab == "Filters":
            self.filters.set_filters([(f"{names.get(i, str(i))} · after epoch {snapshot.epoch}", w)
                                      for i, w in sorted(snapshot.filters.items())])
        elif tab == "Confusion" and snapshot.confusion is not None:
            self.confusion.set_examples(np.zeros((0,) + tuple(self._time_machine[0].shape if
                                                               self._time_machine[0] is not None else (1, 1, 1)),
                                                 np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64),
                                        np.zeros(0, np.float32))
            self.confusion.set_confusion(snapshot.confusion, self._class_names, subtitle=f"validation set {when}")

    # ---- A/B comparison --------------------------------------------------------------------
    def pin_model(self) -> bool:
        """Keep the trained model as "A" (curves overlaid, Predict side by side)."""
        pinned = self.controller.pin("A")
        if pinned is None:
            self.window.show_message("Train a model first: there is nothing to pin yet.")
            return False
        self.pinned = pinned
        summary = pinned.summary()
        self.training_panel.set_pinned(summary)
        self.curves.set_reference(pinned.history, "A", summary)
        self.predict.set_reference("A")
        self.compare_maps.setVisible(True)
        self.window.show_message(f"Pinned as A: {summary}. Change the design or the settings and train B.")
        image = self.predict.current_image()
        if image is not None:
            self._predict_image(image)
        return True

    def unpin_model(self) -> None:
        self.pinned = None
        self.training_panel.set_pinned(None)
        self.curves.clear_reference()
        self.predict.set_reference(None)
        self.compare_maps.setVisible(False)
        image = self.predict.current_image()
        if image is not None:
            self._predict_image(image)

    def _show_comparison(self, image: np.ndarray, current: tuple | None) -> None:
        """Predict: A's and B's probabilities and feature maps for the same image."""
        pinned = self.pinned
        a = pinned.predict(image)
        model, trained = self._preview_model()
        b_labels = layer_labels(model) if model is not None and trained else []
        try:
            changes = differences(pinned.config, pinned.settings, self.document.config,
                                  self.training_panel.settings().to_dict())
        except ValueError:
            changes = []
        title_b = "B · the current model" + (f" ({'; '.join(changes[:2])})" if changes else "")
        if current is None:
            title_b += ": not trained yet"
        self.compare_maps.set_models(layer_labels(pinned.model), b_labels, f"A · {pinned.summary()}", title_b)
        self.compare_maps.set_activations(None if a is None else a.activations,
                                          None if current is None else current[1])
        if current is not None:
            self.predict.show_probabilities(current[0], None if a is None else a.probabilities)
        elif a is not None:
            self.predict.show_probabilities(a.probabilities, who="A (B is not trained yet)")

    # ---- step through a layer -------------------------------------------------------------
    def show_walkthrough(self, layer_index: int) -> None:
        """Open the Step-through tab on layer ``layer_index`` (a Conv2D or window pooling)."""
        self._show_walkthrough_layer(layer_index)
        self.show_tab("Step through")

    def _show_walkthrough_layer(self, index: int | None) -> None:
        """Give the walkthrough view layer ``index`` with its current weights and inputs."""
        # One image through a few layers: one thread is several times faster than two fighting
        # over a busy machine (benchmarks/bench_walkthrough.py). A per-thread cap, never the
        # process-wide BLAS limit, which a training worker's passes read at the same time.
        with thread_limit(1):
            self._show_walkthrough_layer_now(index)

    def _show_walkthrough_layer_now(self, index: int | None) -> None:
        analysis = self.document.analysis
        if index is None or not 0 <= index < len(analysis.layers) or not can_walk(analysis.layers[index].type):
            self.walkthrough.clear()
            return
        if not analysis.valid:
            self.walkthrough.clear("Fix the design's errors first: the layers need their shapes.")
            return
        running = self.controller.is_running()
        found = self._running_layer(index) if running else self._idle_layer(index)
        if found is None:
            self.walkthrough.clear("No weights to show yet: they come with the first training snapshot.")
            return
        layer, inputs, note = found
        self.walkthrough.set_layer(index, layer, inputs, note)

    def _idle_layer(self, index: int):
        model, trained = self._preview_model()
        if model is None:
            return None
        probe = self._current_probe()
        inputs: dict[str, np.ndarray | None] = {"real": None, "probe": probe}
        if probe is not None and tuple(probe.shape) == model.input_shape:
            x = self.controller.model_input(probe) if trained else probe
            inputs["real"] = layer_input(model, index, x)
        note = "Trained weights" if trained else "Untrained: random initial weights (train the model to see learned ones)"
        return model.layers[index], inputs, note

    def _running_layer(self, index: int):
        snap = self._last_snapshot
        if snap is None:
            return None
        info = self.document.analysis.layers[index]
        layer = build_layer(self.document.layers[index], snap.model.layers[index].params, info.input_shape)
        probe, activations = snap.probe, snap.activations
        real = None
        if probe is not None and activations is not None:
            real = self.controller.model_input(probe) if index == 0 else activations[index - 1]
        note = (f"Weights as of training step {snap.step:,} (training continues; come back to this tab "
                "for newer ones)")
        return layer, {"real": real, "probe": probe}, note

    # ---- closing -------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Before the window closes: stop training (asking first) and keep its weights."""
        if not self.controller.is_running():
            return True
        answer = QMessageBox.question(
            self.window, "Training is running",
            "Training is still running. Stop it and close?\nThe weights trained so far are kept "
            "for saving.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.controller.shutdown(keep_weights=True)
        return True

    def shutdown(self) -> None:
        """Stop and join every background thread (training and data loading)."""
        self.controller.shutdown(keep_weights=True)
        self.data_panel.shutdown()
