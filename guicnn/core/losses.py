"""Losses: fused, numerically stable softmax cross-entropy, and mean squared error."""

from __future__ import annotations

import numpy as np

from .errors import ShapeError


class Loss:
    type_name = ""
    title = ""
    help = ""

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax(z)) = z - max - log(sum(exp(z - max))): finite for logits of any finite size."""
    with np.errstate(over="ignore"):
        shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_labels(labels: np.ndarray, n: int, classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ShapeError(f"expected {n} integer labels, got an array of shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise ShapeError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if n and (labels.min() < 0 or labels.max() >= classes):
        raise ShapeError(f"labels must lie in 0..{classes - 1}, found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64, copy=False)


class SoftmaxCrossEntropy(Loss):
    """Mean cross-entropy of softmax(logits) against integer labels, with the gradient fused.

    Takes *logits*: when a model ends with a Softmax layer, the trainer feeds the input of
    that layer, so softmax is never applied twice.
    """

    type_name = "cross_entropy"
    title = "Cross-entropy"
    help = "−log of the probability given to the right class (softmax is part of the loss)."

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        logits = logits.reshape(len(logits), -1)
        labels = check_labels(labels, len(logits), logits.shape[1])
        log_probs = log_softmax(logits)
        self._cache = (log_probs, labels)
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self) -> np.ndarray:
        log_probs, labels = self._cache
        grad = np.exp(log_probs)
        grad[np.arange(len(labels)), labels] -= 1
        grad /= len(labels)
        return grad


class MSE(Loss):
    """Mean squared error; integer labels are compared with one-hot vectors."""

    type_name = "mse"
    title = "Mean squared error"
    help = "Mean of (output − one-hot label)²; slower to learn classification than cross-entropy."

    def __init__(self, apply_softmax: bool = False) -> None:
        self.apply_softmax = apply_softmax

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        output = output.reshape(len(output), -1)
        target = np.asarray(target)
        if target.ndim == 1 and target.dtype.kind in "iu":
            labels = check_labels(target, len(output), output.shape[1])
            target = np.zeros_like(output)
            target[np.arange(len(labels)), labels] = 1
        target = target.reshape(output.shape).astype(output.dtype, copy=False)
        diff = output - target
        self._cache = diff
        return float(np.mean(diff * diff))

    def backward(self) -> np.ndarray:
        diff = self._cache
        return (2.0 / diff.size) * diff


LOSSES: dict[str, type[Loss]] = {cls.type_name: cls for cls in (SoftmaxCrossEntropy, MSE)}


def make_loss(name: str) -> Loss:
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; use one of {', '.join(LOSSES)}") from None
