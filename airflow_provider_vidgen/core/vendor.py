"""A vendor is one class: what it is (name, label, connection type and fields, default host, services)
and its pure protocol (the requests to send, how to read the answers). Hooks, provider info, the
connection form, the operators and the emulator's face of the vendor are all derived from it.

Vendors are found through a lazy registry (name -> ``module:attribute``), so a DAG that uses one vendor
never imports another's tables. A vendor of another distribution declares an entry point in the group
``airflow_provider_vidgen.vendors`` (``toy = "toyvendor.vendor:TOY"``) and is found the same way in every
process: worker, triggerer, API server. :func:`register_vendor` adds one to this process only (tests).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow_provider_vidgen.core.errors import ApiError, InvalidInputError
from airflow_provider_vidgen.core.results import TaskResult
from airflow_provider_vidgen.core.schema import ServiceSpec
from airflow_provider_vidgen.core.transport import ApiRequest, Outcome


@dataclass(frozen=True)
class ConnectionField:
    """An extra of the vendor's Airflow connection, as the connection form shows it."""

    name: str
    label: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": ["string", "null"]})


class Vendor(ABC):
    """One video API. Subclasses set the class attributes and implement the protocol (pure functions:
    no I/O, so the sync hook, the async hook, the poller and the emulator's tests share them)."""

    name: ClassVar[str]
    label: ClassVar[str]  # how people call it, in logs and errors
    conn_type: ClassVar[str]  # the Airflow connection type
    default_host: ClassVar[str]
    docs_url: ClassVar[str | None] = None  # the vendor's documentation (provider info); default: its host
    services: ClassVar[Mapping[str, ServiceSpec]]
    connection_fields: ClassVar[tuple[ConnectionField, ...]] = ()  # the vendor's own extras
    service_word: ClassVar[str] = "service"  # what the vendor calls a service (HiDream: "module")
    # "module:Class" of the hook registered with Airflow for the connection type (None: one is derived).
    hook_class: ClassVar[str | None] = None
    # "module:Class" of the emulator's face of this vendor (emulator.face.VendorFace), loaded on demand.
    emulated_by: ClassVar[str]
    # The request field that takes a callback URL (None: the vendor calls nothing back).
    callback_field: ClassVar[str | None] = None
    # Status requests per second per token that the vendor asks clients to stay under (None: not stated;
    # polls then share only the token's max_requests_per_second). Connection extra max_polls_per_second.
    polls_per_second: ClassVar[float | None] = None

    @property
    def default_conn_id(self) -> str:
        return f"{self.conn_type}_default"

    @property
    def hook_class_name(self) -> str | None:
        """The hook's dotted path, as Airflow's provider info names a hook class."""
        return self.hook_class.replace(":", ".") if self.hook_class else None

    @property
    def conn_id_param(self) -> str:
        """The operators' and hook's connection-id parameter, Airflow style (``acedata_conn_id``)."""
        return f"{self.conn_type}_conn_id"

    def service(self, name: Any) -> ServiceSpec:
        try:
            return self.services[name]
        except (KeyError, TypeError):
            raise InvalidInputError(
                self.service_word,
                f"unknown {self.label} {self.service_word} {name!r}; allowed: {', '.join(self.services)}",
            ) from None

    @property
    def finds_submissions(self) -> bool:
        """Whether the API lists tasks by creation time, so a submission whose id was lost is found again."""
        return type(self).search_request is not Vendor.search_request

    def __repr__(self) -> str:
        return f"<vendor {self.name}>"

    # ---------------------------------------------------------------- requests

    @abstractmethod
    def auth_headers(self, token: str, extras: Mapping[str, Any]) -> dict[str, str]: ...

    @abstractmethod
    def submit_request(self, spec: ServiceSpec, body: Mapping[str, Any]) -> ApiRequest: ...

    @abstractmethod
    def retrieve_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest: ...

    @abstractmethod
    def batch_request(self, spec: ServiceSpec, task_ids: Iterable[str]) -> ApiRequest: ...

    @abstractmethod
    def probe_request(self) -> ApiRequest:
        """A cheap authenticated call that creates nothing (the connection test)."""

    def search_request(
        self, spec: ServiceSpec, created_min: int, created_max: int, *, offset: int = 0, limit: int = 100
    ) -> ApiRequest:
        """The tasks created in a window, newest first (only where the API can list them)."""
        raise NotImplementedError(f"{self.label} cannot list tasks by creation time")

    # ---------------------------------------------------------------- answers

    @abstractmethod
    def decode(self, outcome: Outcome, request: ApiRequest, *, allow_not_found: bool = False) -> Any:
        """The payload of a successful answer; raises ApiError for every failure form."""

    @abstractmethod
    def parse_submit(self, body: Any) -> str:
        """The vendor task id of an accepted submission."""

    @abstractmethod
    def parse_batch(self, spec: ServiceSpec, task_ids: Iterable[str], body: Any) -> dict[str, TaskResult]:
        """Every asked-for id's result; an id the answer leaves out is reported not found."""

    @abstractmethod
    def interpret_record(self, spec: ServiceSpec, task_id: str, record: Any) -> TaskResult:
        """One task record, whatever its shape, to the normalized result."""

    def parse_search(self, body: Any) -> list[dict[str, Any]]:
        raise ApiError(self.label, "this API cannot list tasks", code="bad_answer")

    # ---------------------------------------------------------------- callbacks (hints, never proof)

    def cancel_request(self, spec: ServiceSpec, task_id: str) -> ApiRequest | None:
        """The request that cancels a task not started yet, where the API has one (``spec.cancellable``)."""
        return None

    def read_cancel(self, body: Any) -> bool:
        """Whether the API's answer to ``cancel_request`` says the task was cancelled."""
        return False

    def read_callback(self, spec: ServiceSpec, body: Any) -> tuple[str | None, bool]:
        """(the vendor task id a callback body names, whether it claims the task is final). Only ever a
        hint: the receiver asks the vendor's API before anything is believed."""
        if not isinstance(body, dict):
            return None, False
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        task = body.get("task") if isinstance(body.get("task"), dict) else {}
        for candidate in (body.get("task_id"), body.get("main_task_id"), data.get("task_id"), task.get("id")):
            if isinstance(candidate, str) and candidate:
                return candidate, self.interpret_record(spec, candidate, body).terminal
        return None, False


# ------------------------------------------------------------------------------------------------
# The registry
# ------------------------------------------------------------------------------------------------

ENTRY_POINT_GROUP = "airflow_provider_vidgen.vendors"
# name -> "module:attribute" of the vendor instance, imported on first use.
_REGISTRY: dict[str, str | Vendor] = {
    "acedata": "airflow_provider_vidgen.vendors.acedata:ACEDATA",
    "hidream": "airflow_provider_vidgen.vendors.hidream:HIDREAM",
}
BUILT_IN = tuple(_REGISTRY)  # the vendors this package ships
_discovered = False


def import_string(path: str) -> Any:
    """The object at ``"module:attribute"``: the one string-import form of the package (as entry points write it)."""
    module, colon, attribute = path.partition(":")
    if not colon or not module or not attribute:
        raise ValueError(f"expected 'module:attribute', got {path!r}")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def discover_vendors() -> None:
    """Add the vendors that installed distributions declare (entry point group ``airflow_provider_vidgen.
    vendors``), once per process and without importing them; a built-in or registered name is kept."""
    global _discovered
    if _discovered:
        return
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _REGISTRY.setdefault(entry.name, entry.value)
    _discovered = True


def register_vendor(vendor: Vendor | str, name: str | None = None) -> None:
    """Add a vendor to this process only: an instance, or ``"module:attribute"`` (then ``name`` is required)
    loaded on first use. A vendor for every process (the triggerer, the API server) declares an entry point."""
    if isinstance(vendor, str):
        if not name:
            raise ValueError("a vendor given by path needs its name")
        _REGISTRY[name] = vendor
    else:
        _REGISTRY[name or vendor.name] = vendor


def get_vendor(name: str) -> Vendor:
    entry = _REGISTRY.get(name)
    if entry is None:
        discover_vendors()
        entry = _REGISTRY.get(name)
    if entry is None:
        raise InvalidInputError(
            "vendor",
            f"unknown video vendor {name!r}; known: {', '.join(_REGISTRY)}. A vendor of another package is found "
            f"once that package is installed here and declares an entry point in the group {ENTRY_POINT_GROUP!r}",
        )
    if isinstance(entry, str):
        entry = _REGISTRY[name] = import_string(entry)
    return entry


def all_vendors() -> list[Vendor]:
    discover_vendors()
    return [get_vendor(name) for name in list(_REGISTRY)]


def vendor_for_conn_type(conn_type: str | None) -> Vendor:
    for vendor in all_vendors():
        if vendor.conn_type == conn_type:
            return vendor
    allowed = ", ".join(vendor.conn_type for vendor in all_vendors())
    raise InvalidInputError("conn_type", f"connection type {conn_type!r} is not a video vendor; allowed: {allowed}")
