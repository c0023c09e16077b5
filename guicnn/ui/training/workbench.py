"""The training workbench: data and training panels, the inspection views, and their wiring.

The main window creates one ``Workbench`` and gives it the design area (the layer stack above
the summary): that becomes the "Design" tab of ``tabs``, next to "Training" (curves and feature
maps), "Filters", "Weights", "Confusion", "Misclassified" and "Predict". The window puts
``tabs`` in its centre and the Data and Train panels beside the Inspector. Views subscribe to
the controller's signals and never talk to each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QSplitter, QTabWidget, QWidget
from threadpoolctl import ThreadpoolController

from guicnn.core import Sequential
from guicnn.core.layers.common import fmt_shape
from guicnn.core.training import TrainSettings
from guicnn.core.walkthrough import build_layer, can_walk, layer_input
from guicnn.ui.data.panel import DataPanel
from guicnn.ui.training.controller import FrozenModel, TrainingController, TrainingSnapshot
from guicnn.ui.training.panel import TrainingPanel
from guicnn.ui.views.confusion import ConfusionView, MisclassifiedView
from guicnn.ui.views.curves import CurvesView
from guicnn.ui.views.feature_maps import FeatureMapsView
from guicnn.ui.views.filters import FiltersView
from guicnn.ui.views.histograms import HistogramsView
from guicnn.ui.views.predict import PredictView
from guicnn.ui.views.walkthrough import WalkthroughView

_BLAS = ThreadpoolController()  # made once: inspecting the loaded libraries takes ~1 ms
TABS = ("Design", "Training", "Filters", "Weights", "Confusion", "Misclassified", "Predict", "Step through")


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
        self._health: tuple = ()
        # Edits come in bursts (typing, undo): redraw the model views once the burst is over.
        self._idle_refresh = QTimer(self)
        self._idle_refresh.setSingleShot(True)
        self._idle_refresh.setInterval(150)
        self._idle_refresh.timeout.connect(self._refresh_idle_views)
        self._connect()
        self._design_changed()
        self._document_replaced()
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
        self.walkthrough = WalkthroughView()
        training = QSplitter(Qt.Orientation.Vertical)
        training.addWidget(self.curves)
        training.addWidget(self.feature_maps)
        training.setStretchFactor(0, 2)
        training.setStretchFactor(1, 3)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for title, widget in zip(TABS, (design_area, training, self.filters, self.histograms, self.confusion,
                                        self.misclassified, self.predict, self.walkthrough)):
            self.tabs.addTab(widget, title)
        self.tabs.setTabToolTip(1, "Loss and accuracy curves, and the feature maps of the probe image, live")
        self.tabs.setTabToolTip(4, "Which classes are confused with which, after each epoch")
        self.tabs.setTabToolTip(TABS.index("Step through"),
                                "How a convolution or pooling layer computes its output, value by value")

    def show_tab(self, title: str) -> None:
        self.tabs.setCurrentIndex(TABS.index(title))

    # ---- wiring ------------------------------------------------------------------------
    def _connect(self) -> None:
        doc, data, panel, ctl = self.document, self.data_panel, self.training_panel, self.controller
        doc.changed.connect(self._design_changed)
        doc.file_changed.connect(self._document_replaced)
        data.datasetChanged.connect(self._dataset_changed)
        data.probeChanged.connect(self._probe_changed)
        data.fixInputShape.connect(lambda shape: doc.set_input_shape(list(shape)))
        data.fixOutputUnits.connect(self._fix_output_units)
        panel.startRequested.connect(self.start_training)
        panel.pauseRequested.connect(ctl.set_paused)
        panel.stopRequested.connect(ctl.stop)
        ctl.started.connect(self._run_started)
        ctl.stateChanged.connect(self._state_changed)
        ctl.step.connect(self._step)
        ctl.epoch.connect(self._epoch)
        ctl.snapshot.connect(self._snapshot)
        ctl.finished.connect(self._finished)
        ctl.failed.connect(self._failed)
        ctl.crashed.connect(self._crashed)
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
            shape = self.document.analysis.input_shape
            which = "digits" if shape == (1, 8, 8) else "shapes"
        self.data_panel.load_builtin(which)

    # ---- design and data ------------------------------------------------------------------
    def _design_changed(self) -> None:
        analysis = self.document.analysis
        output = analysis.output_shape
        units = int(np.prod(output)) if output is not None else None
        self.data_panel.set_design(analysis.input_shape, units)
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
        info = self.document.model_info or {}
        history = info.get("history")
        self._set_health(())
        self.curves.clear()
        if history:
            self.curves.set_history(history)
        saved = (info.get("training") or {}).get("settings")
        if isinstance(saved, dict):
            try:
                self.training_panel.set_settings(TrainSettings.from_dict(saved))
            except ValueError:
                pass
        self.training_panel.set_has_progress(self.controller.has_progress())
        self._refresh_idle_views()

    def _dataset_changed(self, dataset) -> None:
        self._class_names = list(dataset.class_names)
        self.predict.set_class_names(self._class_names)
        self.confusion.clear()
        self.misclassified.clear()

    def _probe_changed(self, _index: int) -> None:
        self._probe_from_predict = False
        self.controller.set_probe(self.data_panel.probe_image())
        self._refresh_idle_views()

    def _fix_output_units(self, units: int) -> None:
        for index in range(len(self.document.layers) - 1, -1, -1):
            if self.document.layers[index].get("type") == "Dense":
                self.document.set_field(index, "units", int(units))
                return
        self.window.show_message("Add a Dense layer at the end: its units are the class scores.")

    # ---- training ------------------------------------------------------------------------
    def start_training(self, continue_training: bool) -> bool:
        try:
            settings = self.training_panel.settings()
        except ValueError as exc:
            self.training_panel.show_error(str(exc))
            return False
        if self.data_panel.dataset() is None:
            self.training_panel.show_error("Load a data set first (the Data panel).")
            self.window.docks["data"].raise_()
            return False
        train, val = self.data_panel.train_val()
        self.controller.set_probe(self._current_probe())
        return self.controller.start(settings, train, val, continue_training=continue_training)

    def _run_started(self, info: dict[str, Any]) -> None:
        if not info["continued"]:
            self.curves.clear()
            self._user_picked_cell = False
        self.training_panel.run_started(info["first_epoch"], info["epochs"], info["batches_per_epoch"])
        self.show_tab("Training")
        self.window.docks["training"].raise_()
        self.window.show_message("Training… the design is locked until it stops.")

    def _state_changed(self, state: str) -> None:
        self.training_panel.set_state(state)
        self.data_panel.set_read_only(state != "idle")
        if state == "idle":
            self.training_panel.set_has_progress(self.controller.has_progress())

    def _step(self, report) -> None:
        self.training_panel.show_step(report)
        position = report.epoch - 1 + report.batch / report.batches_per_epoch
        self.curves.add_step(position, report.loss, report.accuracy)

    def _epoch(self, report) -> None:
        self.training_panel.show_epoch(report)
        self._set_health(report.health)
        self.curves.add_epoch(report.epoch, report.val_loss, report.val_accuracy,
                              report.train_loss, report.train_accuracy)
        if report.confusion is not None:
            self.confusion.set_confusion(report.confusion, self._class_names,
                                         subtitle=f"validation set after epoch {report.epoch}")
            self._show_commonest_mistake(report.confusion)

    def _show_commonest_mistake(self, confusion: np.ndarray) -> None:
        """Until the user picks a cell, the gallery shows the most frequent confusion."""
        if self._user_picked_cell:
            return
        mistakes = np.array(confusion, copy=True)
        np.fill_diagonal(mistakes, 0)
        if mistakes.max() > 0:
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
            self.confusion.set_examples(*args)
            self.misclassified.set_examples(*args, class_names=self._class_names)
        self._draw_snapshot(snap, self.tabs.tabText(self.tabs.currentIndex()))

    def _draw_snapshot(self, snap: TrainingSnapshot, tab: str) -> None:
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
        self.training_panel.show_end(report)
        if report is not None and report.health:
            self._set_health(report.health)
        if report is not None and report.reason == "diverged":
            QMessageBox.warning(self.window, "Training diverged", report.message)
        self.window.show_message(report.message if report is not None else "Training ended.")
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
        if self._untrained is None or self._untrained[0] != config:
            self._untrained = (config, Sequential.from_config(config, seed=0))
        return self._untrained[1], False

    def _refresh_idle_views(self) -> None:
        """Feature maps, filters and weights of the current model for the current probe
        (only the visible tab is drawn; the others when they are shown)."""
        if self.controller.is_running():
            return
        tab = self.tabs.tabText(self.tabs.currentIndex())
        if tab == "Step through":
            self._show_walkthrough_layer(self.walkthrough.requested_layer())
            return
        if tab not in ("Training", "Filters", "Weights", "Predict"):
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
            self.predict.show_probabilities(probabilities)
        if tab == "Predict" and self._probe_from_predict:
            caption = "your drawing" if trained else "your drawing · untrained: random weights"
            self.predict.feature_maps.set_activations(probe, activations, self._class_names, probe_caption=caption)

    # ---- step through a layer -------------------------------------------------------------
    def show_walkthrough(self, layer_index: int) -> None:
        """Open the Step-through tab on layer ``layer_index`` (a Conv2D or window pooling)."""
        self._show_walkthrough_layer(layer_index)
        self.show_tab("Step through")

    def _show_walkthrough_layer(self, index: int | None) -> None:
        """Give the walkthrough view layer ``index`` with its current weights and inputs."""
        # One image through a few layers: one BLAS thread is several times faster than two
        # fighting over a busy machine (benchmarks/bench_walkthrough.py).
        with _BLAS.limit(limits=1, user_api="blas"):
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
