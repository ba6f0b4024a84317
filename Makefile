# Two commands set everything up on a fresh machine:
#   make repro   install, then run the pipeline (dvc repro) on the embedded default
#   make test    install, then run the test suite (what CI runs)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup repro test check verify bench mutation

setup: $(VENV)/.installed

# torch==2.13.0 (pinned in pyproject.toml) resolves to the CPU wheel on the project machines' disk.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# `harness preload` imports torch & co. once for all ~60 stages instead of once per stage (harness/preload.py)
repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest -ra

check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness check

# What CI checks on the committed results without rerunning the pipeline: no stage is stale, no result is
# from a dirty tree (harness current), and no claim's verdict fell below its expected one (harness check).
verify: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness current
	PATH="$(CURDIR)/$(BIN):$$PATH" harness check

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/loop_overhead.py
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/pipeline_walltime.py

# Mutation testing of the judging core (outside CI: ~20 min on two cores). mutmut's parallel run has been seen to
# record a killed mutant as surviving, so every survivor is rerun on its own before the report is written.
mutation: setup
	rm -rf mutants
	PATH="$(CURDIR)/$(BIN):$$PATH" OMP_NUM_THREADS=1 mutmut run --max-children 2 > /dev/null
	survivors=$$(PATH="$(CURDIR)/$(BIN):$$PATH" mutmut results | grep -E ': (survived|no tests)$$' | cut -d: -f1); \
	  [ -z "$$survivors" ] || PATH="$(CURDIR)/$(BIN):$$PATH" OMP_NUM_THREADS=1 mutmut run --max-children 1 $$survivors > /dev/null
	PATH="$(CURDIR)/$(BIN):$$PATH" python tools/mutation_report.py
