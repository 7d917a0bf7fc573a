# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test bench schema clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,hil,distributed]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fleetlab sim scenarios/fleet-10k-500mb.yaml --seed 1 --out reports/demo
	@echo "demo output: $(CURDIR)/reports/demo/result.json"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/sweep_speed.py

schema: $(STAMP)
	$(BIN)/fleetlab schema --write schemas/scenario.schema.json

clean:
	rm -rf $(VENV) build *.egg-info
