# fancare — `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
FANCARE:= $(VENV)/bin/fancare
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help install model run shell test lint bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU build (an unpinned torch pulls a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install fancare (CPU torch)

models/LATEST: $(VENV)/.installed $(wildcard training_data/*) config.yml
	# a model that scores worse than the served one is not promoted: keep serving that one
	$(FANCARE) train || test -f models/LATEST

model: models/LATEST  ## train the NLU model when training data changed

run: install model  ## set up everything and chat with the demo brand in the terminal
	$(FANCARE) shell

test: install  ## set up and run the whole test suite (SQLite and a throwaway PostgreSQL)
	scripts/ensure-chromium.sh
	scripts/ensure-rasa-sdk.sh
	$(PY) -m tests.model_cache  # the shared test models, trained up front: minutes, longer than one test's timeout
	FANCARE_RASA_SDK_PYTHON=$$(test -x .rasa-sdk-venv/bin/python && echo $(CURDIR)/.rasa-sdk-venv/bin/python) scripts/with-postgres.sh $(PY) -m pytest -q

lint:  ## ruff and mypy
	$(VENV)/bin/ruff check bot nlu dialogs knowledge_base moderation tests benchmarks
	$(VENV)/bin/mypy

bench: install  ## run the benchmarks and write benchmarks/results/
	$(PY) -m benchmarks.run

clean:  ## remove the venv, models and the local database
	rm -rf $(VENV) models fancare.db fancare.db-*
