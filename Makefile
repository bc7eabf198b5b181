# ccelim: `make serve` runs the service, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?= -n 2 --timeout 900

.PHONY: install test serve lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/ccelim serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python benchmarks/kernels.py
	JAX_PLATFORMS=cpu $(BIN)/python benchmarks/search.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
