"""The pace of one API token, pure: when the next request may go, and how the pace adapts to 429s.

Every request on a token takes a slot. A slot is reserved with the generic cell rate algorithm (GCRA)
in its reservation form: the token's state is one number, the *theoretical arrival time* (TAT) of the
next request; a caller moves it on by its own interval and waits until its slot. Requests are thus
spread evenly, so no one-second window holds more than the rate, whichever process, machine or task
sends them. The state lives wherever the callers can share it (``hooks.pace``: in process, in a file
for one machine, in Redis for many); the arithmetic is here, once.

A 429 the token gets (from this process or from anyone else using the token) slows this process down:
its interval grows (multiplicative decrease), and shrinks back towards the configured rate with every
request that passes (additive increase). ``Retry-After`` pauses the token for everyone who shares it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Margin on the interval between two requests, so that request times jittered on their way to the
# server do not put one request too many into the server's one-second window.
PACING_MARGIN = 0.02
SLOWDOWN_FACTOR = 0.5  # a 429 halves this process's rate ...
RECOVERY_STEP = 0.05  # ... and each passing request gives back 5% of the configured rate
MIN_RATE_SHARE = 0.05  # never slower than 5% of the configured rate (a deadline ends a hopeless wait)


def interval_for(rate: float) -> float:
    """Seconds between two requests at ``rate`` requests per second, with the margin."""
    return (1.0 + PACING_MARGIN) / rate


def reserve(tat: float | None, now: float, interval: float, paused_until: float = 0.0) -> tuple[float, float]:
    """(the new TAT, seconds to wait before sending): the next free slot, at the earliest ``now`` (or
    after a pause), is taken, and the next caller's slot is one ``interval`` later."""
    slot = max(tat or now, now, paused_until)
    return slot + interval, slot - now


@dataclass
class AdaptiveRate:
    """This process's rate on a token: the configured one, lowered by 429s and recovering after them."""

    configured: float
    current: float = 0.0

    def __post_init__(self) -> None:
        self.current = self.current or self.configured

    @property
    def interval(self) -> float:
        return interval_for(self.current)

    def throttled(self) -> None:
        self.current = max(self.current * SLOWDOWN_FACTOR, self.configured * MIN_RATE_SHARE)

    def passed(self) -> None:
        self.current = min(self.current + self.configured * RECOVERY_STEP, self.configured)

    @property
    def slowed(self) -> bool:
        return self.current < self.configured
