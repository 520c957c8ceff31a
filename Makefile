# Two commands do everything on a fresh clone:
#   make demo   build the assignment, run the solutions end to end, grade the
#               sample submissions, write build/report.html
#   make test   run the test suite
# Both create or reuse .venv and install the pinned requirements (with uv when it can, else pip:
# tools/install_requirements.py).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: demo test test-fast test-colab test-times lint build check grade bench bench-full data ensure-data venv clean lab release

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) tools/install_requirements.py requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

# Download the Oxford-IIIT Pet dataset into data/ with torchvision's own
# download code. The only place in the project that downloads data.
data: venv
	$(PY) data/download.py

# Open the student notebooks in JupyterLab (installed by requirements.txt).
lab: venv
	$(PY) -m jupyter lab notebooks/

# Write the student release (see README, "For instructors"): make release OUT=../ptm-course-release
OUT ?= build/release
release: venv
	$(PY) -m autograder release --out $(OUT)

# Used by demo/test: download only when no data is found (CI sets PTM_DATA).
ensure-data: venv
	$(PY) data/download.py --if-missing

demo: venv ensure-data
	$(PY) -m autograder demo

# Two processes (pytest-xdist) share the cores; tests/conftest.py groups the tests (one group per
# notebook: its browser runs and the tests that read them). A plain `pytest` runs them in one process.
XDIST := -n 2 --dist loadscope --no-loadscope-reorder

test: venv ensure-data lint
	$(PY) -m pytest $(XDIST)

# ruff (pyproject.toml): the checks, and the formatting (line length 100). `ruff format .` formats.
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Fast subset for developers: skips tests marked slow. CI always runs `make test`.
test-fast: venv ensure-data
	$(PY) -m pytest $(XDIST) -m "not slow"

# `make test` measured by group: wall and CPU seconds of each group (tools/group_times.py), written to
# build/group-times-gw*.json, one file per test process (docs/performance.md, "The test suite's time").
test-times: venv ensure-data
	PYTHONPATH=tools $(PY) -m pytest $(XDIST) -p group_times

# The Colab job alone (part of `make test`): Colab's published runtime (../shared/colab), Python 3.13,
# built once per machine by tools/colab_runtime.py (docs/colab.md).
test-colab: venv ensure-data
	$(PY) -m pytest -s tests/test_colab_runtime.py

build: venv
	$(PY) -m autograder build

check: venv ensure-data
	$(PY) -m autograder check

# Quick by default (a time budget: it finishes on a busy 2-core machine); bench-full: the figures of docs/performance.md.
bench: venv ensure-data
	$(PY) -m autograder bench

bench-full: venv ensure-data
	$(PY) -m autograder bench --full

clean:
	rm -rf build autograder/dist .cache
