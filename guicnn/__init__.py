"""guicnn: build, train and watch convolutional neural networks by point and click."""

__version__ = "0.1.0"
__license__ = "MIT"  # as pyproject.toml says (a test keeps the two alike)
