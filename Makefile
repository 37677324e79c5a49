# Two commands: `make run` (set up, then serve on the embedded defaults) and `make test` (set up, then
# run every check). Both work on a fresh machine; they install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_WORKERS ?= 2

.PHONY: run test setup system-deps services lint typecheck pytest bench clean

run: setup
	$(BIN)/palaver serve

test: setup system-deps services lint typecheck pytest

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

system-deps:
	bash scripts/install-system-deps.sh

services:
	bash scripts/ensure-services.sh

lint: setup
	$(BIN)/ruff check src tests bench migrations

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

bench: setup
	$(BIN)/python bench/gateway_echo.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
