# boatclf: two commands on a fresh machine.
#   make demo   set up .venv, then train on the offline default and predict
#   make test   set up .venv, then run the test suite (every notebook + tests/)
# Set-up re-runs only when pyproject.toml changes (stamp file .venv/.installed).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-output

.PHONY: demo test export setup clean-demo bench

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing boatclf and its dependencies into $(VENV) (a few minutes the first time)..."
	@$(BIN)/python -m pip install --quiet -e ".[dev]" 2>&1 | { grep -v "is ignored" || true; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/boatclf doctor

test: $(STAMP)
	$(BIN)/python -m pytest

export: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/python tools/readme.py
