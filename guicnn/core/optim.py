"""Optimizers (SGD, Adam, RMSprop — PyTorch's update rules) and learning-rate schedules."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class Optimizer:
    """Updates a dict of live parameter arrays in place from a dict of gradients."""

    type_name = ""
    slots: tuple[str, ...] = ()

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

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    type_name = "adam"
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

    def get_config(self):
        return {**super().get_config(), "betas": list(self.betas), "eps": self.eps}


class RMSprop(Optimizer):
    type_name = "rmsprop"
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

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum,
                "centered": self.centered}


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def make_optimizer(params: dict[str, np.ndarray], config: dict[str, Any]) -> Optimizer:
    """Build an optimizer from ``{"type": "adam", "lr": 0.001, ...}``; ValueError names the bad key."""
    config = dict(config)
    kind = str(config.pop("type", "adam")).lower()
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}; use one of {', '.join(OPTIMIZERS)}")
    if "betas" in config:
        config["betas"] = tuple(config["betas"])
    try:
        return OPTIMIZERS[kind](params, **config)
    except TypeError as exc:
        raise ValueError(f"bad setting for optimizer {kind!r}: {exc}") from None


# ---- learning-rate schedules (per epoch, closed forms of PyTorch's StepLR/CosineAnnealingLR) ----

SCHEDULES = ("constant", "step", "cosine")


def scheduled_lr(base_lr: float, epoch: int, schedule: dict[str, Any] | None, total_epochs: int) -> float:
    """Learning rate for a 0-based epoch.

    ``{"type": "step", "step_size": 10, "gamma": 0.1}`` or
    ``{"type": "cosine", "t_max": total_epochs, "eta_min": 0.0}``; None/constant keeps base_lr.
    """
    if not schedule or schedule.get("type", "constant") == "constant":
        return base_lr
    kind = schedule["type"]
    if kind == "step":
        step_size = int(schedule.get("step_size", 10))
        if step_size < 1:
            raise ValueError(f"step schedule needs step_size ≥ 1, got {step_size}")
        return base_lr * float(schedule.get("gamma", 0.1)) ** (epoch // step_size)
    if kind == "cosine":
        t_max = int(schedule.get("t_max", total_epochs)) or 1
        eta_min = float(schedule.get("eta_min", 0.0))
        return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * min(epoch, t_max) / t_max)) / 2
    raise ValueError(f"unknown learning-rate schedule {kind!r}; use one of {', '.join(SCHEDULES)}")
