"""The strict base of every params section, and what all sections share."""
from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A section (or sub-section) of ``params.yaml``.

    Integers and booleans are strict: ``train: "5"`` or ``flip: "yes"`` in YAML is a typo to
    report, not a value to coerce; unknown keys are errors; values are frozen.

    ``later_keys`` names keys added after run identities were recorded (search stores,
    resume checkpoints, cards): :func:`identity_dump` leaves them out while they hold their
    default, so an identity recorded before a key existed stays valid.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    later_keys: ClassVar[tuple[str, ...]] = ()


def identity_dump(section: BaseModel) -> dict[str, Any]:
    """``section.model_dump(mode="json")`` without the later keys that hold their default, at
    every depth: the form every run identity hashes."""
    dump = section.model_dump(mode="json")
    _drop_later(section, dump)
    return dump


def _drop_later(obj: Any, dump: Any) -> None:
    if isinstance(obj, (list, tuple)):
        for o, d in zip(obj, dump):
            _drop_later(o, d)
        return
    if not isinstance(obj, BaseModel):
        return
    fields = type(obj).model_fields
    for key in getattr(obj, "later_keys", ()):
        if getattr(obj, key) == fields[key].get_default(call_default_factory=True):
            dump.pop(key, None)
    for key in fields:
        if key in dump:
            _drop_later(getattr(obj, key), dump[key])


def check_sets(value: str) -> str:
    """A params ``sets`` / ``val_set`` value: '+'-joined names of sets that prepare writes."""
    from ..data.names import PREPARED_SETS  # lazy: nasseg.data's loaders import the config

    unknown = [n for n in value.split("+") if n.strip() not in PREPARED_SETS]
    if unknown:
        raise ValueError(f"unknown set(s) {unknown}; sets written by prepare: {', '.join(PREPARED_SETS)} "
                         "(join with '+')")
    return value
