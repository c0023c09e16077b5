"""The ``guicnn`` command line: summary, train, evaluate, predict, data, layers, export, history, report,
import-weights.

Core only (no Qt). Every error prints one line to stderr and exits non-zero. Everything
printed passes through :func:`~guicnn.core.errors.printable`, so names from files (designs,
folders, class names) can neither inject terminal escapes nor fail to encode.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from . import __version__ as VERSION
from .core.analysis import analyze
from .core.designfile import atomic_write, load_design, load_preset, preset_names
from .core.errors import ConfigError, GuicnnError, SaveError, printable
from .core.explain import explain_layer
from .core.layers.common import fmt_shape
from .core.losses import LOSSES
from .core.model import format_summary
from .core.optim import OPTIMIZERS
from .core.repair import fixes_by_problem
from .core.text import plural
from .core.training import format_duration

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141  # what a shell reports for a program ended by SIGPIPE (``guicnn layers | head``)


# ---- output helpers ------------------------------------------------------------------------

def _out() -> TextIO:
    return sys.stdout


def _err() -> TextIO:
    return sys.stderr


def _say(text: str = "") -> None:
    print(printable(text), file=_out(), flush=True)


def _note(text: str) -> None:
    print(printable(text), file=_err(), flush=True)


def progress_line(report: Any, batch_size: int, width: int = 12) -> str:
    """``epoch 2/5 [#######.....] 312/469 loss 0.214 acc 93.1% 1,850 samples/s ETA 0:07``."""
    done = report.batch / max(report.batches_per_epoch, 1)
    filled = int(done * width)
    remaining = (report.batches_per_epoch - report.batch) * batch_size
    eta = remaining / report.samples_per_sec if report.samples_per_sec > 0 else 0.0
    return (
        f"epoch {report.epoch}/{report.epochs} [{'#' * filled}{'.' * (width - filled)}] "
        f"{report.batch}/{report.batches_per_epoch} loss {report.running_loss:.3f} "
        f"acc {100 * report.running_accuracy:.1f}% {report.samples_per_sec:,.0f} samples/s "
        f"ETA {format_duration(eta)}"
    )


def epoch_line(report: Any) -> str:
    """One summary line per finished epoch."""
    text = (f"epoch {report.epoch}/{report.epochs}  loss {report.train_loss:.4f}  "
            f"acc {100 * report.train_accuracy:.1f}%")
    if report.val_loss is not None:
        text += f"  val_loss {report.val_loss:.4f}  val_acc {100 * report.val_accuracy:.1f}%"
    return text + f"  {report.samples_per_sec:,.0f} samples/s  lr {report.lr:g}"


class ProgressBar:
    """A one-line progress bar redrawn in place on a terminal (at most ``rate`` times a second)."""

    def __init__(self, stream: TextIO, enabled: bool, rate: float = 10.0) -> None:
        self.stream, self.enabled, self.interval = stream, enabled, 1.0 / rate
        self.last = 0.0
        self.width = 0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < self.interval):
            return
        self.last = now
        pad = max(self.width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self.width = max(self.width, len(text))

    def clear(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ---- resolving inputs ----------------------------------------------------------------------

def resolve_target(target: str) -> tuple[dict[str, Any], Any]:
    """(design config, LoadedModel or None) for a design file, a model file or a preset name."""
    from .core.modelfile import is_model_file, load_model

    path = Path(target).expanduser()
    if path.is_file():
        if is_model_file(path):
            loaded = load_model(path)
            return loaded.config, loaded
        with open(path, "rb") as handle:
            head = handle.read(64).lstrip(b" \t\r\n\xef\xbb\xbf")
        if head[:1] != b"{" and path.suffix.lower() != ".json":
            raise ConfigError(f"{target}: neither a design (.json) nor a model file (.safetensors)")
        return load_design(path), None
    if path.exists():
        raise ConfigError(f"{target}: is a folder; give a design (.json) or model (.safetensors) file")
    names = preset_names()
    stem = target.lower().replace("-", "_")
    if stem in names or not target.endswith((".json", ".safetensors")):
        try:
            return load_preset(stem if stem in names else target), None
        except ConfigError:
            pass
    raise ConfigError(f"{target}: no such file, and not a preset ({', '.join(names)})")


def _load_model(target: str):
    from .core.modelfile import load_model

    path = Path(target).expanduser()
    if not path.is_file():
        raise ConfigError(f"{target}: no such model file")
    return load_model(path)


def _data_spec(spec: str) -> str:
    """What to store so that the same data can be found again: a name, or an absolute path."""
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else spec


def _saved_data_spec(loaded: Any) -> str | None:
    """The data a model file was trained on, as --data would name it."""
    return loaded.dataset.get("spec") or loaded.dataset.get("name")


def _load_data(spec: str | None, fallback: str | None, what: str, *, split: str = "train",
               design_shape: Any = None, image_size: tuple[int, int] | None = None,
               class_names: list[str] | None = None):
    """The data set named by --data (or the design's / model's), read to fit the design; its
    loader's notes (e.g. images resized) are printed."""
    from .core.data import DATASETS, is_downloaded, load_dataset
    from .core.data.download import canonical_name
    from .core.data.loaders import ImageSizeError

    spec = spec or fallback
    if not spec:
        raise ConfigError(f"say which data to {what} with --data (digits, shapes, mnist, ... or a path)")
    name = canonical_name(spec.strip().lower())
    if name in DATASETS and not Path(spec).exists() and not is_downloaded(name):
        raise ConfigError(f"{name} is not downloaded yet; get it with: guicnn data download {name}")
    options: dict[str, Any] = {"split": split, "image_size": image_size, "design_shape": design_shape}
    if class_names:
        options["class_names"] = list(class_names)
    try:
        data = load_dataset(spec, **options)
    except ImageSizeError as exc:
        raise ConfigError(f"{exc} with --image-size HxW") from None
    for note in data.notes:
        _note(f"note: {note}")
    return data


def _parse_size(text: str) -> tuple[int, int]:
    """"28x28" (height x width) or "28" → (28, 28)."""
    import argparse

    parts = text.lower().replace("×", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 28x28, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(1 <= v <= 4096 for v in values):
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH of 1 to 4096 pixels each, such as 28x28, got {text!r}")
    return values  # type: ignore[return-value]


# ---- commands ------------------------------------------------------------------------------

def cmd_summary(args: argparse.Namespace) -> int:
    config, loaded = resolve_target(args.target)
    analysis = analyze(config)
    _say(format_summary(analysis, title=config.get("name")))
    if not analysis.valid:
        _say(_fixes_text(config))
    for index in args.explain or []:
        _say(_explanation_text(config, analysis, index))
    if loaded is not None:
        _say(_trained_text(loaded))
    if not analysis.valid:
        for line in analysis.errors:
            _note(f"guicnn: error: {line}")
        return EXIT_ERROR
    return 0


def _fixes_text(config: dict[str, Any]) -> str:
    """The one-edit fixes under the errors, grouped by problem; ✓ marks those that make the design valid."""
    groups = fixes_by_problem(config)
    if not groups:
        return "No one-edit fix found: see the errors above."
    analysis = analyze(config)
    lines = ["", "Fixes (each changes one thing; ✓ = the whole design is then valid):"]
    for key, fixes in groups.items():
        lines.append("  the input:" if key is None else f"  layer {key} {analysis.layers[key].type}:")
        lines += [f"    {'✓' if analyze(fix.design).valid else '·'} {fix.description}" for fix in fixes]
    return "\n".join(lines)


def _explanation_text(config: dict[str, Any], analysis: Any, index: int) -> str:
    """``--explain N``: how layer N's figures come out, with the design's own numbers."""
    if not 0 <= index < len(analysis.layers):
        raise ConfigError(f"--explain {index}: the design has layers 0 to {len(analysis.layers) - 1}")
    info = analysis.layers[index]
    title = f"Layer {index} {info.description or info.type}"
    return f"\n{title}\n{'─' * len(title)}\n{explain_layer(config, index, analysis).text()}"


def _trained_text(loaded: Any) -> str:
    history, training, data = loaded.history, loaded.training, loaded.dataset
    epochs = training.get("epoch", len(history.get("epoch", [])))
    text = f"Trained: {plural(epochs, 'epoch')}, {plural(training.get('step', 0), 'step')}"
    val = [v for v in history.get("val_accuracy", []) if v is not None]
    if val:
        text += f"; last validation accuracy {100 * val[-1]:.1f}%"
    if data.get("name"):
        names = data.get("class_names") or []
        text += f"\nData: {data['name']} ({len(names)} classes: {', '.join(map(str, names[:10]))}"
        text += ", ...)" if len(names) > 10 else ")"
    return text


def _train_settings(args: argparse.Namespace, base: Any) -> Any:
    """Settings with the options given on the command line applied over ``base``."""
    from .core.training import TrainSettings

    data = base.to_dict()
    optimizer = dict(data["optimizer"])
    if args.optimizer is not None and args.optimizer != optimizer.get("type"):
        optimizer = {"type": args.optimizer}  # its own default learning rate unless --lr is given
    if args.lr is not None:
        optimizer["lr"] = args.lr
    data["optimizer"] = optimizer
    for key in ("batch_size", "seed", "val_fraction", "loss"):
        if getattr(args, key) is not None:
            data[key] = getattr(args, key)
    if args.shift is not None or args.flip:
        data["augment"] = {"shift": args.shift if args.shift is not None else data["augment"].get("shift", 0),
                           "flip": bool(args.flip or data["augment"].get("flip", False))}
    return TrainSettings.from_dict(data)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl+C (exit status 143 instead of 130)."""


class _Interrupts:
    """What Ctrl+C (SIGINT) and SIGTERM do while a command runs.

    "raise" (the default): stop the command at once (nothing is being written). "stop": the
    first signal asks training (or a download) to stop after the current batch, so that it
    is saved; a second one aborts. "defer": a save is in progress and finishes first — an
    interrupt then can neither leave a half-written temporary file nor lose the weights.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.mode = "raise"
        self.stop: threading.Event | None = None
        self.pending = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                number = getattr(signal, name)
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)

    def stopping(self, stop: threading.Event) -> _Interrupts:
        self.mode, self.stop = "stop", stop
        return self

    def deferring(self) -> _Interrupts:
        self.mode = "defer"
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        interrupt = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.mode == "defer":
            self.pending = True
            _note("\nfinishing the save first")
            return
        if self.mode == "stop" and self.stop is not None and not self.stop.is_set():
            self.stop.set()
            _note("\nstopping after this batch (press Ctrl+C again to abort without saving)")
            return
        raise interrupt


def _last_path(out: Path) -> Path:
    """Where the last weights go when they are not the best: ``model.last.safetensors``."""
    return out.with_name(f"{out.stem}.last{out.suffix or '.safetensors'}")


def _estimated_file_size(config: dict[str, Any]) -> int:
    """Bytes a model file of this design takes: weights plus up to two optimizer slots each."""
    return 3 * analyze(config).weight_bytes + 64 * 1024


def _check_out(out: str | None, config: dict[str, Any], continuing: Path | None) -> None:
    """Refuse before training an --out that cannot be written (or is not a model file)."""
    from .core.designfile import check_writable
    from .core.modelfile import is_model_file

    if not out:
        return
    path = Path(out)
    if path.is_file() and not is_model_file(path) and continuing != path:
        raise ConfigError(f"{out} exists and is not a model file; choose another --out (it would be replaced)")
    check_writable(path, need_bytes=_estimated_file_size(config))


def cmd_train(args: argparse.Namespace) -> int:
    from .core.training import EndReport, EpochReport, StepReport, Trainer, TrainSettings

    config, loaded = resolve_target(args.design)
    if loaded is not None:
        trainer = Trainer.from_loaded(loaded)
        trainer.set_settings(_train_settings(args, trainer.settings))
        if args.epochs is not None:
            total = trainer.epoch + args.epochs
        elif trainer.epoch < trainer.settings.epochs:
            total = trainer.settings.epochs
        else:
            raise ConfigError(f"{args.design}: already trained {trainer.epoch} epochs; "
                              "use --epochs N to train N more")
        out = args.out or args.design
        fallback = _saved_data_spec(loaded)
    else:
        analysis = analyze(config)
        if not analysis.valid:
            raise ConfigError(f"{args.design}: the design is invalid: {'; '.join(analysis.errors)}")
        settings = _train_settings(args, TrainSettings())
        total = args.epochs if args.epochs is not None else settings.epochs
        trainer = Trainer.from_config(config, settings)
        out = args.out
        fallback = config.get("dataset")
    _check_out(out, config, loaded.path if loaded is not None else None)
    data = _load_data(args.data, fallback, "train on", design_shape=config.get("input_shape"),
                      image_size=args.image_size, class_names=loaded.class_names if loaded is not None else None)
    if loaded is None:
        trainer.dataset_info = {"name": data.name, "source": data.source, "spec": _data_spec(args.data or fallback),
                                "input_shape": list(data.input_shape), "class_names": list(data.class_names)}
    stop = threading.Event()
    bar = ProgressBar(_err(), enabled=_is_tty(_err()) and not args.quiet)
    end = None
    with _Interrupts() as interrupts:
        reports = trainer.fit_iter(data, epochs=total, stop=stop)  # refuses nonsense before any step
        _say(f"training {config.get('name') or args.design} on {data.name}: {len(data):,} samples, "
             f"{data.num_classes} classes, input {fmt_shape(data.input_shape)}")
        interrupts.stopping(stop)
        for report in reports:
            if isinstance(report, StepReport):
                bar.show(progress_line(report, trainer.settings.batch_size),
                         force=report.batch == report.batches_per_epoch)
            elif isinstance(report, EpochReport):
                bar.clear()
                _say(epoch_line(report))
            elif isinstance(report, EndReport):
                bar.clear()
                end = report
        interrupts.deferring()
        return _finish_training(trainer, end, out, loaded.path if loaded is not None else None)


def _state_text(trainer: Any) -> str:
    """The live weights in words: "epoch 8: validation accuracy 9.8%" or where training stopped."""
    history = trainer.history
    if trainer.batch == 0 and history["epoch"] and history["epoch"][-1] == trainer.epoch:
        val = history["val_accuracy"][-1]
        if val is not None:
            return f"epoch {trainer.epoch}: validation accuracy {100 * val:.1f}%"
        return f"epoch {trainer.epoch}: training loss {history['train_loss'][-1]:.4f}"
    if trainer.batch:
        return f"epoch {trainer.epoch + 1}, step {trainer.batch}, not yet scored"
    return f"epoch {trainer.epoch}"


def _rescue(save: Any, out: Path) -> Path | None:
    """After a failed save: write the trained weights somewhere else; the path, or None."""
    import tempfile

    from .core.designfile import io_reason

    stamp = time.strftime("%Y%m%d-%H%M%S")
    tried: list[str] = []
    reason = ""
    for folder in dict.fromkeys((Path(tempfile.gettempdir()), Path.home(), Path.cwd())):
        candidate = folder / f"{out.stem}.rescued-{stamp}{out.suffix or '.safetensors'}"
        try:
            save(candidate)
        except (SaveError, OSError) as exc:
            tried.append(str(folder))
            reason = io_reason(exc.__cause__ or exc)
            continue
        return candidate
    _note(f"guicnn: error: could not save the trained weights anywhere else either (tried {', '.join(tried)}: "
          f"{reason})")
    return None


def _save(save: Any, path: Path, what: str) -> bool:
    """Save (``save(path)``); on failure say why and where the weights went instead."""
    try:
        save(path)
    except SaveError as exc:
        _note(f"guicnn: error: {exc}")
        rescued = _rescue(save, path)
        if rescued is not None:
            _note(f"{what} saved to {rescued} instead")
        return False
    return True


def _finish_training(trainer: Any, end: Any, out: str | None, continued: Path | None) -> int:
    """Say how training ended and save: the best scored weights to ``out`` and, when the last
    weights are worse (or unscored), those to ``<out>.last.safetensors`` — never replacing a
    model file with weights that score worse than it did without saying so."""
    if end.reason == "diverged":
        _note(f"guicnn: error: {end.message}")
    else:
        _say(end.message)
    if not out:
        if trainer.best is not None and not trainer.current_is_best:
            _say(f"best weights: {trainer.best.describe()}; last weights: {_state_text(trainer)}")
        _note("not saved (add --out model.safetensors to keep the trained model)")
        return EXIT_ERROR if end.reason == "diverged" else 0
    out_path = Path(out)
    best = trainer.best
    ok = True
    same_file = continued is not None and continued.resolve() == out_path.resolve()
    if same_file and trainer.step == trainer.run_start_step:
        _say(f"{out} is unchanged (no step of this run was kept)")
        resume = out
    elif trainer.current_is_best:
        ok = _save(trainer.save, out_path, "the trained weights")
        if ok:
            _say(f"saved to {out} ({_state_text(trainer)})")
        resume = out
    else:
        last = _last_path(out_path)
        if same_file and best.step == trainer.run_start_step:
            _say(f"{out} is unchanged: its weights ({best.describe()}) score better than the new ones "
                 f"({_state_text(trainer)})")
        else:
            ok = _save(best.save, out_path, "the best weights")
            if ok:
                _say(f"saved the best weights ({best.describe()}) to {out}")
        if _save(trainer.save, last, "the last weights"):
            _say(f"saved the last weights ({_state_text(trainer)}) to {last}")
        else:
            ok = False
        resume = str(last)
    if end.reason == "stopped" and ok:
        _say(f"continue with: guicnn train {resume}")
    return EXIT_ERROR if end.reason == "diverged" or not ok else 0


def confusion_table(confusion: np.ndarray, names: list[str]) -> str:
    """Rows are true classes, columns predicted; a last column with each class's accuracy."""
    k = confusion.shape[0]
    names = [str(n) for n in names[:k]] + [str(i) for i in range(len(names), k)]
    short = [n if len(n) <= 8 else n[:7] + "…" for n in names]
    cell = max([len(s) for s in short] + [len(f"{int(confusion.max()) if confusion.size else 0:,}"), 3])
    corner = "true \\ predicted"
    label = max(len(n) for n in names + [corner])
    rows = [f"{corner:<{label}}  " + " ".join(f"{s:>{cell}}" for s in short) + "  accuracy"]
    for i, name in enumerate(names):
        total = int(confusion[i].sum())
        acc = f"{100 * confusion[i, i] / total:.1f}%" if total else "-"
        rows.append(f"{name:<{label}}  " + " ".join(f"{int(v):>{cell},}" for v in confusion[i]) + f"  {acc:>8}")
    return "\n".join(rows)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .core.training import Trainer, check_compatible, evaluate

    loaded = _load_model(args.model)
    split = "test" if args.split == "test" else "train"
    data = _load_data(args.data, _saved_data_spec(loaded), "evaluate on", split=split,
                      design_shape=loaded.config.get("input_shape"), image_size=args.image_size,
                      class_names=loaded.class_names)
    if args.split in ("train", "val"):
        train, val = Trainer.from_loaded(loaded).split_data(data)
        data = train if args.split == "train" else val
        if data is None:
            raise ConfigError("the model was trained without a validation split; use --split all (or test)")
    check_compatible(loaded.model, data, {"all": "", "train": "training", "val": "validation"}.get(
        args.split, args.split))
    loss = (loaded.training.get("settings") or {}).get("loss", "cross_entropy")
    result = evaluate(loaded.model, data.x, data.y, batch_size=args.batch_size, loss=loss,
                      normalization=loaded.normalization)
    saved_names = loaded.class_names
    if saved_names and saved_names[:data.num_classes] != list(data.class_names):
        _note(f"note: the model was trained on classes {', '.join(saved_names)}")
    _say(f"{data.name} ({args.split}, {len(data):,} samples): loss {result.loss:.4f}, "
         f"accuracy {100 * result.accuracy:.2f}%")
    _say(confusion_table(result.confusion, list(data.class_names)))
    return 0


def load_image(path: Path, shape: tuple[int, int, int], invert: bool = False) -> np.ndarray:
    """One image file as float32 C×H×W in [0, 1] for a model of input ``shape``: the core's
    :func:`~guicnn.core.data.images.read_image` (the reader of image folders and the window)."""
    from .core.data.images import read_image

    channels, height, width = shape
    if channels not in (1, 3):
        raise ConfigError(f"cannot read images for a model with {channels} input channels (only 1 or 3)")
    array = read_image(path, size=(height, width), channels=channels)
    return 1.0 - array if invert else array


def cmd_predict(args: argparse.Namespace) -> int:
    loaded = _load_model(args.model)
    model = loaded.model
    shape = tuple(model.input_shape)
    if len(shape) == 1:
        shape = tuple(loaded.dataset.get("input_shape") or ())
        if len(shape) != 3 or math.prod(shape) != model.input_shape[0]:
            raise ConfigError(f"{args.model}: the model takes flat input and its image size is unknown")
    images = np.stack([load_image(Path(p), shape, args.invert) for p in args.images])
    norm = loaded.normalization
    x = norm.apply(images) if norm else images
    if len(model.input_shape) == 1:
        x = x.reshape(len(x), -1)
    probs = model.predict_proba(x)
    names = loaded.class_names or [str(i) for i in range(probs.shape[1])]
    k = max(1, min(args.top_k, probs.shape[1]))
    for path, p in zip(args.images, probs):
        top = np.argsort(-p, kind="stable")[:k]
        label = lambda i: names[i] if i < len(names) else str(i)  # noqa: E731
        _say(f"{path}: " + ", ".join(f"{label(i)} ({100 * p[i]:.1f}%)" for i in top))
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    from .core.data import download

    bar = ProgressBar(_err(), enabled=_is_tty(_err()))

    def progress(done: int, total: int, filename: str) -> None:
        frac = done / total if total else 1.0
        filled = int(frac * 20)
        bar.show(f"{filename} [{'#' * filled}{'.' * (20 - filled)}] {done / 1e6:,.1f}/{total / 1e6:,.1f} MB",
                 force=done >= total)

    stop = threading.Event()
    with _Interrupts() as interrupts:
        interrupts.stopping(stop)
        folder = download(args.name, base_url=args.base_url, progress=progress, cache=args.cache, stop_event=stop)
    bar.clear()
    _say(f"{args.name}: ready in {folder}")
    return 0


def cmd_data_list(args: argparse.Namespace) -> int:
    from .core.data import BUILTIN_DATASETS, dataset_names, is_downloaded

    for name in dataset_names():
        state = "built in" if name in BUILTIN_DATASETS else (
            "downloaded" if is_downloaded(name) else "not downloaded (guicnn data download " + name + ")")
        _say(f"{name:<15} {state}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from .core.registry import layer_classes

    for cls in layer_classes():
        _say(f"{cls.type_name} ({cls.group})")
        _say(f"    {cls.description}")
        for f in cls.fields:
            default = f.default_text or repr(f.default)
            extra = f"one of {', '.join(map(repr, f.choices))}" if f.choices and f.kind == "choice" else f.range_text()
            required = ", required" if f.required else ""
            _say(f"    {f.name:<15} {f.kind:<8} default {default}{required}; {extra}. {f.help}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    config, loaded = resolve_target(args.target)
    if args.format == "onnx":
        return _export_onnx(args, config, loaded)
    if args.format == "pytorch-script":
        from .core.export.torch_script import training_script

        settings = (loaded.training or {}).get("settings") if loaded is not None else None
        data = (_saved_data_spec(loaded) if loaded is not None else config.get("dataset")) or None
        source = f"the model file {Path(args.target).name}" if loaded is not None else "guicnn's defaults"
        name = Path(args.output).name if args.output not in (None, "-") else "train.py"
        code = training_script(config, settings=settings, data=data, source=source, script_name=name)
    else:
        from .core.export import torch_code

        weights = Path(args.target).name if loaded is not None else "model.safetensors"
        code = torch_code(config, weights_file=weights)
    if args.output in (None, "-"):
        _out().write(code)
        return 0
    atomic_write(args.output, lambda tmp: tmp.write_text(code, encoding="utf-8"))
    _note(f"wrote {args.output}")
    return 0


def _export_onnx(args: argparse.Namespace, config: dict[str, Any], loaded: Any) -> int:
    from .core.export import export_model_onnx, save_onnx
    from .core.model import Sequential

    if args.output in (None, "-"):
        raise ConfigError("an ONNX model is a binary file: name it with -o model.onnx")
    if loaded is not None:
        export_model_onnx(loaded, args.output)
        _note(f"wrote {args.output}: images in [0, 1] in, class probabilities out")
    else:
        analysis = analyze(config)
        if not analysis.valid:
            raise ConfigError(f"{args.target}: the design is invalid: {'; '.join(analysis.errors)}")
        save_onnx(Sequential.from_config(config, seed=0), args.output)
        _note(f"wrote {args.output} (an untrained design: its weights are the random initial ones)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from .core.export.history_csv import batch_csv, epoch_csv, epoch_table

    loaded = _load_model(args.model)
    history = loaded.history or {}
    if args.csv or args.output:
        text = batch_csv(history) if args.batches else epoch_csv(history)
        if args.output in (None, "-"):
            _out().write(text)
        else:
            atomic_write(args.output, lambda tmp: tmp.write_text(text, encoding="utf-8"))
            _note(f"wrote {args.output}")
        return 0
    header, rows = epoch_table(history)
    if not rows:
        _say(f"{args.model}: not trained yet (no history)")
        return 0
    cells = [header] + [[_history_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        _say("  ".join(f"{v:>{w}}" for v, w in zip(row, widths)))
    return 0


def _history_cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cmd_report(args: argparse.Namespace) -> int:
    from .core.report import save_report

    loaded = _load_model(args.model)
    data = _load_data(args.data, _saved_data_spec(loaded), "report on", design_shape=loaded.config.get("input_shape"),
                      class_names=loaded.class_names) if not args.no_data else None
    save_report(args.output, loaded, data, split=args.split, examples=args.examples)
    _note(f"wrote {args.output}")
    return 0


def _channel_values(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{what} takes numbers separated by commas (one per channel), got {text!r}") from None


def cmd_import_weights(args: argparse.Namespace) -> int:
    from .core.data import Normalization
    from .core.export.weights import import_weights

    config, loaded = resolve_target(args.design)
    dataset = None
    if args.data:
        data = _load_data(args.data, None, "describe")
        dataset = {"name": data.name, "source": data.source, "spec": _data_spec(args.data),
                   "input_shape": list(data.input_shape), "class_names": list(data.class_names)}
    mean, std = _channel_values(args.mean, "mean"), _channel_values(args.std, "std")
    if (mean is None) != (std is None):
        raise ConfigError("give both --mean and --std (the normalisation the weights were trained with), or neither")
    normalization = Normalization(mean, std) if mean is not None else None
    model = import_weights(config, args.weights, args.output, dataset=dataset, normalization=normalization)
    _note(f"wrote {args.output}: {model.parameter_count():,} parameters from {Path(args.weights).name}")
    return 0


# ---- parser --------------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every command."""
    parser = argparse.ArgumentParser(prog="guicnn", description="Build, train and inspect small CNNs (NumPy).")
    parser.add_argument("--version", action="version", version=f"guicnn {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("summary", help="layer table of a design, model file or preset")
    p.add_argument("target", metavar="DESIGN", help="design .json, model .safetensors or preset name (e.g. lenet5)")
    p.add_argument("--explain", metavar="LAYER", type=int, action="append",
                   help="also show how layer LAYER's figures come out, with its numbers (repeatable)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("train", help="train a design (or continue a model file)")
    p.add_argument("design", metavar="DESIGN", help="design .json, preset name, or a model file to continue")
    p.add_argument("--data", help="digits, shapes, mnist, fashion-mnist, cifar10 or a path "
                                  "(default: the design's dataset)")
    p.add_argument("--epochs", type=_positive_int, help="epochs to train in this run (default 10)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=_positive_float, help="learning rate (default: the optimizer's own, "
                   + ", ".join(f"{k} {c.field('lr').default:g}" for k, c in OPTIMIZERS.items()) + ")")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS),
                   help="; ".join(f"{k}: {c.help}" for k, c in OPTIMIZERS.items()))
    p.add_argument("--loss", choices=tuple(LOSSES), help="; ".join(f"{k}: {c.help}" for k, c in LOSSES.items()))
    p.add_argument("--seed", type=int)
    p.add_argument("--val-fraction", type=float)
    p.add_argument("--shift", type=int, help="augment: random shift up to this many pixels")
    p.add_argument("--flip", action="store_true", help="augment: random left-right flips")
    p.add_argument("--image-size", type=_parse_size, metavar="HxW",
                   help="resize an image folder's images to HEIGHTxWIDTH (default: the design's input size)")
    p.add_argument("--out", "-o", help="model file to write (default when continuing: the same file); the best "
                                       "epoch is kept there, later worse weights go to NAME.last.safetensors")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="loss, accuracy and confusion matrix of a model file",
                       epilog="With onnxruntime installed (pip install \"guicnn[fast]\") the images are scored "
                              "through it, 2.5-3x faster; GUICNN_INFERENCE=numpy keeps scoring on guicnn's "
                              "own engine.")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", help="default: the data the model was trained on")
    p.add_argument("--split", choices=("all", "val", "train", "test"), default="all",
                   help="which part: the data set's own test part (mnist's t10k files, a CIFAR-10 test batch, "
                        "an image folder's test/ subfolder), all of the training part, or the model's "
                        "validation/training split of it")
    p.add_argument("--image-size", type=_parse_size, metavar="HxW",
                   help="resize an image folder's images to HEIGHTxWIDTH (default: the model's input size)")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="top classes for image files")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top-k", type=_positive_int, default=3)
    p.add_argument("--invert", action="store_true", help="invert the images (dark ink on light paper)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("data", help="standard data sets")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = data_sub.add_parser("download", help="download mnist, fashion-mnist or cifar10 into the cache")
    d.add_argument("name", metavar="NAME")
    d.add_argument("--base-url", help="mirror to download from (file names are appended)")
    d.add_argument("--cache", help="cache folder (default: the per-user cache)")
    d.set_defaults(func=cmd_data_download)
    d = data_sub.add_parser("list", help="data set names and whether they are available")
    d.set_defaults(func=cmd_data_list)

    p = sub.add_parser("layers", help="layer types and their settings")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("export", help="write a design or model as PyTorch code, a PyTorch training script or ONNX")
    p.add_argument("target", metavar="MODEL_OR_DESIGN")
    p.add_argument("--format", choices=("pytorch", "pytorch-script", "onnx"), default="pytorch",
                   help="pytorch: the nn.Sequential; pytorch-script: a runnable training script (torchrun-ready) "
                        "that writes a guicnn model file; onnx: an ONNX model for inference (default: pytorch)")
    p.add_argument("-o", "--output", help="file to write (default: standard output; required for onnx)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("history", help="a model's training history per epoch (or per batch), as a table or CSV")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--csv", action="store_true", help="CSV for a spreadsheet: one row per epoch")
    p.add_argument("--batches", action="store_true", help="with --csv: one row per batch (step, epoch, batch, loss)")
    p.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("report", help="one self-contained HTML report: design, settings, curves, confusion")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--data", help="data to score on (default: the data the model was trained on)")
    p.add_argument("--split", choices=("val", "train", "all"), default="val",
                   help="which part: the model's own validation split (default), training split, or all")
    p.add_argument("--examples", type=_positive_int, default=12, help="misclassified images to show (default 12)")
    p.add_argument("--no-data", action="store_true", help="leave out the confusion matrix and images")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("import-weights", help="a PyTorch state_dict (.safetensors) + a design -> a guicnn model file")
    p.add_argument("design", metavar="DESIGN", help="design .json (or preset name) the weights belong to")
    p.add_argument("weights", metavar="WEIGHTS", help="state_dict saved with safetensors.torch.save_file")
    p.add_argument("-o", "--output", required=True, help="model file to write (.safetensors)")
    p.add_argument("--data", help="data set the weights were trained on (stores its name and class names)")
    p.add_argument("--mean", help="per-channel input mean used in training, e.g. 0.1307")
    p.add_argument("--std", help="per-channel input std used in training, e.g. 0.3081")
    p.set_defaults(func=cmd_import_weights)
    return parser


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``guicnn layers | head``): stop writing, silently."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the final flush at exit does not complain
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0 on success)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with _Interrupts():  # SIGTERM stops a command as Ctrl+C does (training saves first)
            args = build_parser().parse_args(argv)
            return int(args.func(args) or 0)
    except Terminated:
        _note("guicnn: terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _note("guicnn: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_broken_pipe()
        return EXIT_BROKEN_PIPE
    except RecursionError:
        _note("guicnn: error: the input is nested too deeply to be read")
        return EXIT_ERROR
    except MemoryError:
        _note("guicnn: error: out of memory (lower GUICNN_MEMORY_BUDGET so that guicnn refuses such data early)")
        return EXIT_ERROR
    except (GuicnnError, ValueError, OSError) as exc:
        _note(f"guicnn: error: {_one_line(exc)}")
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for anything unforeseen
        if _interrupted(exc):  # Ctrl+C inside an extension's import comes out as its own error
            _note("guicnn: interrupted")
            return EXIT_INTERRUPTED
        if os.environ.get("GUICNN_DEBUG"):
            raise
        _note(f"guicnn: internal error: {type(exc).__name__}: {_one_line(exc)} (set GUICNN_DEBUG=1 for details)")
        return EXIT_ERROR


def _interrupted(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
