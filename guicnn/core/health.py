"""Layer health: dead ReLU units, saturated sigmoids, update sizes and gradient norms.

``layer_health(model, probe_x, previous)`` runs a probe batch (the trainer uses the first
``PROBES`` validation images) through the model in inference mode and rates every layer it
can say something about:

* ReLU family (ReLU, LeakyReLU, PReLU, ELU): the share of *dead* units — units that are
  never positive for any probe image. A unit of an image-shaped (C, H, W) output is a
  feature map: its weights are shared by every position, so it is dead only when it is not
  positive anywhere (a single position can stay dark because of the data, e.g. a plain
  background, and still learn from the others). A unit of a flat output is one feature;
* Sigmoid and Tanh: the share of *saturated* outputs, where the slope is below
  ``SATURATION_SLOPE`` of its peak and almost no gradient passes back;
* layers with weights: the update-to-weight ratio ‖Δw‖ / ‖w‖ of the last optimizer step
  (``previous`` holds the weights before it, keyed like ``named_parameters``) and the norm of
  the last gradient of all the layer's parameters.

Each figure has thresholds that give a status (green, amber, red) and a text saying what
it means and what to try. The trainer computes this after every epoch (``EpochReport.health``)
and at the end of a run, so the GUI only draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

GREEN, AMBER, RED = "green", "amber", "red"
_RANK = {GREEN: 0, AMBER: 1, RED: 2}

#: Probe images used to find dead and saturated units.
PROBES = 64
RELU_FAMILY = ("ReLU", "LeakyReLU", "PReLU", "ELU")
SATURATING = ("Sigmoid", "Tanh")
#: An output is saturated where the activation's slope is below this share of its peak slope.
SATURATION_SLOPE = 0.05

#: (amber from, red from) shares of dead ReLU units and of saturated outputs.
DEAD_LIMITS = (0.10, 0.40)
SATURATED_LIMITS = (0.10, 0.30)
#: Update-to-weight ratio: green inside, amber outside, red beyond (Karpathy's rule of thumb: ~1e-3).
UPDATE_GREEN = (1e-4, 3e-2)
UPDATE_RED = (1e-6, 1e-1)
#: Gradient norm: amber above the first, red above the second (and red when zero or not finite).
GRAD_LIMITS = (1e2, 1e4)
GRAD_VANISHING = 1e-7


@dataclass(frozen=True)
class LayerHealth:
    """The health of layer ``index``: ``status`` green/amber/red, ``badge`` a few characters for
    the card, ``explanation`` what the figures mean and what to try. Figures that do not apply
    to the layer type are None; shares are 0..1."""

    index: int
    type_name: str
    status: str
    badge: str
    explanation: str
    dead_share: float | None = None
    saturated_share: float | None = None
    update_ratio: float | None = None
    grad_norm: float | None = None
    probes: int = 0  # images the dead and saturated shares were counted on


# ---- the figures ---------------------------------------------------------------------------

def dead_share(activation: np.ndarray) -> float:
    """Share of units never positive over the batch: feature maps (axis 1) of an (N, C, H, W)
    batch, features of an (N, F) one."""
    a = np.asarray(activation)
    if a.ndim < 2 or a.shape[0] == 0 or a[0].size == 0:
        return 0.0
    fires = a > 0
    alive = np.any(fires.reshape(a.shape[0], a.shape[1], -1), axis=(0, 2))
    return float(1.0 - np.count_nonzero(alive) / alive.size)


def dead_unit_fractions(layers: Sequence[Any], activations: Sequence[np.ndarray]) -> dict[int, float]:
    """Layer index -> share of dead units, for the ReLU-family layers, from a batch's
    per-layer activations (as ``model.activations`` after ``forward(batch, keep=True)``)."""
    return {index: dead_share(activation) for index, (layer, activation) in enumerate(zip(layers, activations))
            if layer.type_name in RELU_FAMILY}


def saturated_share(type_name: str, activation: np.ndarray) -> float:
    """Share of a Sigmoid's or Tanh's outputs where its slope is below ``SATURATION_SLOPE`` of the peak."""
    y = np.asarray(activation, dtype=np.float64)
    if y.size == 0:
        return 0.0
    if type_name == "Sigmoid":
        slope = 4.0 * y * (1.0 - y)  # σ' = σ(1 − σ), peak 1/4
    elif type_name == "Tanh":
        slope = 1.0 - y * y  # tanh' = 1 − tanh², peak 1
    else:
        raise ValueError(f"{type_name} does not saturate; use one of {', '.join(SATURATING)}")
    return float(np.count_nonzero(slope < SATURATION_SLOPE) / y.size)


def norm(arrays: Sequence[np.ndarray]) -> float:
    """Euclidean norm of all the arrays' values together (float64, so large layers do not overflow)."""
    total = 0.0
    for array in arrays:
        flat = np.asarray(array, dtype=np.float64).ravel()
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def update_ratio(before: np.ndarray, after: np.ndarray) -> float | None:
    """‖after − before‖ / ‖before‖, or None when the weights were all zero."""
    size = norm([before])
    if size == 0:
        return None
    return norm([np.asarray(after, np.float64) - np.asarray(before, np.float64)]) / size


# ---- rating --------------------------------------------------------------------------------

def _worst(*statuses: str) -> str:
    return max(statuses, key=_RANK.__getitem__)


def _share_status(share: float, limits: tuple[float, float]) -> str:
    return RED if share >= limits[1] else AMBER if share >= limits[0] else GREEN


def _dead_health(index: int, layer: Any, share: float, probes: int, units: int, spatial: bool) -> LayerHealth:
    status = _share_status(share, DEAD_LIMITS)
    kind = " feature maps" if spatial else ""
    where = "anywhere in any" if spatial else "for any"
    what = (f"{share:.0%} of this layer's units ({round(share * units)} of {units}{kind}) never fire "
            f"(never positive {where} of the {probes} probe images)")
    if layer.type_name == "ReLU":
        meaning = "A dead ReLU unit outputs 0 whatever the input, so no gradient flows through it and it never learns again."
        advice = {GREEN: "Healthy: almost every unit responds to some image.",
                  AMBER: "Some units have died. If the share grows, lower the learning rate.",
                  RED: "— the dying-ReLU problem: lower the learning rate, use LeakyReLU or He initialisation."}[status]
    else:
        # Leaky variants pass a small gradient below 0, so a unit that is never positive can recover.
        status = AMBER if status == RED else status
        meaning = (f"Unlike ReLU, a {layer.type_name} unit that is never positive still passes a small gradient, "
                   "so it can recover, but it carries little information.")
        advice = {GREEN: "Healthy: almost every unit responds to some image.",
                  AMBER: "If the share keeps growing, lower the learning rate."}[status]
    text = f"{what} {advice}" if status == RED else f"{what}. {advice}"
    return LayerHealth(index, layer.type_name, status, f"{share:.0%} dead", f"{text}\n{meaning}", dead_share=share,
                       probes=probes)


def _saturation_health(index: int, layer: Any, share: float, probes: int) -> LayerHealth:
    status = _share_status(share, SATURATED_LIMITS)
    limits = "0 or 1" if layer.type_name == "Sigmoid" else "−1 or 1"
    what = f"{share:.0%} of this layer's outputs are saturated (stuck near {limits}, where its slope is almost 0)"
    advice = {GREEN: ". Healthy: most outputs are in the range where the slope passes gradient back.",
              AMBER: ", so they pass little gradient back. If it grows: normalise the inputs, use Glorot "
                     "initialisation or add BatchNorm before it.",
              RED: " — the vanishing-gradient problem: the layers before it hardly learn. Use ReLU instead, "
                   "Glorot initialisation, normalised inputs or BatchNorm before it, or a lower learning rate."}[status]
    return LayerHealth(index, layer.type_name, status, f"{share:.0%} sat.", what + advice, saturated_share=share,
                       probes=probes)


def _update_status(ratio: float | None) -> str:
    if ratio is None:
        return GREEN
    if not math.isfinite(ratio) or ratio > UPDATE_RED[1] or ratio < UPDATE_RED[0]:
        return RED
    return GREEN if UPDATE_GREEN[0] <= ratio <= UPDATE_GREEN[1] else AMBER


def _grad_status(grad_norm: float) -> str:
    if not math.isfinite(grad_norm) or grad_norm == 0 or grad_norm > GRAD_LIMITS[1]:
        return RED
    return AMBER if grad_norm > GRAD_LIMITS[0] or grad_norm < GRAD_VANISHING else GREEN


def _update_text(ratio: float | None) -> str:
    if ratio is None:
        return "The size of the last update is not known (no step since the weights were loaded)."
    size = (f"The last step changed this layer's weights by {ratio:.2%} of their size "
            f"(update-to-weight ratio ‖Δw‖/‖w‖ = {ratio:.1e}; about 0.1 % is typical of healthy training)")
    if not math.isfinite(ratio) or ratio > UPDATE_GREEN[1]:
        return size + ": steps this large overshoot — lower the learning rate."
    if ratio < UPDATE_GREEN[0]:
        return size + (": the weights hardly move — raise the learning rate (expected near the end of "
                       "a decaying schedule, or when no gradient reaches the layer).")
    return size + "."


def _grad_text(grad_norm: float) -> str:
    text = f"Gradient norm of the last batch ‖∇‖ = {grad_norm:.3g}"
    if not math.isfinite(grad_norm):
        return text + ": the gradient overflowed — lower the learning rate."
    if grad_norm == 0:
        return text + (": no gradient reaches this layer (every unit after it is dead, or nothing after it "
                       "depends on it) — it cannot learn.")
    if grad_norm > GRAD_LIMITS[0]:
        return text + ": large — exploding gradients; lower the learning rate or add BatchNorm."
    if grad_norm < GRAD_VANISHING:
        return text + ": vanishingly small — the layer hardly learns; use ReLU, BatchNorm or fewer layers."
    return text + "."


def _weights_health(index: int, layer: Any, previous: dict[str, np.ndarray] | None) -> LayerHealth | None:
    grad_norm = norm(list(layer.grads.values()))
    if previous is None and grad_norm == 0:
        return None  # no training step yet: nothing to rate
    main = "weight" if "weight" in layer.params else next(iter(layer.params))
    before = None if previous is None else previous.get(f"{index}.{main}")
    ratio = None if before is None else update_ratio(before, layer.params[main])
    status = _worst(_update_status(ratio), _grad_status(grad_norm))
    if ratio is not None:
        badge = (f"Δw {ratio:.1%}" if math.isfinite(ratio) and ratio >= 1e-3 else "Δw 0" if ratio == 0
                 else f"Δw {ratio:.0e}")
    else:
        badge = f"∇ {grad_norm:.2g}"
    return LayerHealth(index, layer.type_name, status, badge, f"{_update_text(ratio)}\n{_grad_text(grad_norm)}",
                       update_ratio=ratio, grad_norm=grad_norm)


def layer_health(model: Any, probe_x: np.ndarray, previous: dict[str, np.ndarray] | None = None) -> tuple[LayerHealth, ...]:
    """The health of every layer it applies to, in layer order.

    ``probe_x`` is a batch in the model's input shape (already normalised); ``previous`` the
    weights before the last optimizer step (``"3.weight"`` -> array) or None. Layers with
    weights are rated from their last gradients and that step; without either (an untrained
    model) they are left out. Runs the model in
    inference mode (no random stream is touched) and clears its caches afterwards.
    """
    result = []
    x = np.asarray(probe_x, dtype=np.float32)
    with np.errstate(all="ignore"):  # a diverging model is rated, not raised on
        for index, layer in enumerate(model.layers):
            x = layer.forward(x, training=False)
            entry = None
            if layer.type_name in RELU_FAMILY:
                entry = _dead_health(index, layer, dead_share(x), len(x), int(x.shape[1]), x.ndim == 4)
            elif layer.type_name in SATURATING:
                entry = _saturation_health(index, layer, saturated_share(layer.type_name, x), len(x))
            weights = _weights_health(index, layer, previous) if layer.params else None
            if weights is not None:
                entry = weights if entry is None else _merge(entry, weights)
            if entry is not None:
                result.append(entry)
    model.clear_caches()
    return tuple(result)


def _merge(activation: LayerHealth, weights: LayerHealth) -> LayerHealth:
    """One entry for a layer that is both an activation and has weights (PReLU)."""
    return replace(activation, status=_worst(activation.status, weights.status),
                   explanation=f"{activation.explanation}\n{weights.explanation}",
                   update_ratio=weights.update_ratio, grad_norm=weights.grad_norm)


def health_by_layer(health: Sequence[LayerHealth]) -> dict[int, LayerHealth]:
    """Layer index -> its health."""
    return {entry.index: entry for entry in health}


__all__ = [
    "GREEN", "AMBER", "RED", "PROBES", "RELU_FAMILY", "SATURATING", "SATURATION_SLOPE", "LayerHealth",
    "dead_share", "dead_unit_fractions", "saturated_share", "norm", "update_ratio", "layer_health",
    "health_by_layer",
]
