"""The everyday tools of the ``nasseg`` command, apart from the pipeline's stages: browse a
search (``trials``), an architecture's card and diagram (``arch``, ``draw``), score, predict
with and export a model (``evaluate``, ``predict``, ``export``), time the feature cache
(``bench-cache``)."""
