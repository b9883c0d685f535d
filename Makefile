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

test: install azurite
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
