# Dockyard: `make run` serves the console, `make test` runs the whole suite. Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres setup system-deps cluster cluster-down bench messages lint e2e

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) messages

# Compile the gettext catalogues (English is the source, Chinese the first translation).
messages: $(STAMP)
	@$(BIN)/pybabel compile -q -d app/locales -D messages 2>/dev/null || true

run: setup
	@$(BIN)/dockyard serve --host $(HOST) --port $(PORT)

cluster: setup
	@$(BIN)/dockyard cluster up

cluster-down:
	@if [ -x $(BIN)/dockyard ]; then $(BIN)/dockyard cluster down; else scripts/cluster-down.sh; fi

test: setup cluster
	@scripts/test.sh

bench: setup cluster
	@$(BIN)/python -m bench
