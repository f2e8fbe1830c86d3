# The two commands of the README. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEMO := $(VENV)/.installed-demo

.PHONY: test demo clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP_TEST): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[test,data,plots]"
	touch $@

$(STAMP_DEMO): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[reproduce]"
	touch $@

test: $(STAMP_TEST)
	$(PY) -m pytest -q

demo: $(STAMP_DEMO)
	$(PY) -m snnsad reproduce all --quick --out results/reproduce

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
