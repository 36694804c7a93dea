# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test install bench clean

$(INSTALLED): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(INSTALLED)

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/hub up

test: $(INSTALLED)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data .pytest_cache

.PHONY: faults

# Every benchmark in one run, written to BENCHMARKS.md (BENCH_SCALE=reduced: a few thousand events each).
bench: $(INSTALLED)
	$(BIN)/python -m bench.run_all --scale $(or $(BENCH_SCALE),full)

# The fault suite in full (make test runs its bounded form), and the API fuzzing at 200 cases per operation.
faults: $(INSTALLED)
	HUB_FAULTS=full $(BIN)/python -m pytest tests/faults -m faults -s -p no:randomly
	HUB_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest tests/e2e/test_api_fuzz.py -p no:randomly
