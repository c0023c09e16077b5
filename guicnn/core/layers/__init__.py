"""Built-in layer types; importing this package registers all of them."""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Tanh, sigmoid, softmax
from .base import Layer, LayerShapeError
from .conv import Conv2D
from .dense import Dense, Flatten
from .pooling import (
    AvgPool2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    MaxPool2D,
    MinPool2D,
    SpatialPyramidPool2D,
    StochasticPool2D,
    SumPool2D,
)
from .regularisation import BatchNorm, Dropout

__all__ = [
    "Layer", "LayerShapeError", "Conv2D", "Dense", "Flatten", "ReLU", "LeakyReLU", "PReLU", "ELU",
    "Sigmoid", "Tanh", "Softmax", "MaxPool2D", "MinPool2D", "AvgPool2D", "SumPool2D", "StochasticPool2D",
    "GlobalAvgPool2D", "GlobalMaxPool2D", "SpatialPyramidPool2D", "Dropout", "BatchNorm", "sigmoid", "softmax",
]
