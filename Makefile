# campusguard developer entry points. `make test` and `make demo` work on a fresh machine: they create .venv,
# install system packages when root (scripts/bootstrap.sh), and run under devtools.devservices, which finds
# or starts PostgreSQL and Mosquitto and stops what it started.

SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip install re-runs only when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.campusguard-installed
PGLITE := tools/pglite
# npm writes this hidden lockfile on every install: newer than package-lock.json means node_modules is current.
NODE_STAMP := $(PGLITE)/node_modules/.package-lock.json
UI := tools/ui
UI_STAMP := $(UI)/node_modules/.package-lock.json
# DEVSERVICES_ARGS=--no-default-ports exercises the private-server path where system services run.
DEVSERVICES_ARGS ?=
DEVSERVICES := $(BIN)/python -m devtools.devservices run $(DEVSERVICES_ARGS)
# `make test PYTEST_ARGS="-n auto"` runs on every core (each worker has its own databases and MQTT broker,
# tests/conftest.py): 19 min instead of about 25 here, but timing-sensitive end-to-end tests flake under that
# load on a 2-core machine, so the default stays serial.
PYTEST_ARGS ?=

# mypy is given only the packages that exist yet (bench/ may still be empty).
PACKAGES := domain devtools campusguard ingest geo vision alerts command_ui store bench
MYPY_TARGETS = $(foreach pkg,$(PACKAGES),$(if $(wildcard $(pkg)/*.py),$(pkg)))

.PHONY: venv node lint test demo bench bench-scale clean

venv:
	@bash scripts/bootstrap.sh
	@$(MAKE) --no-print-directory $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

node:
	@if [[ -f $(PGLITE)/package-lock.json ]]; then \
		command -v npm >/dev/null || bash scripts/bootstrap.sh; \
		$(MAKE) --no-print-directory $(NODE_STAMP) $(UI_STAMP); \
	fi

$(NODE_STAMP): $(PGLITE)/package-lock.json $(PGLITE)/package.json
	npm ci --prefix $(PGLITE) --no-audit --no-fund
	@touch $@

# Leaflet for the map pages, served from here (no CDN).
$(UI_STAMP): $(UI)/package-lock.json $(UI)/package.json
	npm ci --prefix $(UI) --no-audit --no-fund
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy --strict $(MYPY_TARGETS)

test: venv node
	$(DEVSERVICES) -- $(BIN)/pytest $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory lint

# The Chinese example city in zh-CN by default; `make demo SITE=district` runs the English district.
SITE ?= city
demo: venv node
	$(DEVSERVICES) -- $(BIN)/campusguard demo --example $(SITE)

bench: venv node
	$(DEVSERVICES) -- $(BIN)/python -m bench.run_all

# A year of a city (issue 21): SCALE=1.0 is the full year (about 50 M positions); the loaded cluster is kept in
# .run/year-$(SCALE), so a second run measures without loading again.
SCALE ?= 0.1
bench-scale: venv node
	$(DEVSERVICES) -- $(BIN)/python -m bench.year.run --scale $(SCALE) --data .run/year-$(SCALE)

# Keeps .venv (slow to rebuild); refuses to delete a private PostgreSQL cluster that is still running.
clean:
	@if [[ -f .run/postgres/data/postmaster.pid ]]; then \
		echo "clean: a private PostgreSQL still runs from .run/postgres; stop 'make demo' first" >&2; exit 1; \
	fi
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info $(STAMP)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
