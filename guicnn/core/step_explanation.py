"""One training step, explained: what a single batch's forward, backward and update did.

:func:`explained_step` runs the trainer's own :meth:`~guicnn.core.training.Trainer.train_step`
(the very same arithmetic and random draws as an unexplained step) and records around it:
every layer's activation statistics, every parameter's gradient norm and applied update,
the first filter before and after, the loss on the batch before and after the update, and
the optimizer's formula with the numbers for one weight. Measuring the loss after the update
repeats the forward pass with the step's own dropout and pooling draws; the random streams
and batch-norm statistics are put back afterwards, so training continues bit for bit as if
the step had not been explained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .health import norm
from .optim import UpdateExplanation

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .training import EpochReport, Trainer


@dataclass(frozen=True)
class ActivationStats:
    """A layer's output over the batch: mean, standard deviation, share of exact zeros (0..1)."""

    mean: float
    std: float
    zero_share: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class ParamStep:
    """One parameter tensor in the step: norms of its gradient, value and update, and its
    optimizer slots after the step (e.g. ``{"momentum_buffer": 0.12}``)."""

    name: str  # "0.weight"
    grad_norm: float
    weight_norm: float  # before the update
    update_norm: float
    slot_norms: dict[str, float]

    @property
    def update_ratio(self) -> float:
        """‖Δw‖ / ‖w‖: a healthy step changes a weight by roughly one thousandth."""
        return self.update_norm / self.weight_norm if self.weight_norm else float("inf") if self.update_norm else 0.0


@dataclass(frozen=True)
class WeightUpdate:
    """The optimizer's formula for one weight of a layer, with where that weight sits."""

    param: str  # "0.weight"
    index: tuple[int, ...]
    before: float
    after: float  # the value training produced
    formula: UpdateExplanation  # its new_weight agrees with ``after`` (float32 rounding aside)


@dataclass(frozen=True)
class LayerStep:
    """What the step did in one layer. ``activation`` is None for a final Softmax that the
    cross-entropy loss replaces; ``first_filter_*`` are ``weight[0]`` copies (None without weights)."""

    index: int
    type_name: str
    description: str
    output_shape: tuple[int, ...]
    activation: ActivationStats | None
    params: tuple[ParamStep, ...] = ()
    first_filter_before: np.ndarray | None = None
    first_filter_after: np.ndarray | None = None
    update: WeightUpdate | None = None

    @property
    def weight(self) -> ParamStep | None:
        return next((p for p in self.params if p.name.endswith(".weight")), None)


@dataclass(frozen=True)
class StepExplanation:
    """Everything one explained training step did (``epoch``, ``batch`` count from 1)."""

    epoch: int
    batch: int
    batches_per_epoch: int
    step: int  # optimizer steps so far, this one included
    batch_size: int
    lr: float
    optimizer: dict[str, Any]  # the optimizer's settings
    loss_before: float  # on this batch, with the weights before the update
    loss_after: float  # the same batch and random draws, with the updated weights
    accuracy_before: float
    accuracy_after: float
    layers: tuple[LayerStep, ...]
    finished_epoch: EpochReport | None = field(default=None)  # set when this step completed an epoch

    def layer_with_weights(self) -> LayerStep | None:
        """The first layer that has weights (the one the formula is usually shown for)."""
        return next((layer for layer in self.layers if layer.update is not None), None)


def activation_stats(values: np.ndarray) -> ActivationStats:
    """Mean, standard deviation, share of exact zeros, min and max of one layer's output."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return ActivationStats(0.0, 0.0, 0.0, 0.0, 0.0)
    return ActivationStats(float(values.mean()), float(values.std()), float(np.count_nonzero(values == 0)) / values.size,
                           float(values.min()), float(values.max()))


def _rng_states(model) -> dict[int, dict[str, Any]]:
    return {i: layer.rng.bit_generator.state for i, layer in enumerate(model.layers) if layer.has_training_mode}


def _set_rng_states(model, states: dict[int, dict[str, Any]]) -> None:
    for i, state in states.items():
        model.layers[i].rng.bit_generator.state = state


def _copy_buffers(model) -> dict[str, np.ndarray]:
    return {name: np.array(value, copy=True) for name, value in model.named_buffers().items()}


def _restore_buffers(model, saved: dict[str, np.ndarray]) -> None:
    live = model.named_buffers()
    for name, value in saved.items():
        np.copyto(live[name], value)


def _batch_loss(trainer: Trainer, xb: np.ndarray, yb: np.ndarray, upto: int | None) -> tuple[float, int]:
    """Loss and correct count of a training-mode forward pass (changes random streams and buffers)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = trainer.model.forward(xb, training=True, upto=upto)
        loss = trainer.loss.forward(out, yb)
    correct = int((out.reshape(len(out), -1).argmax(axis=1) == yb).sum())
    return loss, correct


def _weight_update(trainer: Trainer, name: str, before: np.ndarray, after: np.ndarray, grad: np.ndarray,
                   slots_before: dict[str, np.ndarray]) -> WeightUpdate:
    """The formula for the weight of filter 0 that moved most (the one a teacher would point at)."""
    first = (slice(0, 1),) if before.ndim >= 2 else (slice(None),)
    moved = np.abs(after[first].astype(np.float64) - before[first])
    index = np.unravel_index(int(np.argmax(moved)), moved.shape)
    if before.ndim >= 2:
        index = (0,) + tuple(int(i) for i in index[1:])
    else:
        index = tuple(int(i) for i in index)
    state = {slot: float(value[index]) for slot, value in slots_before.items()}
    formula = trainer.optimizer.explain(float(before[index]), float(grad[index]), state, trainer.optimizer.steps)
    return WeightUpdate(param=name, index=index, before=float(before[index]), after=float(after[index]),
                        formula=formula)


def explained_step(trainer: Trainer, xb: np.ndarray, yb: np.ndarray, upto: int | None,
                   grads: dict[str, np.ndarray], *, epoch: int, batch: int,
                   batches: int) -> tuple[float, int, StepExplanation | None]:
    """Run ``trainer.train_step`` on one batch and explain it.

    Returns (loss, correct, explanation); the explanation is None when the loss was not finite
    (then, as in an unexplained step, nothing was changed). ``epoch`` and ``batch`` are 0-based.
    """
    model, optimizer = trainer.model, trainer.optimizer
    params = model.named_parameters()
    before = {name: np.array(value, copy=True) for name, value in params.items()}
    slots_before = {name: {slot: np.array(v, copy=True) for slot, v in optimizer.state[name].items()}
                    for name in params}
    streams_before = _rng_states(model)
    loss, correct = trainer.train_step(xb, yb, upto, grads, keep=True)
    if not math.isfinite(loss):
        return loss, correct, None
    activations = list(model.activations or [])
    model.activations = None

    # The loss after the update, on the same batch with the same random draws; then put the
    # streams and batch-norm statistics back as the step left them.
    streams_after, buffers_after = _rng_states(model), _copy_buffers(model)
    _set_rng_states(model, streams_before)
    loss_after, correct_after = _batch_loss(trainer, xb, yb, upto)
    _set_rng_states(model, streams_after)
    _restore_buffers(model, buffers_after)

    layers = []
    for index, layer in enumerate(model.layers):
        stats = activation_stats(activations[index]) if index < len(activations) else None
        steps, filter_before, filter_after, update = [], None, None, None
        for key in layer.params:
            name = f"{index}.{key}"
            old, new = before[name], params[name]
            steps.append(ParamStep(
                name=name, grad_norm=norm([grads[name]]), weight_norm=norm([old]),
                update_norm=norm([new.astype(np.float64) - old]),
                slot_norms={slot: norm([value]) for slot, value in optimizer.state[name].items()},
            ))
            if key == "weight" and old.size:
                if old.ndim >= 2:  # a Conv2D or Dense filter; batch-norm and PReLU weights are per channel
                    filter_before, filter_after = np.array(old[0], copy=True), np.array(new[0], copy=True)
                update = _weight_update(trainer, name, old, new, grads[name], slots_before[name])
        layers.append(LayerStep(
            index=index, type_name=layer.type_name, description=layer.describe(),
            output_shape=tuple(layer.output_shape or ()), activation=stats, params=tuple(steps),
            first_filter_before=filter_before, first_filter_after=filter_after, update=update,
        ))
    n = len(yb)
    explanation = StepExplanation(
        epoch=epoch + 1, batch=batch + 1, batches_per_epoch=batches, step=trainer.step + 1, batch_size=n,
        lr=float(optimizer.lr), optimizer=optimizer.get_config(), loss_before=float(loss),
        loss_after=float(loss_after), accuracy_before=correct / n, accuracy_after=correct_after / n,
        layers=tuple(layers),
    )
    return loss, correct, explanation


__all__ = ["ActivationStats", "ParamStep", "WeightUpdate", "LayerStep", "StepExplanation", "activation_stats",
           "explained_step"]
