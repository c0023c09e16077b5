"""One-click fixes for a design's problems: each changes one layer (or the input) and is checked to help.

Every candidate edit is run through `analyze`; only those that make progress are offered
(the design becomes valid, or its first problem moves further down the stack, or there are
fewer problems), the ones that make the whole design valid first. Sizes are searched, not
guessed: "the smallest input that fits", "the largest kernel that fits", "the least padding".
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable

from .analysis import Analysis, analyze, check_input_shape
from .errors import ConfigError
from .fields import Field, as_pair
from .fixes import Fix
from .layers.base import Layer
from .layers.common import fmt_shape
from .registry import closest_type, layer_class

MAX_FIXES = 5  # per problem: more buttons than this on a card would hide the good ones
MAX_SIDE = 4096  # largest input height/width the input search proposes
DEFAULT_IMAGE = (1, 28, 28)  # proposed when a design has no usable input shape at all

# Settings whose smaller value makes a layer's output larger, and those whose larger value does.
SHRINKING = ("kernel_size", "pool_size", "dilation")
GROWING = ("padding",)
_WORDS = {"kernel_size": "kernel", "pool_size": "pool size", "dilation": "dilation", "padding": "padding",
          "stride": "stride"}


@dataclass
class _Candidate:
    """A proposed edit before it is judged: the fixed design and where its layers came from."""

    description: str
    design: dict[str, Any]
    origin: list[float]  # origin[j]: index in the original design of the fixed design's layer j (new: x.5)
    layer: int | None
    kind: str
    order: int = 0  # preference among equally good fixes (lower first)


def suggest_fixes(design: Any) -> list[Fix]:
    """Every fix for every problem of ``design`` (input first, then by layer); never raises."""
    try:
        seen: set[str] = set()
        fixes = []
        for group in _fixes_by_problem(design).values():
            for fix in group:
                if fix.description not in seen:
                    seen.add(fix.description)
                    fixes.append(fix)
        return fixes
    except Exception:  # noqa: BLE001 — the contract: a hint engine must never break the caller
        return []


def fixes_by_problem(design: Any) -> dict[int | None, list[Fix]]:
    """Fixes grouped by the problem they address: key None is the input, key i is layer i's error.

    Never raises (an unexpected failure gives no fixes rather than an exception).
    """
    try:
        return _fixes_by_problem(design)
    except Exception:  # noqa: BLE001
        return {}


def _fixes_by_problem(design: Any) -> dict[int | None, list[Fix]]:
    if not isinstance(design, dict) or not isinstance(design.get("layers", []), list):
        return {}
    analysis = analyze(design)
    if analysis.valid:
        return {}
    judge = _Judge(design, analysis)
    groups: dict[int | None, list[Fix]] = {}
    if analysis.input_error:
        groups[None] = judge.best(_input_candidates(design, analysis))
    for info in analysis.layers:
        if info.error:
            candidates = _layer_candidates(design, analysis, info.index)
            groups[info.index] = judge.best(candidates)
    return {key: fixes for key, fixes in groups.items() if fixes}


# ---- judging ----------------------------------------------------------------------------------

def _standing(analysis: Analysis, origin: list[float]) -> tuple[float, int]:
    """(where the first problem is, in original layer positions; minus the number of problems)."""
    if analysis.valid:
        return (math.inf, 0)
    if analysis.input_error:
        first = -1.0
    else:
        first = origin[min(i.index for i in analysis.layers if i.error)]
    return (first, -len(analysis.errors))


class _Judge:
    """Keeps the candidates that make progress, best first."""

    def __init__(self, design: dict[str, Any], analysis: Analysis) -> None:
        self.before = _standing(analysis, list(range(len(analysis.layers))))

    def best(self, candidates: list[_Candidate]) -> list[Fix]:
        judged = []
        seen: set[str] = set()
        for candidate in candidates:
            if candidate.description in seen:
                continue
            seen.add(candidate.description)
            after = _standing(analyze(candidate.design), candidate.origin)
            if after > self.before:
                judged.append((after[0] == math.inf, candidate.order, candidate))
        judged.sort(key=lambda item: (not item[0], item[1]))
        return [Fix(c.description, c.design, layer=c.layer, kind=c.kind) for _, _, c in judged[:MAX_FIXES]]


def _valid(design: dict[str, Any]) -> bool:
    return analyze(design).valid


def _layer_ok(index: int) -> Callable[[dict[str, Any]], bool]:
    """Predicate: layer ``index`` of a design (and everything above it) has no problem."""
    def ok(design: dict[str, Any]) -> bool:
        analysis = analyze(design)
        return analysis.input_error is None and all(i.ok for i in analysis.layers[: index + 1])
    return ok


def _first_true(values: list[int], predicate: Callable[[int], bool]) -> int | None:
    """The first value for which a monotone predicate (False…False True…True) holds, by bisection."""
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(values[mid]):
            hi = mid
        else:
            lo = mid + 1
    return values[lo] if lo < len(values) else None


def _search(values: list[int], make: Callable[[int], dict[str, Any]], index: int) -> tuple[int | None, bool]:
    """The first value (in the order given) that makes the design valid, else that makes layer ``index``
    fit; and whether it makes the whole design valid. Shape validity only improves along ``values``."""
    found = _first_true(values, lambda v: _valid(make(v)))
    if found is not None:
        return found, True
    return _first_true(values, lambda v: _layer_ok(index)(make(v))), False


# ---- edits ----------------------------------------------------------------------------------

def _identity(design: dict[str, Any]) -> list[float]:
    return [float(i) for i in range(len(design.get("layers", [])))]


def _set_input(design: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    fixed = copy.deepcopy(design)
    fixed["input_shape"] = [int(d) for d in shape]
    return fixed


def _set_setting(design: dict[str, Any], index: int, key: str, value: Any) -> dict[str, Any]:
    fixed = copy.deepcopy(design)
    if value is _REMOVE:
        fixed["layers"][index].pop(key, None)
    else:
        fixed["layers"][index][key] = copy.deepcopy(value)
    return fixed


_REMOVE = object()


def _remove(design: dict[str, Any], index: int) -> _Candidate:
    fixed = copy.deepcopy(design)
    removed = fixed["layers"].pop(index)
    origin = [float(j if j < index else j + 1) for j in range(len(fixed["layers"]))]
    return _Candidate(f"Remove layer {index} {_type_of(removed)}", fixed, origin, index, "remove_layer", order=40)


def _insert(design: dict[str, Any], index: int, new_layers: list[dict[str, Any]], description: str,
            order: int) -> _Candidate:
    fixed = copy.deepcopy(design)
    fixed["layers"][index:index] = copy.deepcopy(new_layers)
    count = len(new_layers)
    origin = [float(j) for j in range(index)] + [index - 0.5] * count + [
        float(j) for j in range(index, len(design["layers"]))]
    return _Candidate(description, fixed, origin, index, "insert_layers", order=order)


def _move(design: dict[str, Any], index: int, target: int, description: str) -> _Candidate:
    fixed = copy.deepcopy(design)
    moved = fixed["layers"].pop(index)
    fixed["layers"].insert(target, moved)
    origin = [float(j) for j in range(len(design["layers"]))]
    origin.insert(target, origin.pop(index))
    return _Candidate(description, fixed, origin, index, "move_layer", order=20)


def _type_of(layer_config: Any) -> str:
    if isinstance(layer_config, dict) and isinstance(layer_config.get("type"), str):
        return layer_config["type"]
    return "(no type)"


def _pair_text(pair: tuple[int, int]) -> str:
    return f"{pair[0]}×{pair[1]}"


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return _pair_text(tuple(value)) if len(value) == 2 else ", ".join(map(str, value))
    return str(value)


# ---- the input --------------------------------------------------------------------------------

def _smallest_input(design: dict[str, Any], channels: int, height: int, width: int,
                    goal: Callable[[dict[str, Any]], bool]) -> tuple[int, int] | None:
    """The smallest (height, width), each at least the current one, for which ``goal`` holds.

    Rows and columns are independent in every layer, so each axis is searched with the other
    one at its largest; a larger input never makes a layer's output smaller (monotone).
    """
    def fits(h: int, w: int) -> bool:
        return goal(_set_input(design, (channels, h, w)))

    if not fits(MAX_SIDE, MAX_SIDE):
        return None
    h = _first_fit(height, lambda v: fits(v, MAX_SIDE))
    w = _first_fit(width, lambda v: fits(h, v))
    return (h, w)


def _first_fit(start: int, fits: Callable[[int], bool]) -> int:
    """The smallest size ≥ start (≤ MAX_SIDE, where it fits) that fits: doubling, then bisection."""
    low, high = start, start
    while not fits(high):
        low, high = high + 1, min(2 * high, MAX_SIDE)
    return _first_true(list(range(low, high + 1)), fits)


def _input_size_candidate(design: dict[str, Any], analysis: Analysis, index: int | None) -> list[_Candidate]:
    """'Set the input to 1×36×36 (the smallest that fits)' — for size problems below the input."""
    shape = analysis.input_shape
    if shape is None or len(shape) != 3:
        return []
    c, h, w = shape
    size = _smallest_input(design, c, h, w, _valid)
    why = "the smallest that fits"
    if size is None and index is not None:
        size = _smallest_input(design, c, h, w, _layer_ok(index))
        why = f"the smallest for which layer {index} fits"
    if size is None or size == (h, w):
        return []
    if size[0] == h and why == "the smallest that fits":
        why = "the smallest width that fits"
    elif size[1] == w and why == "the smallest that fits":
        why = "the smallest height that fits"
    new = (c, *size)
    return [_Candidate(f"Set the input to {fmt_shape(new)} ({why})", _set_input(design, new),
                       _identity(design), None, "set_input", order=30)]


def _input_candidates(design: dict[str, Any], analysis: Analysis) -> list[_Candidate]:
    """The input shape itself is missing or wrong: propose a complete one."""
    value = design.get("input_shape")
    numbers = value if isinstance(value, (list, tuple)) else []
    usable = [int(v) for v in numbers if isinstance(v, (int, float)) and not isinstance(v, bool)
              and v == int(v) and 1 <= v <= 100_000]
    proposals: list[tuple[int, ...]] = []
    if len(numbers) == 3 and len(usable) == 3:
        proposals.append(tuple(usable))
    elif len(numbers) == 3:
        proposals.append(tuple(_clamp_dim(v, default) for v, default in zip(numbers, DEFAULT_IMAGE)))
    elif len(numbers) == 2:
        proposals.append((1, *(_clamp_dim(v, 28) for v in numbers)))
    proposals.append(DEFAULT_IMAGE)
    if len(numbers) == 1:
        proposals.insert(0, (_clamp_dim(numbers[0], 784),))
    candidates = []
    for shape in proposals:
        try:
            check_input_shape(list(shape))
        except ValueError:
            continue
        fixed = _set_input(design, shape)
        if len(shape) == 3 and not _valid(fixed):
            grown = _smallest_input(fixed, shape[0], shape[1], shape[2], _valid)
            if grown is not None:
                shape = (shape[0], *grown)
                fixed = _set_input(design, shape)
        what = f"{fmt_shape(shape)}" + (" (a grey 28×28 image)" if shape == DEFAULT_IMAGE else "")
        candidates.append(_Candidate(f"Set the input to {what}", fixed, _identity(design), None, "set_input",
                                     order=len(candidates)))
    return candidates


def _clamp_dim(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return default
    return int(min(max(round(value), 1), 100_000))


# ---- a layer ---------------------------------------------------------------------------------

def _layer_candidates(design: dict[str, Any], analysis: Analysis, index: int) -> list[_Candidate]:
    layer_config = design["layers"][index]
    candidates: list[_Candidate] = []
    try:
        layer = _make(layer_config)
    except ConfigError:
        candidates += _settings_candidates(design, index)
    else:
        candidates += _shape_candidates(design, analysis, index, layer)
    candidates.append(_remove(design, index))
    return candidates


def _make(layer_config: Any) -> Layer:
    if not isinstance(layer_config, dict) or "type" not in layer_config:
        raise ConfigError("not a layer")
    return layer_class(layer_config["type"]).from_config(layer_config)


def _settings_candidates(design: dict[str, Any], index: int) -> list[_Candidate]:
    """The layer cannot be built from its settings: a wrong type, an unknown or invalid setting."""
    layer_config = design["layers"][index]
    if not isinstance(layer_config, dict):
        return []
    where = f"in layer {index}"
    try:
        cls = layer_class(layer_config.get("type"))
    except ConfigError:
        close = closest_type(layer_config.get("type"))
        if close is None:
            return []
        fixed = _set_setting(design, index, "type", close)
        # Keep only the settings the new type knows (the rest belong to the misspelt one).
        known = {f.name for f in layer_class(close).fields} | {"type", "name"}
        fixed["layers"][index] = {k: v for k, v in fixed["layers"][index].items() if k in known}
        return [_Candidate(f"Change layer {index}'s type to {close}", fixed, _identity(design), index,
                           "set_type", order=0)]
    candidates = []
    fields = {f.name: f for f in cls.fields}
    for key, value in layer_config.items():
        if key == "type":
            continue
        if key == "name":
            if not isinstance(value, str):
                candidates.append(_Candidate(f"Remove the name of layer {index}", _set_setting(
                    design, index, key, _REMOVE), _identity(design), index, "remove_field", order=5))
            continue
        if key not in fields:
            close = cls.closest_setting(key)
            if close and close not in layer_config:
                fixed = _set_setting(design, index, key, _REMOVE)
                fixed["layers"][index][close] = copy.deepcopy(value)
                candidates.append(_Candidate(f"Rename the setting '{key}' to '{close}' {where}", fixed,
                                             _identity(design), index, "rename_field", order=0))
            candidates.append(_Candidate(f"Remove the unknown setting '{key}' from layer {index}", _set_setting(
                design, index, key, _REMOVE), _identity(design), index, "remove_field", order=1))
            continue
        field = fields[key]
        try:
            field.validate(value)
        except ValueError:
            candidates += _value_candidates(design, index, field, value)
    for field in cls.fields:
        if field.required and field.name not in layer_config:
            candidates.append(_Candidate(f"Set {_WORDS.get(field.name, field.name)} to "
                                         f"{_value_text(field.default)} {where}",
                                         _set_setting(design, index, field.name, field.default),
                                         _identity(design), index, "set_field", order=0))
    candidates += _cross_field_candidates(design, index, cls)
    return candidates


def _value_candidates(design: dict[str, Any], index: int, field: Field, value: Any) -> list[_Candidate]:
    """An invalid value: the nearest allowed one, and the default."""
    options = []
    nearest = _nearest_allowed(field, value)
    if nearest is not None:
        options.append(nearest)
    if field.default is not None and field.default not in options:
        options.append(field.default)
    word = _WORDS.get(field.name, field.name)
    ranged = field.kind in ("int", "float", "pair", "padding", "int_list")
    candidates = []
    for order, option in enumerate(options):
        try:
            field.validate(option)
        except ValueError:
            continue
        text = f"Set {word} to {_value_text(option)} in layer {index}"
        if ranged:
            text += f" (allowed: {field.range_text()})"
        candidates.append(_Candidate(text, _set_setting(design, index, field.name, option), _identity(design),
                                     index, "set_field", order=order))
    return candidates


def _nearest_allowed(field: Field, value: Any) -> Any:
    """The allowed value nearest to an out-of-range number (or pair / list of them), else None."""
    def clamp(number: Any) -> Any:
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            return None
        lo = -math.inf if field.minimum is None else field.minimum
        hi = math.inf if field.maximum is None else field.maximum
        if field.kind == "float":
            eps = 1e-6 * max(1.0, abs(hi if math.isfinite(hi) else lo))
            lo = lo + eps if field.exclusive_minimum else lo
            hi = hi - eps if field.exclusive_maximum else hi
            return float(min(max(number, lo), hi))
        return int(min(max(round(number), math.ceil(lo)), math.floor(hi)))

    if field.kind in ("int", "float", "pair", "padding") and not isinstance(value, (list, tuple, str)):
        return clamp(value)
    if field.kind in ("pair", "padding") and isinstance(value, (list, tuple)) and len(value) == 2:
        parts = [clamp(v) for v in value]
        return None if None in parts else parts
    if field.kind == "int_list" and isinstance(value, (list, tuple)) and value:
        parts = [clamp(v) for v in value]
        return None if None in parts else parts
    return None


def _cross_field_candidates(design: dict[str, Any], index: int, cls: type[Layer]) -> list[_Candidate]:
    """Settings valid one by one but not together: pooling padding more than half the window."""
    layer_config = design["layers"][index]
    names = {f.name for f in cls.fields}
    if not {"pool_size", "padding"} <= names:
        return []
    try:
        kernel = as_pair(layer_config.get("pool_size", cls.field("pool_size").default))
        pad = as_pair(layer_config.get("padding", 0))
    except (TypeError, ValueError):
        return []
    if pad[0] <= kernel[0] // 2 and pad[1] <= kernel[1] // 2:
        return []
    most = (kernel[0] // 2, kernel[1] // 2)
    padding = most[0] if most[0] == most[1] else list(most)
    window = (max(kernel[0], 2 * pad[0]), max(kernel[1], 2 * pad[1]))
    pool_size = window[0] if window[0] == window[1] else list(window)
    return [
        _Candidate(f"Use padding {_value_text(padding)} in layer {index} (at most half the "
                   f"{_pair_text(kernel)} window)", _set_setting(design, index, "padding", padding),
                   _identity(design), index, "set_field", order=0),
        _Candidate(f"Use pool size {_value_text(pool_size)} in layer {index} (so that padding "
                   f"{_value_text(layer_config.get('padding'))} is at most half of it)",
                   _set_setting(design, index, "pool_size", pool_size), _identity(design), index, "set_field",
                   order=1),
    ]


def _shape_candidates(design: dict[str, Any], analysis: Analysis, index: int, layer: Layer) -> list[_Candidate]:
    """The layer does not fit the shape it receives."""
    info = analysis.layers[index]
    in_shape = info.input_shape
    if in_shape is None:
        return []
    candidates: list[_Candidate] = []
    if len(in_shape) == 1 and _needs_image(layer):
        flattener = _flattening_layer(analysis, index)
        if flattener is not None:
            candidates.append(_move(design, index, flattener,
                                    f"Move layer {index} {layer.type_name} before layer {flattener} "
                                    f"{analysis.layers[flattener].type}"))
        return candidates
    if len(in_shape) == 3 and _accepts((int(math.prod(in_shape)),), layer):
        candidates.append(_insert(design, index, [{"type": "Flatten"}],
                                  f"Add Flatten before layer {index} {layer.type_name}", order=0))
        candidates.append(_insert(design, index, [{"type": "GlobalAvgPool2D"}],
                                  f"Add GlobalAvgPool2D before layer {index} {layer.type_name} "
                                  "(one value per feature map)", order=1))
        return candidates
    # A size problem: the window does not fit, or the output would be empty.
    layer_config = design["layers"][index]
    for order, key in enumerate(SHRINKING):
        if key in layer_config or (key in {f.name for f in layer.fields} and layer.field(key).required):
            candidates += _shrink(design, index, layer, key, order)
    if "padding" in {f.name for f in layer.fields}:
        candidates += _grow_padding(design, index, layer)
    candidates += _input_size_candidate(design, analysis, index)
    candidates += _upstream_candidates(design, analysis, index)
    return candidates


def _needs_image(layer: Layer) -> bool:
    return not _accepts((16,), layer) and _accepts((1, 16, 16), layer)


def _accepts(shape: tuple[int, ...], layer: Layer) -> bool:
    try:
        out = layer.compute_output_shape(shape)
    except Exception:  # noqa: BLE001 — any refusal means "does not accept"
        return False
    return all(d >= 1 for d in out)


def _flattening_layer(analysis: Analysis, index: int) -> int | None:
    """The layer above ``index`` whose output stopped being an image (Flatten, Dense, global pooling)."""
    for info in reversed(analysis.layers[:index]):
        if info.input_shape is not None and len(info.input_shape) == 3 and info.output_shape is not None \
                and len(info.output_shape) == 1:
            return info.index
    return None


def _shrink(design: dict[str, Any], index: int, layer: Layer, key: str, order: int) -> list[_Candidate]:
    """The largest kernel / pool size / dilation below the current one that fits."""
    current = as_pair(design["layers"][index].get(key, layer.field(key).default))
    top = max(current)
    if top <= 1:
        return []

    def setting(v: int) -> Any:
        pair = (min(current[0], v), min(current[1], v))
        return pair[0] if pair[0] == pair[1] else list(pair)

    def make(v: int) -> dict[str, Any]:
        return _set_setting(design, index, key, setting(v))

    value, _ = _search(list(range(top - 1, 0, -1)), make, index)
    if value is None:
        return []
    word = _WORDS[key]
    shown = setting(value)
    text = _pair_text(as_pair(shown)) if key != "dilation" else _value_text(shown)
    return [_Candidate(f"Use {word} {text} in layer {index}", make(value), _identity(design), index, "set_field",
                       order=order)]


def _grow_padding(design: dict[str, Any], index: int, layer: Layer) -> list[_Candidate]:
    """The least padding that fits, and 'same' for a convolution."""
    layer_config = design["layers"][index]
    current = layer_config.get("padding", 0)
    candidates = []
    field = layer.field("padding")
    if "same" in field.choices and current != "same":
        candidates.append(_Candidate(f"Use padding 'same' in layer {index} (keeps the size at stride 1)",
                                     _set_setting(design, index, "padding", "same"),
                                     _identity(design), index, "set_field", order=6))
    start = 0 if isinstance(current, str) else max(as_pair(current))
    limit = int(field.maximum or 64)
    if hasattr(layer, "kernel") and "pool_size" in {f.name for f in layer.fields}:
        limit = min(limit, min(layer.kernel) // 2)  # pooling padding is at most half the window

    def make(v: int) -> dict[str, Any]:
        return _set_setting(design, index, "padding", v)

    value, _ = _search(list(range(start + 1, limit + 1)), make, index)
    if value is None:
        return candidates
    verb = f"Add padding {value} to layer {index}" if start == 0 else f"Use padding {value} in layer {index}"
    candidates.insert(0, _Candidate(verb, make(value), _identity(design), index, "set_field", order=5))
    return candidates


def _upstream_candidates(design: dict[str, Any], analysis: Analysis, index: int) -> list[_Candidate]:
    """Too many poolings or strides above: remove the nearest pooling, or give the nearest stride 1."""
    candidates = []
    pooled = strided = False
    for info in reversed(analysis.layers[:index]):
        layer_config = design["layers"][info.index]
        try:
            layer = _make(layer_config)
        except ConfigError:
            continue
        window = layer.window(info.input_shape) if info.input_shape is not None and len(info.input_shape) == 3 \
            else None
        if window is None:
            continue
        if not pooled and "filters" not in layer.settings:
            pooled = True
            candidate = _remove(design, info.index)
            candidate.order = 35
            candidates.append(candidate)
        elif not strided and max(window.stride) > 1 and "stride" in layer_config:
            strided = True
            candidates.append(_Candidate(f"Use stride 1 in layer {info.index}", _set_setting(
                design, info.index, "stride", 1), _identity(design), info.index, "set_field", order=36))
        if pooled and strided:
            break
    return candidates


__all__ = ["suggest_fixes", "fixes_by_problem", "MAX_FIXES"]
