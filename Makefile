# Course pipeline. Every target sets up .venv first when it is missing or out of date.
# Targets are phony: several share their name with a folder (release, notebooks, autograde, tests).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 1

export PATH := $(abspath $(VENV))/bin:$(PATH)

.DEFAULT_GOAL := all
.PHONY: all venv release notebooks examples autograde feedback validate lab test bench bench-sweep clean help

all: venv release autograde  ## set up, regenerate release/, autograde the example submissions, print the grades

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed  ## create .venv and install the pinned requirements and helpers

release: venv  ## regenerate release/ from source/ with nbgrader (forced)
	$(PY) -m autograde.release

notebooks: venv  ## execute every source notebook into notebooks/ (the nbval baseline)
	$(PY) -m autograde.execute

examples: venv  ## regenerate the example submissions under autograde/submitted/
	$(PY) -m autograde.examples

autograde: venv  ## autograde autograde/submitted/*/* and write autograde/grades.csv (JOBS=2: two at a time)
	$(PY) -m autograde.grade --jobs $(JOBS)

feedback: venv  ## write feedback HTML for the autograded submissions
	$(PY) -m autograde.grade --feedback

validate: venv  ## validate notebooks as the Validate button does, failing on any failed test: make validate NB=path.ipynb
	$(PY) -m autograde.validate $(NB)

lab: venv  ## start JupyterLab on the course
	$(VENV)/bin/jupyter lab --notebook-dir=.

test: venv  ## run the whole test suite (unit tests, hidden-test tests, nbval on notebooks/)
	$(PY) -m pytest

bench: venv  ## print notebook execution and autograde times (median of 3), then the width-sweep benchmark (A=03_double_descent: that assignment's times only)
	$(PY) -m autograde.bench $(A)

bench-sweep: venv  ## only the width-sweep engine against a per-model loop (last line: SWEEP ...)
	$(PY) -m autograde.bench_sweep

clean:  ## remove grading outputs (not the gradebook) and caches
	rm -rf autograde/autograded autograde/feedback autograde/.work autograde/grades.csv
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
