"""The vendor's own SDK (``acedatacloud``, a pinned dev dependency) as an oracle for our service table.

Shared by ``tests/test_vendor_oracle.py`` and ``make vendor-drift`` (``python tests/oracle/vendor_drift.py``),
so the comparison is written once (``make vendor-drift`` also reports every other source the vendor publishes,
``tests/oracle/sources.py``):

- :func:`table_differences`: our ``core.ACEDATA.services`` against the SDK's own definitions (its method
  signatures: names, types, ``Literal`` choices and required-ness; and the body it builds, for its
  defaults and its endpoint), plus the video endpoints the SDK has that the table has not.
- :func:`status_disagreements`: the SDK's ``task_status`` beside our ``interpret_record`` on every
  task-record fixture.
- :data:`SAMPLES`: one valid call of the SDK's client per service, used both to learn the SDK's body
  (against a recording transport, no network) and to run the SDK's client against the emulator.

Nothing here copies SDK code: it calls the SDK and reads its signatures.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
for _path in (REPO, Path(__file__).resolve().parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from airflow_provider_vidgen.core.schema import FieldSpec, ServiceSpec  # noqa: E402
from airflow_provider_vidgen.vendors.acedata import ACEDATA  # noqa: E402

# A base URL nothing listens on: the SDK's definitions are read through a recording transport, and a
# client made here must never fall back to the vendor's own host.
NOWHERE = "http://127.0.0.1:9"

IMG = "https://cdn.example.com/oracle/portrait.jpg"
VID = "https://cdn.example.com/oracle/clip.mp4"
AUD = "https://cdn.example.com/oracle/voice.mp3"
TEXT = [{"type": "text", "text": "a paper boat on a pond"}]


@dataclass(frozen=True)
class Sample:
    """One call of the SDK's client: ``client.<resource>.<method>(**kwargs)``."""

    resource: str
    method: str
    kwargs: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"client.{self.resource}.{self.method}"


# Every service of our table the SDK's client can send, with a request valid for both sides.
# ``video.generate`` is the SDK's generic ``POST /<provider>/videos`` client (no field definitions).
SAMPLES: dict[str, Sample] = {
    "hailuo": Sample("hailuo", "generate", {"action": "generate", "prompt": "a paper boat on a pond"}),
    "luma": Sample("luma", "generate", {"prompt": "a paper boat on a pond"}),
    "kling": Sample(
        "kling", "generate", {"action": "text2video", "model": "kling-v2-6", "prompt": "a paper boat", "async_": True}
    ),
    "kling-motion": Sample(
        "kling",
        "motion",
        {"mode": "std", "image_url": IMG, "video_url": VID, "character_orientation": "image", "async_": True},
    ),
    "kling-lip-sync": Sample(
        "kling", "lip_sync", {"mode": "audio2video", "video_url": VID, "audio_type": "url", "audio_url": AUD}
    ),
    "kling-talking-photo": Sample("kling", "talking_photo", {"image_url": IMG, "audio_url": AUD}),
    "sora": Sample(
        "video", "generate", {"provider": "sora", "prompt": "a paper boat", "model": "sora-2", "async_": True}
    ),
    "veo": Sample("veo", "generate", {"action": "text2video", "prompt": "a paper boat", "async_": True}),
    "veo-extend": Sample("veo", "extend", {"video_id": "veo-video-1", "model": "veo31-fast", "async_": True}),
    "veo-upsample": Sample("veo", "upsample", {"video_id": "veo-video-1", "action": "1080p", "async_": True}),
    "veo-reshoot": Sample("veo", "reshoot", {"video_id": "veo-video-1", "motion_type": "UP", "async_": True}),
    "veo-objects": Sample(
        "veo", "objects", {"video_id": "veo-video-1", "action": "insert", "prompt": "a red hat", "async_": True}
    ),
    "seedance": Sample("seedance", "generate", {"model": "doubao-seedance-1-5-pro-251215", "content": TEXT}),
    "wan": Sample("wan", "generate", {"model": "wan2.6-t2v", "prompt": "a paper boat on a pond"}),
    "happyhorse": Sample("happyhorse", "generate", {"prompt": "a paper boat on a pond"}),
    "minimax": Sample(
        "minimax",
        "generate",
        {"model": "MiniMax-H3", "content": TEXT, "duration": 6, "resolution": "768P", "ratio": "16:9"},
    ),
    "grok": Sample("video", "generate", {"provider": "grok", "prompt": "a paper boat", "async_": True}),
    "dreamina": Sample("dreamina", "generate", {"image_url": IMG, "audio_url": AUD}),
    "digital-human": Sample("digitalhuman", "generate", {"video_url": VID, "audio_url": AUD}),
    "maestro": Sample("maestro", "generate", {"prompt": "a 30 second explainer about paper boats"}),
    "gemini": Sample("video", "generate", {"provider": "gemini", "prompt": "a paper boat", "async_": True}),
    "flux": Sample("flux", "videos", {"mode": "t2v", "prompt": "a paper boat on a pond"}),
    "midjourney": Sample(
        "video", "generate", {"provider": "midjourney", "prompt": "a paper boat", "image_url": IMG, "async_": True}
    ),
    # Kickart has no SDK resource; the generic client posts {prompt, **fields} to /kickart/videos. Its
    # viral-videos and template-videos paths are beyond it (NO_SDK_CLIENT in tests/test_vendor_oracle.py).
    "kickart": Sample(
        "video",
        "generate",
        {"provider": "kickart", "prompt": "a paper boat", "duration": 15, "product_url": IMG, "async_": True},
    ),
}

# The SDK's own call parameters that are not request fields.
CALL_PARAMETERS = frozenset({"self", "wait", "poll_interval", "max_wait", "async_", "callback_url", "provider"})


# --------------------------------------------------------------------------------------------
# The SDK's side
# --------------------------------------------------------------------------------------------


def sdk_version() -> str:
    from importlib.metadata import version

    return version("acedatacloud")


def new_client(base_url: str, token: str) -> Any:
    """The SDK's client pointed at ``base_url`` only (its API and platform bases both)."""
    from acedatacloud import AceDataCloud

    return AceDataCloud(api_token=token, base_url=base_url, platform_base_url=base_url, max_retries=0, timeout=30)


class RecordingTransport:
    """Stands in for the SDK's HTTP transport: records each request, answers a bare task id."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, *, json: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        self.requests.append((method, path, dict(json or {})))
        return {"task_id": "oracle-task"}


def sdk_bound_method(client: Any, sample: Sample) -> Any:
    return getattr(getattr(client, sample.resource), sample.method)


def sdk_request(sample: Sample) -> tuple[str, dict[str, Any]]:
    """(path, body) the SDK's client sends for ``sample``, through a recording transport (no network)."""
    resource = getattr(new_client(NOWHERE, "oracle-token"), sample.resource)
    recorder = RecordingTransport()
    getattr(type(resource)(recorder), sample.method)(**sample.kwargs)
    (_, path, body), *_ = recorder.requests
    return path, body


@dataclass(frozen=True)
class SdkField:
    name: str
    kind: str  # str, int, number, bool, list, object, any
    choices: tuple[Any, ...] | None
    required: bool


def _kind(annotation: Any) -> tuple[str, tuple[Any, ...] | None]:
    """Our field kind and the ``Literal`` choices of one SDK annotation (``None`` stripped)."""
    args = [arg for arg in _union_args(annotation) if arg is not type(None)]
    literals = [arg for arg in args if typing.get_origin(arg) is typing.Literal]
    if literals and len(literals) == len(args):
        choices = tuple(value for literal in literals for value in typing.get_args(literal))
        kinds = {_kind(type(value))[0] for value in choices}
        return (kinds.pop() if len(kinds) == 1 else "any"), choices
    if len(args) != 1:
        return "any", None
    arg = args[0]
    origin = typing.get_origin(arg) or arg
    if origin is bool:
        return "bool", None
    if origin is int:
        return "int", None
    if origin is float:
        return "number", None
    if origin is str:
        return "str", None
    if origin in (list, tuple):
        return "list", None
    if origin is dict or typing.is_typeddict(arg):
        return "object", None
    return "any", None


def _union_args(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def sdk_fields(sample: Sample) -> dict[str, SdkField] | None:
    """The request fields the SDK's method declares, or ``None`` when it takes only ``**request``."""
    method = getattr(type(getattr(new_client(NOWHERE, "oracle-token"), sample.resource)), sample.method)
    hints = typing.get_type_hints(method, include_extras=False)
    fields: dict[str, SdkField] = {}
    for name, parameter in inspect.signature(method).parameters.items():
        if name in CALL_PARAMETERS or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        kind, choices = _kind(hints.get(name, Any))
        fields[name] = SdkField(name, kind, choices, parameter.default is inspect.Parameter.empty)
    if sample.resource == "video":  # the generic client: prompt/model/image_url only, any provider
        return None
    return fields or None


SUBMIT_CALL = re.compile(r"""request\(\s*"POST",\s*(f?)"(/[^"]+)\"""")


def sdk_video_endpoints() -> dict[str, str]:
    """Every submission path of the SDK's video clients -> the SDK method that sends it.

    Read from the SDK's resources: the Kling and Veo clients, the generated provider clients whose
    path ends in ``/videos``, and the generic video client's ``VideoProvider`` names.
    """
    import acedatacloud.resources.kling as kling
    import acedatacloud.resources.providers as providers
    import acedatacloud.resources.veo as veo
    from acedatacloud.resources.video import VideoProvider

    found: dict[str, str] = {
        f"/{name}/videos": f"video.generate(provider={name!r})" for name in typing.get_args(VideoProvider)
    }
    modules = [kling, veo, *(sys.modules[cls.__module__] for cls in map(providers.__dict__.get, providers.__all__))]
    for module in dict.fromkeys(modules):
        for class_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or class_name.startswith("Async"):
                continue
            for method_name, method in inspect.getmembers(cls, inspect.isfunction):
                for is_f, path in SUBMIT_CALL.findall(inspect.getsource(method)):
                    video_client = module in (kling, veo)
                    if not is_f and (video_client or path.endswith("/videos")):
                        found.setdefault(path, f"{module.__name__.rsplit('.', 1)[-1]}.{method_name}")
    return found


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One difference between the table and the SDK; ``key`` is what a declaration names."""

    key: str
    detail: str


def _our_kind(spec_field: FieldSpec) -> str:
    return {"url": "str", "media": "str"}.get(spec_field.type, spec_field.type)


def _show(values: Any) -> str:
    return ",".join(sorted(map(str, values)))


def table_differences() -> list[Difference]:
    """Every difference between ``core.ACEDATA.services`` and the SDK, in a stable order."""
    out: list[Difference] = []
    ours_paths = {spec.submit_path: name for name, spec in ACEDATA.services.items()}
    for path, where in sorted(sdk_video_endpoints().items()):
        if path not in ours_paths:
            out.append(Difference(f"endpoint {path}: not in the table", f"the SDK sends it from {where}"))
    for name, spec in ACEDATA.services.items():
        sample = SAMPLES.get(name)
        if sample is None:
            out.append(Difference(f"{name}: no SDK client", f"the table has {spec.submit_path}; the SDK does not"))
            continue
        out.extend(service_differences(spec, sample))
    return out


def service_differences(spec: ServiceSpec, sample: Sample) -> Iterator[Difference]:
    name = spec.name
    path, body = sdk_request(sample)
    if path != spec.submit_path:
        yield Difference(
            f"{name}: path {path}", f"the SDK sends {sample.label} to {path}, the table {spec.submit_path}"
        )
    fields = sdk_fields(sample)
    ours = {f.name: f for f in spec.fields}
    # What the SDK sends by itself when a field is not given (the body beyond what the sample passed).
    given = {key for key in sample.kwargs if key not in CALL_PARAMETERS}
    sent_defaults = {key: value for key, value in body.items() if key not in given and key not in ("async",)}
    for key, value in sorted(sent_defaults.items()):
        if key not in ours:
            yield Difference(f"{name}.{key}: SDK default not a table field", f"the SDK sends {key}={value!r}")
        elif key in spec.defaults and spec.defaults[key] != value:
            yield Difference(
                f"{name}.{key}: default {value!r}", f"the SDK sends {value!r}, the table assumes {spec.defaults[key]!r}"
            )
        elif key not in spec.defaults:
            yield Difference(f"{name}.{key}: SDK default {value!r}", "the SDK sends it; the table assumes no default")
    for key, value in sorted(spec.defaults.items()):
        if fields is not None and key in fields and key not in sent_defaults and not fields[key].required:
            yield Difference(f"{name}.{key}: table default {value!r}", "the table assumes it; the SDK sends nothing")
    if fields is None:
        return
    for key in sorted(set(fields) - set(ours)):
        yield Difference(f"{name}.{key}: not in the table", f"{sample.label} takes {key}; the table rejects it")
    for key in sorted(set(ours) - set(fields) - {"async", "callback_url"}):
        yield Difference(f"{name}.{key}: not in the SDK", f"the table accepts {key}; {sample.label} has no parameter")
    for key in sorted(set(fields) & set(ours)):
        sdk, our = fields[key], ours[key]
        if our.type != "any" and sdk.kind != "any" and sdk.kind != _our_kind(our):
            yield Difference(f"{name}.{key}: type {_our_kind(our)} vs SDK {sdk.kind}", f"table {our.type}")
        our_required = our.required and key not in spec.defaults
        if sdk.required != our_required and not (sdk.required and key in spec.defaults):
            which = "the SDK requires it" if sdk.required else "the table requires it"
            yield Difference(f"{name}.{key}: required differs", which)
        elif sdk.required and not our.required and key in spec.defaults:
            yield Difference(
                f"{name}.{key}: SDK requires, table defaults {spec.defaults[key]!r}", "the table fills it in"
            )
        if sdk.choices is not None:
            ours_choices = set(our.choices) if our.choices is not None else None
            if ours_choices is None:
                yield Difference(f"{name}.{key}: SDK choices {_show(sdk.choices)}", "the table takes any value")
                continue
            if extra := ours_choices - set(sdk.choices):
                yield Difference(f"{name}.{key}: table-only choices {_show(extra)}", "the SDK's Literal lacks them")
            if missing := set(sdk.choices) - ours_choices:
                yield Difference(f"{name}.{key}: SDK-only choices {_show(missing)}", "the table rejects them")


# --------------------------------------------------------------------------------------------
# Task records: the SDK's task_status beside interpret_record
# --------------------------------------------------------------------------------------------

RECORD_FILES = re.compile(
    r"^(task_.*|generate_sync_response.*|callback_payload.*|tasks_retrieve_unknown_id_response_200)\.json$"
)


def sdk_state(record: Any) -> str:
    """The SDK's reading in our words: ``succeeded``, ``failed`` or ``waiting`` (its ``""``)."""
    from acedatacloud._runtime.tasks import task_status

    return task_status(record) or "waiting"


def our_state(spec: ServiceSpec, record: Any) -> str:
    state = ACEDATA.interpret_record(spec, "oracle", record).state
    return "waiting" if state in ("pending", "running") else state


@dataclass(frozen=True)
class Reading:
    fixture: str  # path under tests/fixtures/acedata, with ``#n`` for a batch item
    service: str
    ours: str
    sdk: str


def task_records() -> Iterator[tuple[str, str, Any]]:
    """(fixture, service, record) for every task-record fixture and every item of a batch answer."""
    for path in sorted((FIXTURES / "acedata").glob("*/*.json")):
        service = path.parent.name if path.parent.name in ACEDATA.services else "hailuo"
        relative = str(path.relative_to(FIXTURES / "acedata"))
        body = json.loads(path.read_text())
        if path.name == "tasks_retrieve_batch_response.json":
            for index, item in enumerate(body["items"]):
                record = {"task": item} if ACEDATA.services[service].shape.value == "task" else item
                yield f"{relative}#{index}", service, record
        elif RECORD_FILES.match(path.name):
            yield relative, service, body


def readings() -> list[Reading]:
    return [
        Reading(fixture, service, our_state(ACEDATA.services[service], record), sdk_state(record))
        for fixture, service, record in task_records()
    ]


def status_disagreements() -> list[Reading]:
    return [reading for reading in readings() if reading.ours != reading.sdk]


# --------------------------------------------------------------------------------------------
# make vendor-drift
# --------------------------------------------------------------------------------------------


def _declared() -> tuple[dict[str, str], dict[str, str]]:
    sys.path.insert(0, str(REPO / "tests"))
    from test_vendor_oracle import DECLARED_STATUS, DECLARED_TABLE

    return DECLARED_TABLE, DECLARED_STATUS


def sdk_report() -> tuple[int, int]:
    """Print the table and the fixtures against the SDK; (undeclared, stale) counts."""
    declared_table, declared_status = _declared()
    print(f"acedatacloud {sdk_version()} against core.ACEDATA.services ({len(ACEDATA.services)} services)\n")
    differences = table_differences()
    print(f"Table vs SDK: {len(differences)} difference(s)")
    undeclared = 0
    for difference in differences:
        reason = declared_table.get(difference.key)
        undeclared += reason is None
        mark = "  declared" if reason else "UNDECLARED"
        print(
            f"  {mark}  {difference.key}  ({difference.detail})" + (f"\n              why: {reason}" if reason else "")
        )
    stale = sorted(set(declared_table) - {d.key for d in differences})
    for key in stale:
        print(f"  STALE       {key}  (declared, no longer a difference)")
    disagreements = status_disagreements()
    print(f"\nTask records: {len(readings())} read, {len(disagreements)} disagreement(s) of task_status with ours")
    for reading in disagreements:
        reason = declared_status.get(reading.fixture)
        undeclared += reason is None
        mark = "  declared" if reason else "UNDECLARED"
        print(
            f"  {mark}  {reading.fixture}: ours {reading.ours}, SDK {reading.sdk}" + (f" ({reason})" if reason else "")
        )
    return undeclared, len(stale)


def sources_report() -> tuple[int, int]:
    """Print every other published source's cases (tests/oracle/sources.py); (undeclared, stale) counts."""
    import sources

    undeclared = stale = 0
    for title, findings, verdict in (
        ("Request bodies", sources.body_findings(), lambda valid: "valid" if valid else "invalid"),
        ("Task records", sources.record_findings(), str),
    ):
        repos = sorted({finding.source.repo for finding in findings})
        agree = sum(finding.status == "agree" for finding in findings)
        print(f"\n{title} from the published sources: {len(findings)} case(s), {agree} agree ({', '.join(repos)})")
        for finding in findings:
            undeclared += finding.status == "UNDECLARED"
            stale += finding.status == "STALE"
            if finding.status == "agree":
                continue
            print(
                f"  {finding.status:>10}  {finding.key}: the source says {verdict(finding.theirs)}, "
                f"we say {verdict(finding.ours)}\n              source: {finding.source}"
            )
            if finding.decision:
                follows = "; ".join(map(str, finding.decision.follows)) or "our own contract"
                print(f"              follows: {follows}\n              why: {finding.decision.reason}")
    for key in sources.unknown_declarations():
        stale += 1
        print(f"  STALE       {key}  (declared, no such case)")
    return undeclared, stale


def main() -> int:
    undeclared, stale = sdk_report()
    more_undeclared, more_stale = sources_report()
    undeclared, stale = undeclared + more_undeclared, stale + more_stale
    print(f"\n{undeclared} undeclared difference(s), {stale} stale declaration(s)")
    return 1 if undeclared or stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
