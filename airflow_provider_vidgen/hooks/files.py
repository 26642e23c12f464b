"""Fetch files over HTTP(S) into any object storage: streamed, bounded, retried, checked, written atomically.

A reader never sees a partial file: each file is written under a hidden temporary name next to its
target and renamed onto it only when complete (and, for a video, proven to be one). Only public media are
fetched: every connection, of the first request and of each redirect, goes to an address checked when it is
made (``core.addresses``), and only ``http(s)`` URLs are followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import BaseHook

from airflow_provider_vidgen.core.addresses import AddressPolicy, RefusedAddressError, check_web_url, connection_hosts
from airflow_provider_vidgen.core.transport import USER_AGENT, RetryPolicy

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB per file
CHUNK_SIZE = 1024 * 1024
MAX_REDIRECTS = 5  # a vendor's CDN redirects once or twice; each hop is checked anyway

Resolver = Callable[[str, int], Sequence[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the system's resolver), in its order."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class CheckedNetwork(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to an address the policy allows: the host is resolved
    here, checked, and that very address is connected to (TLS still verifies the host name)."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = resolve) -> None:
        self.policy = policy
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = list(self.resolver(host, port))
        except OSError as err:
            raise httpcore.ConnectError(f"{host} could not be resolved: {err}") from err
        address = self.policy.pick(host, port, addresses)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


def media_policy(conn_ids: Sequence[str]) -> AddressPolicy:
    """The addresses downloads may connect to: public ones, and the private hosts that the vendor connections
    ``conn_ids`` name (a connection that does not exist names none)."""
    hosts: list[str] = []
    for conn_id in conn_ids:
        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception:  # not defined (the exception's class differs between Airflow lines)
            continue
        hosts.extend(connection_hosts(conn.host, conn.extra_dejson))
    return AddressPolicy.of(hosts, conn_ids)


def checked_client(policy: AddressPolicy, resolver: Resolver, timeout: httpx.Timeout) -> httpx.Client:
    """An httpx client whose every connection goes through :class:`CheckedNetwork`. Proxies from the
    environment are not used: through a proxy, the address checked would be the proxy's."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend, so its pool is built again with ours (httpx's own defaults otherwise).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False), network_backend=CheckedNetwork(policy, resolver)
    )
    headers = {"user-agent": USER_AGENT, "accept-encoding": "identity"}  # so Content-Length is the file size
    return httpx.Client(
        transport=transport, follow_redirects=True, max_redirects=MAX_REDIRECTS, timeout=timeout, headers=headers,
        trust_env=False,
    )  # fmt: skip


class DownloadError(AirflowException):
    """A file could not be downloaded completely; nothing was left at the destination."""


class _Transient(Exception):
    """A retryable answer (429, 5xx) for one file."""


@dataclass(frozen=True)
class Fetched:
    size: int
    sha256: str
    existing: bool  # already complete at the target: not downloaded again
    video: dict[str, Any] | None = None  # what the probe measured (videos only)


class FileFetchHook(BaseHook):
    """Downloads public media URLs (the vendors' signed links need no credentials).

    :param request_timeout: seconds without progress before a download is abandoned.
    :param retries: extra attempts per file on connection errors and 5xx/429 answers, with the
        provider's backoff (``RetryPolicy``).
    :param max_bytes: largest file accepted; a bigger one is refused and leaves nothing behind.
    :param sleep: how to wait between attempts (default ``time.sleep``; tests pass their own).
    :param policy: the addresses it may connect to (default: public ones only; ``core.addresses``).
    :param resolver: how host names are resolved (default the system's; tests simulate DNS).
    """

    hook_name = "Video file download"

    def __init__(
        self,
        *,
        request_timeout: float = 60.0,
        retries: int = 2,
        max_bytes: int = DEFAULT_MAX_BYTES,
        sleep: Callable[[float], None] | None = None,
        policy: AddressPolicy | None = None,
        resolver: Resolver | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_bytes = max_bytes
        self.backoff = RetryPolicy(max_attempts=retries + 1, base_delay=2.0, max_delay=10.0)
        self.sleep = sleep
        timeout = httpx.Timeout(request_timeout, connect=min(request_timeout, 30.0))
        self.client = checked_client(policy or AddressPolicy(), resolver or resolve, timeout)

    def __enter__(self) -> FileFetchHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def fetch(self, url: str, target: ObjectStoragePath, *, probe: bool) -> Fetched:
        """``url`` into ``target`` (skipped when a complete file is already there). Raises DownloadError,
        or :class:`~airflow_provider_vidgen.core.media.InvalidVideoError` for a video that is not one."""
        try:
            check_web_url(url)
        except ValueError as err:
            raise DownloadError(f"{err}; nothing was written to {target}") from None
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._fetch(url, target, probe)
            except RefusedAddressError as err:  # not retried: the answer would be the same
                raise DownloadError(f"GET {url}: {err}. Nothing was written to {target}") from None
            except (httpx.UnsupportedProtocol, httpx.TooManyRedirects) as err:
                raise DownloadError(
                    f"GET {url} was redirected where downloads do not go ({err}); only http(s) URLs are followed, "
                    f"at most {MAX_REDIRECTS} redirects. Nothing was written to {target}"
                ) from None
            except _Transient as err:
                problem = str(err)
            except httpx.HTTPError as err:
                # A transfer cut short (fewer bytes than Content-Length) is a transport error, too.
                problem = f"{type(err).__name__}: {err}"
            if attempt >= self.backoff.max_attempts:
                raise DownloadError(f"GET {url} failed after {attempt} attempt(s): {problem}")
            delay = self.backoff.delay(attempt)
            self.log.warning("Download of %s failed (%s); retrying in %.0f s", url, problem, delay)
            (self.sleep or time.sleep)(delay)

    def _fetch(self, url: str, target: ObjectStoragePath, probe: bool) -> Fetched:
        from airflow_provider_vidgen.core.media import InvalidVideoError

        with self.client.stream("GET", url) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise _Transient(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise DownloadError(f"GET {url} answered HTTP {response.status_code}; nothing was written to {target}")
            expected = content_length(response)
            if expected is not None and expected > self.max_bytes:
                raise DownloadError(
                    f"{url} is {expected} bytes, more than max_bytes={self.max_bytes}; nothing was written"
                )
            if expected is not None and size_or_none(target) == expected:
                try:
                    video = probe_stored(target) if probe else None
                except InvalidVideoError as err:
                    self.log.warning("%s is there but is not a video (%s); downloading it again", target, err)
                else:
                    self.log.info("Already complete: %s (%d bytes)", target, expected)
                    return Fetched(expected, file_sha256(target), True, video)
            try:
                fetched = self._stream_to(response, url, target, expected, probe)
            except InvalidVideoError:
                remove_quietly(target)  # never leave a non-video under a video's name
                raise
        self._log_fetched(url, target, fetched)
        return fetched

    def _stream_to(
        self, response: httpx.Response, url: str, target: ObjectStoragePath, expected: int | None, probe: bool
    ) -> Fetched:
        """Write the body under a temporary name, check it (size, and that a video is a video), then rename it."""
        digest = hashlib.sha256()
        size = 0
        video = None
        with replaced_atomically(target) as partial:
            with partial.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise DownloadError(
                            f"{url} exceeded max_bytes={self.max_bytes} while downloading; the partial file was removed"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if expected is not None and (size != expected or response.num_bytes_downloaded != expected):
                raise DownloadError(
                    f"{url}: received {size} bytes but Content-Length said {expected}; the partial file was removed"
                )
            if probe:
                video = probe_stored(partial)
        return Fetched(size, digest.hexdigest(), False, video)

    def _log_fetched(self, url: str, target: ObjectStoragePath, fetched: Fetched) -> None:
        info = fetched.video
        if info is not None:
            self.log.info(
                "Downloaded %s -> %s (%d bytes, sha256 %s; %s %dx%d %.1f s)",
                url, target, fetched.size, fetched.sha256, info["codec"], info["width"], info["height"],
                info["duration"],
            )  # fmt: skip
        else:
            self.log.info("Downloaded %s -> %s (%d bytes, sha256 %s)", url, target, fetched.size, fetched.sha256)

    @staticmethod
    def write(target: ObjectStoragePath, data: bytes) -> str:
        """``data`` into ``target``, atomically; returns the target's URI."""
        with replaced_atomically(target) as partial, partial.open("wb") as out:
            out.write(data)
        return str(target)


def content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def file_sha256(path: ObjectStoragePath) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def probe_stored(path: ObjectStoragePath) -> dict[str, Any]:
    """Probe a stored file: by its local path when it has one, else through a seekable file object."""
    from airflow_provider_vidgen.core.media import probe_video

    if path.protocol in ("file", "local"):
        return probe_video(path.path).to_dict()
    with path.open("rb") as handle:
        return probe_video(handle).to_dict()


@contextlib.contextmanager
def replaced_atomically(target: ObjectStoragePath) -> Iterator[ObjectStoragePath]:
    """A hidden temporary path next to ``target``: renamed onto it when the block succeeds, removed otherwise."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        yield partial
        partial.rename(target)
    except BaseException:
        remove_quietly(partial)
        raise


def size_or_none(path: ObjectStoragePath) -> int | None:
    try:
        return path.size() if path.exists() and path.is_file() else None
    except (FileNotFoundError, OSError):
        return None


def remove_quietly(path: ObjectStoragePath) -> None:
    try:
        if path.exists():
            path.unlink()
    except Exception:  # never mask the original error
        pass
