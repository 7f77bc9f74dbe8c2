# safe-room planner: every target that needs Python creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PLANNER := $(VENV)/bin/planner
STATION ?= inputs/station-unity
SCENARIO ?=
BUDGET ?=
OUT ?= reports
SCENARIO_ARG := $(if $(SCENARIO),--scenario $(SCENARIO),)
BUDGET_ARG := $(if $(BUDGET),--budget $(BUDGET),)
# The test suite runs on every core (pytest-xdist; tests that share an expensive module fixture are
# one xdist group). WORKERS=0 runs it in one process.
WORKERS ?= auto
PYTEST_WORKERS := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup)

.PHONY: help venv proposal whatif sweep lint test test-fast validate reach bench bench-quick verify clean-venv

help:
	@echo "make proposal   construction proposal for $(STATION) into $(OUT)/"
	@echo "make whatif BUDGET=X   proposal at budget X"
	@echo "make sweep      budget-coverage curve"
	@echo "make validate   check the station inputs"
	@echo "make lint       ruff and mypy (part of make test)"
	@echo "make test       lint, then the whole test suite"
	@echo "make test-fast  lint, then the tests not marked slow (the inner loop)"
	@echo "make bench      benchmarks (QUICK=1 for the small sizes)"
	@echo "make verify     propose $(STATION) and replay it in the pedestrian simulator (JuPedSim)"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "[setup] installing the planner and its dependencies into $(VENV) ..."
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e ".[test]"
	@echo "[setup] installing the pedestrian simulator JuPedSim (without its 1.8 GB visualiser) ..."
	@$(PY) -m pip install -q "deprecated~=1.2.18"
	@$(PY) -m pip install -q --no-deps "jupedsim>=1.4,<2"
	@touch $@

venv: $(VENV)/.installed

proposal: venv
	$(PLANNER) propose $(STATION) $(SCENARIO_ARG) $(BUDGET_ARG) --out $(OUT)

whatif: venv
	@test -n "$(BUDGET)" || { echo "usage: make whatif BUDGET=2500000"; exit 2; }
	$(PLANNER) propose $(STATION) $(SCENARIO_ARG) --budget $(BUDGET) --out $(OUT)

sweep: venv
	$(PLANNER) sweep $(STATION) $(SCENARIO_ARG) $(if $(BUDGETS),--budgets $(BUDGETS),) --out $(OUT)

validate: venv
	$(PLANNER) validate $(STATION) $(SCENARIO_ARG)

reach: venv
	$(PLANNER) reach $(STATION) $(SCENARIO_ARG)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q $(PYTEST_WORKERS) tests

test-fast: lint
	$(PY) -m pytest -q $(PYTEST_WORKERS) -m "not slow" tests

bench: venv
	$(PY) -m pip install -q -e ".[test,bench]"
	QUICK=$(QUICK) $(PY) -m bench.run

verify: venv
	$(PY) -m bench.verify --station $(STATION) --out $(OUT) $(if $(SEEDS),--seeds $(SEEDS),)

clean-venv:
	rm -rf $(VENV)
