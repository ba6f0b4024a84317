# Two commands set everything up on a fresh machine:
#   make repro   install, then run the default pipeline (dvc repro): the seed paper's question, ~30 min on 2 cores
#   make test    install, then run the test suite (what CI runs)
# Studies (studies/<name>/: a pipeline each, at most an hour each on 2 cores):
#   make study STUDY=planted   one study, then the default's reports (status.md, atlas.md) that read it (with
#                              --allow-missing: a default stage whose model is only absent from the cache is not rerun)
#   make repro-all             every study in turn, then the default; a killed run resumes where it stopped
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup repro study repro-all deps test check verify bench gpu-check mutation

setup: $(VENV)/.installed

# torch==2.13.0 (pinned in pyproject.toml) resolves to the CPU wheel on the project machines' disk.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# `harness preload` imports torch & co. once for every stage instead of once per stage (harness/commands/preload.py)
repro: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro

study: setup
	@test -n "$(STUDY)" -a -f studies/$(STUDY)/dvc.yaml || { echo "usage: make study STUDY=<name>; studies: $$(ls studies)" >&2; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro studies/$(STUDY)/dvc.yaml
	PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro --allow-missing

# DVC records each finished stage in its pipeline's dvc.lock at once: rerunning after a kill or a timeout skips
# every stage that finished, so each finished study keeps its results.
repro-all: setup
	for study in studies/*/dvc.yaml; do PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro $$study || exit $$?; done
	PATH="$(CURDIR)/$(BIN):$$PATH" harness preload -- dvc repro

# Rewrite every dvc.yaml's code deps from the import graph (tests/test_architecture.py fails until they match)
deps: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness deps --write

# Two workers (pytest-xdist), one test file each at a time: the slow end-to-end files run beside the rest, and a
# file's module-scoped fixtures and fixed ports (tests/test_distributed.py) stay in one process.
test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python -m pytest -ra -n 2 --dist loadfile

check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness check

# What CI checks on the committed results without rerunning the pipeline: no stage of the default pipeline is
# stale (a stale study is named, and status.md marks its claims), no result is from a dirty tree (harness current),
# and no claim's verdict fell below its expected one (harness check).
verify: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" harness current
	PATH="$(CURDIR)/$(BIN):$$PATH" harness check

bench: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/loop_overhead.py
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/pipeline_walltime.py

# The prepared GPU check (a few minutes on one H100): the default's core runs on the GPU in bf16 and fp32 and
# DeBERTaV3-base at full size with LoRA and AdaLoRA; writes results/gpu/<date>-<device>.json (commit it).
# `make gpu-check DRY=1 [OUT=dir]`: the same script with tiny shapes on whatever device there is (CI: the CPU), into
# OUT (default /tmp/gpu-check-dry), never into results/gpu.
gpu-check: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" python benchmarks/gpu_check.py $(if $(DRY),--quick --out $(or $(OUT),/tmp/gpu-check-dry),--out results/gpu)

# Mutation testing of the modules a verdict rests on (outside CI: hours on two cores; docs/testing.md). mutmut's parallel run has been seen to
# record a killed mutant as surviving, so every survivor is rerun on its own before the report is written.
# It runs in a scratch clone of HEAD outside this working tree: mutmut runs the tests from its mutants/ folder, and a
# mutant that drops a cwd= acts on whatever repository holds that folder (one once pointed this checkout's DVC cache at
# a test's scratch repository). The report is copied back.
MUTATION_DIR ?= /tmp/peft-repro-mutation
MUTMUT = cd "$(MUTATION_DIR)" && export PATH="$(CURDIR)/$(BIN):$$PATH" OMP_NUM_THREADS=1 &&
mutation: setup
	rm -rf "$(MUTATION_DIR)" && git clone -q --local "$(CURDIR)" "$(MUTATION_DIR)"
	[ ! -d "$(CURDIR)/../shared" ] || ln -s "$(CURDIR)/../shared" "$(MUTATION_DIR)/shared"  # the GLUE data the tests read beside the repo
	$(MUTMUT) mutmut run --max-children 2 > /dev/null
	$(MUTMUT) survivors=$$(mutmut results | grep -E ': (survived|no tests)$$' | cut -d: -f1); \
	  [ -z "$$survivors" ] || mutmut run --max-children 1 $$survivors > /dev/null
	$(MUTMUT) python tools/mutation_report.py; status=$$?; cp reports/mutation.md "$(CURDIR)/reports/mutation.md"; exit $$status
