"""Scores computed from a confusion matrix (rows: true class, columns: predicted class)."""

from __future__ import annotations

import numpy as np


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Share of each true class predicted right (the recall); NaN for a class with no images."""
    matrix = np.asarray(confusion, dtype=np.float64)
    rows = matrix.sum(axis=1)
    return np.divide(np.diag(matrix), rows, out=np.full(len(matrix), np.nan), where=rows > 0)
