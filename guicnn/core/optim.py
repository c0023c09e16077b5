"""Optimizers (SGD, Adam, RMSprop — PyTorch's update rules) and learning-rate schedules.

Each optimizer and schedule describes its settings with the same :class:`~guicnn.core.fields.Field`
specs as the layers, so the training panel and the CLI build their options (and defaults)
from one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .fields import Field

_LR_HELP = "Step size of each update: too small learns slowly, too large makes the loss jump or diverge."
_WEIGHT_DECAY = Field("weight_decay", "float", 0.0, "L2 penalty added to every gradient: pulls weights towards zero.",
                      minimum=0.0, maximum=1.0)


@dataclass(frozen=True)
class UpdateExplanation:
    """One weight's update written out with its numbers, in the optimizer's own formula.

    ``lines`` read top to bottom (e.g. ``"m = β₁·m + (1 − β₁)·g = 0.9 × 0.01 + 0.1 × 0.2 = 0.029"``);
    ``values`` names every number used; ``new_state`` is each slot after the step and
    ``new_weight`` the weight after it, both computed from the formula (float64).
    """

    optimizer: str
    lines: tuple[str, ...]
    values: dict[str, float]
    new_state: dict[str, float]
    new_weight: float


def _num(value: float) -> str:
    """A number for a formula: 5 significant digits, negatives in brackets after an operator."""
    text = f"{value:.5g}".replace("-", "−")
    return f"({text})" if value < 0 else text


def _first(value: float) -> str:
    """A number starting a right-hand side (no brackets needed)."""
    return f"{value:.5g}".replace("-", "−")


class Optimizer:
    """Updates a dict of live parameter arrays in place from a dict of gradients."""

    type_name = ""
    title = ""
    help = ""
    #: The settings a user may give (besides ``type``), with their defaults and ranges.
    fields: tuple[Field, ...] = ()
    slots: tuple[str, ...] = ()

    @classmethod
    def field(cls, name: str) -> Field | None:
        """The spec of one setting, or None when this optimizer has no such setting."""
        return next((f for f in cls.fields if f.name == name), None)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """``{"type": ..., setting: default, ...}``: the configuration of an untouched form."""
        return {"type": cls.type_name, **{f.name: f.default for f in cls.fields}}

    def __init__(self, params: dict[str, np.ndarray], lr: float = 0.01, weight_decay: float = 0.0) -> None:
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise ValueError(f"weight decay must be ≥ 0, got {weight_decay!r}")
        self.params = params
        self.lr = float(lr)
        self.base_lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.steps = 0
        self.state: dict[str, dict[str, np.ndarray]] = {name: {} for name in params}

    def _grad(self, name: str, grad: np.ndarray) -> np.ndarray:
        if self.weight_decay:
            return grad + self.weight_decay * self.params[name]
        return grad

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        for name, param in self.params.items():
            self._update(name, param, self._grad(name, grads[name]), self.state[name])

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def explain(self, weight: float, grad: float, state: dict[str, float], step: int) -> UpdateExplanation:
        """The update of one weight as a formula with its numbers.

        ``weight`` and ``grad`` (∂L/∂w, before weight decay) are the values the step saw,
        ``state`` the weight's slots before it (a missing slot had not been created yet) and
        ``step`` the step count t during the update (1 for the first step).
        """
        weight, grad = float(weight), float(grad)
        lr = float(self.lr)
        values = {"w": weight, "∂L/∂w": grad, "lr": lr, "t": float(step)}
        if self.weight_decay:
            g = grad + self.weight_decay * weight
            lines = [f"g = ∂L/∂w + λ·w = {_first(grad)} + {_num(self.weight_decay)} × {_num(weight)} = {_first(g)}"]
            values["λ"] = self.weight_decay
        else:
            g = grad
            lines = [f"g = ∂L/∂w = {_first(g)}"]
        values["g"] = g
        new_weight, new_state = self._explain(weight, g, {k: float(v) for k, v in state.items()}, step, lines, values)
        values["w new"] = new_weight
        return UpdateExplanation(self.type_name, tuple(lines), values, new_state, new_weight)

    def _explain(self, w: float, g: float, state: dict[str, float], step: int, lines: list[str],
                 values: dict[str, float]) -> tuple[float, dict[str, float]]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"type": self.type_name, "lr": self.base_lr, "weight_decay": self.weight_decay}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Slot arrays as ``{param}.{slot}`` plus ``steps`` (saved under ``optimizer.*``)."""
        out = {f"{name}.{slot}": np.array(arr, copy=True) for name, st in self.state.items() for slot, arr in st.items()}
        out["steps"] = np.array(self.steps, dtype=np.int64)
        out["lr"] = np.array(self.lr, dtype=np.float64)
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for key, value in state.items():
            if key in ("steps", "lr"):
                continue
            name, _, slot = key.rpartition(".")
            if name not in self.params:
                raise ValueError(f"optimizer state names unknown parameter {name!r}")
            if slot not in self.slots:
                raise ValueError(f"optimizer state has unknown slot {slot!r} for {self.type_name}")
            if value.shape != self.params[name].shape:
                raise ValueError(f"optimizer state {key}: shape {value.shape} does not match {self.params[name].shape}")
        try:
            self.steps = int(np.asarray(state.get("steps", 0)).reshape(-1)[0])
            if "lr" in state:
                self.lr = float(np.asarray(state["lr"]).reshape(-1)[0])
        except (IndexError, TypeError, ValueError):
            raise ValueError("optimizer state has an unreadable step count or learning rate") from None
        self.state = {name: {} for name in self.params}
        for key, value in state.items():
            if key in ("steps", "lr"):
                continue
            name, _, slot = key.rpartition(".")
            self.state[name][slot] = np.array(value, dtype=self.params[name].dtype, copy=True)


class SGD(Optimizer):
    type_name = "sgd"
    title = "SGD"
    help = "Stochastic gradient descent: w -= lr·g; with momentum the classic choice for CNNs."
    fields = (
        Field("lr", "float", 0.01, _LR_HELP, minimum=0.0, exclusive_minimum=True),
        Field("momentum", "float", 0.0, "Fraction of the previous update added to the next (0.9 is common).",
              minimum=0.0, maximum=1.0, exclusive_maximum=True),
        Field("nesterov", "bool", False, "Look-ahead momentum: the gradient is taken where momentum leads."),
        _WEIGHT_DECAY,
    )
    slots = ("momentum_buffer",)

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs a momentum above 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, name, param, grad, state):
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype, copy=True)
            else:
                buf *= self.momentum
                buf += grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= param.dtype.type(self.lr) * grad

    def _explain(self, w, g, state, step, lines, values):
        lr = self.lr
        if not self.momentum:
            new_w = w - lr * g
            lines.append(f"w ← w − lr·g = {_first(w)} − {_num(lr)} × {_num(g)} = {_first(new_w)}")
            return new_w, {}
        mu = self.momentum
        values["μ"] = mu
        if "momentum_buffer" not in state:
            buf = g
            lines.append(f"buf = g = {_first(buf)}   (first step: the momentum buffer starts as the gradient)")
        else:
            old = state["momentum_buffer"]
            buf = mu * old + g
            lines.append(f"buf = μ·buf + g = {_num(mu)} × {_num(old)} + {_num(g)} = {_first(buf)}")
            values["buf before"] = old
        values["buf"] = buf
        if self.nesterov:
            d = g + mu * buf
            lines.append(f"d = g + μ·buf = {_num(g)} + {_num(mu)} × {_num(buf)} = {_first(d)}   (Nesterov)")
            new_w = w - lr * d
            lines.append(f"w ← w − lr·d = {_first(w)} − {_num(lr)} × {_num(d)} = {_first(new_w)}")
        else:
            new_w = w - lr * buf
            lines.append(f"w ← w − lr·buf = {_first(w)} − {_num(lr)} × {_num(buf)} = {_first(new_w)}")
        return new_w, {"momentum_buffer": buf}

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    type_name = "adam"
    title = "Adam"
    help = "Adapts the step of every weight from running averages of its gradient; works well by default."
    fields = (
        Field("lr", "float", 0.001, _LR_HELP, minimum=0.0, exclusive_minimum=True),
        Field("eps", "float", 1e-8, "Added to the denominator so that a weight with no gradient history "
              "does not get an infinite step.", minimum=0.0, exclusive_minimum=True),
        _WEIGHT_DECAY,
    )
    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"Adam betas must be in [0, 1), got {betas!r}")
        self.betas, self.eps = (float(b1), float(b2)), float(eps)

    def _update(self, name, param, grad, state):
        b1, b2 = self.betas
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        bias1 = 1 - b1**self.steps
        bias2 = 1 - b2**self.steps
        denom = np.sqrt(v) / param.dtype.type(math.sqrt(bias2)) + param.dtype.type(self.eps)
        param -= param.dtype.type(self.lr / bias1) * (m / denom)

    def _explain(self, w, g, state, step, lines, values):
        b1, b2 = self.betas
        lr = self.lr
        m0, v0 = state.get("exp_avg", 0.0), state.get("exp_avg_sq", 0.0)
        m = b1 * m0 + (1 - b1) * g
        v = b2 * v0 + (1 - b2) * g * g
        bias1, bias2 = 1 - b1**step, 1 - b2**step
        m_hat, v_hat = m / bias1, v / bias2
        denom = math.sqrt(v_hat) + self.eps
        new_w = w - lr * m_hat / denom
        lines += [
            f"m = β₁·m + (1 − β₁)·g = {_num(b1)} × {_num(m0)} + {_num(1 - b1)} × {_num(g)} = {_first(m)}",
            f"v = β₂·v + (1 − β₂)·g² = {_num(b2)} × {_num(v0)} + {_num(1 - b2)} × {_num(g)}² = {_first(v)}",
            f"m̂ = m / (1 − β₁^t) = {_first(m)} / (1 − {_num(b1)}^{step}) = {_first(m)} / {_num(bias1)} = {_first(m_hat)}",
            f"v̂ = v / (1 − β₂^t) = {_first(v)} / (1 − {_num(b2)}^{step}) = {_first(v)} / {_num(bias2)} = {_first(v_hat)}",
            f"w ← w − lr·m̂ / (√v̂ + ε) = {_first(w)} − {_num(lr)} × {_num(m_hat)} / "
            f"({_num(math.sqrt(v_hat))} + {_num(self.eps)}) = {_first(new_w)}",
        ]
        values.update({"β₁": b1, "β₂": b2, "ε": self.eps, "m before": m0, "v before": v0, "m": m, "v": v,
                       "1 − β₁^t": bias1, "1 − β₂^t": bias2, "m̂": m_hat, "v̂": v_hat})
        return new_w, {"exp_avg": m, "exp_avg_sq": v}

    def get_config(self):
        return {**super().get_config(), "betas": list(self.betas), "eps": self.eps}


class RMSprop(Optimizer):
    type_name = "rmsprop"
    title = "RMSprop"
    help = "Divides each step by a running average of the gradient's size."
    fields = (
        Field("lr", "float", 0.01, _LR_HELP, minimum=0.0, exclusive_minimum=True),
        Field("alpha", "float", 0.99, "Smoothing of the running average of squared gradients.",
              minimum=0.0, maximum=1.0, exclusive_maximum=True),
        Field("momentum", "float", 0.0, "Fraction of the previous update added to the next.",
              minimum=0.0, maximum=1.0, exclusive_maximum=True),
        Field("eps", "float", 1e-8, "Added to the denominator for stability.", minimum=0.0, exclusive_minimum=True),
        Field("centered", "bool", False, "Divide by the gradient's running variance instead of its mean square."),
        _WEIGHT_DECAY,
    )
    slots = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        if not 0 <= alpha < 1:
            raise ValueError(f"RMSprop alpha must be in [0, 1), got {alpha!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.alpha, self.eps, self.momentum, self.centered = float(alpha), float(eps), float(momentum), bool(centered)

    def _update(self, name, param, grad, state):
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(param)
        sq = state["square_avg"]
        sq *= self.alpha
        sq += (1 - self.alpha) * grad * grad
        if self.centered:
            ga = state.setdefault("grad_avg", np.zeros_like(param))
            ga *= self.alpha
            ga += (1 - self.alpha) * grad
            avg = np.sqrt(sq - ga * ga) + param.dtype.type(self.eps)
        else:
            avg = np.sqrt(sq) + param.dtype.type(self.eps)
        if self.momentum:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param))
            buf *= self.momentum
            buf += grad / avg
            param -= param.dtype.type(self.lr) * buf
        else:
            param -= param.dtype.type(self.lr) * (grad / avg)

    def _explain(self, w, g, state, step, lines, values):
        alpha, lr = self.alpha, self.lr
        s0 = state.get("square_avg", 0.0)
        sq = alpha * s0 + (1 - alpha) * g * g
        lines.append(f"s = α·s + (1 − α)·g² = {_num(alpha)} × {_num(s0)} + {_num(1 - alpha)} × {_num(g)}² = {_first(sq)}")
        values.update({"α": alpha, "ε": self.eps, "s before": s0, "s": sq})
        new_state = {"square_avg": sq}
        if self.centered:
            a0 = state.get("grad_avg", 0.0)
            avg_g = alpha * a0 + (1 - alpha) * g
            denom = math.sqrt(max(sq - avg_g * avg_g, 0.0)) + self.eps
            lines += [f"a = α·a + (1 − α)·g = {_num(alpha)} × {_num(a0)} + {_num(1 - alpha)} × {_num(g)} = {_first(avg_g)}",
                      f"d = √(s − a²) + ε = √({_first(sq)} − {_num(avg_g)}²) + {_num(self.eps)} = {_first(denom)}"]
            values.update({"a before": a0, "a": avg_g})
            new_state["grad_avg"] = avg_g
        else:
            denom = math.sqrt(sq) + self.eps
            lines.append(f"d = √s + ε = √{_num(sq)} + {_num(self.eps)} = {_first(denom)}")
        values["d"] = denom
        if self.momentum:
            mu, b0 = self.momentum, state.get("momentum_buffer", 0.0)
            buf = mu * b0 + g / denom
            new_w = w - lr * buf
            lines += [f"buf = μ·buf + g/d = {_num(mu)} × {_num(b0)} + {_num(g)} / {_num(denom)} = {_first(buf)}",
                      f"w ← w − lr·buf = {_first(w)} − {_num(lr)} × {_num(buf)} = {_first(new_w)}"]
            values.update({"μ": mu, "buf before": b0, "buf": buf})
            new_state["momentum_buffer"] = buf
        else:
            new_w = w - lr * g / denom
            lines.append(f"w ← w − lr·g/d = {_first(w)} − {_num(lr)} × {_num(g)} / {_num(denom)} = {_first(new_w)}")
        return new_w, new_state

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum,
                "centered": self.centered}


OPTIMIZERS: dict[str, type[Optimizer]] = {cls.type_name: cls for cls in (Adam, SGD, RMSprop)}
DEFAULT_OPTIMIZER = "adam"


def make_optimizer(params: dict[str, np.ndarray], config: dict[str, Any]) -> Optimizer:
    """Build an optimizer from ``{"type": "adam", "lr": 0.001, ...}``; ValueError names the bad key."""
    config = dict(config)
    kind = str(config.pop("type", DEFAULT_OPTIMIZER)).lower()
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}; use one of {', '.join(OPTIMIZERS)}")
    if "betas" in config:
        config["betas"] = tuple(config["betas"])
    try:
        return OPTIMIZERS[kind](params, **config)
    except TypeError as exc:
        raise ValueError(f"bad setting for optimizer {kind!r}: {exc}") from None


# ---- learning-rate schedules (per epoch, closed forms of PyTorch's StepLR/CosineAnnealingLR) ----

@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule type and its settings."""

    type_name: str
    title: str
    help: str
    fields: tuple[Field, ...] = ()

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def defaults(self) -> dict[str, Any] | None:
        """The schedule config of an untouched form (None: constant)."""
        if self.type_name == "constant":
            return None
        return {"type": self.type_name, **{f.name: f.default for f in self.fields if f.default is not None}}


SCHEDULE_TYPES: dict[str, Schedule] = {s.type_name: s for s in (
    Schedule("constant", "Constant", "The same learning rate in every epoch."),
    Schedule("step", "Step decay", "Multiply the learning rate by gamma every step_size epochs.", (
        Field("step_size", "int", 5, "Epochs between two decays.", minimum=1, maximum=100000),
        Field("gamma", "float", 0.5, "Factor applied at each decay.", minimum=0.0, maximum=1.0,
              exclusive_minimum=True, exclusive_maximum=True),
    )),
    Schedule("cosine", "Cosine annealing", "Lower the learning rate along half a cosine, to eta_min at t_max.", (
        Field("t_max", "int", None, "Epochs of the descent.", minimum=1, maximum=100000,
              default_text="all epochs"),
        Field("eta_min", "float", 0.0, "Learning rate at the end.", minimum=0.0),
    )),
)}
SCHEDULES = tuple(SCHEDULE_TYPES)


def scheduled_lr(base_lr: float, epoch: int, schedule: dict[str, Any] | None, total_epochs: int) -> float:
    """Learning rate for a 0-based epoch.

    ``{"type": "step", "step_size": 5, "gamma": 0.5}`` or
    ``{"type": "cosine", "t_max": total_epochs, "eta_min": 0.0}``; None/constant keeps base_lr.
    Missing settings take the defaults of ``SCHEDULE_TYPES``.
    """
    if not schedule or schedule.get("type", "constant") == "constant":
        return base_lr
    kind = schedule["type"]
    spec = SCHEDULE_TYPES.get(kind)
    if spec is None:
        raise ValueError(f"unknown learning-rate schedule {kind!r}; use one of {', '.join(SCHEDULES)}")
    values = {f.name: schedule.get(f.name, f.default) for f in spec.fields}
    if kind == "step":
        step_size = int(values["step_size"])
        if step_size < 1:
            raise ValueError(f"step schedule needs step_size ≥ 1, got {step_size}")
        return base_lr * float(values["gamma"]) ** (epoch // step_size)
    t_max = int(values["t_max"] or total_epochs) or 1
    eta_min = float(values["eta_min"])
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * min(epoch, t_max) / t_max)) / 2
