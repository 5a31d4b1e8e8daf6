# CaseLedger — two commands: `make demo` (local consortium with demo data) and `make test` (whole suite).
# Both do all set-up themselves on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NPM    := npm --no-audit --no-fund --loglevel=error

.PHONY: setup browser-deps build demo test test-contracts test-python lint bench clean

setup: $(VENV)/.installed node_modules/.installed browser-deps

# Browser tests (tests/e2e) drive Debian's Chromium; CJK fonts so Chinese pages render (runs as root here).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk; fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[hall,dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	$(NPM) install  # not `npm ci`: npm 11 locks omit other platforms' optional anvil builds and `ci` refuses them
	touch $@

# Rebuild the contracts and refresh the ABI/bytecode shipped in ledger/chain/contracts/ (commit the result).
build: setup
	$(NPM) run build

# The main job: a local chain, three hall nodes (separate processes) in three Quanzhou districts,
# and a first cross-district case run through them. Everything keeps running in the background;
# `.venv/bin/caseledger down` stops it, `make demo` again resumes with all data intact.
demo: setup
	$(BIN)/caseledger up --detach
	$(BIN)/caseledger demo --bundle-out .caseledger/demo-bundle.json
	$(BIN)/caseledger status

test: setup lint test-contracts test-python

test-contracts: setup
	npx hardhat test

test-python: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check ledger node_api tests scripts
	$(BIN)/ruff format --check ledger node_api tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/caseledger bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
