# The two commands a newcomer needs: `make demo` and `make test`.
# Everything is installed into .venv (Python) and generator/node_modules (AutoRest) by the targets below.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOG    := $(VENV)/install.log
# Node packages the tests run: the MQTT oracles and the official JS Web PubSub packages (npm ci from each committed
# lock file; nothing is fetched at test time).
NODE_DIRS   := tests/mqtt/node tests/e2e/node
NODE_STAMPS := $(NODE_DIRS:%=%/node_modules/.package-lock.json)

# The browser tests drive this Chromium; `make chromium` installs Debian's when it is missing.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

.PHONY: help venv mosquitto demo chat chromium test lint typecheck pytest test-matrix docs generate check-generated bench clean

help:
	@echo "make demo            set up and run samples/quickstart.py against a local emulator"
	@echo "make chat            run the chat sample (app + local emulator) and print the URL to open"
	@echo "make test            set up and run ruff, mypy and pytest on the .venv's Python (browser tests included)"
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
	   && $(BIN)/python -m pip install -r requirements-dev.txt -e . -e "./emulator[tls]"; } > $(LOG) 2>&1 \
	 || { tail -n 40 $(LOG); echo "make: setting up $(VENV) failed; the whole log is $(LOG)" >&2; exit 1; }
	@touch $@

%/node_modules/.package-lock.json: %/package.json %/package-lock.json
	cd $* && npm ci --no-audit --no-fund
	touch $@

venv: $(STAMP) $(NODE_STAMPS)

# Debian's Mosquitto: the reference broker of the MQTT tests and benchmarks (started by them on a free loopback port).
# Installed only when missing (root, as on the developers' machines and in CI).
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || { \
	  echo "installing Debian's mosquitto (reference MQTT broker for the tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; }

demo: $(STAMP)
	@$(BIN)/python samples/quickstart.py

chat: $(STAMP)
	$(BIN)/python samples/chat/run.py

# Debian's chromium and chromium-driver, for the browser tests (Playwright starts this binary; it never downloads one).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver \
			|| { echo "Could not install Chromium: install it yourself, or set CHROMIUM=/path/to/chromium"; exit 1; }; \
	fi

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMPS) chromium mosquitto
	$(BIN)/pytest

test-matrix: $(STAMP) $(NODE_STAMPS) chromium mosquitto
	$(BIN)/python .ci/matrix.py

docs: $(STAMP)
	@test -x $(BIN)/sphinx-build || { echo "make docs: Sphinx needs Python 3.11+ in $(VENV) (make clean; make PYTHON=python3.11 docs)" >&2; exit 1; }
	$(BIN)/sphinx-build --fail-on-warning --keep-going --nitpicky --fresh-env --quiet -b html docs/api build/docs
	@echo "API reference: build/docs/index.html"

generate:
	bash generator/generate.sh

check-generated:
	bash generator/generate.sh --check

bench: $(STAMP) mosquitto
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .matrix build generator/node_modules $(NODE_DIRS:%=%/node_modules) .pytest_cache .mypy_cache .ruff_cache
