"""`nasseg profile list|diff|use`: run a named set of params (profiles/<name>.yaml) through DVC.

A profile is either *complete* (every section and key of params.yaml, only values differ:
profiles/paper.yaml, profiles/wacv.yaml) or a file of *overrides* (some keys: profiles/tiny.yaml),
merged over the committed params.yaml. ``use`` validates the profile, keeps a backup and writes it
over params.yaml; `dvc repro` or `dvc exp run` then runs it, and DVC sees exactly which params
changed (docs/profiles.md says why this, and not a second params file in dvc.yaml).

A profile may not introduce a key params.yaml lacks: a typo there would otherwise be read by no
stage. Two exceptions, both checked by the schema instead: below a key params.yaml leaves null
(an optional dataset source such as ``data.sources.coco``) a profile gives the mapping that key's
comment shows, and list entries may carry the keys the schema allows.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.markup import escape

from nasseg.config.params import read_params_yaml
from nasseg.errors import ConfigError, NassegError

app = typer.Typer(help="Profiles: named params for a whole run (paper: the CVPR 2019 run on the real datasets; wacv: "
                  "the WACV 2020 template search; tiny: seconds per stage). `use` writes one over params.yaml "
                  "(after a backup), then `dvc exp run` or `dvc repro` runs it. See docs/profiles.md.",
                  no_args_is_help=True, add_completion=False)

PARAMS = typer.Option(Path("params.yaml"), "--params", help="the params file DVC's stages read")
PROFILES = typer.Option(Path("profiles"), "--profiles", help="the folder that holds <name>.yaml profiles")
HEADER = "# nasseg profile use"  # first line of a params.yaml written from an overrides profile
DEFAULT = "default"  # the pseudo-profile: the committed params.yaml (git HEAD)


# ---------------------------------------------------------------------------- reading
def read_yaml(path: Path, what: str) -> dict:
    return read_params_yaml(path, what, hint="")


def profile_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def profile_path(name: str, folder: Path) -> Path:
    """``name`` as profiles/<name>.yaml, or a path to a .yaml file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(profile_names(folder) + [DEFAULT]) or "none"
        raise ConfigError(f"no profile {name!r}: {path} does not exist. Profiles in {folder}/: {known} "
                          "(or give the path of a .yaml file).")
    return path


def git(args: list[str], cwd: Path) -> Optional[str]:
    """git's stdout, or None where git is missing or ``cwd`` is not in a work tree."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def committed_params(params: Path) -> Optional[str]:
    """The text of ``params`` as committed (git HEAD), or None outside git / when never committed."""
    folder = params.resolve().parent
    top = git(["rev-parse", "--show-toplevel"], folder)
    if top is None:
        return None
    rel = params.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
    return git(["show", f"HEAD:{rel}"], folder)


# ---------------------------------------------------------------------------- keys
def is_complete(profile: dict, params: dict) -> bool:
    """Complete: the profile has every section of params.yaml (else it holds overrides)."""
    return all(k in profile for k in params)


def extra_keys(params: Any, profile: Any, prefix: str = "") -> list[str]:
    """Dotted keys of ``profile`` that ``params`` lacks (see the module docstring for the rules)."""
    out = []
    if isinstance(profile, dict) and isinstance(params, dict):
        for k, v in profile.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in params:
                out.append(key)
            else:
                out += extra_keys(params[k], v, key)
    elif isinstance(profile, list) and isinstance(params, list):
        entries = [e for e in params if isinstance(e, dict)]
        if entries:  # a list of mappings (schedule phases): each entry against the keys params.yaml's use
            allowed = {k: v for e in entries for k, v in e.items()}
            for i, e in enumerate(profile):
                if isinstance(e, dict):
                    out += extra_keys(allowed, e, f"{prefix}[{i}]")
    return out


def missing_keys(params: Any, profile: Any, prefix: str = "") -> list[str]:
    """Dotted keys of ``params`` (mappings only) that ``profile`` lacks."""
    out = []
    if isinstance(params, dict) and isinstance(profile, dict):
        for k, v in params.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in profile:
                out.append(key)
            else:
                out += missing_keys(v, profile[k], key)
    return out


ABSENT = "<absent>"


def differences(current: Any, target: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, value in ``current``, value in ``target``) for every key whose value differs.
    Mappings are walked, and lists of mappings of equal length entry by entry; anything else
    (a list, a mapping where the other side holds null) is one value. A key one side lacks shows
    as <absent>."""
    if isinstance(current, dict) and isinstance(target, dict):
        out = []
        for k in [*current, *(k for k in target if k not in current)]:
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in current or k not in target:
                out.append((key, current.get(k, ABSENT), target.get(k, ABSENT)))
            else:
                out += differences(current[k], target[k], key)
        return out
    if (isinstance(current, list) and isinstance(target, list) and len(current) == len(target) and current
            and all(isinstance(e, dict) for e in current + target)):
        return [d for i, (a, b) in enumerate(zip(current, target)) for d in differences(a, b, f"{prefix}[{i}]")]
    return [] if current == target else [(prefix, current, target)]


# ---------------------------------------------------------------------------- resolving
class Profile:
    """A profile resolved against a params file: its raw text, the params it makes, its kind."""

    def __init__(self, name: str, params: Path, folder: Path):
        self.params_path = params
        current = read_yaml(params, "params file (run from the project root or pass --params)")
        if name == DEFAULT:
            text = committed_params(params)
            if text is None:
                raise ConfigError(f"profile {DEFAULT!r} is the committed {params}, and git cannot show it here "
                                  f"(not a git work tree, or {params} never committed). Restore {params} from "
                                  f"{backup_path(params)} or your own copy instead.")
            self.name, self.path, self.text, self.complete = DEFAULT, None, text, True
            self.raw = yaml.safe_load(text) or {}
        else:
            self.path = profile_path(name, folder)
            self.name, self.text = self.path.stem, self.path.read_text()
            self.raw = read_yaml(self.path, "profile")
            self.complete = is_complete(self.raw, current)
        # the keys a profile must stay within and (complete ones) set: the current params.yaml's,
        # and the committed one's where git has it (params.yaml may hold what `use` wrote)
        committed = committed_params(params)
        self.references = [current] + ([yaml.safe_load(committed) or {}] if committed is not None else [])
        if self.complete:
            self.params, self.base_note = self.raw, None
        else:
            if committed is not None:
                base, self.base_note = self.references[1], f"the committed {params.name} (git HEAD)"
            else:
                base, self.base_note = current, f"the current {params.name} (git cannot show a committed one)"
            from nasseg.config import apply_overrides

            self.params = apply_overrides(base, self.raw)

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else f"the committed {self.params_path.name}"

    def validate(self) -> None:
        """Raise ConfigError when the profile introduces keys, misses keys (complete ones), or
        does not validate; every offending key is named."""
        from nasseg.config import parse_params

        extra = [k for k in extra_keys(self.references[0], self.raw)
                 if all(k in extra_keys(r, self.raw) for r in self.references[1:])]
        if extra:
            raise ConfigError(f"{self.label}: {len(extra)} key(s) that {self.params_path} lacks, which no stage "
                              f"reads: {', '.join(extra)}. A profile may only change values; fix the spelling or add "
                              "the key to params.yaml (with its schema in nasseg/config) first.")
        if self.complete:
            missing = list(dict.fromkeys(k for r in self.references for k in missing_keys(r, self.raw)))
            if missing:
                raise ConfigError(f"{self.label}: has every section of {self.params_path} but lacks {len(missing)} "
                                  f"key(s): {', '.join(missing)}. A complete profile sets every key (DVC's stages "
                                  "read them by name); add them with the value the profile means.")
        parse_params(self.params, self.label)

    def rendered(self) -> str:
        """The text ``use`` writes: a complete profile's own text (its comments say each value's
        source); an overrides profile's merged params under a header naming its base."""
        if self.complete:
            return self.text
        body = yaml.safe_dump(self.params, sort_keys=False, allow_unicode=True)
        return (f"{HEADER} {self.name}: {self.label} over {self.base_note}; body sha1 {sha1(body)}\n"
                f"# restore with `nasseg profile use {DEFAULT}` or from {backup_path(self.params_path).name}\n"
                + body)


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def backup_path(params: Path) -> Path:
    return params.with_name(params.name + ".bak")


def unsaved_edits(params: Path, folder: Path) -> Optional[str]:
    """Why writing over ``params`` could lose edits, or None when its content is safe elsewhere:
    committed (git), a profile's own text, or a params file ``use`` wrote from an overrides profile."""
    text = params.read_text()
    if any(text == p.read_text() for p in folder.glob("*.yaml")):
        return None
    first, _, rest = text.partition("\n")
    if first.startswith(HEADER) and "body sha1 " in first:
        body = rest.partition("\n")[2]
        if first.rsplit("body sha1 ", 1)[1].strip() == sha1(body):
            return None
    committed = committed_params(params)
    if committed is None:
        return (f"git cannot tell whether {params} has uncommitted edits here (not a git work tree, or the file was "
                "never committed)")
    if committed != text:
        return f"{params} has edits that are not committed and match no profile in {folder}/"
    return None


# ---------------------------------------------------------------------------- commands
def say(text: str, style: str = "") -> None:
    from nasseg.progress import console

    console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False, soft_wrap=True)


def show(v: Any) -> str:
    """A value as one line (YAML's flow style: null, 0.1, [0.7, 1.4], {a: 1})."""
    if v == ABSENT:
        return v
    return yaml.safe_dump([v], default_flow_style=True, sort_keys=False, width=10_000).strip()[1:-1]


@app.command("list")
def list_profiles(params: Path = PARAMS, profiles: Path = PROFILES) -> None:
    """The profiles, their kind (complete | overrides) and which one params.yaml holds now.

    Each profile is listed with its first comment line."""
    from nasseg.progress import console, table

    current_text = params.read_text() if params.is_file() else None
    current = read_yaml(params, "params file") if params.is_file() else {}
    rows = []
    for name in profile_names(profiles):
        path = profiles / f"{name}.yaml"
        raw = read_yaml(path, "profile")
        kind = "complete" if current and is_complete(raw, current) else "overrides"
        about = next((l.lstrip("# ").strip() for l in path.read_text().splitlines() if l.startswith("#")), "")
        held = "yes" if current_text is not None and (current_text == path.read_text() or current_text.startswith(
            f"{HEADER} {name}:")) else ""
        rows.append([name, kind, held, about[:90]])
    if not rows:
        raise NassegError(f"no profiles in {profiles}/ (profiles/<name>.yaml); run from the project root or pass "
                          "--profiles.")
    console.print(table(f"profiles in {profiles}/ (`nasseg profile diff NAME`, `nasseg profile use NAME`)",
                        ["profile", "kind", f"in {params.name} now", "about"], rows))


@app.command("diff")
def diff(
    name: str = typer.Argument(..., help="a profile: paper, wacv, tiny (profiles/<name>.yaml), a .yaml path, or "
                               "'default' (the committed params.yaml)"),
    params: Path = PARAMS,
    profiles: Path = PROFILES,
) -> None:
    """Validate a profile; print the keys whose values differ from params.yaml.

    One line per dotted key: the value in params.yaml now, then the profile's."""
    prof = Profile(name, params, profiles)
    prof.validate()
    current = read_yaml(params, "params file")
    rows = differences(current, prof.params)
    kind = "complete" if prof.complete else f"overrides over {prof.base_note}"
    if not rows:
        say(f"{prof.label} ({kind}) is valid and sets the same values as {params}.")
        return
    say(f"{prof.label} ({kind}) is valid; {len(rows)} key(s) differ from {params}:", "bold")
    width = max(len(k) for k, _, _ in rows)
    for key, now, then in rows:
        say(f"  {key:<{width}}  {show(now)}  ->  {show(then)}")


@app.command("use")
def use(
    name: str = typer.Argument(..., help="a profile: paper, wacv, tiny (profiles/<name>.yaml), a .yaml path, or "
                               "'default' (the committed params.yaml, to go back)"),
    force: bool = typer.Option(False, "--force", help="write even when params.yaml holds edits that are neither "
                               "committed nor a profile's (they stay in the backup)"),
    params: Path = PARAMS,
    profiles: Path = PROFILES,
) -> None:
    """Write a profile over params.yaml (validated; backup in params.yaml.bak).

    `dvc exp run` (or `dvc repro`) then runs it. Refuses when params.yaml has edits that would be
    lost (neither committed nor a profile's text) unless --force."""
    prof = Profile(name, params, profiles)
    prof.validate()
    text = prof.rendered()
    if params.read_text() == text:
        say(f"{params} already holds {prof.label}; nothing to write. Run it with `dvc exp run` or `dvc repro`.")
        return
    reason = unsaved_edits(params, profiles)
    if reason is not None and not force:
        raise NassegError(f"{reason}; writing {prof.label} over it could lose them. Commit or copy them first, or "
                          f"pass --force (the current file is then kept as {backup_path(params)}).")
    changed = len(differences(read_yaml(params, "params file"), prof.params))
    backup = backup_path(params)
    shutil.copy2(params, backup)
    tmp = params.with_name(params.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(params)
    say(f"wrote {prof.label} over {params} ({changed} key(s) changed); the previous file is {backup}.", "green")
    say("Run it: `dvc exp run -n <name>` (an experiment DVC records with these params) or `dvc repro`. "
        f"Go back: `nasseg profile use {DEFAULT}` (the committed params) or `cp {backup} {params}`.")
