"""The vendor's published sources beyond its SDK as an oracle (the cases are data: tests/oracle/sources.py).

- Every request body its MCP servers, Docs (OpenAPI specs and guides), n8n nodes, Kickart CLI and Skills
  doc and its SDK's tests call valid or invalid gets the same verdict from ``prepare``;
- every task record the vendor's tests feed its own readers gets the same state from ``interpret_record``;
- or the difference is declared, with the decision, the sources it follows and why. An undeclared
  difference fails, and so does a declaration that no longer holds.

``make vendor-drift`` prints the same comparison for a maintainer.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "oracle"))

import sources

from airflow_provider_vidgen.vendors.acedata import ACEDATA

BODY_FINDINGS = {finding.key: finding for finding in sources.body_findings()}
RECORD_FINDINGS = {finding.key: finding for finding in sources.record_findings()}


def _explain(finding: sources.Finding) -> str:
    decision = finding.decision
    declared = f"; declared ours={decision.ours!r}" if decision else ""
    return f"{finding.key} ({finding.source}): the source says {finding.theirs!r}, we say {finding.ours!r}{declared}"


@pytest.mark.parametrize("key", list(BODY_FINDINGS))
def test_request_bodies_agree_with_the_source_or_are_declared(key):
    finding = BODY_FINDINGS[key]
    assert finding.status in ("agree", "declared"), _explain(finding) + f" -- {finding.detail}"


@pytest.mark.parametrize("key", list(RECORD_FINDINGS))
def test_task_records_read_as_the_vendors_code_reads_them_or_are_declared(key):
    finding = RECORD_FINDINGS[key]
    assert finding.status in ("agree", "declared"), _explain(finding)


def test_declarations_name_cases_that_exist_and_give_their_reason():
    assert sources.unknown_declarations() == []
    for key, decision in {**sources.DECLARED_BODIES, **sources.DECLARED_RECORDS}.items():
        assert decision.reason.strip(), key
    for key, decision in sources.DECLARED_BODIES.items():  # a body decision follows named sources
        assert decision.follows and all(isinstance(source, sources.Source) for source in decision.follows), key


def test_every_case_names_its_source_at_a_commit():
    for key, case in {**sources.BODIES, **sources.RECORDS}.items():
        source = case.source
        assert source.repo.startswith("AceDataCloud/") and source.path, key
        assert re.fullmatch(r"[0-9a-f]{40}", source.commit) or source.commit.startswith("stored version "), key
        assert case.service in ACEDATA.services, key


def test_the_sources_cover_every_family_they_document():
    """Each published source family with tests of its own is in: MCP servers, Docs, n8n nodes, CLI, Skills, SDK."""
    repos = {case.source.repo for case in (*sources.BODIES.values(), *sources.RECORDS.values())}
    assert {"AceDataCloud/MCPs", "AceDataCloud/Docs", "AceDataCloud/SDK", "AceDataCloud/Clis",
            "AceDataCloud/Skills", "AceDataCloud/MinimaxN8N", "AceDataCloud/HappyHorseN8N",
            "AceDataCloud/SeedanceN8N"} <= repos  # fmt: skip
    families = {case.service.split("-")[0] for case in sources.BODIES.values()}
    assert {"kling", "minimax", "seedance", "happyhorse", "maestro", "kickart", "hailuo", "wan"} <= families
    for name in ("kickart", "kickart-viral", "kickart-template"):  # the spec's example of each is valid
        assert any(case.service == name and case.valid for case in sources.BODIES.values()), name


# --------------------------------------------------------------------------------------------
# The fixes the sources showed, beyond the verdicts
# --------------------------------------------------------------------------------------------


def test_success_false_beside_a_video_is_failed_and_the_video_is_not_handed_over():
    """SDK test_success_false_with_an_artifact_is_a_failure: we used to deliver it as succeeded."""
    record = sources.RECORDS["sdk: success false with an artifact"].record
    result = ACEDATA.interpret_record(ACEDATA.services["hailuo"], "t", record)
    assert (result.state, result.videos, result.error.code) == ("failed", (), "failed")


def test_a_records_own_state_and_a_bare_structured_error_end_the_task():
    spec = ACEDATA.services["happyhorse"]
    failed = ACEDATA.interpret_record(spec, "t", {"id": "t-1", "state": "failed", "response": {"data": []}})
    assert failed.state == "failed"
    rejected = {"id": "a", "state": "succeeded", "response": {"success": False, "error": {"code": "rejected"}}}
    assert ACEDATA.interpret_record(spec, "t", rejected).error.code == "rejected"  # its own error, not no_video
    bare = ACEDATA.interpret_record(spec, "t", {"id": "a", "error": {"code": "content_moderation", "message": "No"}})
    assert (bare.state, bare.error.code) == ("failed", "content_moderation")
    # A string error mid-run is still no final answer (the SDK's "temporary").
    hiccup = {"response": {"success": False, "error": "temporary"}}
    assert ACEDATA.interpret_record(spec, "t", hiccup).state == "running"


def test_an_empty_record_state_does_not_hide_the_response():
    """The MCP contract's `"state": ""` records: the response still decides."""
    record = sources.RECORDS["kling: a structured failure with an empty state"].record
    assert ACEDATA.interpret_record(ACEDATA.services["kling"], "t", record).error.code == "bad_request"
