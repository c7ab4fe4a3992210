# Dockyard: `make run` serves the console, `make test` runs the whole suite. Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint setup cluster cluster-down bench messages

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) messages

# Compile the gettext catalogues (English is the source, Chinese the first translation).
messages: $(STAMP)
	@$(BIN)/pybabel -q compile -d app/locales -D messages

# After adding or changing strings: extract, merge into each .po (new ones empty, near-misses fuzzy), compile.
.PHONY: messages-update
messages-update: $(STAMP)
	@BIN=$(BIN) scripts/i18n.sh

# The configured cluster if there is one (DOCKYARD_KUBECONFIG, KUBECONFIG, ~/.kube/config, in-cluster),
# else the local control plane, started first.
run: setup
	@BIN=$(BIN) scripts/run.sh --host $(HOST) --port $(PORT)

cluster: setup
	@$(BIN)/python -m devcluster up

cluster-down:
	@scripts/cluster-down.sh

test: setup lint cluster
	@scripts/test.sh

# The fast tier: the rules, forms, manifests, YAML gate and templates, no cluster and no database server.
test-fast: setup
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

lint: setup
	@$(BIN)/ruff check app tests bench devcluster

bench: setup cluster
	@$(BIN)/python -m bench
