# es-cluster: the commands the README and docs/ document. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Each recipe runs in one shell, so exports (PATH, KUBECONFIG) carry from line to line.
.ONESHELL:

PYTHON ?= python3
VENV := .venv
STATE := $(CURDIR)/.state
STACK ?= local
# The local stack's state lives in the repository's .state/, not in Pulumi Cloud.
export PULUMI_BACKEND_URL ?= file://$(STATE)/pulumi
export PULUMI_CONFIG_PASSPHRASE ?= es-cluster-local
export PULUMI_SKIP_UPDATE_CHECK := 1
TOOLCHAIN_ENV = eval "$$(scripts/toolchain.sh --env)" && export PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: help venv unit lint docs test test-engines test-upgrades test-bench e2e bench-validate bench-scale mutation mutation-ci toolchain cluster cluster-down up preview destroy render clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create .venv with the pinned Python packages

unit: venv ## unit tests only (seconds): spec builders, config, component under mocks, schema
	$(VENV)/bin/python -m pytest tests/unit

lint: venv ## ruff
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

docs: venv ## build docs/ with MkDocs into build/site/, failing on a broken link or anchor
	$(VENV)/bin/mkdocs build --strict

test: venv lint ## everything CI runs: lint, unit, and end-to-end against a local cluster
	scripts/toolchain.sh
	$(VENV)/bin/python -m pytest --durations=25 tests/unit tests/e2e

# The modern engines' e2e module runs one stack per distribution in `make test` (es8, opensearch);
# this target runs it for all five (docs/tests.md).
ENGINE_STACKS ?= es7,es8,es9,opensearch,opensearch3
UPGRADE_CHAINS ?= es8,opensearch
test-engines: venv ## every modern engine's e2e checks: ES 7.17, 8.19, 9.1, OpenSearch 2.19.4, 3.3.0 (minutes each: docs/tests.md)
	scripts/toolchain.sh
	ES_CLUSTER_E2E_ENGINES=$(ENGINE_STACKS) $(VENV)/bin/python -m pytest tests/e2e/test_modern_engines.py

test-upgrades: venv ## rolling upgrades with writes in flight, then masters 3 -> 5 -> 3: ES 8.19.0 -> 9.1.0 (secured), OpenSearch 2.19.6 -> 3.3.0 (UPGRADE_CHAINS=es7: 7.17.28 -> 8.19.0 -> 9.1.0; docs/tests.md)
	scripts/toolchain.sh
	ES_CLUSTER_E2E_UPGRADES=$(UPGRADE_CHAINS) $(VENV)/bin/python -m pytest -s tests/e2e/test_upgrades.py

test-bench: venv ## the scale benchmark's test at 30 kwok nodes: it runs, prints its figures, and maxUnavailable holds (about 5 minutes)
	scripts/toolchain.sh
	ES_CLUSTER_E2E_BENCH=1 $(VENV)/bin/python -m pytest -s tests/e2e/test_bench_scale.py

e2e: venv ## end-to-end tests only (real engine, providers and API server)
	scripts/toolchain.sh
	$(VENV)/bin/python -m pytest tests/e2e

bench-validate: venv ## figures: configs/s through validation, render time of a 200-group stack
	$(VENV)/bin/python benchmarks/validation.py

NODES ?= 500
BENCH_ARGS ?=
bench-scale: venv ## figures: NODES (500) kwok nodes, pulumi up/preview/rolls against kubectl apply (slow at 500; BENCH_ARGS=--no-roll-1 skips the 1-pod rolls)
	$(VENV)/bin/python benchmarks/scale.py --nodes $(NODES) $(BENCH_ARGS)

# Mutants are named <module>.x_<function>__mutmut_<n>; MUTANTS picks some, e.g. "es_cluster.security*".
MUTANTS ?=
mutation: venv ## mutation score of es_cluster/ and policy/ under the unit tests (slow: MUTANTS="es_cluster.k8s*" for one module)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-mutation.txt
	rm -rf mutants
	set -f; $(VENV)/bin/mutmut run $(MUTANTS)  # set -f: a pattern is never expanded against file names
	$(VENV)/bin/python scripts/mutation-score.py

# CI's budgeted share of it, about 4 minutes on two cores: pod hardening, the quorum's model, the
# image's tag and the policy pack (rules and wiring), with no survivor left unexplained.
MUTATION_CI := es_cluster.security* es_cluster.model* es_cluster.image* policy.*
mutation-ci: ## the budgeted mutation run (about 6 minutes): es_cluster.security, model, image and the policy pack; run it before merging changes there (CI no longer does: docs/tests.md)
	$(MAKE) --no-print-directory mutation MUTANTS="$(MUTATION_CI)"

toolchain: ## build the pinned Pulumi CLI, plugins and control plane into ~/.cache/es-cluster
	scripts/toolchain.sh

# The local cluster `make up` deploys to: three real nodes (kubelet, containerd, runc) labelled as
# in the field report, no kwok nodes. The e2e suite starts its own, with kwok nodes as well.
LOCAL_NODES := REAL_NODES=3 KWOK_NODES=0

cluster: ## start the local cluster: control plane and three real nodes (kubelet + containerd)
	$(LOCAL_NODES) scripts/cluster.sh up

cluster-down: ## stop the local control plane and delete its data
	scripts/cluster.sh down

RENDER_STACK ?= dev
render: venv ## write the objects of stack $(RENDER_STACK) (default dev) to out/ as YAML
	$(VENV)/bin/python -m es_cluster render --stack $(RENDER_STACK) -o out

# `make up`: deploy the stack. Without KUBECONFIG in the environment it targets the local
# cluster (started if needed), so it never reaches a cluster you did not name.
# Without KUBECONFIG: the local cluster, the local Docker engine and registry, and the base image.
define pulumi_stack
	scripts/toolchain.sh >/dev/null
	$(TOOLCHAIN_ENV)
	LOCAL=
	if [[ -z "$${KUBECONFIG:-}" ]]; then
	  LOCAL=1
	  $(LOCAL_NODES) scripts/cluster.sh up
	  export KUBECONFIG=$(STATE)/kubeconfig
	  scripts/docker.sh up
	  eval "$$(scripts/docker.sh env)"
	  # The stack's engine picks the base: the 2.3.4 stand-in, or the engine's (Maven Central's zip).
	  read -r dist version < <($(VENV)/bin/python -c 'import sys; from es_cluster.stack import config_from_file; e = config_from_file(sys.argv[1]).get("engine") or {}; print(e.get("distribution", "elasticsearch"), e.get("version", "2.3.4"))' Pulumi.$(STACK).yaml)
	  if [[ "$$dist $$version" == "elasticsearch 2.3.4" ]]; then scripts/base-image.sh >/dev/null; else scripts/base-image.sh "$$dist" "$$version" >/dev/null; fi
	fi
	mkdir -p $(STATE)/pulumi
	pulumi stack select $(STACK) 2>/dev/null || pulumi stack init $(STACK)
endef

up: venv ## deploy the $(STACK) stack (default: local, on the local cluster's real nodes), wait for green
	$(pulumi_stack)
	# --refresh: reconcile the state with the cluster first (the local cluster may have been
	# recreated by make cluster-down + make up since the last run).
	pulumi up --yes --refresh --stack $(STACK)
	if [[ -n "$$LOCAL" ]]; then
	  STATE_DIR=$(STATE) scripts/wait-green.sh $(STACK)
	fi

preview: venv ## pulumi preview of the $(STACK) stack
	$(pulumi_stack)
	pulumi preview --stack $(STACK)

destroy: venv ## pulumi destroy of the $(STACK) stack
	$(pulumi_stack)
	pulumi destroy --yes --stack $(STACK)

clean: cluster-down ## stop the local cluster and Docker engine, remove .state/ and out/
	scripts/docker.sh down
	rm -rf $(STATE) out
