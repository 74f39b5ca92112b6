"""User-facing errors.

Every error a user can cause (bad input file, bad param, missing dataset) is raised as a
:class:`NassegError` whose message names the offending thing and the fix. The CLI prints
these without a traceback; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class NassegError(Exception):
    """An error caused by input the user controls; its message says what to do."""


class DataError(NassegError):
    """A dataset file is missing, unreadable or inconsistent."""


class ConfigError(NassegError):
    """A params.yaml key is missing, of the wrong type or out of range."""


class GenotypeError(NassegError, ValueError):
    """A genotype that is malformed or has an index out of range for its position."""
