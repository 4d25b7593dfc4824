# OpenReel: `make demo` sets up and generates a video; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROMPT ?= a red circle moving right on a navy background

.PHONY: setup demo test train eval serve bench clean

setup: $(VENV)/.installed

# torch is pinned to the CPU build first, so nothing later pulls a multi-GB CUDA
# wheel. GPU users: install your own torch into .venv before `make setup`
# (see README), then this step keeps it.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

demo: setup
	@mkdir -p out
	$(BIN)/openreel generate "$(PROMPT)" --seconds 2 --seed 0 -o out/demo.mp4
	@echo "Your video: $(CURDIR)/out/demo.mp4"

test: setup
	$(BIN)/pytest -q

serve: setup
	$(BIN)/openreel serve

train: setup
	$(BIN)/openreel train --out runs/base

eval: setup
	$(BIN)/openreel eval --report eval_report.json

clean:
	rm -rf $(VENV) out runs .pytest_cache
