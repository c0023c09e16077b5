"""Finite-difference gradient checking in float64 (shared by the layer and loss tests)."""

from __future__ import annotations

import numpy as np

from guicnn.core.layers import Layer


def batch_last(a: np.ndarray) -> np.ndarray:
    """The same NCHW values stored batch-last (memory order C, H, W, N), as convolutions hand them on."""
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def numeric_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of scalar f() with respect to every element of `array` (modified in place)."""
    grad = np.zeros(array.shape, dtype=array.dtype)
    for index in np.ndindex(array.shape):  # element by element: works for any memory order (batch-last too)
        old = array[index]
        array[index] = old + eps
        plus = f()
        array[index] = old - eps
        minus = f()
        array[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def check_layer_gradients(layer: Layer, input_shape: tuple[int, ...], *, batch: int = 2, training: bool = True,
                          seed: int = 0, x: np.ndarray | None = None, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Assert the layer's backward matches finite differences for its input and every parameter."""
    rng = np.random.default_rng(seed)
    layer.build(input_shape, rng)
    layer.astype(np.float64)
    for name, value in layer.params.items():  # avoid symmetric/degenerate values (e.g. BN ones)
        layer.params[name] = value + rng.normal(0, 0.3, value.shape)
    if x is None:
        x = rng.normal(size=(batch,) + tuple(input_shape))
    weights = rng.normal(size=(batch,) + tuple(layer.output_shape))

    def loss() -> float:
        layer.rng = np.random.default_rng(seed + 1)  # same dropout mask / stochastic sample each call
        return float(np.sum(layer.forward(x, training) * weights))

    loss()
    layer.needs_input_grad = True
    dx = layer.backward(weights.copy())
    analytic = {"input": dx, **{k: v.copy() for k, v in layer.grads.items()}}
    numeric = {"input": numeric_gradient(loss, x)}
    for name, value in layer.params.items():
        numeric[name] = numeric_gradient(loss, value)
    for name in numeric:
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=rtol, atol=atol,
                                   err_msg=f"{layer!r}: gradient of {name}")
