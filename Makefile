# Every target installs what it needs into .venv first, so a fresh clone only needs python3 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Airflow line we test on (newest 3.3.x).
AIRFLOW_SPEC ?= apache-airflow>=3.3.2,<3.4

.PHONY: install test lint demo bench e2e clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]" "$(AIRFLOW_SPEC)"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/python -m airflow_provider_vidgen.demo

bench: install
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/triggerer_load.py

e2e: install
	$(BIN)/python tests/e2e/run_e2e.py

clean:
	rm -rf $(VENV) .demo .pytest_cache
