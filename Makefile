# CaseLedger — two commands: `make demo` (local consortium with demo data) and `make test` (whole suite).
# Both do all set-up themselves on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NPM    := npm --no-audit --no-fund --loglevel=error

# geth for the multi-node Clique test chain (tests marked `multinode`, `caseledger up --chain clique`): a pinned
# Go module built once into a git-ignored cache; later runs reuse the binary (and Go's own caches make a rebuild
# take seconds). ledger/dev/clique.py names the same version and path.
GETH_VERSION := v1.13.15
GETH         := .cache/geth/$(GETH_VERSION)/geth

.PHONY: setup browser-deps build geth demo test test-contracts test-python lint bench clean

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

# The first build downloads ~100 Go modules and compiles for about 3.5 minutes on 2 cores.
# -checklinkname=0: with Go 1.23+ geth's memsize dependency fails to link without it.
geth: $(GETH)

$(GETH):
	@command -v go >/dev/null 2>&1 || { echo "Go is not installed: the multi-node tests and \`caseledger up --chain clique\` build geth $(GETH_VERSION) with \`go install\`, which needs Go 1.23 or newer on PATH." >&2; exit 1; }
	@echo "building geth $(GETH_VERSION) into $(dir $(GETH)) (go install; a few minutes the first time)"
	GOBIN=$(abspath $(dir $(GETH))) GOTOOLCHAIN=local nice -n 10 go install -ldflags=-checklinkname=0 \
		github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION)

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

# the whole suite on the intl suite (SHA-256, AES-GCM), then every test on a shared hall network once more
# on the 国密 suite (SM3, SM4-GCM): both suites pass the same integration tests
test-python: setup geth
	$(BIN)/pytest -q
	CASELEDGER_TEST_SUITE=gm $(BIN)/pytest -q -m suites

lint: setup
	$(BIN)/ruff check ledger node_api tests scripts
	$(BIN)/ruff format --check ledger node_api tests scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/caseledger bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
