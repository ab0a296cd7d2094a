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

.PHONY: install run test lint pytest warm bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)
	@sh scripts/ensure_fonts.sh  # a CJK font for Chinese text in quote PDFs (warns, never fails)

run: install
	$(BIN)/crm setup
	$(BIN)/crm serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check app tests bench plugins
	$(BIN)/mypy

# PYTHONDONTWRITEBYTECODE= : write .pyc files (and pytest's rewritten test modules) even
# where the environment says not to, so that the two workers, the PostgreSQL leg and the
# servers some tests start read them instead of compiling everything again
pytest: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n 2 $(PYTEST_ARGS)

# compile the modules and collect the tests once, alongside lint (mypy leaves a core idle)
warm: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q app plugins >/dev/null || true
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q --collect-only -p no:cacheprovider >/dev/null || true

test: install
	$(MAKE) --no-print-directory -j2 lint warm
	$(MAKE) --no-print-directory pytest

bench: install
	$(BIN)/python bench/engine.py

# list and detail views on 1,000,000 opportunities against a hand-written Flask app
# (bench/README.md); also on PostgreSQL when CRM_BENCH_POSTGRES_URL is set
.PHONY: bench-views
bench-views: install
	$(BIN)/python bench/views.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

# Translations (docs/i18n.md): `make messages` extracts every marked string into the template
# app/translations/messages.pot and merges it into each catalogue (new strings appear untranslated,
# changed ones as fuzzy); translate them in messages.po, then `make translations` compiles the .mo.
LOCALES_DIR  = app/translations
UI_LOCALES  ?= zh_CN
.PHONY: messages translations

messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -k gettext -k ngettext:1,2 \
		--add-comments=TRANSLATORS: --project=crm --copyright-holder="CRM contributors" \
		-o $(LOCALES_DIR)/messages.pot .
	@for loc in $(UI_LOCALES); do \
		if [ -f $(LOCALES_DIR)/$$loc/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) -l $$loc \
				--previous --ignore-obsolete || exit 1; \
		else \
			$(BIN)/pybabel init -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) -l $$loc || exit 1; \
		fi; \
	done
	@echo "Translate the new (empty or #, fuzzy) entries in $(LOCALES_DIR)/*/LC_MESSAGES/messages.po,"
	@echo "then run: make translations; $(BIN)/pytest -q tests/test_i18n_catalogue.py lists any left."

translations: install
	$(BIN)/pybabel compile -d $(LOCALES_DIR) --statistics
