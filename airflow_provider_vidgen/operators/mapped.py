"""Mapped generation operators are checked when the DAG is parsed, as a plain one is by its constructor.

``HailuoVideoOperator.partial(...)`` returns a :class:`CheckedPartial`: its ``.expand()`` and
``.expand_kwargs()`` build, for every combination of the values the DAG file fixes, the operator Airflow
will build for that map index (``_airflow_from_mapped``: it joins no DAG) and run the constructor's
checks on it. A value that comes from upstream XCom is an ``XComArg`` at parse time, which the checks
skip like any templated value; it is checked when the task runs, before any request.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.definitions.mappedoperator import OperatorPartial

if TYPE_CHECKING:
    from airflow.sdk.definitions._internal.expandinput import ExpandInput
    from airflow.sdk.definitions.mappedoperator import MappedOperator


@attrs.define(kw_only=True, repr=False)
class CheckedPartial(OperatorPartial):
    """``.partial()`` of a generation operator: expanding it checks the literal arguments first."""

    @classmethod
    def of(cls, made: OperatorPartial) -> CheckedPartial:
        made._expand_called = True  # replaced by this one (else it warns "was never mapped" when collected)
        return cls(operator_class=made.operator_class, kwargs=made.kwargs, params=made.params)

    def _expand(self, expand_input: ExpandInput, *, strict: bool) -> MappedOperator:
        self._expand_called = True  # a failed check is the DAG's import error; no "never mapped" warning too
        for where, mapped in mapped_calls(expand_input):
            kwargs = {**self.kwargs, **mapped, "params": self.params}
            operator = self.operator_class(**kwargs, _airflow_from_mapped=True)
            operator.check_literal_inputs(where)  # type: ignore[attr-defined]
        return super()._expand(expand_input, strict=strict)


def mapped_calls(expand_input: ExpandInput) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, mapped kwargs)`` of each task instance the DAG file fixes, as far as it fixes them.

    ``.expand(a=[...], b=[...])`` maps over every combination; an ``XComArg`` stays in place of its values.
    An ``.expand_kwargs()`` item from upstream XCom is unknown until the run (even which arguments it sets).
    At most ``[core] max_map_length`` are built: Airflow fails a longer expansion before any task runs.
    """
    from airflow.sdk.definitions._internal.expandinput import DictOfListsExpandInput

    limit = conf.getint("core", "max_map_length", fallback=1024)
    value = expand_input.value
    if isinstance(expand_input, DictOfListsExpandInput):
        names = list(value)
        choices = [_positions(value[name]) for name in names]
        for combination in itertools.islice(itertools.product(*choices), limit):
            where = ", ".join(
                f"{name}[{index}]" for name, (index, _) in zip(names, combination, strict=True) if index is not None
            )
            yield (
                f".expand() with {where or 'values from upstream'}",
                {name: item for name, (_, item) in zip(names, combination, strict=True)},
            )
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value[:limit]):
            if isinstance(item, Mapping):
                yield f".expand_kwargs() item [{index}]", dict(item)


def _positions(value: Any) -> list[tuple[int | None, Any]]:
    """The mapped values of one argument with their positions; an upstream reference stands for them all."""
    if isinstance(value, Mapping):
        value = list(value.items())  # Airflow maps a dict over its (key, value) pairs
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    return [(None, value)]
