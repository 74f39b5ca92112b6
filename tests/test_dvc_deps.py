"""dvc.yaml tells the truth: each stage's code deps are exactly the import closure of its
command (tests/import_closure.py), and its other deps are files that exist or that an
earlier stage writes. A stage then reruns exactly when code it runs, or data it reads, changes."""
from __future__ import annotations

import pytest

from import_closure import (ROOT, closure, compact, dep_paths, direct_imports, dvc_stages, expand, is_code,
                            project_modules, stage_files)

STAGES = dvc_stages()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_code_deps_are_the_import_closure(name):
    st = STAGES[name]
    code = [p for p in dep_paths(st) if is_code(p)]
    missing_paths = [p for p in code if not (ROOT / p).exists()]
    assert not missing_paths, f"{name}: dvc.yaml names code paths that do not exist: {missing_paths}"
    listed, needed = expand(code), stage_files(st["cmd"])
    lacks, extra = sorted(needed - listed), sorted(listed - needed)
    assert not lacks and not extra, (
        f"stage {name} ({st['cmd']}):\n  dvc.yaml lacks {lacks}\n  names modules the stage never imports {extra}\n"
        f"  the deps should be: {compact(needed)} (python tests/import_closure.py {name})")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_data_deps_exist_or_are_written_upstream(name):
    outs = set()
    for other in STAGES.values():
        for o in other.get("outs", []) + other.get("metrics", []) + other.get("plots", []):
            outs.add(o if isinstance(o, str) else next(iter(o)))
    for dep in dep_paths(STAGES[name]):
        if is_code(dep):
            continue
        upstream = any(dep == o or dep.startswith(o.rstrip("/") + "/") for o in outs)
        assert upstream or (ROOT / dep).exists(), f"{name}: dep {dep} is neither a file here nor an output of a stage"


def test_no_import_cycle():
    """Module-level and function-level imports together form no cycle (a package's own
    __init__ re-exporting its modules is not a cycle: those edges are left out)."""
    mods = project_modules()
    graph = {m: {d for d in direct_imports(m) if not m.startswith(d + ".")} for m in mods}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(mods):
        if m not in state:
            visit(m)


def test_the_analyser_sees_lazy_imports_and_parent_packages():
    # the closure must include what a function imports when called, and the packages on the way
    search = closure("stages.search")
    assert "nasseg.search.run" in search and "nasseg" in search
    assert any(m.startswith("nasseg.search.") for m in search)
    assert "stages.report" not in closure("stages.cli"), "stages/cli.py must import command modules lazily"
