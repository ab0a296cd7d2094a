# Two commands do all the set-up on a fresh machine:
#   make run    venv + install + database + demo data + admin login, then serve on 127.0.0.1
#   make test   venv + install + lint + type check + the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: install run test lint pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/crm setup
	$(BIN)/crm serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check app tests bench plugins
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

test: lint pytest

bench: install
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
