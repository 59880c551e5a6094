# Two commands: `make demo` and `make test`. Each creates .venv and installs into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-slow test-torch bench clean

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

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -n 2 -m "not slow" src tests

test-slow: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -m slow tests

# The default suite plus the comparisons against PyTorch (installs the bench extra: torch==2.13.0 CPU).
test-torch: $(STAMP_DEV)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m pytest -q -n 2 src tests

bench: $(STAMP_DEV)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_kernels.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_accuracy.py --keep runs/bench
	$(BIN)/python benchmarks/bench_calibration.py --models runs/bench

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis
