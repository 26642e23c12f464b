# Every target installs what it needs into .venv first, so a fresh clone only needs python3 and make.
# The environment is locked: requirements/airflow-$(AIRFLOW_LINE).txt pins every package (with hashes),
# and the install fails when the venv does not match it exactly. `make lock` refreshes the locks on purpose.
PYTHON       ?= python3
AIRFLOW_LINE ?= 3.3
VENV         ?= .venv
BIN          := $(VENV)/bin
UV           := $(VENV)/.uv/bin/uv
LOCK         := requirements/airflow-$(AIRFLOW_LINE).txt
STAMP        := $(VENV)/.installed-$(AIRFLOW_LINE)
# Each line's lock resolves packages released up to the date in its .in file ("# exclude-newer: ...").
LOCK_LINES   := $(patsubst requirements/airflow-%.in,%,$(wildcard requirements/airflow-*.in))

.PHONY: install test lint demo bench e2e lock lock-check clean

$(UV): requirements/uv.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		--target $(VENV)/.uv -r requirements/uv.txt
	touch $(UV)

$(STAMP): $(UV) $(LOCK) pyproject.toml
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python requirements/lockcheck.py installed $(LOCK)
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock-check: install
	$(BIN)/python requirements/lockcheck.py pyproject $(LOCK)

test: install lint lock-check
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/python -m airflow_provider_vidgen.demo

bench: install
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/triggerer_load.py

e2e: install
	$(BIN)/python tests/e2e/run_e2e.py

# Re-resolve every lock from pyproject.toml and its .in file; commit the result with the reason.
lock: $(UV)
	$(UV) pip compile --quiet --universal --generate-hashes requirements/uv.in -o requirements/uv.txt
	for line in $(LOCK_LINES); do \
		date=$$(sed -n 's/^# exclude-newer: *//p' requirements/airflow-$$line.in); \
		$(UV) pip compile --quiet --universal --python-version 3.10 --generate-hashes --extra dev \
			--exclude-newer "$${date}T00:00:00Z" \
			pyproject.toml requirements/airflow-$$line.in -o requirements/airflow-$$line.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .venv-* .demo .pytest_cache
