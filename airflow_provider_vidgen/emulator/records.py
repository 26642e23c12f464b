"""The words each emulated service writes into its task records: emulator-only data.

The provider's own parsing recognises every word any upstream uses (``core.acedata``), so it never
needs these; the emulator answers with the one each service really sends (the fixtures, the docs).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_vidgen.core.schema import ServiceSpec


@dataclass(frozen=True)
class RecordWords:
    success: str = "succeeded"
    running: str = "processing"
    failure: str = "failed"
    # The record field that holds the word; None for a service that writes no state word at all
    # (its records say success, error and the video; see emulator.tasks.ace_response).
    state_key: str | None = "state"


DEFAULT_WORDS = RecordWords()
KLING = RecordWords(success="succeed")
VEO = RecordWords(running="running")
NO_STATE_WORD = RecordWords(state_key=None)

# (vendor, service) -> what its records say; a service not listed uses DEFAULT_WORDS.
RECORD_WORDS: dict[tuple[str, str], RecordWords] = {
    ("acedata", "luma"): RecordWords(success="completed"),
    ("acedata", "kling"): KLING,
    ("acedata", "kling-motion"): KLING,
    ("acedata", "kling-lip-sync"): KLING,
    ("acedata", "kling-talking-photo"): KLING,
    ("acedata", "veo"): VEO,
    ("acedata", "veo-extend"): VEO,
    ("acedata", "veo-upsample"): VEO,
    ("acedata", "veo-reshoot"): VEO,
    ("acedata", "veo-objects"): VEO,
    ("acedata", "seedance"): RecordWords(state_key="status"),
    ("acedata", "wan"): RecordWords(success="completed"),
    ("acedata", "happyhorse"): RecordWords(running="pending", failure="error"),
    ("acedata", "minimax"): RecordWords(running="running", state_key="status"),
    ("acedata", "dreamina"): RecordWords(success="done", state_key="status"),
    ("acedata", "digital-human"): KLING,
    ("acedata", "maestro"): RecordWords(running="producing"),
    ("acedata", "gemini"): RecordWords(running="pending"),
    ("acedata", "flux"): NO_STATE_WORD,
    ("acedata", "midjourney"): NO_STATE_WORD,
}


def record_words(spec: ServiceSpec) -> RecordWords:
    return RECORD_WORDS.get((spec.vendor, spec.name), DEFAULT_WORDS)
