"""nasseg: fast NAS of compact semantic segmentation models via auxiliary cells (CVPR 2019)
and its template-based follow-up (WACV 2020), as a DVC pipeline.

The top-level API, in the manner of ``timm.create_model``::

    import nasseg
    nasseg.list_archs()                                   # registered names
    model = nasseg.build_model("arch0", num_classes=21)   # a name, a genotype object, its text or its nested list

Library layout (README, "Layout"): ``nasseg.config`` (params.yaml, one module per section),
``nasseg.spaces`` (the search spaces: ``cells``, ``templates``), ``nasseg.models`` (encoder,
zoo, baselines), ``nasseg.data`` / ``nasseg.synthetic`` (datasets in the real formats and the
embedded generators), ``nasseg.cache``, ``nasseg.search``, ``nasseg.training``,
``nasseg.experiments``, ``nasseg.transfer``, ``nasseg.report``, ``nasseg.tools``. The
``nasseg`` command lives in ``stages/``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Top-level names, imported on first use (PEP 562) so that `import nasseg.<anything>` stays light
# and each DVC stage's import closure holds only what it uses (tests/import_closure.py reads this).
_LAZY = {
    "build_model": "nasseg.models.zoo",
    "list_archs": "nasseg.models.zoo",
    "count_params": "nasseg.models.zoo",
    "parse_genotype": "nasseg.spaces",
    "get_space": "nasseg.spaces",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nasseg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
