"""Exceptions raised by the pure core. None of them ever carries a token or request headers."""

from __future__ import annotations


class VidgenError(Exception):
    """Base class of every error this provider raises."""


class InvalidInputError(VidgenError, ValueError):
    """Bad input, found before any request was sent."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ApiError(VidgenError):
    """A failed API call, normalized across vendors.

    ``retryable`` says the same request may succeed later; ``nothing_created`` says the
    request provably created nothing on the vendor side, so a paid submission may be resent.
    """

    def __init__(
        self,
        vendor: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        nothing_created: bool = False,
        retry_after: float | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.vendor = vendor
        self.status = status
        self.code = code
        self.retryable = retryable
        self.nothing_created = nothing_created
        self.retry_after = retry_after
        self.trace_id = trace_id
        self.detail = message
        parts = [vendor]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(code)
        text = " ".join(parts) + f": {message}"
        if trace_id:
            text += f" (trace_id {trace_id})"
        super().__init__(text)
        self.summary = text
        # Where it happened and what to do, filled in by the hook that sent the request (see located()).
        self.conn_id: str | None = None
        self.url: str | None = None
        self.task_ids: tuple[str, ...] = ()
        self.next_step: str | None = None

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.code == "too_many_requests"

    def located(
        self, *, conn_id: str, url: str, task_ids: tuple[str, ...] = (), next_step: str | None = None
    ) -> ApiError:
        """The same error, naming the connection, the URL called, the vendor task ids and the next step."""
        self.conn_id, self.url, self.task_ids = conn_id, url, tuple(task_ids)
        self.next_step = next_step
        self.args = (str(self),)
        return self

    def __str__(self) -> str:
        return self.told()

    def told(self, more: str = "") -> str:
        """The message: what failed and where, then ``more`` (what the caller knows beside it), then the
        next step, which stays the last sentence."""
        text = self.summary
        if self.conn_id is not None:
            text += f" [connection {self.conn_id!r}, {self.url}"
            if self.task_ids:
                hidden = len(self.task_ids) - 5
                shown = ", ".join(self.task_ids[:5]) + (f" and {hidden} more" if hidden > 0 else "")
                text += f", vendor task id(s) {shown}"
            text += "]"
        if more:
            text += f" {more}"
        if self.next_step:
            text += f" Next step: {self.next_step}"
        return text


class AmbiguousSubmissionError(ApiError):
    """A submission whose outcome is unknown: the request may have created a paid task."""
