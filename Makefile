# Dockyard: `make run` serves the console, `make test` runs the whole suite. Both set themselves up.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint lock setup cluster cluster-down bench messages editor

# Every dependency from the lock file, each checked against its hash; then the console itself.
$(STAMP): pyproject.toml requirements/dev.lock package-lock.json
	@test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error  # axe-core for the accessibility tests, CodeMirror + esbuild for `make editor` (package-lock.json)
	@touch $(STAMP)

# Rebuild the YAML editor (static/js/yaml-editor.js, committed: the console needs no node at run time) from
# scripts/editor/ with the npm packages pinned in package-lock.json; tests/unit/test_editor_bundle.py checks it.
editor:
	@scripts/build-editor.sh

# Re-pin the dependencies (after a change in pyproject.toml).
lock:
	@scripts/lock.sh

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
	@$(BIN)/mypy
	@$(BIN)/hadolint Dockerfile && echo "Dockerfile: hadolint clean"

bench: setup cluster
	@$(BIN)/python -m bench
