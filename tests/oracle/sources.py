"""Every source the vendor publishes, besides its SDK's signatures, as an oracle: cases with their source.

What Ace Data Cloud's own MCP servers (tool schemas and their tests), its Docs repository (OpenAPI specs and
guides), its n8n nodes (request builders and tests), its Kickart CLI and Skills docs and its SDK's own tests
state about two things, written down as data next to the place each comes from (repository, path, commit,
and the test, tool or section):

- :data:`BODIES`: request bodies per service and model, each with the source's verdict (valid or not),
  checked with ``prepare(ACEDATA, service, body)``;
- :data:`RECORDS`: the task records the vendor's tests feed its own clients, each with the state the
  vendor's code gives it (``succeeded``, ``failed``, ``waiting``, or ``stopped`` for the Maestro MCP's
  "neither complete nor failed"), checked with ``ACEDATA.interpret_record``.

Where sources disagree with each other (or with us on purpose), :data:`DECLARED_BODIES` and
:data:`DECLARED_RECORDS` hold the decision: what we do, the source(s) followed, and why. Shared by
``tests/test_vendor_sources.py`` and ``make vendor-drift`` (``tests/oracle/vendor_drift.py``). Nothing here
calls a vendor API: the sources were read at the commits named below.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from airflow_provider_vidgen.core.errors import InvalidInputError  # noqa: E402
from airflow_provider_vidgen.core.submission import prepare  # noqa: E402
from airflow_provider_vidgen.vendors.acedata import ACEDATA  # noqa: E402


@dataclass(frozen=True)
class Source:
    """A file of a vendor repository at a commit, and the place in it (test, tool or section)."""

    repo: str
    path: str
    commit: str
    where: str = ""

    def at(self, where: str) -> Source:
        return Source(self.repo, self.path, self.commit, where)

    def __str__(self) -> str:
        place = f" {self.where}" if self.where else ""
        commit = self.commit[:7] if len(self.commit) == 40 else f"({self.commit})"
        return f"{self.repo} {self.path}{place} @{commit}"


@dataclass(frozen=True)
class BodyCase:
    service: str
    body: Mapping[str, Any]
    valid: bool  # the source's verdict
    source: Source
    says: str = ""  # what the source says, quoted or summed up


@dataclass(frozen=True)
class RecordCase:
    service: str
    record: Any
    state: str  # the vendor code's reading: succeeded, failed, waiting, or stopped (neither, no more polls)
    source: Source


@dataclass(frozen=True)
class Decision:
    """A declared disagreement: what we do (``ours``), the sources that decision follows, and why."""

    ours: Any  # True/False for a body (accepted or not), a state for a record
    follows: tuple[Source, ...]
    reason: str


# --------------------------------------------------------------------------------------------
# The sources, at the commits they were read
# --------------------------------------------------------------------------------------------

MCPS = "AceDataCloud/MCPs"
MCPS_AT = "2cc68df6de4d4600f707f6a44a1421a9df58d7c9"  # 2026-08-23
SDK_AT = "0d3494cb15752d5619359f05fe63dade85b200b9"  # 2026-08-07 (its python/_runtime equals wheel 2026.10.20)


def mcp(path: str, where: str = "") -> Source:
    return Source(MCPS, path, MCPS_AT, where)


def sdk(path: str, where: str = "") -> Source:
    return Source("AceDataCloud/SDK", path, SDK_AT, where)


KLING_MCP_TESTS = mcp("kling/tests/test_video_tools.py")
KLING_MCP_TOOLS = mcp("kling/tools/video_tools.py")
KLING_SDK = sdk("python/src/acedatacloud/resources/kling.py", "_build_generate_body")
KLING_SDK_TESTS = sdk("python/tests/test_kling.py", "test_generate_rejects_model_and_reference_constraints")
KLING_SDK_TS_TESTS = sdk("typescript/tests/kling.test.ts", "rejects extend on unsupported models")
KLING_SPEC = sdk("scripts/specs/29187cb2-1acb-43b8-baf5-3f3f709292eb.json", "end_image_url, duration")
KLING_GUIDE = Source(
    "AceDataCloud/Docs", "en/guides/kling/kling_videos.mdx", "01f1f466269ed4cf3e543fa2e79c312d1c8415fb"
)
TALKING_PHOTO_SPEC = sdk("scripts/specs/1daf8204-7306-4c54-8014-a00c5996cbfe.json", "model enum")
MINIMAX_GUIDE = Source(
    "AceDataCloud/Docs", "en/guides/minimax/minimax_videos.mdx", "6e3e56405569723876f840957204a52cb77cc08e"
)
MINIMAX_N8N = Source("AceDataCloud/MinimaxN8N", "tests/node.test.cjs", "f3f69dd3e5ada681064aa71446472ccb8084ab85")
MINIMAX_N8N_REQUEST = Source(
    "AceDataCloud/MinimaxN8N", "nodes/Minimax/request.ts", "5c494c8839156093322264b35006037c46b032bf"
)
MINIMAX_MCP_TYPES = mcp("minimax/core/types.py", "MinimaxContent")
MINIMAX_SDK = sdk("python/src/acedatacloud/resources/providers/minimax.py", "Minimax.generate(ratio=None)")
HAPPYHORSE_N8N = Source("AceDataCloud/HappyHorseN8N", "tests/node.test.cjs", "3c798a3d4f7bf3999f4764f351b41f1052ddd613")
HAPPYHORSE_N8N_REQUEST = Source(
    "AceDataCloud/HappyHorseN8N", "nodes/HappyHorse/request.ts", "3c798a3d4f7bf3999f4764f351b41f1052ddd613"
)
SEEDANCE_N8N = Source("AceDataCloud/SeedanceN8N", "tests/node.test.cjs", "3a711ca15df21df9658fa48f0f99c436b100287f")
SEEDANCE_MCP = mcp("seedance/tools/video_tools.py", "seedance_generate_video")
SEEDANCE_SPEC = sdk("scripts/specs/0083b874-4da6-40df-87e3-835b1300c1e8.json", "frames")
SEEDANCE_SDK = sdk("python/src/acedatacloud/resources/providers/seedance.py", "SeedanceOmniReferenceTaskType")
MAESTRO_MCP = mcp("maestro/tools/video_tools.py", "maestro_create_video, SKU_LIMITS")
MAESTRO_MCP_TESTS = mcp("maestro/tests/test_tools.py")
MAESTRO_GUIDE = Source(
    "AceDataCloud/Docs", "en/guides/maestro/maestro_videos.mdx", "6a841d9c1f36827794113509ea04ba98a80c6efe"
)
MAESTRO_TASKS_GUIDE = Source(
    "AceDataCloud/Docs", "en/guides/maestro/maestro_tasks.mdx", "cd5227fa886a32cc3095d789a47ad0542fcf33f4"
)
MAESTRO_OPENAPI = Source("AceDataCloud/Docs", "openapi/maestro.json", "b14b5e1820e42901da3883d0aced4c6d2a158420")
MAESTRO_SDK = sdk("python/src/acedatacloud/resources/providers/maestro.py", "MaestroScenario")
HAILUO_MCP = mcp("hailuo/tools/video_tools.py", "hailuo_generate_video_from_image(prompt: str)")
HAILUO_SDK = sdk("scripts/specs/d5af91f6-a7ec-4015-b0a5-d25051158470.json", "required: [action]")
HAILUO_GUIDE = Source(
    "AceDataCloud/Docs", "en/guides/hailuo/hailuo_videos.mdx", "5de9dcfb4934ad8154a4d3b75717d0cf481460f1"
)
WAN_MCP = mcp("wan/tools/video_tools.py", "wan_generate_video_from_image(prompt: str)")
WAN_SPEC = sdk("scripts/specs/6a4ecdbf-b219-4505-8277-5ec4b1ac14f8.json", "required: [action, model, prompt]")
KICKART_OPENAPI = Source("AceDataCloud/Docs", "openapi/kickart.json", "6224d635954cedfc1c786740171a593a3c8bc523")
KICKART_SKILL = Source(
    "AceDataCloud/Skills", "skills/kickart-video/SKILL.md", "ba352f606476e0cb04be67c1de7692b99401d25c"
)
# Another stored version of the same Skills file (the index gives no commit for it, only its id).
KICKART_SKILL_REQUIRED = Source("AceDataCloud/Skills", "skills/kickart-video/SKILL.md", "stored version 63443001309")
KICKART_CLI = Source("AceDataCloud/Clis", "kickart/tests/test_commands.py", "459b2066ca657959c6051198bbd9182bf5a3097b")
KICKART_CLI_FIXTURES = Source(
    "AceDataCloud/Clis", "kickart/tests/conftest.py", "459b2066ca657959c6051198bbd9182bf5a3097b"
)
SDK_TASKS_TESTS = sdk("python/tests/test_tasks.py")
SDK_PROVIDER_TESTS = sdk("python/tests/test_providers.py")
SDK_TASK_STATUS = sdk("python/src/acedatacloud/_runtime/tasks.py", "task_status")

IMG, IMG2 = "https://example.com/ref.jpg", "https://example.com/end.jpg"
VID, AUD = "https://example.com/ref.mp4", "https://example.com/voice.mp3"
TEXT = [{"type": "text", "text": "A paper boat floating across a calm blue pond, gentle camera movement"}]


def _image(role: str | None = None, url: str = IMG) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "image_url", "image_url": {"url": url}}
    return item | ({"role": role} if role else {})


def _mcp_kling(model: str, **fields: Any) -> dict[str, Any]:
    """The body kling_generate_video sends: its defaults (mode std, 16:9, 5 s) and the test's fields."""
    return {"action": "text2video", "model": model, "prompt": "A test video", "mode": "std", "aspect_ratio": "16:9",
            "duration": 5} | fields  # fmt: skip


def _minimax(**fields: Any) -> dict[str, Any]:
    """The MinimaxN8N test's create parameters as its request.ts sends them (async left to the provider)."""
    return {"model": "MiniMax-H3", "content": TEXT, "resolution": "768P", "duration": 4, "ratio": "16:9"} | fields


def _maestro(**fields: Any) -> dict[str, Any]:
    return {"prompt": "x"} | fields


# --------------------------------------------------------------------------------------------
# Request bodies
# --------------------------------------------------------------------------------------------

BODIES: dict[str, BodyCase] = {
    # Kling: the MCP's tool tests, the SDK's own tests and the spec/guide's capability matrix.
    "kling: o1 with an image_list": BodyCase(
        "kling", _mcp_kling("kling-o1", prompt="Animate <<<image_1>>>", image_list=[{"image_url": IMG}]), True,
        KLING_MCP_TESTS.at("test_image_list_included_in_canonical_o1_payload"),
    ),
    "kling: v3-omni with a feature video": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", video_list=[{"video_url": VID, "refer_type": "feature",
                                                          "keep_original_sound": "yes"}]), True,
        KLING_MCP_TESTS.at("test_video_list_included_in_v3_omni_payload"),
    ),
    "kling: feature video beside a start frame": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", action="image2video", start_image_url=IMG,
                            video_list=[{"video_url": VID, "refer_type": "feature"}]), True,
        KLING_MCP_TESTS.at("test_feature_video_can_accompany_start_frame"),
    ),
    "kling: v3 with camera_control": BodyCase(
        "kling", _mcp_kling("kling-v3", camera_control={"type": "simple", "config": {"horizontal": -0.5}}), True,
        KLING_MCP_TESTS.at("test_structured_camera_control_is_serialized"),
    ),
    "kling: v2-master with an image_list": BodyCase(
        "kling", _mcp_kling("kling-v2-master", image_list=[{"image_url": IMG}]), False,
        KLING_MCP_TESTS.at("test_non_omni_model_rejects_references"),
    ),
    "kling: o1 for 10 s": BodyCase(
        "kling", _mcp_kling("kling-o1", duration=10), False, KLING_MCP_TESTS.at("test_o1_rejects_unsupported_duration")
    ),
    "kling: v3 for 16 s": BodyCase(
        "kling", _mcp_kling("kling-v3", duration=16), False,
        KLING_MCP_TESTS.at("test_v3_rejects_duration_outside_range"),
    ),
    "kling: 4k with Omni references": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", mode="4k", image_list=[{"image_url": IMG}]), False,
        KLING_MCP_TESTS.at("test_omni_references_reject_4k"), "mode=4k is not supported with image_list or video_list",
    ),
    "kling: 5 images beside a reference video": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", image_list=[{"image_url": f"https://example.com/ref-{n}.jpg"}
                                                         for n in range(5)], video_list=[{"video_url": VID}]), False,
        KLING_MCP_TESTS.at("test_reference_video_limits_images_to_four"),
        "at most 4 reference images including first/end frames",
    ),
    "kling: two first frames": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", action="image2video", start_image_url=IMG,
                            image_list=[{"image_url": IMG2, "type": "first_frame"}]), False,
        KLING_MCP_TESTS.at("test_duplicate_first_frame_sources_are_rejected"),
    ),
    "kling: a base video beside a start frame": BodyCase(
        "kling", _mcp_kling("kling-o1", action="image2video", start_image_url=IMG,
                            video_list=[{"video_url": VID, "refer_type": "base"}]), False,
        KLING_MCP_TESTS.at("test_base_video_rejects_start_frame"),
    ),
    "kling: an end frame without a first frame": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", image_list=[{"image_url": IMG, "type": "end_frame"}]), False,
        KLING_MCP_TOOLS.at("_validate_video_request"), "a first frame is required when an end frame is provided",
    ),
    "kling: generate_audio with a video_list": BodyCase(
        "kling", _mcp_kling("kling-v3-omni", generate_audio=True, video_list=[{"video_url": VID}]), False,
        KLING_MCP_TOOLS.at("_validate_video_request"), "generate_audio cannot be used with video_list",
    ),
    "kling: an unknown image_list type": BodyCase(
        "kling", _mcp_kling("kling-o1", image_list=[{"image_url": IMG, "type": "invalid"}]), False, KLING_SDK_TESTS,
        "type must be first_frame or end_frame",
    ),
    "kling: an unknown refer_type": BodyCase(
        "kling", _mcp_kling("kling-o1", video_list=[{"video_url": VID, "refer_type": "invalid"}]), False,
        KLING_SDK_TESTS, "refer_type must be base or feature",
    ),
    "kling: 8 reference images": BodyCase(
        "kling", _mcp_kling("kling-o1", image_list=[{"image_url": f"https://example.com/ref-{n}.jpg"}
                                                    for n in range(8)]), False, KLING_SDK_TESTS, "cannot exceed 7",
    ),
    "kling: extend on o1": BodyCase(
        "kling", {"action": "extend", "video_id": "video-id", "prompt": "Continue", "model": "kling-o1",
                  "mode": "std", "duration": 5}, False, KLING_MCP_TESTS.at("test_o1_extend_is_rejected"),
    ),
    "kling: extend on v2-master for 7 s": BodyCase(
        "kling", {"action": "extend", "video_id": "video-id", "prompt": "Continue", "model": "kling-v2-master",
                  "mode": "std", "duration": 7}, False, KLING_MCP_TESTS.at("test_invalid_legacy_duration_is_rejected"),
    ),
    "kling: extend on v3": BodyCase(
        "kling", {"action": "extend", "video_id": "video-id", "prompt": "Continue", "model": "kling-v3",
                  "mode": "std", "duration": 10}, True, KLING_MCP_TOOLS.at("kling_extend_video"),
        "only kling-o1 is refused; 3-15 s for kling-v3/kling-v3-omni",
    ),
    "kling: extend on v2-master": BodyCase(
        "kling", {"action": "extend", "video_id": "video-id", "prompt": "Continue", "model": "kling-v2-master",
                  "mode": "std", "duration": 5}, True, KLING_MCP_TOOLS.at("kling_extend_video"),
    ),
    "kling: extend on v3 in 4k": BodyCase(
        "kling", {"action": "extend", "video_id": "video-id", "prompt": "Continue", "model": "kling-v3",
                  "mode": "4k", "duration": 5}, True, KLING_MCP_TOOLS.at("kling_extend_video"),
        "'4k' (native 4K, only for kling-v3 and kling-v3-omni)",
    ),
    "kling: extend on v3 (SDK)": BodyCase(
        "kling", {"action": "extend", "model": "kling-v3", "video_id": "video-1"}, False, KLING_SDK_TESTS,
        "extend requires kling-v1, kling-v1-6, or kling-v2-5-turbo",
    ),
    "kling: extend on v1 (the guide's example)": BodyCase(
        "kling", {"action": "extend", "model": "kling-v1", "video_id": "030bb06d-98d4-4044-9042-0aa0822e8c8c",
                  "prompt": "White ceramic coffee mug", "duration": 10}, True, KLING_GUIDE.at("Extend Video"),
    ),
    "kling: an end frame on v2-master": BodyCase(
        "kling", {"action": "image2video", "prompt": "x", "model": "kling-v2-master", "start_image_url": IMG,
                  "end_image_url": IMG2}, False, KLING_SPEC,
        "kling-v2-master/kling-v2-1-master do not support end frames",
    ),
    "kling: an end frame on v1-6 std": BodyCase(
        "kling", {"action": "image2video", "prompt": "x", "model": "kling-v1-6", "mode": "std",
                  "start_image_url": IMG, "end_image_url": IMG2}, False, KLING_SPEC,
        "kling-v1-6/kling-v2-5-turbo/kling-v2-6 require mode=pro",
    ),
    "kling: an end frame on v1 for 10 s": BodyCase(
        "kling", {"action": "image2video", "prompt": "x", "model": "kling-v1", "start_image_url": IMG,
                  "end_image_url": IMG2, "duration": 10}, False, KLING_SPEC, "kling-v1 requires duration=5",
    ),
    "kling: an end frame on v1-6 pro": BodyCase(
        "kling", {"action": "image2video", "prompt": "x", "model": "kling-v1-6", "mode": "pro",
                  "start_image_url": IMG, "end_image_url": IMG2}, True, KLING_GUIDE.at("Model Capability Matrix"),
    ),
    "kling-talking-photo: kling-v3": BodyCase(
        "kling-talking-photo", {"image_url": IMG, "audio_url": AUD, "model": "kling-v3"}, False, TALKING_PHOTO_SPEC,
    ),
    "kling-talking-photo: kling-o1": BodyCase(
        "kling-talking-photo", {"image_url": IMG, "audio_url": AUD, "model": "kling-o1"}, False,
        mcp("kling/core/types.py", "TalkingPhotoModel"),
    ),
    # MiniMax H3: the n8n node's tests, the Docs guide, the MCP's content model.
    "minimax: the n8n create parameters": BodyCase("minimax", _minimax(), True, MINIMAX_N8N.at("creation submits")),
    "minimax: the guide's brand film": BodyCase(
        "minimax", _minimax(content=[*TEXT, *(_image("reference_image", f"https://cdn.example.com/{n}")
                                               for n in range(4))], resolution="2K", duration=15), True,
        MINIMAX_GUIDE.at("Premium Brand Film"),
    ),
    "minimax: first and last frame, adaptive": BodyCase(
        "minimax", _minimax(content=[*TEXT, _image("first_frame"), _image("last_frame", IMG2)], ratio="adaptive"),
        True, MINIMAX_N8N.at("frame animation sends first and last roles and adaptive ratio"),
    ),
    "minimax: image, video and audio references": BodyCase(
        "minimax", _minimax(content=[*TEXT, _image("reference_image"),
                                     {"type": "video_url", "video_url": {"url": VID}, "role": "reference_video"},
                                     {"type": "audio_url", "audio_url": {"url": AUD}, "role": "reference_audio"}]),
        True, MINIMAX_N8N.at("multimodal references keep media kinds"),
    ),
    "minimax: an mm_file reference": BodyCase(
        "minimax", _minimax(content=[*TEXT, _image("reference_image", "mm_file://abc123")]), True,
        MINIMAX_N8N.at("private file references and data URIs retain media type"),
    ),
    "minimax: MiniMax-H3-Max": BodyCase("minimax", _minimax(model="MiniMax-H3-Max"), False, MINIMAX_N8N),
    "minimax: 3 s": BodyCase("minimax", _minimax(duration=3), False, MINIMAX_N8N),
    "minimax: 4.5 s": BodyCase("minimax", _minimax(duration=4.5), False, MINIMAX_N8N),
    "minimax: 16 s": BodyCase("minimax", _minimax(duration=16), False, MINIMAX_N8N),
    "minimax: 480P": BodyCase("minimax", _minimax(resolution="480P"), False, MINIMAX_N8N),
    "minimax: text-to-video adaptive": BodyCase(
        "minimax", _minimax(ratio="adaptive"), False,
        MINIMAX_N8N.at("unsupported models, durations, resolutions and adaptive text ratio are rejected"),
    ),
    "minimax: text-to-video without ratio": BodyCase(
        "minimax", {k: v for k, v in _minimax().items() if k != "ratio"}, False, MINIMAX_GUIDE.at("ratio"),
        "Text-to-video: Required and cannot be adaptive",
    ),
    "minimax: text-to-video without ratio (SDK)": BodyCase(
        "minimax", {k: v for k, v in _minimax().items() if k != "ratio"}, True, MINIMAX_SDK,
        "ratio: MinimaxRatio | None = None",
    ),
    "minimax: a 7,001-character prompt": BodyCase(
        "minimax", _minimax(content=[{"type": "text", "text": "x" * 7001}]), False, MINIMAX_N8N,
    ),
    "minimax: no text item": BodyCase(
        "minimax", _minimax(content=[_image("first_frame")]), False, MINIMAX_GUIDE.at("content Item Parameters"),
        "Each request must contain one non-empty text item",
    ),
    "minimax: 10 reference images": BodyCase(
        "minimax", _minimax(content=[*TEXT, *[_image("reference_image")] * 10]), False,
        MINIMAX_N8N.at("reference counts and combined limit are enforced"),
    ),
    "minimax: 4 reference videos": BodyCase(
        "minimax", _minimax(content=[*TEXT, *[{"type": "video_url", "video_url": {"url": VID},
                                               "role": "reference_video"}] * 4]), False,
        MINIMAX_N8N.at("reference counts and combined limit are enforced"),
    ),
    "minimax: 13 references": BodyCase(
        "minimax", _minimax(content=[*TEXT, *[_image("reference_image")] * 9,
                                     *[{"type": "video_url", "video_url": {"url": VID}, "role": "reference_video"}] * 3,
                                     {"type": "audio_url", "audio_url": {"url": AUD}, "role": "reference_audio"}]),
        False, MINIMAX_N8N.at("reference counts and combined limit are enforced"),
    ),
    "minimax: a frame beside a reference": BodyCase(
        "minimax", _minimax(content=[*TEXT, _image("first_frame"), _image("reference_image", IMG2)]), False,
        MINIMAX_GUIDE.at("Material Specifications"), "first/last frame and reference asset scenarios are exclusive",
    ),
    "minimax: a video without its role": BodyCase(
        "minimax", _minimax(content=[*TEXT, {"type": "video_url", "video_url": {"url": VID}}]), False,
        MINIMAX_MCP_TYPES, "role is required and must be 'reference_video' for video_url",
    ),
    # Seedance: the MCP's tools and tests, the n8n node's tests.
    "seedance: 2-0-fast in 4k": BodyCase(
        "seedance", {"model": "doubao-seedance-2-0-fast-260128", "content": TEXT, "resolution": "4k"}, False,
        SEEDANCE_MCP.at("resolution"), "'4k' is supported only by 'doubao-seedance-2-0-260128'",
    ),
    "seedance: 2-0-mini in 1080p": BodyCase(
        "seedance", {"model": "doubao-seedance-2-0-mini-260615", "content": TEXT, "resolution": "1080p"}, False,
        SEEDANCE_MCP.at("resolution"), "'2-0-fast' and '2-0-mini' max out at '720p'",
    ),
    "seedance: 2-5 in 4k": BodyCase(
        "seedance", {"model": "doubao-seedance-2-5-260628", "content": TEXT, "resolution": "4k"}, False,
        SEEDANCE_MCP.at("resolution"), "'2-5' maxes out at '1080p'",
    ),
    "seedance: 2-0 in 4k": BodyCase(
        "seedance", {"model": "doubao-seedance-2-0-260128", "content": TEXT, "resolution": "4k"}, True,
        SEEDANCE_MCP.at("resolution"),
    ),
    "seedance: two tools": BodyCase(
        "seedance", {"model": "doubao-seedance-2-5-260628", "content": TEXT,
                     "tools": [{"type": "web_search"}, {"type": "web_search"}]}, False, SEEDANCE_MCP.at("tools"),
        "max_length=1",
    ),
    "seedance: frames and duration": BodyCase(
        "seedance", {"model": "doubao-seedance-1-0-pro-250528", "content": TEXT, "frames": 29, "duration": 10}, False,
        mcp("seedance/tests/test_video_tools.py", "test_frames_and_duration_mutually_exclusive"),
    ),
    "seedance: frames on the default 2-0 model": BodyCase(
        "seedance", {"model": "doubao-seedance-2-0-260128", "content": [{"type": "text", "text": "A test video"}],
                     "resolution": "720p", "ratio": "16:9", "frames": 29}, True,
        mcp("seedance/tests/test_video_tools.py", "test_frames_without_duration_is_valid"),
    ),
    "seedance: 293 frames on 1.0": BodyCase(
        "seedance", {"model": "doubao-seedance-1-0-pro-250528", "content": TEXT, "frames": 293}, False,
        SEEDANCE_MCP.at("frames"), "ge=29, le=289",
    ),
    "seedance: 361 frames on 1.0": BodyCase(
        "seedance", {"model": "doubao-seedance-1-0-pro-250528", "content": TEXT, "frames": 361}, True, SEEDANCE_SPEC,
        "minimum 29, maximum 361, 25 + 4n",
    ),
    "seedance: omni_reference_task_type reference (SDK)": BodyCase(
        "seedance", {"model": "doubao-seedance-2-5-260628", "content": TEXT, "omni_reference_task_type": "reference"},
        True, SEEDANCE_SDK,
    ),
    "seedance: omni_reference_task_type reference": BodyCase(
        "seedance", {"model": "doubao-seedance-2-5-260628", "content": TEXT, "omni_reference_task_type": "reference"},
        False, mcp("seedance/core/types.py", "OmniReferenceTaskType = Literal['auto', 'edit', 'extend']"),
    ),
    "seedance: 0 s": BodyCase(
        "seedance", {"model": "doubao-seedance-2-0-260128", "content": TEXT, "duration": 0}, False,
        SEEDANCE_N8N.at("invalid image URL and duration fail before submitting"),
    ),
    # HappyHorse: the MCP's tool tests and the n8n node.
    "happyhorse: the MCP's text-to-video": BodyCase(
        "happyhorse", {"action": "generate", "model": "happyhorse-1.1-t2v", "prompt": "A horse crossing a snowy ridge",
                       "ratio": "9:16", "resolution": "720P", "duration": 8, "watermark": False, "seed": 42}, True,
        mcp("happyhorse/tests/test_tools.py", "test_text_to_video_payload"),
    ),
    "happyhorse: image-to-video without prompt": BodyCase(
        "happyhorse", {"action": "image_to_video", "model": "happyhorse-1.1-i2v", "image_url": IMG, "prompt": None,
                       "resolution": "1080P", "duration": 5, "watermark": False}, True,
        mcp("happyhorse/tests/test_tools.py", "test_image_to_video_prompt_is_optional"),
    ),
    "happyhorse: 10 reference images": BodyCase(
        "happyhorse", {"action": "reference_to_video", "model": "happyhorse-1.1-r2v", "prompt": "Use character1",
                       "image_urls": [f"https://example.com/{n}.jpg" for n in range(10)]}, False,
        mcp("happyhorse/tests/test_tools.py", "test_reference_generation_validates_image_limit"),
    ),
    "happyhorse: an edit with 6 images": BodyCase(
        "happyhorse", {"action": "video_edit", "model": "happyhorse-1.0-video-edit", "prompt": "x", "video_url": VID,
                       "image_urls": [IMG] * 6}, False,
        mcp("happyhorse/core/types.py", "MAX_EDIT_REFERENCE_IMAGES = 5"),
    ),
    "happyhorse: references on a t2v model": BodyCase(
        "happyhorse", {"action": "reference_to_video", "model": "happyhorse-1.1-t2v", "prompt": "x",
                       "image_urls": [IMG], "resolution": "720P", "duration": 3, "ratio": "16:9"}, False,
        HAPPYHORSE_N8N.at("reference mode validates image count and operation-specific model"),
    ),
    "happyhorse: 16 s": BodyCase(
        "happyhorse", {"action": "generate", "model": "happyhorse-1.1-t2v", "prompt": "x", "duration": 16}, False,
        HAPPYHORSE_N8N.at("generation duration is bounded before billing"),
    ),
    # Maestro: the MCP (tool and tests), the Docs guide, the Docs OpenAPI spec.
    "maestro: the MCP's complete payload": BodyCase(
        "maestro", {"task_id": "0194c0be-8f6c-7e31-a7d2-0123456789ab", "prompt": "Launch video for a new camera",
                    "action": "generate", "file_urls": [IMG], "langs": ["en", "pt-br"], "aspect": "16:9",
                    "duration": 45, "quality": "pro", "scenario": "captions", "style": "editorial",
                    "voice": "documentary-male"}, True,
        MAESTRO_MCP_TESTS.at("test_create_video_builds_complete_payload"),
    ),
    "maestro: lite for 31 s": BodyCase(
        "maestro", _maestro(quality="lite", duration=31), False,
        MAESTRO_MCP_TESTS.at("test_sku_limits_fail_before_api_call"),
    ),
    "maestro: drama on standard": BodyCase(
        "maestro", _maestro(quality="standard", scenario="drama"), False,
        MAESTRO_MCP_TESTS.at("test_sku_limits_fail_before_api_call"),
    ),
    "maestro: extend on standard": BodyCase(
        "maestro", _maestro(quality="standard", action="extend", ref_task_id="task-1"), False,
        MAESTRO_MCP_TESTS.at("test_sku_limits_fail_before_api_call"),
    ),
    "maestro: extend on pro for 300 s": BodyCase(
        "maestro", _maestro(quality="pro", action="extend", ref_task_id="task-1", duration=300), True,
        MAESTRO_MCP_TESTS.at("test_sku_limits_fail_before_api_call"),
    ),
    "maestro: three languages on standard": BodyCase(
        "maestro", _maestro(quality="standard", langs=["en", "zh-cn", "ja"]), False, MAESTRO_MCP,
        "standard: at most 2 language(s)",
    ),
    "maestro: five languages on pro": BodyCase(
        "maestro", _maestro(quality="pro", langs=["en", "zh-cn", "ja", "ko", "de"]), False, MAESTRO_MCP,
        "langs max_length=4",
    ),
    "maestro: 600 s": BodyCase(
        "maestro", _maestro(duration=600), True, MAESTRO_OPENAPI.at("duration"), "minimum 1, maximum 600",
    ),
    "maestro: 600 s (guide)": BodyCase(
        "maestro", _maestro(quality="pro", duration=600), False, MAESTRO_GUIDE.at("duration"), "Pro is 5-300 seconds",
    ),
    "maestro: 3 s": BodyCase("maestro", _maestro(duration=3), False, MAESTRO_MCP.at("duration"), "ge=5, le=300"),
    "maestro: the guide's drama without quality": BodyCase(
        "maestro", {"prompt": "Two co-renting roommates fall out and reconcile over a cat", "scenario": "drama",
                    "style": "cinematic", "aspect": "9:16", "duration": 40}, True,
        MAESTRO_GUIDE.at("Specify Video Type and Style"),
    ),
    "maestro: the guide's remix": BodyCase(
        "maestro", {"action": "remix", "ref_task_id": "f57e99c4f60f4373a15517742ce2357d",
                    "prompt": "Change the opening title"}, True, MAESTRO_GUIDE.at("Iterate on Existing Videos"),
    ),
    "maestro: scenario motion": BodyCase(
        "maestro", _maestro(scenario="motion"), True, MAESTRO_OPENAPI.at("scenario"),
    ),
    "maestro: quality draft": BodyCase("maestro", _maestro(quality="draft"), True, MAESTRO_OPENAPI.at("quality")),
    "maestro: remix without ref_task_id": BodyCase(
        "maestro", _maestro(action="remix"), False, MAESTRO_MCP_TESTS.at("test_iteration_requires_reference_task"),
    ),
    # Digital Human: the MCP's tool tests.
    "digital-human: both face sources": BodyCase(
        "digital-human", {"video_url": VID, "image_url": IMG, "audio_url": AUD}, False,
        mcp("digitalhuman/tests/test_tools.py", "test_create_video_requires_exactly_one_face_source"),
    ),
    "digital-human: text without voice_id": BodyCase(
        "digital-human", {"image_url": IMG, "text": "Hello world"}, False,
        mcp("digitalhuman/tests/test_tools.py", "test_create_video_requires_voice_id_with_text"),
    ),
    "digital-human: the MCP's payload": BodyCase(
        "digital-human", {"video_url": VID, "audio_url": AUD, "engine": "latentsync", "guidance": 1.5, "steps": 30,
                          "seam_fix": False, "speed": 1.2, "resolution": "720p"}, True,
        mcp("digitalhuman/tests/test_tools.py", "test_create_video_payload"),
    ),
    # Hailuo and Wan: image-to-video needs a prompt (MCP tools, Wan's spec); the SDK leaves it optional.
    "hailuo: image-to-video without prompt": BodyCase(
        "hailuo", {"action": "generate", "model": "minimax-i2v", "first_image_url": IMG}, False, HAILUO_MCP,
    ),
    "hailuo: image-to-video without prompt (SDK)": BodyCase(
        "hailuo", {"action": "generate", "model": "minimax-i2v", "first_image_url": IMG}, True, HAILUO_SDK,
    ),
    "hailuo: the guide's text-to-video without model": BodyCase(
        "hailuo", {"action": "generate", "prompt": "Internal heat"}, True, HAILUO_GUIDE.at("Basic Usage"),
    ),
    "wan: image-to-video without prompt": BodyCase(
        "wan", {"model": "wan2.6-i2v", "action": "image2video", "image_url": IMG}, False, WAN_SPEC,
    ),
    # Kickart: the Docs spec's examples, the Skills doc, the CLI's tests.
    "kickart: the spec's product video": BodyCase(
        "kickart", {"mode": "fast", "type": "intro", "product_url": "https://www.tiktok.com/view/product/172839182",
                    "duration": 15, "language": "zh", "aspect_ratio": "9:16"}, True,
        KICKART_OPENAPI.at("/kickart/videos example"),
    ),
    "kickart: the spec's viral video": BodyCase(
        "kickart-viral", {"mode": "pro", "ref_video": "https://static.bytednsdoc.com/obj/example/demo_video.mp4",
                          "product_url": "https://www.tiktok.com/view/product/172839182", "language": "zh"}, True,
        KICKART_OPENAPI.at("/kickart/viral-videos example"),
    ),
    "kickart: the spec's template video": BodyCase(
        "kickart-template", {"template_id": "1690784258",
                             "resource_list": ["https://cdn.acedata.cloud/kickart/input.jpg"], "resolution": "1080p"},
        True, KICKART_OPENAPI.at("/kickart/template-videos example"),
    ),
    "kickart: no duration": BodyCase(
        "kickart", {"product_url": "https://example.com/product"}, False, KICKART_CLI.at("test_video_missing_duration"),
    ),
    "kickart: 20 s": BodyCase(
        "kickart", {"duration": 20}, False, KICKART_CLI.at("test_video_invalid_duration"),
    ),
    "kickart: no product source": BodyCase(
        "kickart", {"duration": 30, "mode": "pro", "aspect_ratio": "16:9", "language": "en"}, True,
        KICKART_CLI.at("test_video_sends_correct_payload"),
    ),
    "kickart: no product source (required)": BodyCase(
        "kickart", {"duration": 15}, False, KICKART_SKILL_REQUIRED.at("Gotchas"),
        "At least one product source is required for /kickart/videos",
    ),
    "kickart: a 45 s main video": BodyCase(
        "kickart", {"duration": 45, "type": "main", "product_id": "172839182"}, False,
        KICKART_SKILL_REQUIRED.at("Gotchas"), "The main type only supports 15 or 30",
    ),
    "kickart: viral without ref_video": BodyCase(
        "kickart-viral", {"language": "en"}, False, KICKART_CLI.at("test_viral_video_missing_ref_video"),
    ),
    "kickart: viral without language": BodyCase(
        "kickart-viral", {"ref_video": "https://example.com/ref.mp4"}, False,
        KICKART_CLI.at("test_viral_video_missing_language"),
    ),
    "kickart: advanced viral with high similarity": BodyCase(
        "kickart-viral", {"ref_video": "https://example.com/ref.mp4", "language": "zh", "mode": "advanced",
                          "similarity": "high"}, True, KICKART_CLI.at("test_viral_video_sends_correct_payload"),
    ),
    "kickart: template resources as objects": BodyCase(
        "kickart-template", {"template_id": "tmpl_456",
                             "resource_list": [{"type": "video", "url": "https://example.com/vid.mp4"}]}, True,
        KICKART_CLI.at("test_template_video_sends_correct_payload"),
    ),
    "kickart: template without template_id": BodyCase(
        "kickart-template", {"resource_list": [{"type": "image", "url": "https://example.com/img.jpg"}]}, False,
        KICKART_CLI.at("test_template_video_missing_template_id"),
    ),
    "kickart: template without resources": BodyCase(
        "kickart-template", {"template_id": "tmpl_123"}, False, KICKART_CLI.at("test_template_video_missing_resource"),
    ),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Task records
# --------------------------------------------------------------------------------------------

TERMINAL_CONTRACT = "tests/test_terminal_state_contract.py"
TERMINAL_SERVICES = ("hailuo", "luma", "kling", "sora", "veo", "seedance", "wan", "grok", "midjourney", "flux")


def _terminal_contract() -> dict[str, RecordCase]:
    """The records every MCP server's terminal-state contract test feeds its reader (ten services)."""
    error = {"code": "bad_request", "message": "invalid input"}
    failed = {"id": "failed-task", "state": "", "response": {"success": False, "error": error}}
    cases: dict[str, RecordCase] = {}
    for name in TERMINAL_SERVICES:
        where = mcp(f"{name}/{TERMINAL_CONTRACT}")
        cases[f"{name}: a structured failure with an empty state"] = RecordCase(
            name, failed, "failed", where.at("test_explicit_response_failure_without_state_is_terminal")
        )
        cases[f"{name}: no success flag yet"] = RecordCase(
            name, {"id": "pending-task", "state": "", "response": {"data": []}}, "waiting",
            where.at("test_missing_success_remains_pending"),
        )  # fmt: skip
        cases[f"{name}: success false alone"] = RecordCase(
            name, {"id": "failed-task", "state": "", "response": {"success": False}}, "failed",
            where.at("test_failed_task_does_not_sleep"),
        )  # fmt: skip
    return cases


# The finished records the MCP servers' conftest.py feed their tests (mock_task_response).
MCP_HAILUO_RECORD = {
    "id": "task-123",
    "created_at": 1705788000.0,
    "request": {"action": "generate", "prompt": "A test video", "model": "minimax-t2v"},
    "response": {
        "success": True,
        "task_id": "task-123",
        "trace_id": "trace-456",
        "data": [
            {
                "id": "video-789",
                "model": "minimax-t2v",
                "prompt": "A test video",
                "first_image_url": "",
                "video_url": "https://platform.cdn.acedata.cloud/hailuo/task-123.mp4",
                "status": "completed",
            }
        ],
    },
}
MCP_KLING_RECORD = {
    "id": "task-123",
    "created_at": 1705788000.0,
    "request": {"action": "text2video", "prompt": "A test video"},
    "response": {
        "success": True,
        "task_id": "task-123",
        "video_id": "video-456",
        "prompt": "A test video",
        "video_url": "https://platform.cdn.acedata.cloud/kling/task-123.mp4",
        "duration": 5,
        "state": "completed",
    },
}

RECORDS: dict[str, RecordCase] = {
    **_terminal_contract(),
    "minimax: a structured failure with an empty state": RecordCase(
        "minimax", {"id": "failed-task", "state": "", "response": {"success": False, "error": {
            "code": "bad_request", "message": "invalid input"}}}, "failed",
        mcp(f"minimax/{TERMINAL_CONTRACT}", "test_explicit_response_failure_without_state_is_terminal"),
    ),
    "minimax: a bare succeeded task": RecordCase(
        "minimax", {"task": {"id": "task-1", "status": "succeeded"}}, "succeeded",
        mcp("minimax/tests/test_task_tools.py", "test_get_succeeded_task_does_not_sleep"),
    ),
    "minimax: a running task": RecordCase(
        "minimax", {"task": {"id": "task-123", "status": "running"}}, "waiting",
        mcp("minimax/tests/test_utils.py", "test_format_documented_task_response"),
    ),
    "minimax: n8n succeeded": RecordCase(
        "minimax", {"task": {"id": "a", "status": "succeeded", "content": {"url": "https://example.com/a.mp4"},
                             "usage": {"total_seconds": 4}}}, "succeeded",
        MINIMAX_N8N.at("native task envelope exposes finished media only after succeeded"),
    ),
    "minimax: n8n running with media": RecordCase(
        "minimax", {"task": {"id": "a", "status": "running", "content": {"url": "https://example.com/a.mp4"},
                             "usage": {"total_seconds": 4}}}, "waiting",
        MINIMAX_N8N.at("native task envelope exposes finished media only after succeeded"),
    ),
    **{
        f"minimax: n8n {status}": RecordCase(
            "minimax", {"task": {"id": "a", "status": status, "error": {"code": "rejected", "message": "Rejected"}}},
            "failed", MINIMAX_N8N.at("native failed and cancelled states terminate polling and keep errors"),
        )
        for status in ("failed", "cancelled")
    },
    "minimax: n8n unknown id": RecordCase("minimax", {}, "failed", MINIMAX_N8N.at("missing tasks ... fail")),
    "happyhorse: a record with only its request": RecordCase(
        "happyhorse", {"id": "task-1", "request": {}}, "waiting",
        mcp("happyhorse/tests/test_utils.py", "test_pending_task_requests_another_poll"),
    ),
    "happyhorse: a succeeded item": RecordCase(
        "happyhorse", {"id": "task-1", "response": {"success": True, "data": [{
            "state": "succeeded", "video_url": "https://cdn.example.com/video.mp4"}]}}, "succeeded",
        mcp("happyhorse/tests/test_utils.py", "test_completed_task_stops_polling"),
    ),
    "happyhorse: success true, item processing": RecordCase(
        "happyhorse", {"id": "task-1", "response": {"success": True, "data": [{"state": "processing"}]}}, "waiting",
        mcp("happyhorse/tests/test_utils.py", "test_transport_success_does_not_finish_processing_task"),
    ),
    "happyhorse: an error item": RecordCase(
        "happyhorse", {"id": "task-1", "response": {"data": [{"state": "error"}]}}, "failed",
        mcp("happyhorse/tests/test_utils.py", "test_failed_task_stops_polling"),
    ),
    "happyhorse: record state processing": RecordCase(
        "happyhorse", {"id": "t-1", "state": "processing", "response": {"data": []}}, "waiting",
        mcp("happyhorse/tests/test_task_throttle.py", "test_get_task_throttles_while_running"),
    ),
    "happyhorse: record state succeeded": RecordCase(
        "happyhorse", {"id": "t-1", "state": "succeeded", "response": {"data": [{
            "video_url": "https://example.com/v.mp4"}]}}, "succeeded",
        mcp("happyhorse/tests/test_task_throttle.py", "test_get_task_returns_immediately_when_complete"),
    ),
    "happyhorse: record state failed": RecordCase(
        "happyhorse", {"id": "t-1", "state": "failed", "response": {"data": []}}, "failed",
        mcp("happyhorse/tests/test_task_throttle.py", "test_get_task_returns_immediately_when_failed"),
    ),
    "happyhorse: n8n top-level success alone": RecordCase(
        "happyhorse", {"id": "a", "success": True}, "waiting", HAPPYHORSE_N8N.at("task states distinguish ..."),
    ),
    "happyhorse: n8n empty data": RecordCase(
        "happyhorse", {"id": "a", "response": {"data": []}}, "waiting",
        HAPPYHORSE_N8N.at("task states distinguish ..."),
    ),
    "happyhorse: n8n a bare url": RecordCase(
        "happyhorse", {"id": "a", "finished_at": 1, "response": {"data": [{"url": "https://example.com/a.png"}]}},
        "succeeded", HAPPYHORSE_N8N.at("task states distinguish ..."),
    ),
    "happyhorse: n8n succeeded state beside a rejection": RecordCase(
        "happyhorse", {"id": "a", "state": "succeeded", "response": {"success": False, "error": {"code": "rejected"}}},
        "failed", HAPPYHORSE_N8N.at("task states distinguish ..."),
    ),
    "happyhorse: n8n a top-level error": RecordCase(
        "happyhorse", {"id": "a", "error": {"code": "content_moderation", "message": "Rejected"}}, "failed",
        HAPPYHORSE_N8N.at("query emits failed task data instead of treating it as a successful generation"),
    ),
    "seedance: n8n no response yet": RecordCase(
        "seedance", {"id": "task-1", "response": None}, "waiting",
        SEEDANCE_N8N.at("query preserves pending, success and terminal failure independently"),
    ),
    "seedance: n8n data object with content": RecordCase(
        "seedance", {"id": "task-1", "response": {"success": True, "data": {"content": {
            "video_url": "https://example.com/video.mp4"}}}}, "succeeded",
        SEEDANCE_N8N.at("query preserves pending, success and terminal failure independently"),
    ),
    "seedance: n8n moderation failure": RecordCase(
        "seedance", {"id": "task-1", "response": {"success": False, "error": {
            "code": "content_moderation", "message": "Rejected"}}}, "failed",
        SEEDANCE_N8N.at("query preserves pending, success and terminal failure independently"),
    ),
    "seedance: n8n top-level success alone": RecordCase(
        "seedance", {"id": "task-1", "success": True}, "waiting",
        SEEDANCE_N8N.at("top-level success alone is not proof that a task completed"),
    ),
    "seedance: n8n succeeded state beside success false": RecordCase(
        "seedance", {"id": "task-1", "state": "succeeded", "response": {"success": False}}, "failed",
        SEEDANCE_N8N.at("top-level success alone is not proof that a task completed"),
    ),
    "digital-human: a bare task id": RecordCase(
        "digital-human", {"task_id": "task-1"}, "waiting",
        mcp("digitalhuman/tests/test_utils.py", "test_pending_task_requests_another_poll"),
    ),
    "digital-human: succeed": RecordCase(
        "digital-human", {"task_id": "task-1", "state": "succeed", "video_url": "https://cdn.example.com/video.mp4"},
        "succeeded", mcp("digitalhuman/tests/test_utils.py", "test_completed_task_stops_polling"),
    ),
    "digital-human: failed": RecordCase(
        "digital-human", {"task_id": "task-1", "state": "failed"}, "failed",
        mcp("digitalhuman/tests/test_utils.py", "test_failed_task_stops_polling"),
    ),
    "digital-human: processing": RecordCase(
        "digital-human", {"task_id": "t-1", "state": "processing"}, "waiting",
        mcp("digitalhuman/tests/test_task_throttle.py", "test_get_task_throttles_while_running"),
    ),
    **{
        f"maestro: {status}": RecordCase(
            "maestro", {"id": "t-1", "status": status}, "waiting",
            mcp("maestro/tests/test_task_guidance.py", f"test_in_flight_states_keep_polling[{status}]"),
        )
        for status in ("queued", "pending", "planning", "producing", "running")
    },
    **{
        f"maestro: {status}": RecordCase(
            "maestro", {"id": "t-1", "status": status}, "failed",
            mcp("maestro/tests/test_task_guidance.py", f"test_terminal_failures_stop[{status}]"),
        )
        for status in ("failed", "dead", "cancelled")
    },
    "maestro: a bare succeeded status": RecordCase(
        "maestro", {"id": "t-1", "status": "succeeded"}, "succeeded",
        mcp("maestro/tests/test_task_guidance.py", "test_succeeded_stops"),
    ),
    "maestro: an unknown status": RecordCase(
        "maestro", {"id": "t-1", "status": "brand-new-state"}, "stopped",
        mcp("maestro/tests/test_task_guidance.py", "test_unknown_status_stops_rather_than_looping"),
    ),
    "maestro: the guide's finished record": RecordCase(
        "maestro", {"id": "f57e99c4f60f4373a15517742ce2357d", "finished_at": 1769264698.3, "status": "succeeded",
                    "response": {"success": True, "data": {"variants": [
                        {"lang": "zh-cn", "output_url": "https://…/zh.mp4"}]}}}, "succeeded",
        MAESTRO_TASKS_GUIDE.at("Query Historical List (an items entry)"),
    ),
    "hailuo: the MCP's finished record": RecordCase(
        "hailuo", MCP_HAILUO_RECORD, "succeeded", mcp("hailuo/tests/conftest.py", "mock_task_response")
    ),
    "kling: the MCP's finished record": RecordCase(
        "kling", MCP_KLING_RECORD, "succeeded", mcp("kling/tests/conftest.py", "mock_task_response")
    ),
    # The SDK's own tests (its reader task_status, beside ours on more than the fixtures).
    "sdk: success false with an artifact": RecordCase(
        "hailuo", {"response": {"success": False, "video_url": "https://cdn.example.com/x.mp4"}}, "failed",
        SDK_PROVIDER_TESTS.at("test_success_false_with_an_artifact_is_a_failure"),
    ),
    "sdk: a structured error without finished_at": RecordCase(
        "hailuo", {"response": {"success": False, "error": {"code": "api_error",
                   "message": "no channel available for minimax-t2v"}, "task_id": "x"}, "finished_at": None}, "failed",
        SDK_PROVIDER_TESTS.at("test_a_structured_error_is_terminal_even_without_finished_at"),
    ),
    "sdk: success false with a string error": RecordCase(
        "hailuo", {"response": {"success": False, "error": "temporary"}}, "waiting",
        SDK_PROVIDER_TESTS.at("test_success_false_without_an_artifact_keeps_waiting"),
    ),
    **{
        f"sdk: waiting {index}": RecordCase(
            "hailuo", record, "waiting",
            SDK_TASKS_TESTS.at("test_is_completed_waits_without_terminal_status_or_finished_at"),
        )
        for index, record in enumerate((
            {"response": {"success": True, "data": []}},
            {"response": {"success": True, "data": None}},
            {"response": {"success": False, "error": None}},
            {"response": None},
            {"finished_at": 1784362571.0, "response": {"status": "processing", "success": True}},
        ))
    },
    "sdk: finished with success true and no data": RecordCase(
        "hailuo", {"finished_at": 1784362571.0, "response": {"success": True, "data": None}}, "succeeded",
        SDK_TASKS_TESTS.at("test_is_completed_handles_statusless_terminal_shapes"),
    ),
    "sdk: finished_at inside the response, success false": RecordCase(
        "hailuo", {"response": {"finished_at": 1784362571.0, "success": False}}, "failed",
        SDK_TASKS_TESTS.at("test_is_completed_handles_statusless_terminal_shapes"),
    ),
    "sdk: finished with success null": RecordCase(
        "hailuo", {"finished_at": 1784362571.0, "response": {"success": None}}, "waiting",
        SDK_TASKS_TESTS.at("test_is_completed_handles_statusless_terminal_shapes"),
    ),
    "sdk: finished, succeeded word beside success false": RecordCase(
        "hailuo", {"finished_at": 1784362571.0, "response": {"status": "succeeded", "success": False}}, "failed",
        SDK_TASKS_TESTS.at("test_is_completed_handles_statusless_terminal_shapes"),
    ),
    "sdk: a record-level succeeded without response": RecordCase(
        "hailuo", {"response": None, "status": "succeeded"}, "failed",
        SDK_TASK_STATUS.at("a terminal word with no artifact means the job ended without output"),
    ),
    "sdk: a flux url": RecordCase(
        "flux", {"response": {"status": "succeeded", "url": "https://cdn.example/f.png"}}, "succeeded",
        sdk("go/client_test.go", "poll loop final answer (line 321)"),
    ),
    # Kickart: the spec's 200 body in the platform's record, and the CLI's answer fixtures.
    "kickart: the spec's 200 body in a record": RecordCase(
        "kickart", {"id": "0c0b4d3a-2f1e-4a6b-9c2d-2b3c4d5e6f70", "finished_at": 1787400187.9, "response": {
            "success": True, "task_id": "0c0b4d3a-2f1e-4a6b-9c2d-2b3c4d5e6f70",
            "trace_id": "a9063166-26ed-4451-85b5-54e896817c69", "data": {
                "task_id": "0c0b4d3a-2f1e-4a6b-9c2d-2b3c4d5e6f70",
                "video_url": "https://cdn.acedata.cloud/kickart/example.mp4",
                "produce_id": "1fe8d587-7eb3-4094-8624-1abc847e9248", "usage": 0.21,
                "template_id": "226527799033910", "mode": "fast", "type": "intro", "duration": 15}}},
        "succeeded", KICKART_OPENAPI.at("/kickart/videos 200 example"),
    ),
    "kickart: the CLI's done answer": RecordCase(
        "kickart", {"task_id": "3a8b1c2d-4e5f-6789-abcd-ef0123456789", "trace_id": "trace-001", "data": [
            {"video_url": "https://example.com/output.mp4", "state": "done"}]}, "succeeded",
        KICKART_CLI_FIXTURES.at("mock_video_response"),
    ),
    "kickart: the CLI's async answer": RecordCase(
        "kickart", {"task_id": "3a8b1c2d-4e5f-6789-abcd-ef0123456789", "trace_id": "trace-001", "data": []},
        "waiting", KICKART_CLI_FIXTURES.at("mock_video_async_response"),
    ),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Declared disagreements: the decision, the sources it follows, and why
# --------------------------------------------------------------------------------------------

_FREE_400 = "the API's own 400 for a value it no longer takes costs nothing; refusing it here would block a use"

DECLARED_BODIES: dict[str, Decision] = {
    "kling: extend on v3": Decision(
        False, (KLING_SDK, KLING_SDK_TESTS, KLING_SDK_TS_TESTS, KLING_GUIDE.at("Extend Video")),
        "the SDK's code and tests (Python and TypeScript) refuse extend on every model but kling-v1, kling-v1-6 and "
        "kling-v2-5-turbo, and the guide's extend section names only v1 models; the MCP's extend tool lets the "
        "others through by omission (it reuses the generation model type and refuses only kling-o1), and no "
        "source shows a v2/v3 extend succeeding",
    ),
    "kling: extend on v2-master": Decision(False, (KLING_SDK, KLING_SDK_TESTS), "as 'kling: extend on v3'"),
    "kling: extend on v3 in 4k": Decision(False, (KLING_SDK, KLING_SDK_TESTS), "as 'kling: extend on v3'"),
    "seedance: frames on the default 2-0 model": Decision(
        False, (SEEDANCE_MCP.at("frames: '(1.0 series only)'"),),
        "the MCP's own field says frames is 1.0-series only; its test only checks that frames and duration are "
        "not both sent (its client is mocked), so it is no evidence that 2.0 takes frames",
    ),
    "seedance: 293 frames on 1.0": Decision(
        True, (SEEDANCE_SPEC,), "the platform spec takes 29-361 (25 + 4n); the MCP's le=289 is its own bound. "
        + _FREE_400,
    ),
    "seedance: omni_reference_task_type reference": Decision(
        True, (SEEDANCE_SDK,), "the SDK's Literal, generated from the live spec, lists 'reference'; the MCP's lacks "
        "it. " + _FREE_400,
    ),
    "maestro: 600 s": Decision(
        False, (MAESTRO_GUIDE.at("duration, Billing"), MAESTRO_MCP.at("duration ge=5, le=300")),
        "the guide (Lite 5-30 s, Standard 5-120 s, Pro 5-300 s) and the MCP agree on 5-300 s; openapi/maestro.json "
        "(1-600 s) still has the older draft/premium tiers and the motion/slideshow scenarios",
    ),
    "kickart: no product source (required)": Decision(
        True, (KICKART_OPENAPI.at("/kickart/videos required: [duration]"), KICKART_SKILL.at("Parameters"),
               KICKART_CLI.at("test_video_sends_correct_payload")),
        "the spec requires only duration, the latest Skills version calls a product source 'recommended' (another "
        "says 'supplying none may result in a generic video'), and the CLI's own tests submit without one",
    ),
    "minimax: text-to-video without ratio (SDK)": Decision(
        False, (MINIMAX_GUIDE.at("ratio"), MINIMAX_N8N_REQUEST, mcp("minimax/tools/video_tools.py", "ratio=16:9")),
        "the guide requires a fixed ratio for text-to-video and the n8n node and the MCP always send one; only "
        "the SDK leaves ratio optional (it checks nothing)",
    ),
    "hailuo: image-to-video without prompt (SDK)": Decision(
        False, (HAILUO_MCP,), "the MCP's image-to-video tool requires a prompt and no source shows an image-to-video "
        "body without one; the SDK's generated spec requires only action (it checks nothing per model)",
    ),
}  # fmt: skip

# Sources that agree with our decision although the case's own source does not (named for vendor-drift).
_NO_VIDEO = (
    "we are a video provider: a task that ends without a video URL is failed (no_video), never a success with "
    "nothing to deliver"
)
_KEEP_POLLING = (
    "the SDK: `success: false` alone may be a hiccup mid-run and keeps polling (test_tasks.py waits on "
    "{'success': False, 'error': None}); the MCP reader also counts any response.success true as complete, "
    "which its own HappyHorse test and the SDK refute. Polling is bounded by the operator's timeout"
)

DECLARED_RECORDS: dict[str, Decision] = {
    **{
        f"{name}: success false alone": Decision(
            "waiting", (SDK_TASKS_TESTS.at("test_is_completed_waits_without_terminal_status_or_finished_at"),
                        SDK_PROVIDER_TESTS.at("test_success_false_without_an_artifact_keeps_waiting")), _KEEP_POLLING,
        )
        for name in TERMINAL_SERVICES
    },
    "minimax: a bare succeeded task": Decision("failed", (), _NO_VIDEO),
    "maestro: a bare succeeded status": Decision("failed", (), _NO_VIDEO),
    "sdk: finished with success true and no data": Decision("failed", (), _NO_VIDEO),
    "maestro: an unknown status": Decision(
        "waiting", (MAESTRO_TASKS_GUIDE.at("status"),),
        "new in-flight words appear (the guide: pending -> planning -> producing; the openapi: scripting, "
        "generating, rendering, captioning, qc): an unknown word is read as running and polled until the "
        "operator's timeout, rather than giving up on a task that may still deliver",
    ),
    "sdk: finished with success null": Decision(
        "failed", (SEEDANCE_N8N.at("missing tasks"),),
        "finished_at is set only when the platform ends a task; finished with no video it will never deliver, so "
        "it is failed (no_video) now instead of polled until the timeout",
    ),
    "happyhorse: n8n a bare url": Decision(
        "failed", (), "an image under a bare `url` key (the n8n test is an image task): no video service of the table "
        "answers with a bare `url`, and reading one would hand over covers and inputs as videos",
    ),
    "sdk: a flux url": Decision("failed", (), "as 'happyhorse: n8n a bare url' (an image fixture of the Go SDK)"),
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Our side, and the comparison
# --------------------------------------------------------------------------------------------


def our_verdict(case: BodyCase) -> tuple[bool, str]:
    """(accepted, the error) of ``prepare`` on the case's body."""
    try:
        prepare(ACEDATA, case.service, case.body)
    except InvalidInputError as err:
        return False, str(err)
    return True, ""


def our_state(case: RecordCase) -> str:
    state = ACEDATA.interpret_record(ACEDATA.services[case.service], "oracle", case.record).state
    return "waiting" if state in ("pending", "running") else state


@dataclass(frozen=True)
class Finding:
    key: str
    source: Source
    theirs: Any
    ours: Any
    detail: str
    decision: Decision | None

    @property
    def status(self) -> str:
        """``agree``, ``declared``, ``UNDECLARED`` (a difference nobody decided) or ``STALE`` (a declaration
        that does not hold: we no longer differ, or we do something else than declared)."""
        if self.decision is None:
            return "agree" if self.ours == self.theirs else "UNDECLARED"
        return "declared" if self.ours == self.decision.ours != self.theirs else "STALE"


def body_findings() -> list[Finding]:
    found = []
    for key, case in BODIES.items():
        ours, error = our_verdict(case)
        found.append(Finding(key, case.source, case.valid, ours, error or case.says, DECLARED_BODIES.get(key)))
    return found


def record_findings() -> list[Finding]:
    return [
        Finding(key, case.source, case.state, our_state(case), case.service, DECLARED_RECORDS.get(key))
        for key, case in RECORDS.items()
    ]


def unknown_declarations() -> list[str]:
    return sorted((set(DECLARED_BODIES) - set(BODIES)) | (set(DECLARED_RECORDS) - set(RECORDS)))
