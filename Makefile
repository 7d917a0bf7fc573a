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
	$(BIN)/pip install --quiet -e '.[dev,hil,distributed,history]'
	touch $(STAMP)

# The default suite in sim mode. A NO-GO (exit 1) is a finding, not a failure of the demo; exit 2 is.
demo: $(STAMP)
	@$(BIN)/fleetlab run scenarios --mode sim --out reports/demo; status=$$?; \
	echo "demo report: $(CURDIR)/reports/demo/index.html"; [ $$status -le 1 ]

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/sweep_speed.py
	$(BIN)/python benchmarks/virtual_rigs.py

schema: $(STAMP)
	$(BIN)/fleetlab schema --write schemas/scenario.schema.json

clean:
	rm -rf $(VENV) build *.egg-info
