"""`guicnn summary`: the one-edit fixes under the errors, and --explain LAYER."""

from __future__ import annotations

import json

from guicnn import cli

TOO_SMALL = {"input_shape": [1, 8, 8], "layers": [
    {"type": "Conv2D", "filters": 6, "kernel_size": 5, "padding": 2}, {"type": "MaxPool2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 16, "kernel_size": 5}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]}


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_prints_the_fixes_under_the_errors(capsys, tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps(TOO_SMALL))
    code, out, err = run(capsys, "summary", path)
    assert code == 1 and err.count("\n") == 1 and "layer 2 Conv2D: kernel 5x5 is larger" in err
    errors_at = out.index("! layer 2 Conv2D: kernel 5x5 is larger")
    fixes_at = out.index("Fixes (each changes one thing; ✓ = the whole design is then valid):")
    assert errors_at < fixes_at
    lines = out[fixes_at:].splitlines()
    assert lines[1] == "  layer 2 Conv2D:"
    assert "    ✓ Use kernel 4×4 in layer 2" in lines
    assert "    ✓ Set the input to 1×10×10 (the smallest that fits)" in lines
    assert "    ✓ Remove layer 1 MaxPool2D" in lines


def test_a_valid_design_has_no_fixes_section(capsys):
    code, out, _ = run(capsys, "summary", "lenet5")
    assert code == 0 and "Fixes" not in out


def test_explain_prints_a_layers_arithmetic(capsys):
    code, out, _ = run(capsys, "summary", "lenet5", "--explain", "3", "--explain", "2")
    assert code == 0
    conv = out.index("Layer 3 Conv2D 16@5x5 s1 p0")
    pool = out.index("Layer 2 MaxPool2D 2x2")
    assert conv < pool
    assert "Parameters: k_h·k_w·C_in·C_out + C_out = 5·5·6·16 + 16 = 2,416" in out[conv:pool]
    assert "Jump: j = j_in·s = 1·2 = 2" in out[pool:]


def test_explain_of_a_missing_layer_is_one_clear_error(capsys):
    code, _, err = run(capsys, "summary", "lenet5", "--explain", "13")
    assert code == 1 and err.strip() == "guicnn: error: --explain 13: the design has layers 0 to 12"
