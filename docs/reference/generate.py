"""Write docs/reference/*.md from the public classes' signatures and docstrings.

    python docs/reference/generate.py          # rewrite the pages
    python docs/reference/generate.py --check  # exit 1 if a page is stale or a parameter undocumented

Every parameter of a class's ``__init__`` (and of its bases in this package) gets a row: its name,
its default and the text of its ``:param name:`` line in the docstring of the class or a base.
Parameters Airflow's own base classes take (``task_id``, ``retries``, ...) are linked, not copied.
``tests/test_reference_docs.py`` runs the check, and runs every page's example.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).resolve().parent
REPO = REFERENCE.parent.parent
PACKAGE = "airflow_provider_vidgen"

# An example per public class, run inside a DAG by tests/test_reference_docs.py. A public class without
# one fails the check, so a new operator, sensor, trigger or hook cannot go undocumented.
EXAMPLES: dict[str, str] = {
    "HailuoVideoOperator": (
        'HailuoVideoOperator(task_id="boat", prompt="a paper boat on a moonlit lake", deferrable=True)'
    ),
    "LumaVideoOperator": (
        'LumaVideoOperator(task_id="astronaut", prompt="an astronaut in a volcano", aspect_ratio="16:9")'
    ),
    "AceDataVideoOperator": (
        'AceDataVideoOperator(\n    task_id="mug",\n    service="kling",\n'
        '    body={"action": "text2video", "model": "kling-v2-6", "prompt": "a mug on marble"},\n)'
    ),
    "HiDreamVideoOperator": (
        'HiDreamVideoOperator(task_id="clownfish", service="txt2video", prompt="a clownfish in a reef")'
    ),
    "VideoDownloadOperator": (
        'VideoDownloadOperator(\n    task_id="download",\n    results="{{ ti.xcom_pull(task_ids=\'boat\') }}",\n'
        '    destination="file:///data/videos/{{ run_id }}",\n)'
    ),
    "HailuoBatchVideoOperator": (
        'HailuoBatchVideoOperator(task_id="boats", prompts=["a paper boat", "a red fox in snow"], deferrable=True)'
    ),
    "LumaBatchVideoOperator": 'LumaBatchVideoOperator(task_id="lumas", prompts=["an astronaut", "a volcano"])',
    "AceDataBatchVideoOperator": (
        'AceDataBatchVideoOperator(\n    task_id="mugs",\n    service="kling",\n'
        '    bodies=[{"action": "text2video", "model": "kling-v2-6", "prompt": "a mug on marble"}],\n)'
    ),
    "HiDreamBatchVideoOperator": (
        'HiDreamBatchVideoOperator(task_id="fish", service="txt2video", prompts=["a clownfish", "a reef"])'
    ),
    "VideoTaskSensor": 'VideoTaskSensor(task_id="wait", task_ids=["<vendor task id>"], service="wan", deferrable=True)',
    "VideoTaskTrigger": 'VideoTaskTrigger(conn_id="acedata_default", service="hailuo", task_ids=["<vendor task id>"])',
    "VideoGenerationOperator": (
        'VideoGenerationOperator(task_id="fish", vendor="hidream", service="txt2video", body={"prompt": "a reef"})'
    ),
    "BatchVideoGenerationOperator": (
        'BatchVideoGenerationOperator(\n    task_id="fish",\n    vendor="hidream",\n    service="txt2video",\n'
        '    bodies=[{"prompt": "a clownfish"}, {"prompt": "a reef"}],\n)'
    ),
    "FileFetchHook": "FileFetchHook(request_timeout=60, retries=2)",
    "AceDataHook": 'AceDataHook(acedata_conn_id="acedata_default")',
    "HiDreamHook": 'HiDreamHook(hidream_conn_id="hidream_default")',
}
KINDS = {"operators": "operator", "sensors": "sensor", "triggers": "trigger", "hooks": "hook"}


def public_classes() -> list[tuple[str, str]]:
    """(kind, import path) of every public operator, sensor, trigger and hook, found in the package."""
    import pkgutil

    from airflow.sdk import BaseHook, BaseOperator
    from airflow.triggers.base import BaseTrigger

    found = []
    for package, kind in KINDS.items():
        root = importlib.import_module(f"{PACKAGE}.{package}")
        for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
            if info.name == "base" or info.name.startswith("_"):
                continue  # shared bases: documented through the classes built on them
            module = importlib.import_module(f"{PACKAGE}.{package}.{info.name}")
            for name, cls in sorted(vars(module).items()):
                if (
                    isinstance(cls, type)
                    and cls.__module__ == module.__name__
                    and not name.startswith(("_", "Base"))  # shared bases: documented through their subclasses
                    and issubclass(cls, BaseOperator | BaseTrigger | BaseHook)
                ):
                    found.append((kind, f"{module.__name__}.{name}"))
    return found


AIRFLOW_BASES = {
    "BaseOperator": "https://airflow.apache.org/docs/task-sdk/stable/api.html#airflow.sdk.BaseOperator",
    "BaseSensorOperator": "https://airflow.apache.org/docs/task-sdk/stable/api.html#airflow.sdk.BaseSensorOperator",
    "BaseHook": "https://airflow.apache.org/docs/task-sdk/stable/api.html#airflow.sdk.BaseHook",
    "BaseTrigger": "https://airflow.apache.org/docs/apache-airflow/stable/authoring-and-scheduling/deferring.html",
}
PARAM = re.compile(r"^\s*:param (\w+):\s*(.*)$")


@dataclass
class Parameter:
    name: str
    default: str
    doc: str


def param_docs(cls: type) -> dict[str, str]:
    """``:param x:`` texts of ``cls`` and its bases in this package (the nearest class wins)."""
    docs: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith(PACKAGE)]):
        current = None
        for line in (klass.__doc__ or "").splitlines():
            match = PARAM.match(line)
            if match:
                current = match[1]
                docs[current] = match[2].strip()
            elif current and line.startswith(" " * 8) and line.strip():
                docs[current] += " " + line.strip()
            else:
                current = None
    return docs


def passed_to_base(init: Any) -> set[str]:
    """Keywords an ``__init__`` fills in itself in its ``super().__init__(...)`` call (not the user's)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(init))))
    return {
        keyword.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
        for keyword in node.keywords
        if keyword.arg is not None
    }


def parameters(cls: type) -> list[Parameter]:
    docs = param_docs(cls)
    seen: dict[str, Parameter] = {}
    supplied: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if not klass.__module__.startswith(PACKAGE) or init is None:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.name in ("self", "kwargs", "args") or parameter.name in seen or parameter.name in supplied:
                continue
            if parameter.name.startswith("_") or parameter.kind is parameter.VAR_KEYWORD:
                continue
            empty = parameter.default is inspect.Parameter.empty
            default = "required" if empty else f"`{parameter.default!r}`"
            seen[parameter.name] = Parameter(parameter.name, default, docs.get(parameter.name, ""))
        supplied |= passed_to_base(init)
    return list(seen.values())


def summary(cls: type) -> str:
    """The docstring without its ``:param`` lines."""
    lines, skipping = [], False
    for line in inspect.cleandoc(cls.__doc__ or "").splitlines():
        if PARAM.match(line):
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        lines.append(line)
    return "\n".join(lines).strip()


def airflow_base(cls: type) -> str | None:
    for klass in cls.__mro__:
        if klass.__name__ in AIRFLOW_BASES and not klass.__module__.startswith(PACKAGE):
            return klass.__name__
    return None


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def page(kind: str, path: str, example: str) -> tuple[str, list[str]]:
    module_name, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)
    rows = parameters(cls)
    undocumented = [f"{name}.{row.name}" for row in rows if not row.doc]
    out = [
        f"# {name}",
        "",
        f"*{kind}* · `from {module_name} import {name}`",
        "",
        summary(cls),
        "",
        "## Parameters",
        "",
        "| parameter | default | meaning |",
        "|---|---|---|",
        *[f"| `{row.name}` | {row.default} | {cell(row.doc)} |" for row in rows],
        "",
    ]
    base = airflow_base(cls)
    if base:
        out += [f"Plus every parameter of Airflow's [`{base}`]({AIRFLOW_BASES[base]}).", ""]
    templated = getattr(cls, "template_fields", ())
    if templated and kind != "trigger":
        out += ["Templated: " + ", ".join(f"`{field}`" for field in templated) + ".", ""]
    out += ["## Example", "", "```python", example, "```", ""]
    return "\n".join(out), undocumented


def index(pages: list[tuple[str, str]]) -> str:
    lines = ["# Reference", "", "One page per public class, made from its signature and docstring by", ""]
    lines += ["```bash", "python docs/reference/generate.py", "```", "", "| class | kind |", "|---|---|"]
    lines += [f"| [{name}]({name}.md) | {kind} |" for kind, name in pages]
    return "\n".join(lines) + "\n"


def render() -> tuple[dict[Path, str], list[str]]:
    files: dict[Path, str] = {}
    problems: list[str] = []
    listed = []
    for kind, path in public_classes():
        name = path.rpartition(".")[2]
        example = EXAMPLES.get(name)
        if example is None:
            problems.append(f"{name} has no example: add one to EXAMPLES in docs/reference/generate.py")
            continue
        text, undocumented = page(kind, path, example)
        files[REFERENCE / f"{name}.md"] = text
        problems += [f"undocumented parameter {item}: add a `:param` line" for item in undocumented]
        listed.append((kind, name))
    files[REFERENCE / "README.md"] = index(listed)
    return files, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report stale pages instead of writing them")
    args = parser.parse_args(argv)
    files, problems = render()
    for path, text in files.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                problems.append(f"{path.relative_to(REPO)} is stale: run python docs/reference/generate.py")
        else:
            path.write_text(text)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def examples() -> list[tuple[str, str]]:
    """(import path, example) of every page, for the test that runs them."""
    return [
        (path, EXAMPLES[path.rpartition(".")[2]]) for _, path in public_classes() if path.rpartition(".")[2] in EXAMPLES
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
