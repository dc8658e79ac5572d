# One entry point for people, .ci/run and the workflows.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA_DIR := ../shared/data/cfpb

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help
.PHONY: help setup run train retrain release test bench cost shared-data clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[train,dev,report,hub,checks,aws]'
	# checkov in its own venv: it pins boto3, packaging and networkx below what the project uses
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet 'checkov==3.3.30'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the complaints command and every extra

run: setup  ## the main job: register baseline models if none exist, triage real complaints, report
	$(BIN)/complaints run

train: setup  ## fine-tune the transformer champion recipe; promoted where it beats the current champion
	$(BIN)/complaints train --kind transformer-onnx --champion if-better

ENV ?= dev
retrain: setup  ## retrain ENV's models on its corrections, gate them, write the manifest change + report (build/promotion)
	$(BIN)/complaints --env $(ENV) retrain --out build/promotion

release: setup  ## apply ENV's committed release manifest to its store (RUN_URL recorded); a no-op when it already serves it
	$(BIN)/complaints --env $(ENV) release apply --run-url "$(RUN_URL)"

bench: setup  ## serving latency, throughput and cold start of the champions (and the transformer path vs naive torch pipelines)
	$(BIN)/python -m model.bench --output reports/bench.json

cost: setup  ## AWS cost per 1,000 complaints and per month at 3k and 15k a day vs the triage team (infra/COST.md)
	$(BIN)/python infra/cost/estimate.py

test: setup  ## the whole suite with coverage
	$(BIN)/pytest --cov --cov-report=term --cov-report=xml

shared-data:  ## check that the CFPB sample is beside the checkout (or fetch it from $$CFPB_DATA_URL)
	@if [ -f $(DATA_DIR)/complaints.csv.gz ]; then echo "CFPB sample: $(DATA_DIR)"; \
	elif [ -n "$$CFPB_DATA_URL" ]; then mkdir -p $(DATA_DIR) && curl -fsSL "$$CFPB_DATA_URL" -o $(DATA_DIR)/complaints.csv.gz; \
	else echo "error: $(DATA_DIR)/complaints.csv.gz is missing and CFPB_DATA_URL is not set"; exit 2; fi

clean:  ## remove the virtual environment and the embedded store/registry
	rm -rf $(VENV) .complaints .coverage coverage.xml
