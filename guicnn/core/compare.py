"""Compare two designs (A/B): a frozen copy of a trained model, what differs, and predictions.

:class:`PinnedModel` keeps everything needed to set a trained model beside another one: its
design, a copy of its weights, its input normalisation, its per-epoch history and settings.
:func:`predict_image` is the one way a raw image becomes class probabilities and every
layer's feature maps (used for the current model and for the pinned one alike).
:func:`differences` says in words what changed from A to B.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .data import Normalization
from .model import Sequential


@dataclass(frozen=True)
class Prediction:
    """Class probabilities (K,) and every layer's output for one image (no batch dimension)."""

    probabilities: np.ndarray
    activations: list[np.ndarray]


def predict_image(model: Sequential, image: np.ndarray, normalization: Normalization | None = None) -> Prediction | None:
    """Run ``model`` (inference mode) on one raw image (C, H, W) in [0, 1]; None when its input
    shape differs or its probabilities are not finite (a diverged model)."""
    image = np.asarray(image, dtype=np.float32)
    if tuple(image.shape) != tuple(model.input_shape):
        return None
    with np.errstate(all="ignore"):
        x = normalization.apply(image[None]) if normalization is not None else image[None]
        output = model.forward(x, training=False, keep=True)
        activations = [a[0] for a in model.activations or []]
        model.activations = None
        probabilities = model.probabilities(output)[0]
    model.clear_caches()
    if not np.all(np.isfinite(probabilities)):
        return None
    return Prediction(np.asarray(probabilities, dtype=np.float32), activations)


@dataclass(frozen=True)
class PinnedModel:
    """A trained model set aside for comparison (its arrays are copies: training B never changes it)."""

    label: str
    config: dict[str, Any]
    weights: dict[str, np.ndarray]
    normalization: Normalization | None
    history: dict[str, list]
    settings: dict[str, Any]
    class_names: list[str]
    _model: list = field(default_factory=list, repr=False, compare=False)  # the built model, once

    @classmethod
    def from_trainer(cls, trainer: Any, label: str = "A") -> PinnedModel:
        """Pin the trainer's model as it is now."""
        return cls(label=label, config=trainer.model.get_config(), weights=trainer.model.state_dict(),
                   normalization=trainer.normalization, history=copy.deepcopy(trainer.history),
                   settings=trainer.settings.to_dict(), class_names=list(trainer.dataset_info.get("class_names") or []))

    @property
    def model(self) -> Sequential:
        if not self._model:
            model = Sequential.from_config(self.config, seed=0)
            model.load_state_dict(self.weights)
            self._model.append(model)
        return self._model[0]

    def predict(self, image: np.ndarray) -> Prediction | None:
        return predict_image(self.model, image, self.normalization)

    @property
    def epochs(self) -> int:
        return len(self.history.get("epoch") or [])

    def summary(self) -> str:
        """One line: design name, optimizer and learning rate, epochs, best validation accuracy."""
        parts = [self.config.get("name") or f"{len(self.config.get('layers', []))} layers"]
        optimizer = self.settings.get("optimizer") or {}
        if optimizer:
            parts.append(f"{optimizer.get('type', '?')} lr {optimizer.get('lr', '?'):g}"
                         if isinstance(optimizer.get("lr"), (int, float)) else str(optimizer.get("type", "?")))
        parts.append(f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        accuracy = [v for v in self.history.get("val_accuracy") or [] if isinstance(v, (int, float)) and math.isfinite(v)]
        if accuracy:
            parts.append(f"best validation {100 * max(accuracy):.1f}%")
        return " · ".join(parts)


def differences(a_config: dict[str, Any], a_settings: dict[str, Any], b_config: dict[str, Any],
                b_settings: dict[str, Any]) -> list[str]:
    """What changed from A to B, in words: layers added, removed or changed, and training settings."""
    out = []
    a_layers, b_layers = a_config.get("layers", []), b_config.get("layers", [])
    if a_config.get("input_shape") != b_config.get("input_shape"):
        out.append(f"input {a_config.get('input_shape')} → {b_config.get('input_shape')}")
    for index in range(max(len(a_layers), len(b_layers))):
        a = a_layers[index] if index < len(a_layers) else None
        b = b_layers[index] if index < len(b_layers) else None
        if a == b:
            continue
        if a is None:
            out.append(f"layer {index} {b.get('type')} added")
        elif b is None:
            out.append(f"layer {index} {a.get('type')} removed")
        elif a.get("type") != b.get("type"):
            out.append(f"layer {index} {a.get('type')} → {b.get('type')}")
        else:
            changed = [f"{key} {a.get(key, 'default')} → {b.get(key, 'default')}"
                       for key in sorted(set(a) | set(b)) if key != "type" and a.get(key) != b.get(key)]
            out.append(f"layer {index} {a.get('type')}: {', '.join(changed)}")
    for key in sorted(set(a_settings) | set(b_settings)):
        a, b = a_settings.get(key), b_settings.get(key)
        if key == "epochs" or a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            changed = [f"{k} {a.get(k, 'default')} → {b.get(k, 'default')}" for k in sorted(set(a) | set(b))
                       if a.get(k) != b.get(k)]
            out.append(f"{key.replace('_', ' ')}: {', '.join(changed)}")
        else:
            out.append(f"{key.replace('_', ' ')} {a} → {b}")
    return out


__all__ = ["Prediction", "PinnedModel", "predict_image", "differences"]
