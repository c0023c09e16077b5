"""Can this design train on (or score) this data? One check for the trainer, the CLI and the window.

:func:`check_design_data` returns structured :class:`Problem` s instead of raising, each with
the numbers and, where a design edit would help, its one-click :class:`~guicnn.core.fixes.Fix`
es (the window shows them as buttons; the CLI prints them). It accepts exactly what the
trainer accepts — a flat-input design takes images whose pixel count matches.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

from .analysis import Analysis, analyze
from .errors import printable
from .fixes import Fix
from .layers.common import fmt_shape
from .limits import MAX_CLASSES, MAX_LAYERS, over_budget

PURPOSES = ("train", "evaluate")
#: What training keeps per weight: the weight, its gradient and two optimizer slots (Adam).
TRAINING_COPIES = 4
#: What a batch keeps per activation value: the output, its cache and its gradient.
ACTIVATION_COPIES = 3


@dataclass(frozen=True)
class Problem:
    """One reason the design and the data do not go together.

    ``kind``: "invalid_design", "too_large", "input_shape", "outputs", "nothing_to_train",
    "single_class", "no_samples" or "too_many_classes". ``fixes`` are design edits that solve
    it; ``hint`` says what to change on the data side instead (may be empty).
    """

    kind: str
    message: str
    fixes: tuple[Fix, ...] = ()
    hint: str = ""

    def text(self) -> str:
        """One line: the problem, then what would fix it."""
        remedies = [f.description[:1].lower() + f.description[1:] for f in self.fixes]
        if self.hint:
            remedies.append(self.hint)
        return self.message + (f"; {' or '.join(remedies)}" if remedies else "")


def _with(design: dict[str, Any], **changes: Any) -> dict[str, Any]:
    fixed = copy.deepcopy(design)
    fixed.update(changes)
    return fixed


def _output_fixes(design: dict[str, Any], analysis: Analysis, classes: int) -> tuple[Fix, ...]:
    """Set the last Dense layer's units, or add Flatten + Dense when no Dense decides the output."""
    layers = design.get("layers", [])
    index = len(analysis.layers) - 1
    while index >= 0 and analysis.layers[index].input_shape == analysis.layers[index].output_shape:
        index -= 1  # Softmax, activations, dropout, batch norm: the output size comes from before
    if index >= 0 and analysis.layers[index].type == "Dense":
        fixed_layers = copy.deepcopy(layers)
        fixed_layers[index]["units"] = classes
        fixed = _with(design, layers=fixed_layers)
        if analyze(fixed).valid:
            return (Fix(f"Set the last Dense layer's units to {classes}", fixed, layer=index, kind="set_field"),)
    at = len(layers) - 1 if layers and analysis.layers[-1].type == "Softmax" else len(layers)
    added = [{"type": "Flatten"}, {"type": "Dense", "units": classes}]
    fixed = _with(design, layers=copy.deepcopy(layers[:at]) + added + copy.deepcopy(layers[at:]))
    return (Fix(f"Add Flatten + Dense({classes})", fixed, layer=at if at < len(layers) else None,
                kind="insert_layers"),)


def design_size_problem(design: dict[str, Any], analysis: Analysis | None = None, purpose: str = "train",
                        batch_size: int = 1) -> Problem | None:
    """A "too_large" Problem when the design has too many layers, or its weights (and, for
    training, gradients, optimizer state and a batch of activations) exceed the memory budget."""
    layers = design.get("layers") if isinstance(design, dict) else None
    if isinstance(layers, list) and len(layers) > MAX_LAYERS:
        return Problem("too_large", f"the design has {len(layers):,} layers; guicnn builds at most {MAX_LAYERS:,}")
    analysis = analysis or analyze(design)
    params = analysis.total_params
    weights = analysis.weight_bytes
    if purpose == "train":
        activations = sum(math.prod(i.output_shape) for i in analysis.layers if i.output_shape)
        activations += math.prod(analysis.input_shape) if analysis.input_shape else 0
        need = TRAINING_COPIES * weights + ACTIVATION_COPIES * 4 * activations * max(batch_size, 1)
        what = (f"training this design ({params:,} weights with their gradients and optimizer state, "
                f"and the activations of a batch of {batch_size})")
    else:
        need = weights
        what = f"the weights of this design ({params:,})"
    message = over_budget(need, what)
    return Problem("too_large", message) if message else None


def check_design_data(design: dict[str, Any], input_shape: Sequence[int], class_names: Sequence[str],
                      class_counts: Sequence[int] | None = None, *, purpose: str = "train", what: str = "",
                      batch_size: int = 1) -> list[Problem]:
    """Every reason ``design`` cannot train on (``purpose="train"``) or be scored on
    (``"evaluate"``) data of ``input_shape`` (C, H, W) with ``class_names`` and per-class
    sample counts; an empty list when it can.

    Training needs: a valid design within the memory budget, weights to train, the data's
    image size (or a flat input of as many values), exactly one output per class, and at
    least two classes with samples. Scoring needs the size and at least one output per class.
    ``what`` names the data in messages ("training", "validation", "test").
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, got {purpose!r}")
    data = f"the {what} data" if what else "the data"
    images = f"the {what} images" if what else "the images"
    classes = len(class_names)
    problems: list[Problem] = []
    if class_counts is not None and sum(int(c) for c in class_counts) == 0:
        problems.append(Problem("no_samples", f"{data} holds no samples"))
    if classes > MAX_CLASSES:
        problems.append(Problem("too_many_classes",
                                f"{data} has {classes:,} classes; guicnn supports at most {MAX_CLASSES:,}"))
        return problems
    layers = design.get("layers") if isinstance(design, dict) else None
    if isinstance(layers, list) and len(layers) > MAX_LAYERS:  # refused before analysing them all
        return problems + [design_size_problem(design)]
    analysis = analyze(design)
    if not analysis.valid:
        errors = "; ".join(analysis.errors[:3]) + (" ..." if len(analysis.errors) > 3 else "")
        return problems + [Problem("invalid_design", f"the design has errors: {errors}")]
    too_large = design_size_problem(design, analysis, purpose, batch_size)
    if too_large is not None:
        problems.append(too_large)

    data_shape = tuple(int(d) for d in input_shape)
    design_shape = tuple(analysis.input_shape)
    flat = len(design_shape) == 1
    if not (data_shape == design_shape or (flat and math.prod(data_shape) == design_shape[0])):
        new_input = [math.prod(data_shape)] if flat else list(data_shape)
        fixed = _with(design, input_shape=new_input)
        problems.append(Problem(
            "input_shape",
            f"{images} are {fmt_shape(data_shape)} but the design's input_shape is {fmt_shape(design_shape)}",
            (Fix(f"Set the input to {fmt_shape(new_input)}", fixed, kind="set_input"),),
            "choose data of that size (an image folder can be resized to it)",
        ))

    present = [i for i, c in enumerate(class_counts if class_counts is not None else ()) if int(c) > 0]
    if purpose == "train" and class_counts is not None and len(present) == 1:
        # the data is what is wrong: no number of outputs would make a classifier of it
        only = printable(class_names[present[0]]) if present[0] < classes else str(present[0])
        return problems + [Problem(
            "single_class",
            f"{data} has only one class ({only!r}, {int(class_counts[present[0]]):,} samples); a classifier "
            "needs samples of at least two classes",
            hint="add samples of another class (e.g. a second folder of images)",
        )]
    outputs = math.prod(analysis.output_shape)
    if analysis.total_params == 0 and purpose == "train":
        problems.append(Problem(
            "nothing_to_train",
            f"the design has no weights to train ({len(analysis.layers)} layer"
            f"{'s' if len(analysis.layers) != 1 else ''}, none with parameters); it needs e.g. a Dense "
            f"layer with one output per class ({classes})",
            _output_fixes(design, analysis, classes),
        ))
    elif outputs != classes and (purpose == "train" or outputs < classes):
        problems.append(Problem(
            "outputs",
            f"{data} has {classes} classes but the model has {outputs} output{'s' if outputs != 1 else ''}"
            + (f" (output shape {fmt_shape(analysis.output_shape)})" if len(analysis.output_shape) > 1 else "")
            + "; it needs one output per class",
            _output_fixes(design, analysis, classes),
        ))

    return problems


def check_dataset(design: dict[str, Any], data: Any, *, purpose: str = "train", what: str = "",
                  batch_size: int = 1) -> list[Problem]:
    """:func:`check_design_data` for a :class:`~guicnn.core.data.Dataset`."""
    return check_design_data(design, data.input_shape, data.class_names, data.class_counts().tolist(),
                             purpose=purpose, what=what, batch_size=batch_size)


__all__ = ["Problem", "check_dataset", "check_design_data", "design_size_problem"]
