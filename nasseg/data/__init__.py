"""Datasets in their public formats: loaders, list files, joint transforms, set names, label encodings.

Every dataset yields ``(image, mask)``: image uint8 3 x H x W, mask int64 H x W, 255 = void.
Import from the module that holds a thing (``nasseg.data.catalog.open_set``,
``nasseg.data.transforms.SegmentationTransform``); this package imports nothing, so that
``nasseg.data.names`` and ``nasseg.data.labels`` stay free of the loaders' imports.

- ``names``: every set name ``prepare`` writes; ``labels``: VOC palette, CamVid and Cityscapes label encodings
- ``catalog``: params -> sets on disk, ``open_set``; ``lists``: list files; ``split``: meta-train / meta-val
- ``datasets`` (VOC, SBD, COCO, list files), ``street`` (CamVid, Cityscapes): the loaders; ``io``: file reading
- ``transforms``: the joint image / mask training transform
"""
