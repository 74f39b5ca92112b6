# Two commands set everything up on a fresh machine (README, "Set up"):
#   make repro   create .venv, install, run the DVC pipeline on the embedded default
#   make test    create .venv, install, run the test suite
#   make gpu-check  on a GPU machine: every computing stage on the GPU (fp16, bf16)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install repro test gpu-check clean-venv

# pip resolves torch and torchvision together from the registry: a lone CPU torch
# wheel has no matching CPU torchvision, so neither is pinned to a local file.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[dev,all]"
	$(PY) -c "import torch, torchvision; print('torch', torch.__version__, '| torchvision', torchvision.__version__)"
	@touch $(STAMP)

install: $(STAMP)

repro: install
	@test -d .dvc || $(VENV)/bin/dvc init -q
	PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# On a machine with CUDA: every computing stage for a few steps on the GPU in fp16 and bf16, and
# torchrun with NCCL; one JSON of timings and peak memory (results/gpu_check.json). Without
# CUDA it says so and exits 0.
gpu-check: install
	$(VENV)/bin/nasseg gpu-check --out results/gpu_check.json

clean-venv:
	rm -rf $(VENV)
