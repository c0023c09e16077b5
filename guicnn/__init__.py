"""guicnn: build, train and watch convolutional neural networks by point and click."""

__version__ = "0.1.0"
