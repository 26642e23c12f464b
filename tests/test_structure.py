"""The package stays simple to change: outside the data tables, no function over 80 lines and no class
over 300 (a long one is a sign that two jobs share it). The tables (``vendors/*/services.py``) are data:
one row per service, as long as the vendor's catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_vidgen"
DATA_MODULES = {"services.py"}
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 300


def sizes() -> list[tuple[str, str, int]]:
    """(kind, qualified place, lines) of every function and class of the package, data tables left out."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in DATA_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                place = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
                found.append((kind, place, node.end_lineno - node.lineno + 1))
    return found


def test_no_function_over_80_lines_and_no_class_over_300():
    too_long = [
        f"{kind} {place}: {lines} lines"
        for kind, place, lines in sizes()
        if lines > (MAX_CLASS_LINES if kind == "class" else MAX_FUNCTION_LINES)
    ]
    assert not too_long, too_long


def test_the_tables_are_data_only():
    """A services.py holds rows and the constants they use: no logic beyond a row-building helper."""
    for path in PACKAGE.rglob("services.py"):
        functions = [node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)]
        assert all(name.startswith("_") for name in functions), (path, functions)  # row builders only


def test_only_the_triggers_build_or_read_a_trigger_event_as_a_dict():
    """The wait's event is typed (``triggers.event.WaitEvent``): outside ``triggers/`` nothing builds a
    ``TriggerEvent`` or reads an event's keys, and nothing names the trigger by a string classpath."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "triggers":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            place = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "TriggerEvent"
            ):
                found.append(f"{place} builds a TriggerEvent")
            if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") == "event":
                found.append(f"{place} reads an event's key")
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "get"
                and getattr(node.func.value, "id", "") == "event"
            ):
                found.append(f"{place} reads an event's key")
            if (
                isinstance(node, ast.Constant)
                and node.value == "airflow_provider_vidgen.triggers.video.VideoTaskTrigger"
            ):
                found.append(f"{place} names the trigger by a string")
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "kwargs"
                and getattr(node.value, "attr", "") == "trigger"
            ):
                found.append(f"{place} reads a trigger's kwargs")
    assert not found, found
