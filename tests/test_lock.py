"""requirements.lock: every dependency pyproject.toml names is pinned, and the venv running the
tests holds exactly the pinned versions (what `make` installs)."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata

import pytest

from conftest import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not name==version"
        pins[_norm(name)] = version
    return pins


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_norm(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0]) for r in reqs}


def test_every_declared_dependency_is_pinned():
    missing = sorted(_declared() - set(_lock()))
    assert not missing, f"pyproject.toml names {missing} but requirements.lock pins none of them: run `make lock`"


def test_the_installed_versions_are_the_locked_ones():
    pins = _lock()
    if not (ROOT / ".venv" / ".installed-stamp").is_file():
        pytest.skip("this environment was not installed by `make` (no .venv/.installed-stamp)")
    wrong = []
    for name in sorted(_declared()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed")
            continue
        if have != pins[name]:
            wrong.append(f"{name}: {have} installed, {pins[name]} locked")
    assert not wrong, "the venv differs from requirements.lock (`make clean-venv install`): " + "; ".join(wrong)
