# Two commands set everything up on a fresh machine:
#   make repro   install, then run the pipeline (dvc repro) on the embedded default
#   make test    install, then run the test suite (what CI runs)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup repro test check bench

setup: $(VENV)/.installed

# torch==2.13.0 (pinned in pyproject.toml) resolves to the CPU wheel on the project machines' disk.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" dvc repro

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest -ra

check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness check

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/loop_overhead.py
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/pipeline_walltime.py
