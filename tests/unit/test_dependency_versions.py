"""The SQLAlchemy and aiosqlite installed are within the ranges pyproject pins, and those
ranges have both bounds: an upgrade must not break ``db/sqlite_dialect.py`` (built on
SQLAlchemy's asyncio adapter) or the storage tests silently."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import db

PYPROJECT = Path(db.__file__).resolve().parents[1] / "pyproject.toml"


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {req.name.lower(): req for req in map(Requirement, lines)}


@pytest.mark.parametrize("name", ["sqlalchemy", "aiosqlite"])
def test_pinned_with_a_lower_and_an_upper_bound(name: str) -> None:
    specifier = _requirements()[name].specifier
    operators = {spec.operator for spec in specifier}
    assert operators & {">=", ">", "==", "~="}, f"{name} needs a lower bound: {specifier}"
    assert operators & {"<", "<=", "==", "~="}, f"{name} needs an upper bound: {specifier}"


@pytest.mark.parametrize("name", ["sqlalchemy", "aiosqlite"])
def test_installed_version_is_in_the_pinned_range(name: str) -> None:
    specifier = _requirements()[name].specifier
    installed = Version(metadata.version(name))
    assert specifier.contains(installed, prereleases=True), (
        f"{name} {installed} is outside {specifier}, the range db/sqlite_dialect.py and the "
        "tests were written against: test it and move the pin"
    )
