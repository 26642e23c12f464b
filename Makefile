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

# The Airflow lines of the version matrix besides the default one (each with its own venv and lock).
MATRIX_LINES := $(filter-out $(AIRFLOW_LINE),$(LOCK_LINES))
DEMO_DIR     ?= .demo
WHEEL_VENV   ?= .venv-wheel

.PHONY: install test lint demo bench e2e e2e-prod screenshots vendor-drift lock lock-check matrix dist wheel-check clean

$(UV): requirements/uv.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
		--target $(VENV)/.uv -r requirements/uv.txt
	touch $(UV)

$(STAMP): $(UV) $(LOCK) pyproject.toml $(wildcard tests/toy_vendor/pyproject.toml tests/toy_vendor/toyvendor/*.py)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	# A third-party vendor as its own distribution (found through its entry point: tests, make e2e).
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation --reinstall-package vidgen-toy-vendor tests/toy_vendor
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
	$(BIN)/python -m airflow_provider_vidgen.demo --workdir $(DEMO_DIR)

bench: install
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/triggerer_load.py
	$(BIN)/python benchmarks/batch_vs_mapped.py
	$(BIN)/python benchmarks/ten_thousand.py --topology standalone
	$(BIN)/python benchmarks/pace_stores.py
	$(BIN)/python benchmarks/ten_thousand.py --n 1000 --chunk 50 --modes shared,callbacks
	$(BIN)/python benchmarks/callback_bursts.py
	$(BIN)/python benchmarks/vendor_limits.py

e2e: install
	$(BIN)/python tests/e2e/run_e2e.py

# docs/videos-*.png: the Videos tab under airflow standalone, photographed by headless Chromium (needs chromium).
screenshots: install
	$(BIN)/python tests/e2e/screenshots.py

# The production topology (PostgreSQL, Redis, CeleryExecutor, two triggerers, two workers) with
# process faults: a triggerer and a worker killed -9, the scheduler restarted, the vendor API down 60 s;
# then 10,000 invalid callback URLs against one API server while real callbacks arrive (phase flood).
# Installs postgresql and redis-server with apt-get when missing (as root). tests/e2e/run_e2e_prod.py --help
e2e-prod: install
	$(BIN)/python tests/e2e/run_e2e_prod.py

# The vendor's SDK (acedatacloud, pinned) against our service table and task-record reading: every
# difference, declared or not (tests/test_vendor_oracle.py fails on an undeclared one).
vendor-drift: install
	$(BIN)/python tests/oracle/vendor_drift.py

# The whole suite and the demo on every other supported Airflow line, each from its own lock.
matrix:
	for line in $(MATRIX_LINES); do \
		echo "=== Airflow $$line ==="; \
		$(MAKE) --no-print-directory install AIRFLOW_LINE=$$line VENV=.venv-$$line || exit 1; \
		.venv-$$line/bin/airflow version || exit 1; \
		.venv-$$line/bin/python -m pytest -q -p no:cacheprovider || exit 1; \
		$(MAKE) --no-print-directory demo AIRFLOW_LINE=$$line VENV=.venv-$$line DEMO_DIR=.demo-$$line || exit 1; \
	done

# The sdist and wheel, built from the locked environment and checked by twine.
dist: install
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

# The built wheel in a clean venv (the same locked dependencies, the provider from the wheel only):
# every module imports, the package data is there, and the demo DAG runs against it.
wheel-check: dist
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(UV) pip sync --quiet --python $(WHEEL_VENV)/bin/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(WHEEL_VENV)/bin/python --no-deps dist/*.whl
	cd $(WHEEL_VENV) && bin/python $(CURDIR)/tests/wheel/smoke.py \
		--dags-folder $(CURDIR)/dags_examples --workdir $(CURDIR)/$(WHEEL_VENV)/demo

# Re-resolve every lock from pyproject.toml and its .in file; commit the result with the reason.
lock: $(UV)
	$(UV) pip compile --quiet --universal --generate-hashes requirements/uv.in -o requirements/uv.txt
	for line in $(LOCK_LINES); do \
		date=$$(sed -n 's/^# exclude-newer: *//p' requirements/airflow-$$line.in); \
		$(UV) pip compile --quiet --universal --python-version 3.10 --generate-hashes --extra dev \
			--exclude-newer "$${date}T00:00:00Z" --exclude-newer-package acedatacloud=2026-10-21T00:00:00Z \
			--exclude-newer-package apache-airflow-providers-openlineage=2026-10-21T00:00:00Z \
			--exclude-newer-package openlineage-python=2026-10-21T00:00:00Z \
			--exclude-newer-package openlineage-integration-common=2026-10-21T00:00:00Z \
			--exclude-newer-package openlineage-sql=2026-10-21T00:00:00Z \
			pyproject.toml requirements/airflow-$$line.in -o requirements/airflow-$$line.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .venv-* .demo .demo-* dist .pytest_cache
