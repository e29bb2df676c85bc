# `make run`: install the runtime into .venv and start the demo (simulator + API service + SQLite).
# `make test`: install the development tools too and run the whole quality gate and test suite.
# `make image-test`: build the container image (Dockerfile) and check it with podman (root only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed

.PHONY: install run test check proto bench image-test clean

# The runtime set only: what the demo and the service need (no protoc, mypy, pytest, …).
$(STAMP): pyproject.toml
	@echo "Installing dylive and its dependencies into $(VENV) (about a minute on a first run)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(STAMP)

# The dev extra on top: the tools `make test`, `make proto` and contributors use.
$(DEV_STAMP): $(STAMP) pyproject.toml
	@echo "Installing the development tools into $(VENV)..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/dylive demo

test: $(DEV_STAMP)
	bash scripts/check

proto: $(DEV_STAMP)
	$(BIN)/python scripts/gen_proto.py

# The quick benchmarks; bench/sim.py, bench/collector.py, bench/api.py and bench/store.py take
# minutes each and are run by hand (see docs/benchmarks.md).
bench: $(STAMP)
	$(BIN)/python bench/decode.py
	$(BIN)/python bench/signing.py --seconds 1

# Builds the image on a local Debian base (mmdebstrap, cached in /var/cache/dylive-image) and runs
# `dylive demo` and a two-node fleet on this machine's PostgreSQL in containers (scripts/image-test).
image-test:
	$(PYTHON) scripts/image-test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
