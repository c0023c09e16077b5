"""The wheel carries what an installed guicnn needs: presets, the digits, the user guide; About's
licence is the project's."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import guicnn

ROOT = Path(__file__).resolve().parent.parent


def test_licence_in_about_is_the_projects():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    licence = project["license"]
    assert guicnn.__license__ == (licence["text"] if isinstance(licence, dict) else licence)
    assert guicnn.__version__ == project["version"]


@pytest.mark.slow
def test_the_wheel_ships_presets_digits_and_the_user_guide(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to the sources
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "guicnn", source / "guicnn", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path), "-q"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("guicnn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (ROOT / "guicnn" / "resources" / "presets").glob("*.json")}
    assert {f"guicnn/resources/presets/{name}" for name in shipped} <= names
    assert {"guicnn/resources/digits.npz", "guicnn/resources/DATA.md"} <= names
    guide = {p.name for p in (ROOT / "guicnn" / "resources" / "guide").glob("*.md")}
    assert "index.md" in guide and {f"guicnn/resources/guide/{name}" for name in guide} <= names
    # installed (unpacked) as pip would: the locators find the shipped folders, not the checkout's
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = ("import guicnn.resources as r; print(r.resource_dir()); print(r.guide_dir()); "
             "from guicnn.core.designfile import load_preset; print(load_preset('lenet5')['name'])")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                           env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert found.returncode == 0, found.stderr[-2000:]
    resources, guide_folder, name = found.stdout.split("\n")[:3]
    assert Path(resources) == target / "guicnn" / "resources"
    assert Path(guide_folder) == target / "guicnn" / "resources" / "guide"
    assert name == "LeNet-5"
