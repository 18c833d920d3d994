# Thin wrappers: each target runs one documented command. Every step is safe to repeat.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NB     ?= notebooks
# The README's test command: helper tests, structure and exercise tests, and strict nbval.
PYTEST_ARGS ?= --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300
# JupyterLab refuses to start as root unless told; containers, Colab and CI run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: help lab test services services-down status execute doctor learner site clean-venv

help:
	@echo "make lab            set up .venv, start PostgreSQL + Redis, open JupyterLab"
	@echo "make test           run every test (helpers, notebook structure, exercises, strict nbval)"
	@echo "make services       start PostgreSQL + Redis (Docker if it runs, else local binaries)"
	@echo "make services-down  stop them"
	@echo "make status         show which PostgreSQL / Redis the notebooks will use"
	@echo "make execute        re-run notebooks for real and store their outputs (NB=path to pick one)"
	@echo "make doctor         preflight: Python, packages, services, lab server"
	@echo "make learner        write the learner edition (solutions stubbed, outputs cleared) to learner/"
	@echo "make site           render the notebooks (stored outputs, no re-run) to a static site in _site/"

# The venv is (re)installed when pyproject.toml changes; the stamp file makes that idempotent.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed: make PYTHON=python3.12 ..." or 0)'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,speed]'
	@touch $@

lab: $(VENV)/.installed services
	$(PY) -m jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG)

test: $(VENV)/.installed services
	$(PY) -m pytest $(PYTEST_ARGS)

services: $(VENV)/.installed
	$(PY) -m helpers services up

services-down: $(VENV)/.installed
	$(PY) -m helpers services down

status: $(VENV)/.installed
	$(PY) -m helpers services status

execute: $(VENV)/.installed services
	$(PY) -m helpers execute $(if $(filter notebooks,$(NB)),,$(NB))

doctor: $(VENV)/.installed
	$(PY) -m helpers doctor

learner: $(VENV)/.installed
	$(PY) -m helpers edition learner learner

site: $(VENV)/.installed
	$(PY) -m helpers pages _site

clean-venv:
	rm -rf $(VENV)
