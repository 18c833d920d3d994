# Thin wrappers: each target runs one documented command. Every step is safe to repeat.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
NB     ?= notebooks
# The README's test command: helper tests, structure and exercise tests, and strict nbval, on four
# workers: most tests wait on timers and sockets, so even two cores keep four busy (a notebook stays on
# one worker; cells tagged solo, which measure CPU, run while nothing else does: conftest.py).
TEST_WORKERS ?= 4
PYTEST_ARGS ?= --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300 \
	-n $(TEST_WORKERS) --dist loadscope
# JupyterLab refuses to start as root unless told; containers, Colab and CI run as root.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# JupyterLab's settings override (no first-run news prompt, no update check), shipped in jupyter/.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
# Extra JupyterLab options, e.g. make lab LAB_ARGS="--port=8890 --no-browser"
LAB_ARGS ?=

.PHONY: help lab test services services-down status execute doctor class-check board learner site upgrade clean-venv

help:
	@echo "make lab            set up .venv, start PostgreSQL + Redis, open JupyterLab on the learner edition"
	@echo "make test           run every test (helpers, notebook structure, exercises, strict nbval)"
	@echo "make services       start PostgreSQL + Redis (env URLs, Docker, system binaries or the wheels)"
	@echo "make services-down  stop them"
	@echo "make status         show which PostgreSQL / Redis the notebooks will use, and where they came from"
	@echo "make execute        re-run notebooks for real and store their outputs (NB=path to pick one)"
	@echo "make doctor         preflight: Python, packages, services, lab server"
	@echo "make class-check    will the shared PostgreSQL/Redis carry a class? LEARNERS=30 (NOTEBOOKS=08,09)"
	@echo "make board          a class's live progress board in the terminal: CLASS=id (SERVE=1 PORT=8765 for the web page)"
	@echo "make learner        rewrite learner/ (solutions stubbed, outputs cleared) from notebooks/; keeps your changes"
	@echo "make site           render the notebooks (stored outputs, no re-run) to a static site in _site/"
	@echo "make upgrade        re-resolve the lock (constraints.txt) to the newest versions, re-execute, show changes"

# The venv is (re)installed from the lock when pyproject.toml or constraints.txt changes.
$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed: make PYTHON=python3.12 ..." or 0)'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test,speed]'
	@touch $@

$(LAB_OVERRIDES): jupyter/overrides.json $(VENV)/.installed
	@mkdir -p $(@D) && cp jupyter/overrides.json $@

# JupyterLab opens even when PostgreSQL/Redis cannot start: only notebooks 08, 09 and 12 need them,
# and those say in one line what to do. It serves the whole repository and opens the learner
# edition's first notebook (like the Binder link); the solved reference is in notebooks/.
lab: $(VENV)/.installed $(LAB_OVERRIDES)
	@$(PY) -m helpers services up 2> $(VENV)/services-up.log || \
	  echo "make lab: PostgreSQL/Redis did not start ($$(tail -n 1 $(VENV)/services-up.log)); notebooks 08, 09 and 12 need them, so run \`make services\` for the details. Opening JupyterLab anyway." >&2
	$(PY) -m jupyter lab --ip=127.0.0.1 --notebook-dir=. $(ROOT_FLAG) $(LAB_ARGS) learner/00_start_here.ipynb

test: $(VENV)/.installed services
	$(PY) -m pytest $(PYTEST_ARGS)

services: $(VENV)/.installed
	$(PY) -m helpers services up

services-down: $(VENV)/.installed
	$(PY) -m helpers services down

status: $(VENV)/.installed
	$(PY) -m helpers services status

execute: $(VENV)/.installed services
	$(PY) -m tools execute $(if $(filter notebooks,$(NB)),,$(NB))

doctor: $(VENV)/.installed
	$(PY) -m helpers doctor

# The connection budget of a class (docs/instructor-guide.md): exit 1 with a fix when it does not fit.
LEARNERS ?=
NOTEBOOKS ?=
class-check: $(VENV)/.installed
	@[ -n "$(LEARNERS)" ] || { echo "usage: make class-check LEARNERS=30 [NOTEBOOKS=08,09]" >&2; exit 2; }
	$(PY) -m helpers class check --learners $(LEARNERS) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS))

CLASS ?=
PORT ?= 8765
board: $(VENV)/.installed
	@[ -n "$(CLASS)" ] || { echo "usage: make board CLASS=id [SERVE=1 PORT=8765]" >&2; exit 2; }
	$(PY) -m helpers board --class $(CLASS) $(if $(SERVE),--serve --port $(PORT))

# Regenerates the committed learner/ (a test fails when it is stale); refuses to overwrite a notebook
# changed there since it was written (python -m tools edition learner --force does).
learner: $(VENV)/.installed
	$(PY) -m tools edition learner

site: $(VENV)/.installed
	$(PY) -m tools pages _site

# The Python the lock is resolved with: the oldest supported one (Debian 12's 3.11.2 here), so that
# no pin needs a newer Python than a learner may have.
LOCK_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; print(sys.version_info >= (3, 11))' 2>/dev/null | grep -q True && echo /usr/bin/python3 || echo $(PYTHON))

# One deliberate step: newest versions into the lock, a fresh venv from it, every notebook re-executed,
# README's "Tested with" rewritten; then the changes are shown (commit them, or `git checkout` them).
upgrade:
	@cp constraints.txt /tmp/asyncio-lab-constraints.before.txt
	$(PYTHON) -m tools lock freeze $(LOCK_PYTHON)
	$(MAKE) services-down >/dev/null 2>&1 || true
	rm -rf $(VENV)
	$(MAKE) $(VENV)/.installed services
	$(PY) -m tools execute
	$(PY) -m tools lock readme
	@echo "--- packages:"; $(PY) -m tools lock diff /tmp/asyncio-lab-constraints.before.txt constraints.txt
	@echo "--- files:"; git diff --stat -- constraints.txt README.md notebooks

clean-venv:
	rm -rf $(VENV)
