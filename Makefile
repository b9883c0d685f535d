# ghostwatch: two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch first, pinned to a build these machines hold on local disk, with the torchvision that fits it
# (the transformers video processors need torchvision; torch 2.13.0's CPU build has none beside it).
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
DEMO_DIR ?= .demo

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 60
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo demo-failure test check bench clean azurite faults

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_PINS)
	$(PIP) install --quiet -e '.[inference,dev]'
	$(PY) -m tasks.triage.prefilter
	touch $@

install: $(VENV)/.installed

node_modules/.bin/azurite: package.json
	npm install --no-audit --no-fund --no-package-lock --silent
	touch $@

azurite: node_modules/.bin/azurite

demo: install
	$(PY) -m flows.demo --workdir $(DEMO_DIR)

demo-failure: install
	$(PY) -m flows.demo --workdir $(DEMO_DIR) --failure

test: install azurite browser
	$(VENV)/bin/pytest

# The quick loop for developers: no model building, no servers (Prefect, Azurite, the Azure ML fake); under a minute.
check: install
	$(VENV)/bin/pytest -q -m "not slow and not prefect and not azurite and not azureml"

# The fault matrix (issue 11): the whole flow through each fault against local services; prints the table, writes FAULTS.md.
faults: install
	GW_FAULTS_MD=$(CURDIR)/FAULTS.md $(VENV)/bin/pytest -q -s -p no:cacheprovider tests/test_fault_matrix.py

bench: install azurite
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(DEMO_DIR) .pytest_cache

# Prefect operations: a local server, the deployments (with work pool, blocks and automation) and a worker.
# They need an installed .venv (`make install`) but never reinstall it.
PREFECT_HOST ?= 127.0.0.1
PREFECT_PORT ?= 4200
API_URL ?= $(or $(PREFECT_API_URL),http://$(PREFECT_HOST):$(PREFECT_PORT)/api)
BACKSTOP_SECONDS ?= 30
# How often the worker asks for runs: trigger-to-first-stage is ~12 s at 2 s, ~21 s at Prefect's default 10 s (bench/bench_trigger.py).
WORKER_POLL_SECONDS ?= 5
.PHONY: server deploy worker browser

server: | $(VENV)/.installed
	$(VENV)/bin/prefect server start --host $(PREFECT_HOST) --port $(PREFECT_PORT)

deploy: | $(VENV)/.installed
	PREFECT_API_URL=$(API_URL) $(PY) -m flows.deploy --demo-dir $(DEMO_DIR) --backstop-seconds $(BACKSTOP_SECONDS) $(DEPLOY_FLAGS)

worker: | $(VENV)/.installed
	PREFECT_API_URL=$(API_URL) PREFECT_WORKER_QUERY_SECONDS=$(WORKER_POLL_SECONDS) $(VENV)/bin/prefect worker start --pool ghostwatch

# Debian's Chromium for the browser test (Playwright drives it; no browser download).
browser:
	command -v chromium >/dev/null || (sudo -n apt-get update && sudo -n apt-get install -y chromium) || \
		(apt-get update && apt-get install -y chromium)
