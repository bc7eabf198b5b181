# ccelim: `make serve` runs the service, `make test` runs the test suite.
#   make serve PORT=8080 HOST=0.0.0.0    # another port / address
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two installs: the runtime (what `serve` needs) and the runtime plus the dev
# extra (test tools, ruff). A dev install is also a runtime install.
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?= -n 2 --timeout 900

.PHONY: install install-runtime test serve lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(RUNTIME_STAMP)

install: $(STAMP)

install-runtime: $(RUNTIME_STAMP)

test: $(STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python -m pytest $(PYTEST_ARGS)

serve: $(RUNTIME_STAMP)
	JAX_PLATFORMS=cpu $(BIN)/ccelim serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(RUNTIME_STAMP)
	JAX_PLATFORMS=cpu $(BIN)/python benchmarks/kernels.py
	JAX_PLATFORMS=cpu $(BIN)/python benchmarks/search.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
