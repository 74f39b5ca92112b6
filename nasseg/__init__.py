"""nasseg: fast NAS of compact semantic segmentation models via auxiliary cells.

Library layout: ``nasseg.data`` (datasets in real formats, transforms, the embedded
synthetic sets), ``nasseg.metrics`` (confusion-matrix scores and the search reward),
``nasseg.config`` (validated params.yaml). The ``nasseg`` command lives in ``stages/``.
"""
__version__ = "0.1.0"
