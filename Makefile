# Course pipeline. Every target sets up .venv first when it is missing or out of date.
# Targets are phony: several share their name with a folder (release, notebooks, autograde, tests).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 1
WORKERS ?= 2
TEST_WORKERS ?= 2

export PATH := $(abspath $(VENV))/bin:$(PATH)

# System packages, as command:Debian package. Grading runs kernels in bubblewrap (not needed with
# AUTOGRADE_SANDBOX=none, nor here when the workers of SCHEDULER=tcp://…|slurm grade); the browser
# test drives Chromium (not needed when CHROMIUM names another one).
GRADE_PACKAGES := $(if $(filter none,$(AUTOGRADE_SANDBOX))$(filter tcp://% slurm,$(SCHEDULER)),,bwrap:bubblewrap)
TEST_PACKAGES  := $(GRADE_PACKAGES) $(if $(CHROMIUM),,chromium:chromium)

# $(call system,packages): install the missing ones with apt-get when run as root, else stop with one line.
define system
@missing=""; for p in $(1); do command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; done; \
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    echo "installing system packages:$$missing"; \
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
      || { echo "error: apt-get could not install$$missing: install them and run make again" >&2; exit 1; }; \
  else \
    echo "error: missing system packages:$$missing: install them (sudo apt-get install$$missing) and run make again" >&2; \
    exit 1; \
  fi; \
fi
endef

.DEFAULT_GOAL := all
.PHONY: all system-grade system-test venv release notebooks examples autograde feedback export roster collect validate lab lint test test-fast bench bench-grade bench-sweep clean help

all: system-grade venv release autograde  ## set up, regenerate release/, autograde the example submissions, print the grades

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { echo "error: $(PYTHON) cannot create a virtual environment: install Python 3.11 with venv (apt-get install python3-venv)" >&2; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

system-grade:  ## install bubblewrap with apt-get when it is missing (as root), else say what to install and stop
	$(call system,$(GRADE_PACKAGES))

system-test:  ## the same for bubblewrap and chromium, which the tests need
	$(call system,$(TEST_PACKAGES))

venv: $(VENV)/.installed  ## create .venv and install the pinned requirements and helpers

release: venv  ## regenerate release/ from source/ with nbgrader (forced)
	$(PY) -m autograde.release

notebooks: venv  ## execute every source notebook into notebooks/ (the nbval baseline)
	$(PY) -m autograde.execute

examples: venv  ## regenerate the example submissions under autograde/submitted/
	$(PY) -m autograde.examples

autograde: system-grade venv  ## autograde autograde/submitted/*/* and write autograde/grades.csv (JOBS=2: two at a time; SCHEDULER=local|tcp://host:port|slurm WORKERS=n: on Dask)
	$(PY) -m autograde.grade --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER) --workers $(WORKERS))

feedback: venv  ## write feedback HTML for the autograded submissions and a zip per student under autograde/handback/<assignment>/ (JOBS=2: two at a time)
	$(PY) -m autograde.grade --feedback --jobs $(JOBS)

export: venv  ## write autograde/export/: grades_by_question.csv and canvas_<assignment>.csv (nbgrader export)
	$(VENV)/bin/nbgrader export

collect: venv  ## file an LMS download (Canvas or Moodle naming) into autograde/submitted/: make collect ZIP=download.zip A=01_autodiff
	$(PY) -m autograde.collect "$(ZIP)" "$(A)"

roster: venv  ## import students into the gradebook: make roster CSV=students.csv (id,first_name,last_name,email,lms_user_id)
	@test -f "$(CSV)" || { echo "error: make roster needs CSV=<file.csv> with columns id,first_name,last_name,email,lms_user_id" >&2; exit 2; }
	$(VENV)/bin/nbgrader db student import "$(CSV)"

validate: venv  ## validate notebooks as the Validate button does, failing on any failed test: make validate NB=path.ipynb
	$(PY) -m autograde.validate $(NB)

lab: venv  ## start JupyterLab on the course
	$(VENV)/bin/jupyter lab --notebook-dir=.

test: system-test venv  ## run the whole test suite (unit tests, hidden-test tests, nbval on notebooks/) in TEST_WORKERS=2 processes
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: venv  ## ruff on the code (rules in pyproject.toml; make test checks it too)
	$(PY) -m ruff check .

test-fast: venv  ## the unit tests only (no grading through make, browser, cluster, notebook or whole-course nbgrader run): under two minutes
	$(PY) -m pytest -m "not slow" tests

bench: venv  ## print notebook execution and autograde times (median of 3), then the width-sweep benchmark (A=03_double_descent: that assignment's times only)
	$(PY) -m autograde.bench $(A)

bench-grade: venv  ## grading throughput on 100 copies of the first assignment (N=...), JOBS=2, kernels cold then warm, and where the time goes (lines BREAKDOWN, GRADE)
	$(PY) -c "from autograde.bench import grade_main; grade_main()" $(if $(N),--submissions $(N))

bench-sweep: venv  ## only the training engine in both regimes against plain PyTorch (last lines: SWEEP ..., MINIBATCH ...)
	$(PY) -m autograde.bench_sweep

clean:  ## remove grading outputs (not the gradebook) and caches
	rm -rf autograde/autograded autograde/feedback autograde/export autograde/handback autograde/downloaded autograde/.work autograde/grades.csv
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
