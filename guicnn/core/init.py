"""Seeded weight initialisation (He for ReLU nets, Glorot for sigmoid/tanh nets)."""

from __future__ import annotations

import numpy as np

INITIALISERS = ("he", "glorot")


def init_weight(shape: tuple[int, ...], fan_in: int, fan_out: int, scheme: str, rng: np.random.Generator) -> np.ndarray:
    """A float32 weight array: He normal (std sqrt(2/fan_in)) or Glorot uniform."""
    if scheme == "he":
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    if scheme == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)
    raise ValueError(f"unknown initialisation {scheme!r}; use one of {', '.join(INITIALISERS)}")
