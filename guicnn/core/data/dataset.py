"""The in-memory data set, the train/validation split, normalisation and augmentation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError, ShapeError


@dataclass(eq=False)
class Dataset:
    """Images and labels held in memory.

    ``x`` is float32 NCHW with values in [0, 1]; ``y`` int64 class indices of shape (N,);
    ``class_names[i]`` names class ``i``. ``notes`` say what the loader changed (e.g. "resized
    120 of 124 images from 28x28 to 8x8"), for the user to read. The constructor converts
    dtypes and checks that the pieces fit together (raising :class:`DataError` naming the
    data set otherwise).
    """

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    class_names: list[str]
    name: str
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        where = self.source or self.name
        x = np.asarray(self.x)
        y = np.asarray(self.y)
        if x.ndim != 4:
            raise DataError(f"{where}: images must be a 4-D NCHW array, got shape {x.shape}")
        if min(x.shape[1:]) < 1:
            raise DataError(f"{where}: images have an empty dimension, shape {x.shape}")
        if y.ndim != 1:
            raise DataError(f"{where}: labels must be 1-D, got shape {y.shape}")
        if len(x) != len(y):
            raise DataError(f"{where}: {len(x)} images but {len(y)} labels")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{where}: labels must be integers, got dtype {y.dtype}")
        self.class_names = [str(c) for c in self.class_names]
        if not self.class_names:
            raise DataError(f"{where}: no class names")
        if y.size:
            lo, hi = int(y.min()), int(y.max())
            if lo < 0 or hi >= len(self.class_names):
                bad = lo if lo < 0 else hi
                raise DataError(
                    f"{where}: label {bad} is out of range for {len(self.class_names)} classes "
                    f"(valid labels are 0..{len(self.class_names) - 1})"
                )
        self.x = x if x.dtype == np.float32 else x.astype(np.float32)
        self.y = y if y.dtype == np.int64 else y.astype(np.int64)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one sample, (C, H, W)."""
        c, h, w = self.x.shape[1:]
        return (int(c), int(h), int(w))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, samples={len(self)}, input_shape={self.input_shape}, "
            f"classes={self.num_classes}, source={self.source!r})"
        )

    def class_counts(self) -> np.ndarray:
        """Number of samples of each class, shape (num_classes,)."""
        return np.bincount(self.y, minlength=self.num_classes)

    def subset(self, indices: Any) -> Dataset:
        """A new data set with the samples at ``indices`` (integer array, slice or mask)."""
        if isinstance(indices, slice):
            idx: Any = indices
        else:
            idx = np.asarray(indices)
            if idx.dtype == bool:
                if idx.shape != (len(self),):
                    raise IndexError(f"boolean mask of shape {idx.shape} for {len(self)} samples")
            elif idx.size == 0:
                idx = idx.astype(np.int64)
            elif not np.issubdtype(idx.dtype, np.integer):
                raise IndexError(f"subset indices must be integers, got dtype {idx.dtype}")
        return Dataset(
            x=self.x[idx],
            y=self.y[idx],
            class_names=list(self.class_names),
            name=self.name,
            source=self.source,
            notes=list(self.notes),
        )

    def info(self) -> dict[str, Any]:
        """JSON-able description (what a model file stores about its data)."""
        return {
            "name": self.name,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
            "num_classes": self.num_classes,
            "num_samples": len(self),
        }


def _largest_remainder(quotas: np.ndarray, total: int) -> np.ndarray:
    """Integer counts near ``quotas`` summing to ``total`` (ties go to the lower index)."""
    base = np.floor(quotas).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        order = np.argsort(-(quotas - base), kind="stable")
        base[order[:short]] += 1
    return base


def validation_count(n: int, fraction: float) -> int:
    """How many of ``n`` samples :func:`train_val_split` puts in the validation part."""
    if fraction <= 0 or n < 2:
        return 0
    return min(max(int(round(n * fraction)), 1), n - 1)


def train_val_split(
    ds: Dataset, val_fraction: float = 0.2, seed: int = 0, stratify: bool = True
) -> tuple[Dataset, Dataset]:
    """Split into (train, validation), seeded and deterministic.

    The validation part holds ``round(len(ds) * val_fraction)`` samples (at least one and
    leaving at least one for training when ``0 < val_fraction < 1``). With ``stratify`` every
    class is split in the same proportion (to within one sample). Each part keeps the
    original sample order.
    """
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n = len(ds)
    n_val = validation_count(n, float(val_fraction))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    if not stratify:
        val_idx = perm[:n_val]
    else:
        counts = np.bincount(ds.y, minlength=ds.num_classes)
        per_class = _largest_remainder(counts * (n_val / n), n_val)
        # Group the shuffled samples by class (stable sort keeps the random order inside
        # each class), then take the first per_class[c] of every class.
        labels = ds.y[perm]
        order = np.argsort(labels, kind="stable")
        grouped = perm[order]
        sorted_labels = labels[order]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rank = np.arange(n) - starts[sorted_labels]
        val_idx = grouped[rank < per_class[sorted_labels]]
    mask = np.zeros(n, dtype=bool)
    mask[val_idx] = True
    train = ds.subset(np.flatnonzero(~mask))
    val = ds.subset(np.flatnonzero(mask))
    return train, val


@dataclass
class Normalization:
    """Per-channel standardisation ``(x - mean) / std``."""

    mean: list[float]
    std: list[float]

    def __post_init__(self) -> None:
        self.mean = [float(m) for m in self.mean]
        self.std = [float(s) for s in self.std]
        if not self.mean or len(self.mean) != len(self.std):
            raise ValueError(f"Normalization needs one mean and one std per channel, got {self.mean} and {self.std}")
        if not all(np.isfinite(self.mean)) or not all(np.isfinite(self.std)) or min(self.std) <= 0:
            raise ValueError(f"Normalization needs finite means and positive stds, got {self.mean} and {self.std}")

    @classmethod
    def fit(cls, x: np.ndarray, chunk: int = 4096) -> Normalization:
        """Channel means and standard deviations of NCHW ``x`` (float64 sums, in chunks).

        A channel with (near) zero spread gets std 1 so that applying never divides by zero.
        """
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[0] == 0:
            raise ShapeError(f"Normalization.fit needs a non-empty NCHW array, got shape {x.shape}")
        c = x.shape[1]
        total = np.zeros(c)
        total_sq = np.zeros(c)
        for start in range(0, x.shape[0], chunk):
            part = x[start : start + chunk].astype(np.float64)
            total += part.sum(axis=(0, 2, 3))
            total_sq += np.square(part).sum(axis=(0, 2, 3))
        count = x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / count
        var = np.maximum(total_sq / count - mean**2, 0.0)
        std = np.sqrt(var)
        std[std < 1e-6] = 1.0
        return cls(mean=mean.tolist(), std=std.tolist())

    @property
    def channels(self) -> int:
        return len(self.mean)

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if x.ndim not in (3, 4) or x.shape[-3] != self.channels:
            raise ShapeError(
                f"Normalization for {self.channels} channel(s) cannot apply to an array of shape {x.shape}"
            )
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        return mean, std

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Normalised float32 copy of NCHW (or one CHW) ``x``."""
        x = np.asarray(x, dtype=np.float32)
        mean, std = self._stats(x)
        out = np.subtract(x, mean, dtype=np.float32)
        out /= std
        return out

    def invert(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`apply` (for showing normalised images)."""
        x = np.asarray(x, dtype=np.float32)
        mean, std = self._stats(x)
        return (x * std + mean).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalization:
        try:
            return cls(mean=list(data["mean"]), std=list(data["std"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a normalisation needs 'mean' and 'std' lists, got {data!r}") from exc


def augment_batch(
    x: np.ndarray, rng: np.random.Generator | int | None, shift: int = 2, flip: bool = False
) -> np.ndarray:
    """Randomly shifted (and optionally mirrored) float32 copy of an NCHW batch.

    Every sample moves by its own integer offset in [-shift, shift] along each axis; pixels
    shifted in from outside are zero. With ``flip`` each sample is mirrored left-right with
    probability 1/2. One gather over the whole batch, no loop over samples.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4:
        raise ShapeError(f"augment_batch needs an NCHW array, got shape {x.shape}")
    shift = int(shift)
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}")
    rng = np.random.default_rng(rng)
    n, c, h, w = x.shape
    if n == 0 or (shift == 0 and not flip):
        return x.copy()
    dy = rng.integers(-shift, shift + 1, size=n) if shift else np.zeros(n, dtype=np.int64)
    dx = rng.integers(-shift, shift + 1, size=n) if shift else np.zeros(n, dtype=np.int64)
    padded = np.pad(x, ((0, 0), (0, 0), (shift, shift), (shift, shift))) if shift else x
    # out[i, j] = x[i - dy, j - dx], i.e. padded[i - dy + shift, j - dx + shift]
    rows = np.arange(h)[None, :] - dy[:, None] + shift  # (n, h)
    cols = np.arange(w)[None, :] - dx[:, None] + shift  # (n, w)
    if flip:
        mirrored = rng.random(n) < 0.5
        # mirror after shifting: output column j reads the shifted image's column w-1-j
        cols = np.where(mirrored[:, None], cols[:, ::-1], cols)
    return padded[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 one-hot rows for int labels ``y``."""
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((y.shape[0], num_classes), dtype=np.float32)
    out[np.arange(y.shape[0]), y] = 1.0
    return out
