"""Option values the tools parse alike: comma-separated numbers, test scales, a person box."""
from __future__ import annotations

from typing import Optional

from nasseg.errors import NassegError


def numbers(text: Optional[str], what: str, count: Optional[int] = None) -> Optional[tuple[float, ...]]:
    """``"0.75,1,1.25"`` -> ``(0.75, 1.0, 1.25)``; None stays None; ``what`` names the option in errors."""
    if text is None:
        return None
    try:
        vals = tuple(float(s) for s in text.split(","))
    except ValueError:
        raise NassegError(f"{what} {text!r}: give comma-separated numbers.") from None
    if count is not None and len(vals) != count:
        raise NassegError(f"{what} {text!r}: give {count} comma-separated numbers.")
    return vals


def scales(text: Optional[str]) -> tuple[float, ...]:
    """--scales of multi-scale testing, e.g. ``0.75,1,1.25``; none given is ``(1.0,)``."""
    sc = numbers(text, "--scales") or (1.0,)
    if any(s <= 0 for s in sc):
        raise NassegError(f"--scales {text!r}: scales must be positive, e.g. 0.75,1,1.25")
    return sc


def box(text: Optional[str]) -> Optional[tuple[float, ...]]:
    """--box x,y,w,h of a person, in pixels (None: the whole image)."""
    b = numbers(text, "--box", 4)
    if b is not None and (b[2] <= 0 or b[3] <= 0):
        raise NassegError(f"--box {text!r}: width and height must be positive (x,y,w,h).")
    return b
