"""A model's training history as CSV files that open cleanly in a spreadsheet.

Two tables, two files: one row per epoch with every logged figure (``epoch``,
``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``learning_rate``,
``seconds``, ``batches``), and one row per optimizer step (``step``, ``epoch``, ``batch``,
``loss``). Accuracies are fractions (0..1); a figure that was not measured (no validation
split) is an empty cell. Plain comma-separated UTF-8 with a header row.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..designfile import atomic_write
from ..training import BATCH_HISTORY_KEYS, HISTORY_KEYS

#: Column names for the trainer's history keys where a spreadsheet user expects another word.
_COLUMN_NAMES = {"lr": "learning_rate"}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def epoch_table(history: dict[str, list]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): one row per epoch, the trainer's keys first, then any other per-epoch list."""
    epochs = list(history.get("epoch") or [])
    n = len(epochs)
    keys = [k for k in HISTORY_KEYS if k in history]
    keys += [k for k, v in history.items() if k not in keys and k not in BATCH_HISTORY_KEYS
             and isinstance(v, list) and len(v) == n and n]
    columns = [list(history.get(k) or []) + [None] * n for k in keys]
    batch_epochs = Counter(history.get("batch_epoch") or [])
    header = [_COLUMN_NAMES.get(k, k) for k in keys]
    rows = [[column[i] for column in columns] for i in range(n)]
    if batch_epochs:
        header.append("batches")
        for row, epoch in zip(rows, epochs):
            row.append(batch_epochs[epoch])
    return header, rows


def batch_table(history: dict[str, list]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows): one row per optimizer step with its epoch and its batch within the epoch."""
    losses = list(history.get("batch_loss") or [])
    epochs = list(history.get("batch_epoch") or [])
    if len(epochs) != len(losses):
        epochs = [None] * len(losses)
    rows, batch, previous = [], 0, object()
    for step, (loss, epoch) in enumerate(zip(losses, epochs), start=1):
        batch = batch + 1 if epoch == previous else 1
        previous = epoch
        rows.append([step, epoch, batch if epoch is not None else None, loss])
    return ["step", "epoch", "batch", "loss"], rows


def epoch_csv(history: dict[str, list]) -> str:
    """The per-epoch table as CSV text."""
    return _csv(*epoch_table(history))


def batch_csv(history: dict[str, list]) -> str:
    """The per-batch (per optimizer step) losses as CSV text."""
    return _csv(*batch_table(history))


def batches_path(path: str | os.PathLike) -> Path:
    """Where the per-batch file goes next to the per-epoch one: ``run.csv`` -> ``run-batches.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-batches{path.suffix or '.csv'}")


def save_history_csv(path: str | os.PathLike, history: dict[str, list]) -> list[Path]:
    """Write the per-epoch CSV to ``path`` and the per-batch CSV beside it; return both paths."""
    epochs_text, batches_text = epoch_csv(history), batch_csv(history)
    path = Path(path)
    atomic_write(path, lambda tmp: tmp.write_text(epochs_text, encoding="utf-8"))
    other = batches_path(path)
    atomic_write(other, lambda tmp: tmp.write_text(batches_text, encoding="utf-8"))
    return [path, other]


__all__ = ["epoch_table", "batch_table", "epoch_csv", "batch_csv", "batches_path", "save_history_csv"]
