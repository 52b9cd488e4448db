# leadgate — the two commands of the README, and what CI runs.
#   make run    creates .venv, installs, migrates ./data/leadgate.db, provisions a demo tenant
#               (printing its key on first run) and serves on http://127.0.0.1:8000, each tenant
#               at http://<slug>.localtest.me:8000 (`make run PORT=3001`: every printed URL follows)
#   make test   installs what the tests need (Python packages, Debian's chromium) and runs them
#               (SQLite; PostgreSQL + Redis when up)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint audit format check bench bench-scaling clean chromium nginx screenshots compose-config

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq python3-venv)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/leadgate db upgrade
	@$(BIN)/leadgate tenant demo
	@exec $(BIN)/leadgate serve --host $(HOST) --port $(PORT)

test: $(STAMP) chromium nginx
	$(BIN)/pytest -n 2 --dist loadgroup --cov --cov-report=term --cov-report=xml $(PYTEST_ARGS)

# The console's browser tests drive Debian's chromium (never a Playwright-downloaded browser).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# tests/test_nginx.py runs deploy/nginx.conf with Debian's nginx (as this user, never the service).
nginx:
	@test -x /usr/sbin/nginx || (apt-get update -qq && RUNLEVEL=1 apt-get install -y -qq nginx)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy src tests

# Known vulnerabilities in the installed dependencies (pip-audit; skips, saying why, when no
# vulnerability service is reachable).
audit: $(STAMP)
	$(BIN)/python .ci/audit

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

check: lint test

screenshots: $(STAMP) chromium
	LEADGATE_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots LEADGATE_TEST_BACKENDS=sqlite \
		$(BIN)/pytest -q tests/test_console_browser.py tests/test_forms_browser.py \
			tests/test_console_crm_browser.py

# deploy/compose.yaml is valid: `docker compose config` (v2 plugin) or Debian's docker-compose
# (v1; needs no Docker engine).
compose-config:
	@if docker compose version >/dev/null 2>&1; then \
		docker compose -f deploy/compose.yaml config -q; \
	else \
		command -v docker-compose >/dev/null || \
			(apt-get update -qq && apt-get install -y -qq docker-compose); \
		docker-compose -f deploy/compose.yaml config -q; \
	fi
	@echo "deploy/compose.yaml: valid"

bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py

# 1 vs 2 server processes on this machine (bench/README.md); about 3 minutes.
bench-scaling: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage* coverage.xml
