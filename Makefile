# `make run`: install into .venv (idempotent) and gate the embedded demo target.
# `make test`: install into .venv (idempotent) and run synthgate's whole test suite.
# `make check`: the contributor's inner loop: lint, then the fast tier (every self-test not marked slow).
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& echo $$p && break; done)

.PHONY: run test check lint bench setup clean

# Every self-test starts Python processes (gates, stage children, demo servers): with PYTHONDONTWRITEBYTECODE set
# (some images set it) each one compiled synthgate and the test files again, and pytest re-wrote every test
# module's asserts, about 0.3 s of CPU per process. The caches go to __pycache__ folders, which git ignores.
# For the same reason pip installs with --no-compile: a module is compiled when first imported, not every module
# of every dependency up front (10 s less of set-up).
unexport PYTHONDONTWRITEBYTECODE

setup: $(STAMP)

# Debian's browser installs (apt, about 20 s on a fresh machine) in the background while pip installs synthgate
# (about 20 s); the second install-browser.sh call only falls back to Playwright's browser if apt could not.
$(STAMP): pyproject.toml scripts/install-browser.sh
	@test -n "$(PYTHON)" || { echo "synthgate needs Python 3.11 or newer"; exit 1; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	bash scripts/install-browser.sh --system-only >.install-browser.log 2>&1 & browser=$$!; \
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -U pip \
	&& $(VENV)/bin/python -m pip install -q --disable-pip-version-check --no-compile -e '.[dev]'; \
	status=$$?; wait $$browser; cat .install-browser.log; rm -f .install-browser.log; exit $$status
	bash scripts/install-browser.sh $(VENV)
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/synthgate run

# Two tiers: most self-tests wait on servers and child processes, so they run in 4 xdist workers; the few that
# judge measured latency or a deadline (`serial` marker) run afterwards on a quiet machine, in two lanes of one test
# at a time: the latency-judging ones, and beside them the ones that mostly wait (tests/self/conftest.py). Both
# tiers always run.
# The third-party apps (pip, from PyPI) install in the background from the start, under the lock their fixture
# takes: beside synthgate's own single-threaded set-up, not in the CPU-bound parallel tier.
# scripts/warm-bytecode.sh compiles what the tests' processes import once, before 4 workers would all at once.
test:
	flock .venv-thirdparty.lock bash scripts/install-thirdparty-apps.sh .venv-thirdparty \
		>.venv-thirdparty.log 2>&1 & \
	$(MAKE) --no-print-directory setup || exit 1; \
	bash scripts/install-postgres.sh || exit 1; \
	bash scripts/warm-bytecode.sh $(VENV); \
	status=0; \
	$(VENV)/bin/python -m pytest tests/self -q -n 4 -m "not serial" --durations=15 || status=$$?; \
	$(VENV)/bin/python -m pytest tests/self -q -n 2 -m serial --durations=5 || status=$$?; \
	wait; exit $$status

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest tests/self -q -m "not slow" --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .venv-thirdparty .venv-thirdparty.log reports
