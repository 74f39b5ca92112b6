# Two commands set everything up on a fresh machine (README, "Set up"):
#   make repro   create .venv, install, run the DVC pipeline on the embedded default
#   make test    create .venv, install, run the test suite
#   make gpu-check  on a GPU machine: every computing stage on the GPU (fp16, bf16)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PIP    := $(PY) -m pip install --disable-pip-version-check -q --no-compile
LOCK   := requirements.lock
PYTEST_ARGS ?=

.PHONY: install repro test gpu-check gpu-wheels gpu-check-device lock clean-venv

# Python writes each module's bytecode the first time it is imported, and reads it after. pip
# would instead compile all 14,000 files of the venv at install (torch, ray, dvc, ...: ~30 s of a
# fresh install); most are never imported here. Some machines set PYTHONDONTWRITEBYTECODE, which
# with --no-compile would recompile every import of every process (torch's: +7 s each), so the
# commands below run without it.
unexport PYTHONDONTWRITEBYTECODE

# Every install takes the exact versions in requirements.lock, so a fresh clone gets what CI and
# the README's figures got. On the platform the lock was resolved on (Linux x86_64, Python 3.11:
# its second line) the lock is the whole closure (`make lock` has pip resolve torch and
# torchvision together, then freezes what it chose), so it installs without the resolver
# (--no-deps), in two pip processes at once, each taking every other line: unpacking ~5 GB of
# wheels is most of a fresh install and one pip does it on one core. Elsewhere pip resolves the
# project with the lock as constraints (pins of packages that platform does not need, such as
# the nvidia-* wheels, are ignored). Either way `pip check` then confirms every requirement is met.
LOCK_PLATFORM := import platform, sys; sys.exit((platform.system(), platform.machine(), sys.version_info[:2]) != ("Linux", "x86_64", (3, 11)))

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || python3 -m venv $(VENV)
	@if $(PY) -c '$(LOCK_PLATFORM)'; then \
	  echo "installing requirements.lock (--no-deps, two halves at once), then the project"; \
	  grep -vE '^(#|$$)' $(LOCK) | awk 'NR % 2 == 1' > $(VENV)/.lock-half-1 && \
	  grep -vE '^(#|$$)' $(LOCK) | awk 'NR % 2 == 0' > $(VENV)/.lock-half-2 && \
	  { $(PIP) --no-deps -r $(VENV)/.lock-half-1 & one=$$!; \
	    $(PIP) --no-deps -r $(VENV)/.lock-half-2 & two=$$!; wait $$one && wait $$two; } && \
	  $(PIP) --no-deps -e .; \
	else \
	  echo "not the lock's platform: pip resolves the project, the lock as constraints"; \
	  $(PIP) -c $(LOCK) -e ".[dev,all]"; \
	fi
	$(PY) -m pip check
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

# A lent GPU machine (README, "A GPU session") has no registry and its own Python 3.12 with
# torch, typer, rich, pyyaml, h5py, numpy, pillow, scipy and matplotlib, but not pydantic or
# pycocotools. Here: fetch those at the lock's versions as Python 3.12 wheels into .whl/ (git
# ignores it: carry it). There: install them beside the system's Python and run the check with
# it, writing the JSON to $OUT (what a call of the device tool brings back) or results/.
GPU_WHEELS := pydantic pydantic_core annotated-types typing-inspection typing_extensions pycocotools
gpu-wheels:
	rm -rf .whl && mkdir -p .whl
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	  $$(for w in $(GPU_WHEELS); do grep -iE "^$$(echo $$w | sed 's/[-_]/[-_]/g')==" $(LOCK); done)
	@ls .whl

gpu-check-device:
	python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
	PYTHONPATH=/tmp/site:$(CURDIR) NASSEG_NO_PROGRESS=1 python3 -m stages gpu-check --out $${OUT:-results}/gpu_check.json

# Re-resolve every dependency from the registry in a scratch venv (no constraints) and rewrite
# requirements.lock with what pip chose; review the diff, run `make test`, commit both.
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/python -m pip install --disable-pip-version-check -q -e ".[dev,all]"
	{ sed -n '1,2p' $(LOCK); .lock-venv/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .lock-venv
	@echo "requirements.lock rewritten: git diff requirements.lock"

clean-venv:
	rm -rf $(VENV)
