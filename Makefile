# The two commands a newcomer needs: `make demo` and `make test`.
# Everything is installed into .venv (Python) and generator/node_modules (AutoRest) by the targets below.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node packages the tests run: the MQTT oracles and the official JS Web PubSub packages (npm ci from each committed
# lock file; nothing is fetched at test time).
NODE_DIRS   := tests/mqtt/node tests/e2e/node
NODE_STAMPS := $(NODE_DIRS:%=%/node_modules/.package-lock.json)

.PHONY: help venv demo test lint typecheck pytest generate check-generated bench clean

help:
	@echo "make demo            set up and run samples/quickstart.py against a local emulator"
	@echo "make test            set up and run ruff, mypy and pytest"
	@echo "make generate        regenerate the SDK from swagger/ with the pinned AutoRest toolchain"
	@echo "make check-generated fail if the generated code differs from what swagger/ produces"
	@echo "make bench           run the benchmarks (not part of make test)"

$(STAMP): setup.py emulator/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e . -e ./emulator
	touch $@

%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund
	touch $@

venv: $(STAMP) $(NODE_STAMPS)

demo: $(STAMP)
	$(BIN)/python samples/quickstart.py

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMPS)
	$(BIN)/pytest

generate:
	bash generator/generate.sh

check-generated:
	bash generator/generate.sh --check

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) generator/node_modules $(NODE_DIRS:%=%/node_modules) .pytest_cache .mypy_cache .ruff_cache
