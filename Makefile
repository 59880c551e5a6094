# Two commands: `make demo` and `make test`. Each creates .venv and installs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
CODE := src tests benchmarks examples

.PHONY: demo test lint format docs test-slow test-torch bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/python -m softmaxkit demo

# The build's rules (lint, formatting, import contracts), then the whole default suite (which also
# builds the API reference site once).
test: lint
	$(BIN)/python -m pytest -q -n 2 -m "not slow" src tests

lint: $(STAMP_DEV)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/lint-imports

format: $(STAMP_DEV)
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

# The API reference, from the numpydoc docstrings, into site/ (--strict: a broken reference fails).
docs: $(STAMP_DEV)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test-slow: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -m slow tests

# The default suite plus the comparisons against PyTorch (installs the bench extra: torch==2.13.0 CPU).
test-torch: lint
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pytest -q -n 2 src tests

bench: $(STAMP_DEV)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_kernels.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_accuracy.py --keep runs/bench
	$(BIN)/python benchmarks/bench_calibration.py --models runs/bench
	$(BIN)/python benchmarks/bench_sklearn.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/bench_linear_head.py --markdown

clean:
	rm -rf $(VENV) build site src/*.egg-info .pytest_cache .hypothesis .import_linter_cache
