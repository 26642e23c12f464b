"""Which network addresses a download may connect to (pure: no I/O).

A vendor's media URL, and every redirect its server answers with, comes from outside. Fetched without a
check, a URL or a redirect to ``169.254.169.254``, ``localhost`` or a private network makes a worker read
internal resources and keep them where the Videos view serves them (server-side request forgery). So a
download connects only to public addresses, checked on what the host name resolves to at the moment of
connecting (``hooks.files``), for every hop: a DNS answer cannot change between the check and the
connection. A private address is allowed only for a host that a vendor connection names (the emulator, an
on-premises gateway): the connection's own host when it is private, and its ``private_media_hosts`` extra.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_vidgen.core.typed import web_url

PRIVATE_MEDIA_HOSTS = "private_media_hosts"  # the connection extra naming hosts that may be private
SITE_LOCAL = ipaddress.ip_network("fec0::/10")


class RefusedAddressError(ValueError):
    """A download would connect to an address that is not public, and no connection allows its host."""


def is_public(address: str) -> bool:
    """Whether ``address`` is a public unicast address (not private, loopback, link-local, metadata,
    shared, reserved, multicast or unspecified; an IPv4-mapped IPv6 address is judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in SITE_LOCAL:  # deprecated, but routed inside some networks; not judged alike by every Python
            return False
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:  # an IPv4 address wrapped in IPv6 is judged as itself
            return is_public(str(inner))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


def host_key(host: str, port: int | None) -> str:
    """``host:port`` in lower case, the form allowed hosts are compared in (IPv6 without brackets)."""
    host = host.strip().strip("[]").lower().rstrip(".")
    return f"{host}:{port}" if port is not None else host


def connection_hosts(host: str | None, extra: object) -> list[str]:
    """The hosts a vendor connection allows to be private: its own API host when that is private (its files
    are served there too: the emulator), and every entry of its ``private_media_hosts`` extra."""
    allowed: list[str] = []
    if host:
        parts = urlsplit(host if "://" in host else f"https://{host}")  # as the hook assumes
        if parts.hostname and _literal_private(parts.hostname):
            port = parts.port or (443 if parts.scheme == "https" else 80)
            allowed.append(host_key(parts.hostname, port))
    named = extra.get(PRIVATE_MEDIA_HOSTS) if isinstance(extra, dict) else None
    if isinstance(named, str):
        named = [part for part in named.replace(",", " ").split() if part]
    if isinstance(named, list):
        allowed.extend(_named_key(str(entry)) for entry in named if str(entry).strip())
    return allowed


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses always; private ones for the hosts (``host`` or ``host:port``) that connections name."""

    private_hosts: frozenset[str] = frozenset()
    named_by: tuple[str, ...] = ()  # the connections that were asked, for the refusal's advice

    @classmethod
    def of(cls, hosts: Iterable[str], named_by: Sequence[str] = ()) -> AddressPolicy:
        return cls(frozenset(hosts), tuple(named_by))

    def allows_private(self, host: str, port: int) -> bool:
        return host_key(host, port) in self.private_hosts or host_key(host, None) in self.private_hosts

    def pick(self, host: str, port: int, addresses: Sequence[str]) -> str:
        """The address to connect to for ``host:port``: the first one it resolved to, when every one is
        public or the host is allowed to be private. Raises RefusedAddressError otherwise."""
        if not addresses:
            raise RefusedAddressError(f"{host} did not resolve to any address")
        if self.allows_private(host, port):
            return addresses[0]
        private = [address for address in addresses if not is_public(address)]
        if private:
            what = f"{host} is" if host == private[0] else f"{host} resolves to {private[0]},"
            raise RefusedAddressError(
                f"refused to connect to port {port} of {host}: {what} {describe(private[0])}. Downloads "
                f"fetch only public media. If this host is yours (the emulator, an internal media gateway), list "
                f"{host_key(host, port)!r} in the {PRIVATE_MEDIA_HOSTS!r} extra of {self._connections()}"
            )
        return addresses[0]

    def _connections(self) -> str:
        if not self.named_by:
            return "the vendor connection"
        return "the vendor connection " + " or ".join(repr(conn_id) for conn_id in self.named_by)


def describe(address: str) -> str:
    """What kind of non-public address ``address`` is, for messages."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, name in (
        ("is_unspecified", "the unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address (cloud metadata services live there)"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private-network address"),
    ):
        if getattr(ip, test):
            return name
    return "not a public address"


def check_web_url(url: object) -> str:
    """``url`` when it is an ``http(s)`` URL with a host (``typed.web_url``); ValueError otherwise."""
    if not isinstance(url, str):
        raise ValueError(f"a media URL must be a string, got {type(url).__name__}")
    if web_url(url) is None:
        raise ValueError(f"only http(s) media URLs are fetched, not {url[:200]!r}")
    return url


def _literal_private(hostname: str) -> bool:
    """A host written as a private address, or ``localhost`` (not resolved: a connection's name for itself)."""
    if hostname.lower() in ("localhost", "localhost."):
        return True
    try:
        return not is_public(hostname)
    except ValueError:
        return False


def _named_key(entry: str) -> str:
    entry = entry.strip()
    parts = urlsplit(entry if "://" in entry else f"//{entry}")
    return host_key(parts.hostname or entry, parts.port)
