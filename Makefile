# mlops.eks_platform: developer and CI entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The sandbox is a package in tests/tools (tests/tools/sandbox/), run as a module.
SANDBOX = PYTHONPATH=$(TOOLS_PYTHONPATH) $(PY) -m sandbox --dir $(SANDBOX_DIR)
INVENTORY ?= inventories/sandbox
SANDBOX_DIR ?= $(CURDIR)/.sandbox
# The image lab and the benchmarks import the sandbox's tools (tests/tools) as modules.
TOOLS_PYTHONPATH = $(CURDIR)/tests/tools:$(CURDIR)/build/collections

export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export PYTHONPATH := $(CURDIR)/build/collections
export ANSIBLE_HOME := $(CURDIR)/build/ansible-home
export ANSIBLE_NOCOLOR := 1

.PHONY: help setup test lint sanity unit integration molecule collection demo demo-down \
        sandbox-up sandbox-down sandbox-status cluster-up cluster-down clean bench-images images bench faults

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: ## create .venv with pinned dependencies, helm, kubectl, the control-plane binaries
	@bash tests/tools/setup.sh

test: setup ## everything CI runs: static checks, unit, AWS and Kubernetes integration, molecule
	@bash tests/tools/run-tests.sh

lint: setup ## yamllint and ansible-lint (production profile, offline)
	@bash tests/tools/run-tests.sh lint

sanity: setup ## ansible-test sanity, offline
	@bash tests/tools/run-tests.sh sanity

unit: setup ## pytest tests/unit
	@bash tests/tools/run-tests.sh unit

integration: setup ## pytest tests/integration against moto and the local control plane
	@bash tests/tools/run-tests.sh integration

molecule: setup ## every molecule scenario on the local stack
	@bash tests/tools/run-tests.sh molecule

collection: setup ## build the collection tarball into build/dist
	@ansible-galaxy collection build --force --output-path build/dist .

demo: setup ## the whole site.yml against the local sandbox, twice (the second run changes nothing)
	@bash tests/tools/demo.sh

demo-down: sandbox-down ## stop the sandbox the demo started

sandbox-up: setup ## start emulated AWS and the local control plane; writes .sandbox/env
	@$(SANDBOX) up

sandbox-down: ## stop exactly what sandbox-up started
	@if [ -x $(PY) ]; then $(SANDBOX) down; else echo "sandbox: nothing to stop"; fi

sandbox-status: ## exit 0 only while emulated AWS and the control plane answer
	@$(SANDBOX) status

cluster-up: setup ## start only the local Kubernetes control plane (.sandbox/kubeconfig)
	@$(SANDBOX) up --only kube

cluster-down: ## stop only the local Kubernetes control plane
	@if [ -x $(PY) ]; then $(SANDBOX) down --only kube; else echo "sandbox: nothing to stop"; fi

images: setup ## build images/mlflow and images/trainer from a local Debian base through playbooks/images.yml and prove them (5-10 min; IMAGES_ARGS="--keep-storage")
	@PYTHONPATH=$(TOOLS_PYTHONPATH) $(PY) tests/tools/build_images.py $(IMAGES_ARGS)

bench-images: setup ## benchmark ecr_image: first build+push against the unchanged re-run (one registry lookup; BENCH_IMAGES_ARGS="--image mlflow")
	@PYTHONPATH=$(TOOLS_PYTHONPATH) $(PY) bench/images.py $(BENCH_IMAGES_ARGS)

bench: setup ## deploy benchmark: site.yml with emulated AWS waits vs its critical path, then the rerun (BENCH_ARGS="--runs 3")
	@PYTHONPATH=$(TOOLS_PYTHONPATH) $(PY) bench/deploy.py $(BENCH_ARGS)

faults: setup ## faults on the whole site.yml: throttling and 5xx (AWSRetry, botocore), three interruptions (~25 min; FAULTS_ARGS for pytest)
	@$(PY) -m pytest -p no:cacheprovider tests/integration/test_faults.py tests/integration/faults_full.py $(FAULTS_ARGS)

clean: sandbox-down ## remove build output (keeps .venv and the tool cache)
	rm -rf build/dist build/ansible-test tests/output .pytest_cache
