# PinFi: every target installs what it needs (idempotently) and starts/stops its own Anvil.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOLC_BIN := $(VENV)/solc-bin
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(BIN):$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/$(SOLC_BIN)
export APE_DATA_FOLDER ?= $(CURDIR)/.build/ape-data
export PYTHONUNBUFFERED := 1
# Start Anvil's native binary directly (the npm package's `anvil` is a Node launcher around it):
# Ape waits at most 20 s for a new Anvil to answer, and a Node start-up on a busy 2-core box eats
# into that. Expanded by the shell at run time, after npm has installed the platform package.
WITH_ANVIL := PATH="$$(ls -d $(CURDIR)/node_modules/@foundry-rs/anvil-*-*/bin 2>/dev/null | head -n 1):$$PATH"
# forge's native binary, for the same reason (npm @foundry-rs/forge; foundry.toml points it at the
# solc shim, which `setup` installs). FORGE_ARGS adds options, e.g. FORGE_ARGS="--fuzz-seed 1".
FORGE := $$(ls -d $(CURDIR)/node_modules/@foundry-rs/forge-*-*/bin/forge 2>/dev/null | head -n 1)
# Slither in its own venv (its web3/eth-* pins differ from Ape's), built by `lint` only.
SLITHER_VENV := $(VENV)/tools/slither

.PHONY: setup test demo bench sim lint clean explorer-deps

setup: $(VENV)/.installed node_modules/.installed $(SOLC_BIN)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "PinFi needs Python 3.11+ (found " + sys.version.split()[0] + ")"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==0.13.9"
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "PinFi needs Node.js 20+ (node not found on PATH)"; exit 2; }
	@# npm ci rejects the lockfile npm 11 writes for platform-specific optional deps (Anvil),
	@# so install from the exact pins in package.json + package-lock.json without rewriting them.
	npm install --no-audit --no-fund --no-save --loglevel=error
	@touch $@

$(SOLC_BIN)/.installed: $(VENV)/.installed node_modules/.installed tools/solc-shim.cjs pinfi_dev/toolchain.py
	$(BIN)/python -m pinfi_dev.toolchain install-solc --dest $(SOLC_BIN)
	@touch $@

# [E1 explorer] the explorer tests' browser and database (tests/explorer): Debian's chromium,
# chromium-driver and postgresql, installed when missing where apt-get can (root); otherwise
# nothing happens and those tests skip.
explorer-deps:
	@if ! { command -v chromium && command -v chromedriver && ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 \
	  && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium, chromium-driver, postgresql (explorer tests)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver postgresql >/dev/null 2>&1 \
	  || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	       chromium chromium-driver postgresql >/dev/null 2>&1; } \
	  || echo "explorer-deps: apt-get failed; the explorer's browser/PostgreSQL tests will skip"; \
	fi

test: setup explorer-deps
	@test -n "$(FORGE)" || { echo "forge not found under node_modules/@foundry-rs (run make setup)"; exit 2; }
	$(FORGE) test $(FORGE_ARGS)
	$(WITH_ANVIL) $(BIN)/ape test tests/ -q $(PYTEST_ARGS)

demo: setup
	$(WITH_ANVIL) $(BIN)/ape run demo

bench: setup
	$(WITH_ANVIL) $(BIN)/ape run bench
	$(BIN)/python bench/agent_bench.py
	$(WITH_ANVIL) $(BIN)/python bench/gateway_bench.py
	$(MAKE) explorer-deps
	$(WITH_ANVIL) $(BIN)/python bench/explorer_bench.py

sim: setup
	$(BIN)/python -m pinfi_dev.sim

$(SLITHER_VENV)/.installed: tools/slither.lock $(VENV)/.installed
	@test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(BIN)/uv pip install -q --python $(SLITHER_VENV)/bin/python -r tools/slither.lock
	@touch $@

# One check per line.
lint: setup $(SLITHER_VENV)/.installed
	$(BIN)/ruff check pinfi pinfi_dev provider_agent scripts tests bench tools
	$(BIN)/mypy pinfi provider_agent
	$(BIN)/python tools/check_spec_refs.py
	$(BIN)/python tools/slither_input.py --out .build/slither/input.json
	$(SLITHER_VENV)/bin/python tools/slither_check.py .build/slither/input.json \
		--solc $(SOLC_BIN)/solc-v0.8.28 --triage slither.triage.json --report .build/slither/findings.json

clean:
	rm -rf .build out contracts/.cache
