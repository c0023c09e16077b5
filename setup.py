"""setuptools reads the project from pyproject.toml; this only lists the packages, because two of
them are data folders outside guicnn/ (resources/ and docs/guide/, see [tool.setuptools.package-dir])
that ``find_packages`` cannot see."""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["guicnn", "guicnn.*"]) + ["guicnn.resources", "guicnn.guide"])
