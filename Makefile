# The README's two set-up commands: `make demo` and `make test`. Both work on a fresh machine with
# only Python 3.11+, pip and access to the package registry.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project metadata changes; the stamp keeps repeated runs fast.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,redis]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sentdm-async demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@out="$$($(BIN)/radon cc -n C -s sentdm_async)"; \
	  if [ -n "$$out" ]; then echo "complexity over 10 (radon grade C or worse):"; echo "$$out"; exit 1; fi

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,cli,bench]'
	$(BIN)/python benchmarks/bench_bulk.py
	$(BIN)/python benchmarks/bench_watch.py --memory 100000

clean:
	rm -rf $(VENV) .coverage .mypy_cache .pytest_cache .ruff_cache
