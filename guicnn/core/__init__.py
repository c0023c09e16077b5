"""guicnn.core: the pure-NumPy engine (no Qt). Layers, models, analysis, losses, optimizers."""

from .analysis import Analysis, LayerInfo, analyze
from .errors import ConfigError, DataError, GuicnnError, ModelFileError, ShapeError, TrainingError
from .fields import Field
from .layers import *  # noqa: F401,F403  (registers every layer type)
from .layers import Layer
from .losses import MSE, SoftmaxCrossEntropy, make_loss
from .model import Sequential, format_summary
from .optim import SGD, Adam, RMSprop, make_optimizer, scheduled_lr
from .registry import GROUPS, layer_class, layer_classes, layer_types

__all__ = [
    "Analysis", "LayerInfo", "analyze", "ConfigError", "DataError", "GuicnnError", "ModelFileError",
    "ShapeError", "TrainingError", "Field", "Layer", "MSE", "SoftmaxCrossEntropy", "make_loss",
    "Sequential", "format_summary", "SGD", "Adam", "RMSprop", "make_optimizer", "scheduled_lr",
    "GROUPS", "layer_class", "layer_classes", "layer_types",
]
