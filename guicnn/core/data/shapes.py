"""Procedural *shapes* data set: seeded 28x28 grayscale pictures of simple shapes.

Every picture is drawn at once for all samples of a class: per-sample parameters
(centre, size, rotation, stroke thickness, brightness) are broadcast against one
pixel-coordinate grid, a signed distance to the shape's outline is computed, and the
distance becomes an anti-aliased intensity. No Python loop runs over samples or pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dataset import Dataset

#: Every class the generator can draw, in its default order.
SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "line", "ring", "star", "frame",
                                  "corner", "diamond")
#: The classes drawn when ``classes`` is not given: clearly distinct, learnt in seconds.
DEFAULT_SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "line")
#: Smallest picture side the generator draws.
MIN_SIZE = 8
#: Largest offset of a shape's centre from the picture's centre (pixels at 28x28).
JITTER = 3.0
#: Largest tilt (degrees) of every shape but the line, which takes any direction.
MAX_TILT = 25.0


def _signed_distance(kind: str, u: np.ndarray, v: np.ndarray, r: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Approximate signed distance (pixels, negative inside) to a shape of outer radius r.

    u, v: (m, H, W) coordinates in each sample's rotated frame; r, t: (m, 1, 1) radius and
    stroke thickness. Every shape fits inside the circle of radius r around its centre.
    """
    if kind == "circle":  # filled disc
        return np.hypot(u, v) - r
    if kind == "ring":  # circle outline
        return np.abs(np.hypot(u, v) - (r - t / 2)) - t / 2
    if kind == "square":  # filled square of half-side 0.8 r (tilted <= 25 deg it stays within 1.07 r)
        return np.maximum(np.abs(u), np.abs(v)) - 0.8 * r
    if kind == "triangle":  # filled equilateral triangle, circumradius r, inradius r/2
        d = None
        for k in range(3):
            a = np.pi / 2 + 2 * np.pi * k / 3
            side = u * np.cos(a) + v * np.sin(a)
            d = side if d is None else np.maximum(d, side)
        return d - r / 2
    if kind == "cross":  # plus sign: two perpendicular bars of half-length r
        bar1 = np.maximum(np.abs(u) - r, np.abs(v) - t / 2)
        bar2 = np.maximum(np.abs(v) - r, np.abs(u) - t / 2)
        return np.minimum(bar1, bar2)
    if kind == "line":  # one straight bar of half-length r
        return np.maximum(np.abs(u) - r, np.abs(v) - t / 2)
    if kind == "frame":  # square outline
        return np.abs(np.maximum(np.abs(u), np.abs(v)) - (0.8 * r - t / 2)) - t / 2
    if kind == "corner":  # an L: a bar down the left side and one along the bottom
        upright = np.maximum(np.abs(u + 0.55 * r) - t / 2, np.abs(v) - 0.8 * r)
        foot = np.maximum(np.abs(v - 0.6 * r) - t / 2, np.abs(u - 0.125 * r) - 0.675 * r)
        return np.minimum(upright, foot)
    if kind == "diamond":  # filled rhombus, tall and narrow (never a tilted square)
        return (np.abs(u) / 0.55 + np.abs(v) - r) * 0.48
    if kind == "star":  # five-pointed star, inner radius 0.42 r
        rho = np.hypot(u, v)
        phi = np.arctan2(v, u) + np.pi / 2  # a point straight up
        frac = (phi * (5 / (2 * np.pi))) % 1.0
        tooth = np.abs(frac - 0.5) * 2  # 1 at the points, 0 between them
        inner = 0.42 * r
        return (rho - (inner + (r - inner) * tooth)) * 0.8
    raise ValueError(f"unknown shape class {kind!r}")


def make_shapes(
    n: int = 3000,
    size: int = 28,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    noise: float = 0.04,
) -> Dataset:
    """A seeded set of ``n`` grayscale ``size`` x ``size`` shape pictures, balanced over classes.

    ``classes`` picks and orders the classes (any of :data:`SHAPE_CLASSES`; default
    :data:`DEFAULT_SHAPE_CLASSES`). Shapes get a random position, size, rotation, stroke
    thickness and brightness, plus mild Gaussian pixel noise of standard deviation
    ``noise``. The same arguments always give identical arrays.
    """
    n = int(n)
    size = int(size)
    if n < 1:
        raise ValueError(f"make_shapes: n must be at least 1, got {n}")
    if size < MIN_SIZE:
        raise ValueError(f"make_shapes: size must be at least {MIN_SIZE} pixels, got {size}")
    if not 0 <= noise <= 1:
        raise ValueError(f"make_shapes: noise must be between 0 and 1, got {noise}")
    names = list(DEFAULT_SHAPE_CLASSES if classes is None else classes)
    if not names:
        raise ValueError("make_shapes: classes must not be empty")
    unknown = [c for c in names if c not in SHAPE_CLASSES]
    if unknown:
        raise ValueError(f"make_shapes: unknown shape class(es) {unknown}; choose from {list(SHAPE_CLASSES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"make_shapes: repeated class names in {names}")

    rng = np.random.default_rng(seed)
    k = len(names)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)  # balanced to within one
    scale = size / 28.0
    radius = rng.uniform(0.30, 0.42, n) * size  # outer radius: 8.4 .. 11.8 px at 28x28
    thick = rng.uniform(2.2, 3.4, n) * scale
    # Tilted by up to MAX_TILT (a line may point anywhere): squares keep straight edges
    # and crosses stay plus signs, so the classes stay distinct for a small CNN.
    angle = rng.uniform(-1.0, 1.0, n) * np.deg2rad(MAX_TILT)
    free_angle = rng.uniform(0.0, np.pi, n)
    bright = rng.uniform(0.65, 1.0, n)
    # Centred like MNIST digits, jittered by up to `jitter` pixels but kept inside the frame.
    mid = (size - 1) / 2.0
    room = np.maximum(mid - radius - 1.0, 0.0)
    jitter = np.minimum(JITTER * scale, room)
    cx = mid + rng.uniform(-1.0, 1.0, n) * jitter
    cy = mid + rng.uniform(-1.0, 1.0, n) * jitter
    noise_field = rng.standard_normal((n, size, size), dtype=np.float32) * np.float32(noise)

    grid = np.arange(size, dtype=np.float32)
    images = np.empty((n, size, size), dtype=np.float32)
    for index, kind in enumerate(names):  # one vectorised pass per class
        sel = np.flatnonzero(labels == index)
        if sel.size == 0:
            continue

        def col(a: np.ndarray) -> np.ndarray:
            return a[sel].astype(np.float32)[:, None, None]

        dx = grid[None, None, :] - col(cx)
        dy = grid[None, :, None] - col(cy)
        theta = col(free_angle if kind == "line" else angle)
        cos, sin = np.cos(theta), np.sin(theta)
        u = dx * cos + dy * sin
        v = dy * cos - dx * sin
        d = _signed_distance(kind, u, v, col(radius), col(thick))
        images[sel] = np.clip(0.5 - d, 0.0, 1.0) * col(bright)

    images += noise_field
    np.clip(images, 0.0, 1.0, out=images)
    return Dataset(
        x=images[:, None, :, :],
        y=labels,
        class_names=names,
        name="shapes",
        source="built-in",
    )


def make_shapes_rgb(
    n: int = 3000,
    size: int = 32,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    noise: float = 0.04,
) -> Dataset:
    """The shapes of :func:`make_shapes` in colour: ``n`` RGB ``size`` x ``size`` pictures (3 channels,
    32x32 by default, like CIFAR-10), so colour designs train without a download.

    Each shape gets a random bright colour on a random dark background; the colours say nothing
    about the class, so a network must learn the shapes. Seeded: the same arguments always give
    identical arrays.
    """
    if not 0 <= noise <= 1:
        raise ValueError(f"make_shapes_rgb: noise must be between 0 and 1, got {noise}")
    grey = make_shapes(n=n, size=size, seed=seed, classes=classes, noise=0.0)
    rng = np.random.default_rng([seed, 1])  # its own stream: the shapes stay those of make_shapes
    count = len(grey)
    ink = rng.uniform(0.35, 1.0, (count, 3, 1, 1)).astype(np.float32)
    ink[np.arange(count), rng.integers(0, 3, count)] = 1.0  # one full channel: never a dull grey
    background = rng.uniform(0.0, 0.3, (count, 3, 1, 1)).astype(np.float32)
    images = background + grey.x * (ink - background)  # (n, 1, s, s) broadcast to (n, 3, s, s)
    images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(noise)
    np.clip(images, 0.0, 1.0, out=images)
    return Dataset(x=images, y=grey.y, class_names=list(grey.class_names), name="shapes-rgb", source="built-in")
