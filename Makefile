# Two entry points (see README): `make all` runs every experiment and builds the book; `make test` runs the suite.
# Both create or refresh the local virtual environment .venv from this repository's own files.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The torch build is an explicit choice. torch==2.13.0 is the CPU wheel on this project's CPU machines.
# Elsewhere, pick the build with pip's index, e.g. CPU:  make TORCH_INDEX=https://download.pytorch.org/whl/cpu
# or a CUDA build: make TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PROFILE ?= full
# where tiny-LM runs train (see README): pool, sequential, dask, dask:tcp://HOST:PORT
EXECUTOR ?= $(or $(RLVR_EXECUTOR),pool)

.PHONY: all venv test lint bases book clean-book smoke

$(BIN)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[dev,math,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(BIN)/.installed

all: venv
	$(BIN)/python -m rlvr_lib.main --profile $(PROFILE) --executor $(EXECUTOR)

bases: venv
	$(BIN)/python -m rlvr_lib.main --only bases

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv lint
	bash scripts/test_deps.sh
	$(BIN)/python -m pytest -q --durations=15

clean-book:
	rm -rf book/_build

# mutation testing of the statistics and verdict code, on demand (not part of `make test`); reports in
# results/mutants/. MUTATE narrows it, e.g. make mutants MUTATE=rlvr_lib/stats.py
.PHONY: mutants
mutants: venv
	$(BIN)/python scripts/mutants.py $(MUTATE)
