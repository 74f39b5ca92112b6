"""The project modules each DVC stage runs: the import closure of its command's module.

dvc.yaml's code deps of a stage must be exactly these files (tests/test_dvc_deps.py checks it).
The closure is read from the source (``ast``), not from a running process, so that it holds
every path the stage can take: imports inside functions (lazy imports) count, importing
``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``, and ``from nasseg import build_model``
follows the top-level lazy attributes (``nasseg._LAZY``) to the module that defines them.

Run ``python tests/import_closure.py [stage ...]`` from the project root to print, per stage,
the deps dvc.yaml should list (whole folders where every module of the folder is imported).
"""
from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nasseg", "stages")


@lru_cache(maxsize=None)
def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _lazy_attributes() -> dict[str, str]:
    """``nasseg._LAZY``: top-level names of the package -> the module that defines them."""
    tree = ast.parse((ROOT / "nasseg" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_LAZY" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _owner(name: str) -> str | None:
    """The project module a dotted name lives in (``nasseg.models.zoo.build_model`` -> ``nasseg.models.zoo``)."""
    mods = project_modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.AST) -> list[str]:
    mods = project_modules()
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        pkg = module.split(".") if mods[module].name == "__init__.py" else module.split(".")[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join(pkg + ([base] if base else []))
    lazy = _lazy_attributes() if base == "nasseg" else {}
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        out.append(lazy[alias.name] if alias.name in lazy else full if full in mods else base)
    return out


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    """Project modules ``module`` imports anywhere in its body, with the packages they sit in."""
    tree = ast.parse(project_modules()[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(module, node):
                owner = _owner(target) if target.split(".")[0] in PACKAGES else None
                if owner:
                    found.add(owner)
    with_parents = set(found)
    for m in found:
        parts = m.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts)))
    with_parents.discard(module)
    return frozenset(m for m in with_parents if m in project_modules())  # namespace packages have no file


def closure(*roots: str) -> set[str]:
    """Every project module that importing ``roots`` can run (their parent packages included)."""
    seen: set[str] = set()
    parents = [".".join(r.split(".")[:i]) for r in roots for i in range(1, r.count(".") + 1)]
    todo = [m for m in [*roots, *parents] if m in project_modules()]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(direct_imports(m) - seen)
    return seen


def command_module(cmd: str) -> str:
    """The module a dvc.yaml ``cmd`` runs: ``nasseg <name> ...`` -> the dispatcher's table entry."""
    sys.path.insert(0, str(ROOT))
    try:
        from stages.cli import COMMANDS
    finally:
        sys.path.pop(0)
    words = cmd.split()
    if words[0] != "nasseg" or len(words) < 2 or words[1] not in COMMANDS:
        raise ValueError(f"cmd {cmd!r} does not run a `nasseg <command>` of stages/cli.py's COMMANDS")
    return COMMANDS[words[1]][1].split(":")[0]


def stage_files(cmd: str) -> set[str]:
    """Project files (relative paths) a stage's command imports: the console script's
    ``stages.cli`` plus the closure of the sub-command's module."""
    mods = project_modules()
    return {mods[m].relative_to(ROOT).as_posix() for m in closure("stages.cli", command_module(cmd))}


def compact(files: set[str]) -> list[str]:
    """The shortest list of paths covering exactly ``files``: a folder where all its modules are in."""
    all_py = {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    out: list[str] = []
    covered: set[str] = set()
    for f in sorted(files, key=lambda s: (s.count("/"), s)):
        if f in covered:
            continue
        parts = f.split("/")
        chosen = f
        for i in range(1, len(parts)):  # the widest folder whose every module is in `files`
            folder = "/".join(parts[:i])
            inside = {p for p in all_py if p.startswith(folder + "/")}
            if folder not in PACKAGES and inside <= files:
                chosen = folder
                break
        out.append(chosen)
        covered |= {p for p in all_py if p == chosen or p.startswith(chosen + "/")}
    return sorted(out)


def expand(paths: list[str]) -> set[str]:
    """The project .py files a list of dvc.yaml dep paths covers (folders expanded)."""
    out = set()
    for p in paths:
        full = ROOT / p
        if full.is_dir():
            out |= {q.relative_to(ROOT).as_posix() for q in full.rglob("*.py")}
        elif full.suffix == ".py":
            out.add(p)
    return out


def dvc_stages() -> dict[str, dict]:
    """dvc.yaml's stages, ``foreach`` ones expanded (``${item}`` substituted)."""
    import yaml

    raw = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, st in raw.items():
        if "foreach" in st:
            for item in st["foreach"]:
                body = yaml.safe_load(re.sub(r"\$\{item\}", str(item), yaml.safe_dump(st["do"])))
                out[f"{name}@{item}"] = body
        else:
            out[name] = st
    return out


def dep_paths(stage: dict) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


def is_code(path: str) -> bool:
    return path.split("/")[0] in PACKAGES


if __name__ == "__main__":
    wanted = sys.argv[1:]
    for name, st in dvc_stages().items():
        if wanted and name not in wanted:
            continue
        print(f"{name}:  # {st['cmd']}")
        for p in compact(stage_files(st["cmd"])):
            print(f"  - {p}")
