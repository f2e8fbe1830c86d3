# The README's commands. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEV := $(VENV)/.installed-dev
STAMP_DEMO := $(VENV)/.installed-demo
export NO_MKDOCS_2_WARNING := 1

.PHONY: test test-fast check lint layers typecheck docs demo bare-import clean

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

# Both tiers run on every core (pytest-xdist, at most 4 workers: each worker's XLA also uses threads);
# work stealing evens out the few long tests. One test alone: `.venv/bin/python -m pytest tests/x.py::name`.
# Compiled programs are kept in a persistent cache under build/ (tests/conftest.py), shared by the
# workers and the subprocesses they start.
XDIST := -n auto --maxprocesses=4 --dist worksteal
# The `optimized` tests (a few, 10-70 s each) are shared out by their measured length (tests/conftest.py).
XDIST_BALANCED := -n auto --maxprocesses=4 --dist loadgroup
# Most tests compile many small programs and run each briefly: with XLA's backend optimisation off they
# take a third to a half less time; the tests marked `optimized` train for a minute or more (3-4x slower
# without it) or compare two programs bit for bit, and run with the default (docs/development.md).
NO_OPT := XLA_FLAGS="$(XLA_FLAGS) --xla_backend_optimization_level=0"

test: $(STAMP_TEST)        ## both tiers, unit (tests/) and end-to-end (tests/e2e/); what CI runs
	$(NO_OPT) $(PY) -m pytest -q $(XDIST) tests -m "not optimized"
	$(PY) -m pytest -q $(XDIST_BALANCED) tests -m optimized

test-fast: $(STAMP_TEST)   ## the unit tier without the tests marked slow
	$(NO_OPT) $(PY) -m pytest -q $(XDIST) tests -m "not e2e and not slow and not optimized"

lint: $(STAMP_DEV)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

layers: $(STAMP_DEV)       ## the layering contract of pyproject.toml (import-linter)
	$(VENV)/bin/lint-imports --no-cache

# A bare install (no extras) in a fresh venv imports the library and every public sub-package.
BARE := build/bare-venv
bare-import:
	rm -rf $(BARE)
	$(PYTHON) -m venv $(BARE)
	$(BARE)/bin/python -m pip install --quiet .
	cd build && bare-venv/bin/python -c "import snnsad, snnsad.nn, snnsad.estimators, snnsad.events, snnsad.kernels, snnsad.data, snnsad.train, snnsad.analysis, snnsad.nir, snnsad.escape, snnsad.spikes, snnsad.neurons, snnsad.losses; print('bare install imports snnsad', snnsad.__version__)"

typecheck: $(STAMP_DEV)
	$(VENV)/bin/basedpyright

docs: $(STAMP_DEV)         ## the documentation site, built strictly (warnings are errors) into site/
	$(VENV)/bin/mkdocs build --strict --quiet

check: lint layers typecheck docs

demo: $(STAMP_DEMO)
	$(PY) -m snnsad reproduce tour --quick --out results/tour

clean:
	rm -rf $(VENV) build dist site *.egg-info .pytest_cache
