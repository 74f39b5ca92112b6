"""The house rules of issue 16, checked on the source: small modules and functions, no private
name imported across modules. (The import-cycle check is in test_dvc_deps.py.)"""
from __future__ import annotations

import ast

import pytest

from import_closure import ROOT, project_modules

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Data generators draw many kinds of scene; their length is drawing code, not logic to split.
GENERATORS = ("nasseg/synthetic/",)
PROJECT = ("nasseg", "stages")


def _trees():
    for name, path in sorted(project_modules().items()):
        yield name, path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def test_modules_are_small():
    long = {rel: n for _, rel, _ in _trees()
            if (n := len((ROOT / rel).read_text().splitlines())) > MAX_MODULE_LINES and not rel.startswith(GENERATORS)}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_functions_are_short():
    long = []
    for _, rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_private_name_is_imported_from_another_module():
    found = []
    for name, rel, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in PROJECT):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{rel}:{node.lineno} imports {alias.name} from {'.' * node.level}{node.module}")
    assert not found, "private names imported across modules (make them public or move them):\n" + "\n".join(found)


@pytest.mark.parametrize("folder", ["stages"])
def test_stage_files_are_thin(folder):
    # a stage file is a page of argument parsing that calls the library
    heavy = {p.name: n for p in (ROOT / folder).glob("*.py") if (n := len(p.read_text().splitlines())) > 160}
    assert not heavy, f"stage files over 160 lines: {heavy}"
