# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_DAYS ?= 7

# What tests and benchmarks run against: the local PostgreSQL and Redis.
TEST_DATABASE_URL ?= postgresql://127.0.0.1:5432/cg
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
BENCH_DATABASE_URL ?= postgresql://127.0.0.1:5432/cg_bench
# Tests and benchmarks sign with the well-known first development key of local nodes,
# and ask for an in-process chain (tests that need a real node start anvil).
DEV_KEY = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
TEST_ENV = DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	SECRET_KEY=test-only-secret-key CHAIN_PRIVATE_KEY=$(DEV_KEY) WEB3_PROVIDER_URI=eth-tester://
BENCH_ENV = DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	SECRET_KEY=bench-only-secret-key CHAIN_PRIVATE_KEY=$(DEV_KEY) WEB3_PROVIDER_URI=eth-tester://

.PHONY: run test bench lint format check clean contracts

# The Solidity compiler and anvil come from the npm registry, pinned by the lockfile.
node_modules/.installed: package.json package-lock.json
	@# npm ci refuses a lockfile without the other platforms' anvil binaries, which npm 11
	@# leaves out of it; install honours the locked versions all the same.
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@command -v npm >/dev/null && $(MAKE) --no-print-directory node_modules/.installed || \
		echo "npm not found: anchoring will use an in-process chain"
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py serve --port $(PORT) --demo-days $(DEMO_DAYS)

test: $(VENV)/.installed-test node_modules/.installed
	@$(TEST_ENV) $(BIN)/python -m cg.preflight
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)
	@echo "the same suite in embedded mode (SQLite, in-process tasks), but for what needs PostgreSQL:"
	env -u DATABASE_URL -u REDIS_URL -u SECRET_KEY -u CHAIN_PRIVATE_KEY CG_VAR_DIR=var/test \
		WEB3_PROVIDER_URI=eth-tester:// \
		$(BIN)/pytest -m "not postgres" $(PYTEST_ARGS)

# `make bench BENCH_SOURCES=10000` runs anchoring and issuance at 10M attributions
# (10,000 sources x 1,000 hours) instead of 1M.
BENCH_SOURCES ?= 1000

bench: $(VENV)/.installed-test node_modules/.installed
	@$(BENCH_ENV) $(BIN)/python -m cg.preflight
	$(BENCH_ENV) $(BIN)/python bench/read_api.py
	$(BENCH_ENV) $(BIN)/python bench/ingest.py
	$(BENCH_ENV) $(BIN)/python bench/anchor.py --sources $(BENCH_SOURCES)
	$(BENCH_ENV) $(BIN)/python bench/issue.py --sources $(BENCH_SOURCES)
	$(BENCH_ENV) $(BIN)/python bench/lifecycle.py
	$(BENCH_ENV) $(BIN)/python bench/tokens.py
	$(BENCH_ENV) $(BIN)/python bench/ops.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: $(VENV)/.installed-test
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Recompile the contracts into chain/artifacts (committed: Python needs no Node).
contracts: node_modules/.installed
	npm run -s compile

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .ruff_cache .hypothesis
