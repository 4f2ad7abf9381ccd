# boatclf: two commands on a fresh machine.
#   make demo   set up .venv, then train on the offline default and predict
#   make test   set up .venv, then run the test suite (every notebook + tests/)
#   make lab    set up .venv, register it as the Jupyter kernel "boatclf", open nbs/ in JupyterLab
# Set-up re-runs only when pyproject.toml changes (stamp file .venv/.installed).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo-output

.PHONY: demo test export setup clean-demo bench lab outputs

setup: $(STAMP)

# Space the first install takes: measured 7.0 GB at its peak, 6.6 GB after (PyTorch's Linux wheels are a CUDA build),
# and the test suite about 1 GB more while it runs. Checked before a long install can fail half-way.
NEED_GB ?= 8

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c "import importlib.util, shutil, sys; free = shutil.disk_usage('$(VENV)').free / 2**30; \
	  need = 0 if importlib.util.find_spec('torch') else $(NEED_GB); \
	  sys.exit(f'make: {free:.1f} GB free on the disk of $(VENV), and installing PyTorch, fastai and the rest needs about {need} GB: free some space (old clones, /tmp), then run make again' if free < need else 0)"
	@echo "Installing boatclf and its dependencies into $(VENV) (a few minutes the first time)..."
	@$(BIN)/python -m pip install --quiet -e ".[dev,lab]" 2>&1 | { grep -v "is ignored" || true; }
	@touch $(STAMP)

# The main job, offline: check the machine, train on drawn boats (cpu mode), then ask the model
# about boats it has never seen (another seed) and about a real photo with no boat.
HOPPER = $$($(BIN)/python -c "import matplotlib, os; print(os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))")

demo: $(STAMP)
	$(BIN)/boatclf doctor
	$(BIN)/boatclf train --synthetic --mode cpu --out $(DEMO)/model --overwrite
	$(BIN)/boatclf synth --dest $(DEMO)/unseen --per-class 30 --seed 2026
	$(BIN)/boatclf evaluate $(DEMO)/model $(DEMO)/unseen
	$(BIN)/boatclf predict $(DEMO)/model $(DEMO)/unseen/canoe/canoe_0000.jpg $(DEMO)/unseen/kayak/kayak_0000.jpg \
	    $(DEMO)/unseen/sailboat/sailboat_0000.jpg $(HOPPER)
	@echo "The last photo is Grace Hopper, not a boat: a cross-entropy model must still pick a boat."
	@echo "Binary cross-entropy can say 'no boat I know': boatclf train --synthetic --loss bce --out $(DEMO)/bce"
	@echo "The model is $(DEMO)/model/model.safetensors + model.json (only data: loading it runs no code);"
	@echo "metrics.json, confusion.png and losses.png are there too, and model.pkl for fastai users (a pickle: boatclf opens it only with --trust-pickle)."

test: $(STAMP)
	$(BIN)/python -m pytest

export: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/python tools/readme.py

# JupyterLab on the notebooks. The kernel "boatclf" is this .venv, registered for this user (--user, in
# ~/.local/share/jupyter/kernels), so VS Code and any other Jupyter find it by name. LAB_ARGS go to
# jupyter lab (the tests: LAB_ARGS="--no-browser --port 8899 --IdentityProvider.token=...").
LAB_ARGS ?=
lab: $(STAMP)
	@$(BIN)/python -m ipykernel install --user --name boatclf --display-name boatclf
	$(BIN)/jupyter lab $(LAB_ARGS) nbs/

# Store in the notebooks the outputs of a cpu-mode, offline run through a Jupyter kernel (tools/outputs.py),
# with the hash of the code cells that made them: make outputs NB=nbs/00_core.ipynb (default: every notebook).
NB ?= $(wildcard nbs/*.ipynb)
outputs: $(STAMP)
	$(BIN)/python tools/outputs.py $(NB)
