# The two commands a newcomer needs: `make demo` and `make test`.
# Everything is installed into .venv (Python) and generator/node_modules (AutoRest) by the targets below.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOG    := $(VENV)/install.log

.PHONY: help venv demo test lint typecheck pytest test-matrix docs generate check-generated bench clean

help:
	@echo "make demo            set up and run samples/quickstart.py against a local emulator"
	@echo "make test            set up and run ruff, mypy and pytest (on the .venv's Python)"
	@echo "make test-matrix     the suite on every other supported Python, and with the lowest allowed dependencies"
	@echo "make docs            build the API reference with Sphinx into build/docs (warnings are errors)"
	@echo "make generate        regenerate the SDK from swagger/ with the pinned AutoRest toolchain"
	@echo "make check-generated fail if the generated code differs from what swagger/ produces"
	@echo "make bench           run the benchmarks (not part of make test)"

# The set-up prints nothing unless it fails (then the end of its log): the first thing `make demo` shows is the demo.
$(STAMP): pyproject.toml emulator/pyproject.toml requirements-dev.txt
	@rm -f $@
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/python -m pip install --upgrade pip \
	   && $(BIN)/python -m pip install -r requirements-dev.txt -e . -e ./emulator; } > $(LOG) 2>&1 \
	 || { tail -n 40 $(LOG); echo "make: setting up $(VENV) failed; the whole log is $(LOG)" >&2; exit 1; }
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	@$(BIN)/python samples/quickstart.py

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test-matrix: $(STAMP)
	$(BIN)/python .ci/matrix.py

docs: $(STAMP)
	@test -x $(BIN)/sphinx-build || { echo "make docs: Sphinx needs Python 3.11+ in $(VENV) (make clean; make PYTHON=python3.11 docs)" >&2; exit 1; }
	$(BIN)/sphinx-build --fail-on-warning --keep-going --nitpicky --fresh-env --quiet -b html docs/api build/docs
	@echo "API reference: build/docs/index.html"

generate:
	bash generator/generate.sh

check-generated:
	bash generator/generate.sh --check

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .matrix build generator/node_modules .pytest_cache .mypy_cache .ruff_cache
