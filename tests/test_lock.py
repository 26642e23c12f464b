"""The locked dev/CI environment: every lock agrees with pyproject.toml, and the check catches drift."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO

spec = importlib.util.spec_from_file_location("lockcheck", REPO / "requirements" / "lockcheck.py")
assert spec and spec.loader
lockcheck = importlib.util.module_from_spec(spec)
sys.modules["lockcheck"] = lockcheck
spec.loader.exec_module(lockcheck)

LOCKS = sorted((REPO / "requirements").glob("airflow-*.txt"))
LOCK_33 = REPO / "requirements" / "airflow-3.3.txt"
PYPROJECT = (REPO / "pyproject.toml").read_text()


def test_there_is_a_lock_per_airflow_line_with_its_date():
    assert {lock.stem for lock in LOCKS} >= {"airflow-3.3"}
    for lock in LOCKS:
        source = lock.with_suffix(".in").read_text()
        date = re.search(r"^# exclude-newer: (\d{4}-\d\d-\d\d)$", source, re.M)
        assert date, f"{lock.with_suffix('.in').name} names no exclude-newer date"
        assert f"--exclude-newer {date[1]}T00:00:00Z" in lock.read_text().splitlines()[1]
        assert "--generate-hashes" in lock.read_text().splitlines()[1]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.stem)
def test_pyproject_and_each_lock_agree(lock):
    assert lockcheck.check_pyproject(lock) == []


@pytest.mark.parametrize("lock", LOCKS, ids=lambda path: path.stem)
def test_every_pin_has_hashes(lock):
    pins = lockcheck.read_lock(lock)
    pin_lines = [line for line in lock.read_text().splitlines() if re.match(r"^[A-Za-z0-9][^ ]*==", line)]
    assert len(pins) > 50 and len(pin_lines) == len(pins)
    assert [pin.name for pin in pins if not pin.hashes or not all(h.startswith("sha256:") for h in pin.hashes)] == []


def write_pyproject(tmp_path: Path, old: str, new: str) -> Path:
    assert old in PYPROJECT
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT.replace(old, new, 1))
    return path


def test_a_dependency_added_to_pyproject_only_is_caught(tmp_path):
    pyproject = write_pyproject(tmp_path, '"httpx>=0.27",', '"httpx>=0.27",\n    "pyav-not-locked>=1",')
    (problem,) = lockcheck.check_pyproject(LOCK_33, pyproject)
    assert problem.startswith("pyav-not-locked>=1") and "is not in airflow-3.3.txt: run `make lock`" in problem


def test_a_new_direct_dependency_that_is_locked_only_transitively_is_caught(tmp_path):
    pyproject = write_pyproject(tmp_path, '"httpx>=0.27",', '"httpx>=0.27",\n    "tenacity>=8",')
    (problem,) = lockcheck.check_pyproject(LOCK_33, pyproject)
    assert problem.startswith("tenacity (airflow-provider-vidgen (pyproject.toml)) was not resolved from it")


def test_a_range_the_locked_version_is_outside_of_is_caught(tmp_path):
    pyproject = write_pyproject(tmp_path, '"httpx>=0.27",', '"httpx>=9",')
    (problem,) = lockcheck.check_pyproject(LOCK_33, pyproject)
    assert problem.startswith("httpx>=9") and "pins httpx==" in problem


def test_a_dependency_removed_from_pyproject_only_is_caught(tmp_path):
    pyproject = write_pyproject(tmp_path, '"pendulum>=3.0",', "")
    (problem,) = lockcheck.check_pyproject(LOCK_33, pyproject)
    assert "has pendulum from airflow-provider-vidgen (pyproject.toml), which no longer asks for it" in problem


def test_the_freeze_diff_names_every_mismatch(tmp_path):
    lock = tmp_path / "airflow-9.9.txt"
    lock.write_text(
        "httpx==0.0.1 \\\n    --hash=sha256:00\n    # via airflow-provider-vidgen (pyproject.toml)\n"
        "not-a-real-package==1.0 ; python_version >= '3'\n"
        "never-here==1.0 ; python_version < '3'\n"
    )
    diff = lockcheck.check_installed(lock)
    installed_httpx = lockcheck.installed()["httpx"]
    assert "-httpx==0.0.1" in diff and f"+httpx=={installed_httpx}" in diff
    assert "-not-a-real-package==1.0" in diff
    assert not any("never-here" in line for line in diff)  # its marker does not apply here
    assert not any(line.startswith(("+pip==", "+airflow-provider-vidgen==")) for line in diff)
