"""docs/reference: one page per public class, in step with its signature, and every example runs."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pendulum
import pytest
from airflow.sdk import DAG
from conftest import REPO

spec = importlib.util.spec_from_file_location("generate_reference", REPO / "docs" / "reference" / "generate.py")
assert spec and spec.loader
generate = importlib.util.module_from_spec(spec)
sys.modules["generate_reference"] = generate
spec.loader.exec_module(generate)


def test_every_page_matches_the_code_and_every_parameter_is_documented():
    files, problems = generate.render()
    assert problems == []
    stale = [
        str(path.relative_to(REPO)) for path, text in files.items() if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "run: python docs/reference/generate.py"


def test_every_public_class_has_a_page_and_the_readme_links_them():
    pages = {path.rpartition(".")[2] for path, _ in generate.examples()}
    assert {
        "HailuoVideoOperator",
        "VideoDownloadOperator",
        "VideoTaskSensor",
        "VideoTaskTrigger",
        "AceDataHook",
    } <= pages
    assert "docs/reference/README.md" in (REPO / "README.md").read_text()


def test_a_page_names_each_parameter_with_its_default():
    text = (REPO / "docs" / "reference" / "HailuoVideoOperator.md").read_text()
    assert "| `model` | `'minimax-t2v'` |" in text and "| `prompt` | required |" in text
    assert "| `conn_id` |" not in text  # filled in by the operator itself, not the user's to pass


@pytest.mark.parametrize(("path", "example"), generate.examples(), ids=lambda value: value.rpartition(".")[2][:40])
def test_every_example_runs(path, example):
    module_name, _, name = path.rpartition(".")
    namespace = {name: getattr(importlib.import_module(module_name), name)}
    with DAG("reference_example", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        made = eval(example, namespace)  # the page's own text, so the docs cannot drift from what works
    assert type(made).__name__ == name
