# `make run`: install into .venv and start the demo (simulator + API service + SQLite).
# `make test`: install into .venv and run the whole quality gate and test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check proto bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dylive demo

test: install
	bash scripts/check

proto: install
	$(BIN)/python scripts/gen_proto.py

# The quick benchmarks; bench/sim.py, bench/collector.py, bench/api.py and bench/store.py take
# minutes each and are run by hand (see README, Benchmarks).
bench: install
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/signing.py --seconds 1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
