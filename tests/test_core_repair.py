"""suggest_fixes: every shape problem gets one-edit fixes that help, and one that makes the design valid."""

import copy
import json

import numpy as np
import pytest

from guicnn.core import Sequential, analyze
from guicnn.core.analysis import fixes_by_problem, suggest_fixes
from guicnn.core.designfile import load_preset
from guicnn.core.fixes import Fix

POOLS = ["MaxPool2D", "AvgPool2D", "MinPool2D", "SumPool2D"]


def random_valid_design(rng):
    """A small valid CNN: conv/pool blocks, then a head (Flatten + Dense, or global pooling)."""
    while True:
        size = int(rng.integers(8, 33))
        layers = []
        for _ in range(int(rng.integers(1, 4))):
            conv = {"type": "Conv2D", "filters": int(rng.integers(1, 4)), "kernel_size": int(rng.integers(1, 6))}
            if rng.random() < 0.4:
                conv["padding"] = ["same", 1, 2, "valid"][int(rng.integers(0, 4))]
            if rng.random() < 0.3:
                conv["stride"] = int(rng.integers(1, 3))
            if rng.random() < 0.2:
                conv["dilation"] = 2
            layers.append(conv)
            layers.append({"type": ["ReLU", "Tanh", "LeakyReLU"][int(rng.integers(0, 3))]})
            if rng.random() < 0.7:
                pool = {"type": POOLS[int(rng.integers(0, 4))], "pool_size": int(rng.integers(2, 4))}
                if rng.random() < 0.3:
                    pool["stride"] = 1
                layers.append(pool)
        if rng.random() < 0.6:
            layers += [{"type": "Flatten"}, {"type": "Dense", "units": int(rng.integers(2, 10))}]
        else:
            layers += [{"type": "GlobalAvgPool2D"}, {"type": "Dense", "units": int(rng.integers(2, 10))}]
        design = {"name": "random", "input_shape": [int(rng.integers(1, 3)), size, size], "layers": layers}
        if analyze(design).valid:
            return design


def _index_of(design, types):
    found = [i for i, layer in enumerate(design["layers"]) if layer["type"] in types]
    return found


def break_design(design, rng):
    """One random edit of the kinds a user makes (or a file holds) that breaks the design."""
    design = copy.deepcopy(design)
    layers = design["layers"]
    convs, pools = _index_of(design, ["Conv2D"]), _index_of(design, POOLS)
    kind = int(rng.integers(0, 12))
    if kind == 0:
        side = int(rng.integers(1, 6))
        design["input_shape"] = [design["input_shape"][0], side, side + int(rng.integers(0, 3))]
    elif kind == 1:
        layers[int(rng.choice(convs))]["kernel_size"] = int(rng.integers(8, 40))
    elif kind == 2 and pools:
        layers[int(rng.choice(pools))]["pool_size"] = int(rng.integers(6, 30))
    elif kind == 3:
        spot = int(rng.integers(0, len(layers) - 1))
        for _ in range(int(rng.integers(2, 6))):
            layers.insert(spot, {"type": "MaxPool2D", "pool_size": 2})
    elif kind == 4 and _index_of(design, ["Flatten"]):
        layers.pop(_index_of(design, ["Flatten"])[0])
    elif kind == 5:
        layers.append({"type": "Conv2D", "filters": 2, "kernel_size": 3})
    elif kind == 6 and pools:
        pool = layers[int(rng.choice(pools))]
        pool["padding"] = pool["pool_size"] // 2 + int(rng.integers(1, 3))
    elif kind == 7:
        layer = layers[int(rng.integers(0, len(layers)))]
        layer["type"] = layer["type"].lower()
    elif kind == 8:
        conv = layers[int(rng.choice(convs))]
        conv["kernal_size"] = conv.pop("kernel_size")
    elif kind == 9:
        layers[int(rng.choice(convs))][["stride", "filters", "kernel_size"][int(rng.integers(0, 3))]] = \
            int(rng.integers(-3, 1))
    elif kind == 10:
        layers[int(rng.choice(convs))]["dilation"] = int(rng.integers(6, 20))
    else:
        conv = layers[int(rng.choice(convs))]
        conv["stride"] = int(rng.integers(6, 20))
    return design


def broken_designs(count, seed=0):
    rng = np.random.default_rng(seed)
    designs = []
    while len(designs) < count:
        broken = break_design(random_valid_design(rng), rng)
        if not analyze(broken).valid:
            designs.append(broken)
    return designs


def first_problem(analysis):
    if analysis.input_error:
        return -1
    errors = [i.index for i in analysis.layers if i.error]
    return min(errors) if errors else None


def origin_of(before, fix):
    """For each layer of the fixed design, its index in the original (new layers: -1)."""
    n_before, n_after = len(before["layers"]), len(fix.design["layers"])
    if fix.kind == "remove_layer":
        return [j if j < fix.layer else j + 1 for j in range(n_after)]
    if fix.kind == "insert_layers":
        added = n_after - n_before
        return list(range(fix.layer)) + [-1] * added + list(range(fix.layer, n_before))
    if fix.kind == "move_layer":
        moved = [j for j in range(n_before)]
        target = next(t for t in range(n_after) if fix.design["layers"][t] == before["layers"][fix.layer]
                      and t != fix.layer)
        moved.insert(target, moved.pop(fix.layer))
        return moved
    return list(range(n_after))


def changes_one_thing(before, after, fix):
    """The fix edits the input shape, or one layer: changed, removed, inserted or moved."""
    if fix.kind == "set_input":
        return after["layers"] == before["layers"] and after["input_shape"] != before.get("input_shape")
    if after.get("input_shape") != before.get("input_shape"):
        return False
    old, new = before["layers"], after["layers"]
    if len(new) == len(old):
        differing = [j for j in range(len(old)) if old[j] != new[j]]
        if differing == [fix.layer]:
            return True
        moved = old[fix.layer]
        rest_old = [layer for j, layer in enumerate(old) if j != fix.layer]
        rest_new = list(new)
        rest_new.remove(moved)
        return fix.kind == "move_layer" and rest_old == rest_new
    if len(new) == len(old) - 1:
        return new == old[: fix.layer] + old[fix.layer + 1:]
    if len(new) == len(old) + 1:
        return new[: fix.layer] + new[fix.layer + 1:] == old
    return False


def made_progress(before, fix):
    """The problem it was offered for is gone and nothing above it broke; or the design is valid."""
    after = analyze(fix.design)
    if after.valid:
        return True
    origin = origin_of(before, fix)
    problem_before = first_problem(analyze(before))
    problem_after = first_problem(after)
    if problem_after == -1:
        return False
    return origin[problem_after] > problem_before or (
        origin[problem_after] == problem_before and len(after.errors) < len(analyze(before).errors))


def test_hundreds_of_broken_designs_get_fixes_that_help():
    designs = broken_designs(300, seed=12)
    kinds = set()
    rng = np.random.default_rng(0)
    for design in designs:
        snapshot = json.dumps(design)
        fixes = suggest_fixes(design)
        assert json.dumps(design) == snapshot, "suggest_fixes must not change the design it is given"
        assert fixes, analyze(design).errors
        for fix in fixes:
            assert isinstance(fix, Fix) and fix.description and fix.description[0].isupper()
            kinds.add(fix.kind)
            assert changes_one_thing(design, fix.design, fix), (fix.description, design)
            assert made_progress(design, fix), (fix.description, analyze(design).errors,
                                                analyze(fix.design).errors)
        valid = [fix for fix in fixes if analyze(fix.design).valid]
        assert valid, (analyze(design).errors, [f.description for f in fixes])
        # The valid ones come first, and the design they give builds and runs.
        assert fixes[: len(valid)] == valid
        fixed = valid[int(rng.integers(0, len(valid)))].design
        model = Sequential.from_config(fixed, seed=0)
        x = rng.random((2, *fixed["input_shape"]), dtype=np.float32)
        out = model.forward(x)
        assert out.shape == (2, *analyze(fixed).output_shape) and np.all(np.isfinite(out))
    assert {"set_input", "set_field", "remove_layer", "insert_layers", "move_layer", "set_type",
            "rename_field"} <= kinds


def test_the_smallest_input_that_fits_is_the_smallest():
    design = load_preset("lenet5")
    design["layers"][0]["padding"] = 0  # 28 → 24 → 12 → 8 → 4: fits; then shrink the input
    design["input_shape"] = [1, 12, 12]
    fix = next(f for f in suggest_fixes(design) if f.kind == "set_input")
    assert fix.description == "Set the input to 1×16×16 (the smallest that fits)"
    assert analyze(fix.design).valid
    assert not analyze({**design, "input_shape": [1, 15, 16]}).valid
    assert not analyze({**design, "input_shape": [1, 16, 15]}).valid


def test_kernel_padding_and_pool_fixes_read_like_the_buttons():
    design = load_preset("lenet5")
    design["input_shape"] = [1, 8, 8]  # conv2 (layer 3) gets a 4×4 input for its 5×5 kernel
    by_problem = fixes_by_problem(design)
    assert list(by_problem) == [3]
    texts = [f.description for f in by_problem[3]]
    assert texts[:3] == ["Use kernel 3×3 in layer 3", "Add padding 1 to layer 3",
                         "Use padding 'same' in layer 3 (keeps the size at stride 1)"]
    assert "Set the input to 1×12×12 (the smallest that fits)" in texts
    assert "Remove layer 2 MaxPool2D" in texts
    fix = by_problem[3][0]
    assert fix.layer == 3 and fix.kind == "set_field" and fix.design["layers"][3]["kernel_size"] == 3


def test_dense_without_flatten_and_conv_after_flatten():
    design = load_preset("lenet5")
    del design["layers"][6]  # Flatten
    texts = [f.description for f in suggest_fixes(design)]
    assert texts[0] == "Add Flatten before layer 6 Dense"

    design = load_preset("lenet5")
    design["layers"].insert(8, {"type": "Conv2D", "filters": 4, "kernel_size": 3})
    fixes = suggest_fixes(design)
    assert fixes[0].description == "Move layer 8 Conv2D before layer 6 Flatten"
    assert fixes[0].kind == "move_layer" and analyze(fixes[0].design).valid


def test_settings_problems():
    design = load_preset("lenet5")
    design["layers"][2]["padding"] = 2
    texts = [f.description for f in suggest_fixes(design)]
    assert texts[:2] == ["Use padding 1 in layer 2 (at most half the 2×2 window)",
                         "Use pool size 4 in layer 2 (so that padding 2 is at most half of it)"]

    design = load_preset("lenet5")
    design["layers"][3]["stride"] = 0
    assert suggest_fixes(design)[0].description == "Set stride to 1 in layer 3 (allowed: ≥ 1 and ≤ 64)"

    design = load_preset("lenet5")
    design["layers"][0]["type"] = "conv2D"
    assert suggest_fixes(design)[0].description == "Change layer 0's type to Conv2D"


@pytest.mark.parametrize("design", [
    None, 3, "text", [], {}, {"layers": 5}, {"input_shape": "x", "layers": [None, 3, {"type": 5}]},
    {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2D"}]}, {"input_shape": [0, -1, 1e9]},
    {"input_shape": [1, 28, 28], "layers": [{"type": "SpatialPyramidPool2D", "levels": []}]},
    {"input_shape": [float("nan")], "layers": [{"type": "Dense", "units": 2, "name": 7}]},
])
def test_never_raises(design):
    fixes = suggest_fixes(design)
    assert isinstance(fixes, list)
    for fix in fixes:
        assert isinstance(fix, Fix)


def test_missing_input_and_missing_required_setting():
    design = {"layers": [{"type": "Conv2D", "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 2}]}
    texts = [f.description for f in suggest_fixes(design)]
    assert "Set the input to 1×28×28 (a grey 28×28 image)" in texts
    assert "Set filters to 8 in layer 0" in texts


def test_a_valid_design_needs_no_fixes():
    assert suggest_fixes(load_preset("lenet5")) == []
