"""Downloads fetch only public media: every hop's address is checked after DNS resolution, when it connects.

Over real HTTP on loopback. DNS is simulated (the hook's ``resolver``): ``cdn.vendor.example`` stands for a
vendor's CDN. Its simulated address is loopback, where the test server listens, so the policy names it as a
connection's ``private_media_hosts`` would; every other host must be public, and none here is. No request
ever leaves this machine: a refused address is never connected to.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from airflow.sdk import ObjectStoragePath
from conftest import TOKEN, set_connection

from airflow_provider_vidgen.core.addresses import AddressPolicy, RefusedAddressError, connection_hosts, is_public
from airflow_provider_vidgen.emulator.app import SAMPLE_MP4
from airflow_provider_vidgen.hooks.files import DownloadError, FileFetchHook, media_policy


@contextmanager
def server(routes: dict[str, tuple[int, dict[str, str], bytes]]) -> Iterator[tuple[int, list[str]]]:
    """A loopback server answering ``routes`` (path -> status, headers, body); yields its port and the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            status, headers, body = routes.get(self.path, (404, {}, b"no"))
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], asked
    finally:
        httpd.shutdown()
        httpd.server_close()


DNS = {"cdn.vendor.example": ["127.0.0.1"], "localhost": ["127.0.0.1"], "internal.corp": ["10.0.0.7"]}


def resolver(host: str, port: int) -> list[str]:
    if host in DNS:
        return DNS[host]
    try:
        is_public(host)  # an address literal resolves to itself
    except ValueError:
        raise OSError(f"simulated DNS knows no {host}") from None
    return [host]


def fetch(url: str, folder, policy: AddressPolicy) -> None:
    with FileFetchHook(retries=0, policy=policy, resolver=resolver) as hook:
        hook.fetch(url, ObjectStoragePath(f"file://{folder}/v.mp4"), probe=False)


CDN = AddressPolicy.of(["cdn.vendor.example"], ["acedata_default"])


def test_a_named_host_is_fetched(tmp_path):
    with server({"/v.mp4": (200, {}, SAMPLE_MP4)}) as (port, asked):
        fetch(f"http://cdn.vendor.example:{port}/v.mp4", tmp_path, CDN)
    assert (tmp_path / "v.mp4").read_bytes() == SAMPLE_MP4 and asked == ["/v.mp4"]


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("http://localhost:{port}/secret", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://127.0.0.1:{port}/secret", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (cloud metadata"),
        ("http://internal.corp/admin", "internal.corp resolves to 10.0.0.7, a private-network address"),
        ("http://[::ffff:127.0.0.1]:{port}/secret", "a loopback address"),
        ("http://0.0.0.0:{port}/secret", "the unspecified address"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused_naming_the_host_and_the_setting(tmp_path, target, fragment):
    with server({"/secret": (200, {}, b"internal secret")}) as (port, asked):
        hop = target.format(port=port)
        routes = {"/v.mp4": (302, {"Location": "/hop"}, b""), "/hop": (302, {"Location": hop}, b"")}
        with server(routes) as (cdn_port, cdn_asked), pytest.raises(DownloadError) as caught:
            fetch(f"http://cdn.vendor.example:{cdn_port}/v.mp4", tmp_path, CDN)
    message = str(caught.value)
    assert fragment in message and "'private_media_hosts' extra of the vendor connection 'acedata_default'" in message
    assert asked == [] and cdn_asked == ["/v.mp4", "/hop"]  # the secret was never asked for
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://cdn.vendor.example/v.mp4", "gopher://x/", "/etc/passwd"])
def test_only_http_urls_are_fetched(tmp_path, url):
    with pytest.raises(DownloadError, match="only http\\(s\\) media URLs are fetched"):
        fetch(url, tmp_path, CDN)


def test_a_redirect_to_another_scheme_or_in_circles_is_refused(tmp_path):
    routes = {"/file": (302, {"Location": "file:///etc/passwd"}, b""), "/loop": (302, {"Location": "/loop"}, b"")}
    with server(routes) as (port, asked):
        with pytest.raises(DownloadError, match="only http\\(s\\) URLs are followed"):
            fetch(f"http://cdn.vendor.example:{port}/file", tmp_path, CDN)
        with pytest.raises(DownloadError, match="at most 5 redirects"):
            fetch(f"http://cdn.vendor.example:{port}/loop", tmp_path, CDN)
    assert asked.count("/loop") == 6


def test_a_host_that_resolves_to_a_public_and_a_private_address_is_refused():
    policy = AddressPolicy()
    with pytest.raises(RefusedAddressError, match=r"resolves to 10\.0\.0\.1, a private-network address"):
        policy.pick("mixed.example", 443, ["93.184.215.14", "10.0.0.1"])
    assert policy.pick("cdn.example", 443, ["93.184.215.14"]) == "93.184.215.14"  # checked, not connected to


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True), ("127.0.0.1", False),
        ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False),
        ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False), ("::1", False), ("fe80::1", False),
        ("fd00:ec2::254", False), ("::ffff:10.0.0.1", False), ("::", False), ("255.255.255.255", False),
        ("2002:a9fe:a9fe::", False), ("2002:7f00:1::", False), ("2002:5db8:d70e::1", True), ("fec0::1", False),
        ("64:ff9b::7f00:1", False), ("100.100.100.200", False), ("198.18.0.1", False),
    ],
)  # fmt: skip
def test_public_addresses(address, public):
    assert is_public(address) is public


def test_which_hosts_a_connection_allows_to_be_private():
    assert connection_hosts("http://127.0.0.1:8765", {}) == ["127.0.0.1:8765"]  # the emulator: its own origin
    assert connection_hosts("localhost:9000", {}) == ["localhost:9000"]
    assert connection_hosts("https://api.acedata.cloud", {}) == []  # a public host allows nothing
    assert connection_hosts(None, {"private_media_hosts": ["media.corp:8443", "10.0.0.7"]}) == [
        "media.corp:8443", "10.0.0.7",
    ]  # fmt: skip
    assert connection_hosts(None, {"private_media_hosts": "a.corp, b.corp"}) == ["a.corp", "b.corp"]


def test_the_policy_comes_from_the_vendor_connections(monkeypatch):
    set_connection(monkeypatch, "acedata_default", "acedata", "http://127.0.0.1:8765", TOKEN,
                   private_media_hosts=["media.corp"])  # fmt: skip
    policy = media_policy(["acedata_default", "no_such_connection"])
    assert policy.private_hosts == {"127.0.0.1:8765", "media.corp"}
    assert policy.allows_private("127.0.0.1", 8765) and not policy.allows_private("127.0.0.1", 8766)
    assert policy.allows_private("media.corp", 443)
