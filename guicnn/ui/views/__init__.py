"""Inspection views drawn with pyqtgraph: curves, feature maps, filters, histograms, confusion, predict.

Each view is a self-contained ``QWidget`` fed with NumPy arrays (copies, never live
training buffers); none of them computes anything the core should compute. Importing
this package sets pyqtgraph's global options once: row-major images (``image[row, col]``,
as NumPy prints them) on a light background that matches the Fusion light theme.
"""

from __future__ import annotations

import pyqtgraph as pg

pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="#333a40", antialias=False)

from guicnn.ui.views.common import layer_labels  # noqa: E402  (after the global options)
from guicnn.ui.views.compare_maps import FeatureMapsPair  # noqa: E402
from guicnn.ui.views.confusion import ConfusionView, MisclassifiedView  # noqa: E402
from guicnn.ui.views.curves import CurvesView  # noqa: E402
from guicnn.ui.views.feature_maps import FeatureMapsView  # noqa: E402
from guicnn.ui.views.filters import FiltersView  # noqa: E402
from guicnn.ui.views.gallery import ImageGallery  # noqa: E402
from guicnn.ui.views.histograms import HistogramsView  # noqa: E402
from guicnn.ui.views.predict import DrawingCanvas, PredictView  # noqa: E402
from guicnn.ui.views.step import StepView  # noqa: E402

__all__ = [
    "ConfusionView",
    "CurvesView",
    "DrawingCanvas",
    "FeatureMapsPair",
    "FeatureMapsView",
    "FiltersView",
    "HistogramsView",
    "ImageGallery",
    "MisclassifiedView",
    "PredictView",
    "StepView",
    "layer_labels",
]
