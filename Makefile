# Two commands set everything up on a fresh machine (README, "Set up"):
#   make repro   create .venv, install, run the DVC pipeline on the embedded default
#   make test    create .venv, install, run the test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install repro test clean-venv

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

clean-venv:
	rm -rf $(VENV)
