# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test bench soak schema clean

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

# Two workers: the HIL tests spend about half their time waiting on SSH, rigs and timeouts, so two of them at once
# keep two cores busy (the whole suite on a 2-core machine: 2,990 s of test time, 1,511 s on two workers; tests/hil
# 1,227 s and the virtual rigs 761 s of it; `PYTEST_ADDOPTS=--junitxml=F make test` gives yours). Tests that share
# one thing on the machine run in one worker, in file order: `xdist_group` (the virtual rigs and their leftovers
# check, mypy's cache).
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/plan_costs.py
	$(BIN)/python benchmarks/sweep_speed.py
	$(BIN)/python benchmarks/virtual_rigs.py

# The fault matrix on virtual rigs three times in a row, both cores busy (not part of CI): recovery must never flake.
soak: $(STAMP)
	@for round in 1 2 3; do \
	  start=$$(date +%s); \
	  FLEETLAB_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -q tests/virtual/test_fault_matrix.py \
	    || { echo "soak: round $$round failed"; exit 1; }; \
	  echo "soak: round $$round passed in $$(( $$(date +%s) - start )) s"; \
	done

schema: $(STAMP)
	$(BIN)/fleetlab schema --write schemas/scenario.schema.json
	$(BIN)/fleetlab schema --markdown --write docs/scenario-reference.md

clean:
	rm -rf $(VENV) build *.egg-info
