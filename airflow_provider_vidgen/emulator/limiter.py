"""The vendor's published limits as the emulator enforces them (``enforce_limits``): requests in flight per
token and limit group, submissions per second per service (or its family), and the 429s they answer.

The figures are the service rows' own (``ServiceSpec.limits``, from the vendor's table), so the emulator and
the provider read the same numbers. Open requests are counted always (the stats show a client's peak even
when nothing is refused); refusals happen only when the setting is on. Runs on the server's event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from airflow_provider_vidgen.core.limits import Limits

# A submission may reach the emulator this much before its turn and still be accepted: the client paces by
# its own clock and a request takes a few milliseconds to arrive, so a client that keeps the rate exactly
# must not be refused for jitter. Far below every published interval (0.2 s at Flux's 5/s), so it never
# lets two submissions through at once.
SUBMIT_JITTER_SECONDS = 0.05


class VendorLimiter:
    """In-flight counts per (token, group) and the submit pace per (token, service family)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.open: dict[tuple[str, str], int] = {}
        self.peak: dict[tuple[str, str], int] = {}
        self.next_submit: dict[tuple[str, str], float] = {}  # earliest accepted moment of the next submission
        self.answers_429: dict[str, int] = {}  # every 429 the emulator answered, by its error code

    # ------------------------------------------------------------ in flight

    def enter(self, token: str, limits: Limits, enforce: bool) -> bool:
        """Count a request open on the token's group; False (nothing counted) when the group is full."""
        key = (token, limits.group)
        open_now = self.open.get(key, 0)
        if enforce and limits.in_flight and open_now >= limits.in_flight:
            return False
        self.open[key] = open_now + 1
        self.peak[key] = max(self.peak.get(key, 0), open_now + 1)
        return True

    def leave(self, token: str, limits: Limits) -> None:
        key = (token, limits.group)
        self.open[key] = max(self.open.get(key, 0) - 1, 0)  # a reset may have zeroed it meanwhile

    # ------------------------------------------------------------ submit rate

    def submit_wait(self, token: str, service: str, limits: Limits) -> float | None:
        """None, and the submission is paid for in the pace, when the service's rate allows it now; else the
        seconds until it does (a generic cell rate: one submission per ``1 / rate`` seconds, no bursts)."""
        if not limits.submit_rate:
            return None
        key, now, interval = (token, limits.rate_key(service)), self.clock(), 1.0 / limits.submit_rate
        due = self.next_submit.get(key, now)
        if now < due - SUBMIT_JITTER_SECONDS:
            return due - now
        self.next_submit[key] = max(due, now) + interval
        return None

    # ------------------------------------------------------------ stats

    def refused(self, code: str) -> None:
        self.answers_429[code] = self.answers_429.get(code, 0) + 1

    def stats(self, token_names: Iterable[str]) -> dict[str, dict[str, dict[str, int]]]:
        """Per token (by its stats name, never the token) and group: requests open now and the most at once."""
        names = {token: f"token-{index}" for index, token in enumerate(sorted(token_names))}
        out: dict[str, dict[str, dict[str, int]]] = {}
        for (token, group), peak in sorted(self.peak.items()):
            name = names.get(token, "token-unknown")
            out.setdefault(name, {})[group] = {"open": self.open.get((token, group), 0), "peak": peak}
        return out
