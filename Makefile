# The README's commands. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEV := $(VENV)/.installed-dev
STAMP_DEMO := $(VENV)/.installed-demo
export NO_MKDOCS_2_WARNING := 1

.PHONY: test test-fast check lint typecheck docs demo clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_TEST): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test,data,plots]"
	touch $@

$(STAMP_DEV): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test,data,plots,dev]"
	touch $@

$(STAMP_DEMO): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[reproduce]"
	touch $@

# Both suites run on every core (pytest-xdist, at most 4 workers: each worker's XLA also uses threads);
# work stealing evens out the few long tests. One test alone: `.venv/bin/python -m pytest tests/x.py::name`.
XDIST := -n auto --maxprocesses=4 --dist worksteal

test: $(STAMP_TEST)        ## the whole test suite (what CI runs)
	$(PY) -m pytest -q $(XDIST)

test-fast: $(STAMP_TEST)   ## the suite without the tests marked slow
	$(PY) -m pytest -q $(XDIST) -m "not slow"

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

typecheck: $(STAMP_DEV)
	$(VENV)/bin/basedpyright

docs: $(STAMP_DEV)         ## the documentation site, built strictly (warnings are errors) into site/
	$(VENV)/bin/mkdocs build --strict --quiet

check: lint typecheck docs

demo: $(STAMP_DEMO)
	$(PY) -m snnsad reproduce all --quick --out results/reproduce

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache
