# One place for every command a newcomer, a student or an instructor runs.
# `make demo` and `make test` create .venv and install what they need themselves.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

# Debian packages the kit uses: graphviz draws graphs, bubblewrap sandboxes grading.
SYSTEM_PACKAGES ?= graphviz bubblewrap

.PHONY: help venv sysdeps demo test e2e lint docs check bench lab grade-ui clean hub hub-stop \
	hub-restart

help:
	@echo "make demo   build the course, grade sample students, print the gradebook"
	@echo "make test   lint, unit tests with coverage, and the course checks"
	@echo "make docs   the instructor guide (mkdocs.yml, docs/) -> site/, warnings as errors"
	@echo "make lab    JupyterLab on the student release"
	@echo "make grade-ui  JupyterLab on the course with the formgrader: grade written answers"
	@echo "make e2e    every released notebook in JupyterLab, in headless Chromium"
	@echo "make bench  run every benchmark in benchmarks/"
	@echo "make hub    (as root) JupyterHub for the course on this machine; STUDENTS=3 accounts"
	@echo "make hub-stop  stop the hub, its proxy and every user's server"
	@echo "make hub-restart  restart the hub and its proxy; users' servers carry on"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	@touch $(STAMP)

venv: $(STAMP)

# Install Debian packages when a command is missing and apt-get can be used; otherwise say how.
sysdeps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: apt-get could not install$$missing; carrying on without it"; \
	  else \
	    echo "note: missing$$missing. Install with: sudo apt-get install$$missing (Debian/Ubuntu)," \
	         "brew install graphviz (macOS) or conda install python-graphviz. Carrying on."; \
	  fi; \
	fi

demo: venv sysdeps
	$(PY) -m autograder.showcase
	$(PY) -m autograder demo

lint: venv
	$(PY) -m ruff check minigrad autograder tests benchmarks notebooks hub docs

# The instructor guide: docs/ and the hub's READMEs, course tables made from the notebooks.
docs: venv
	$(PY) -m mkdocs build --strict --quiet

# tests/ includes the browser test (tests/test_e2e.py): it runs where Debian's chromium is
# installed (.ci/run installs it) and says why it is skipped elsewhere; `make e2e` runs it alone.
test: venv sysdeps lint docs
	@rm -f .coverage .coverage.*
	$(PY) -m pytest -rs --cov --cov-report=term tests
	@for gate in minigrad:95 autograder:90; do pkg=$${gate%%:*}; least=$${gate##*:}; \
	  total=$$($(PY) -m coverage report --include="$$pkg/*" --format=total); \
	  echo "coverage of $$pkg/: $$total% (at least $$least% required)"; \
	  [ "$$total" -ge "$$least" ] || exit 1; done
	$(PY) -m autograder check

e2e: venv sysdeps
	$(PY) -m pytest -m e2e tests/test_e2e.py

check: venv sysdeps
	$(PY) -m autograder check

bench: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lab: venv sysdeps
	$(PY) -m autograder build
	$(PY) -m autograder release
	$(PY) -m autograder lab

# Written answers are graded by hand in nbgrader's formgrader, after `autograder grade`.
grade-ui: venv
	$(PY) -m autograder lab --grader

# The course's JupyterHub on this machine (hub/hubctl.py says what it sets up). As root: it
# makes the OS users, installs JupyterHub into HUB_VENV and the proxy into hub/node_modules.
STUDENTS ?= 3
HUB_PORT ?= 8000
HUB_STATE ?= hub/state
HUB_VENV ?= /opt/minigrad-hub/venv

hub:
	MINIGRAD_HUB_STATE=$(HUB_STATE) $(PYTHON) hub/hubctl.py start --students $(STUDENTS) \
	  --port $(HUB_PORT) --venv $(HUB_VENV)

hub-stop:
	MINIGRAD_HUB_STATE=$(HUB_STATE) $(PYTHON) hub/hubctl.py stop

hub-restart:
	MINIGRAD_HUB_STATE=$(HUB_STATE) $(PYTHON) hub/hubctl.py restart

clean:
	rm -rf course/source course/release course/submitted course/autograded course/feedback \
	       course/gradebook.db course/reports demo-output .pytest_cache .coverage
