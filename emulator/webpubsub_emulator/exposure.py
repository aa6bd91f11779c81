"""Who can reach this emulator, and under which names: free of IO.

* **Binding.** Listening on anything but loopback exposes the emulator to the network: :func:`bind_warning` says so
  (the CLI prints it on stderr), and :func:`check_bind` refuses to do it with the published default key unless the
  caller says so explicitly (``--allow-default-key``), because then anyone who can reach the port can use it.
* **Names.** :class:`ServerNames` holds the names this emulator answers to: its bind host, the loopback names (when it
  listens on loopback), the machine's host name and any IP address (when it listens on every interface), and the
  public names it was given (``--public-host``, e.g. a proxy's or a container's name). A request whose ``Host`` header
  names something else is refused (400) before anything else is looked at: that is how a DNS-rebinding page, whose
  requests carry the attacker's host name, is kept out. Tokens' ``aud`` must name one of the same names (with this
  emulator's port), never merely whatever the request's ``Host`` said.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable, Optional, Union
from urllib.parse import urlsplit

from .errors import BadRequest

__all__ = [
    "DEFAULT_PORTS",
    "LOOPBACK_NAMES",
    "Authority",
    "ServerNames",
    "authority_of",
    "bind_warning",
    "check_bind",
    "is_loopback_host",
    "is_wildcard_host",
    "split_host_port",
]

#: (host lowercased without brackets, port)
Authority = tuple[str, int]

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
#: Names of this machine's loopback interface (``*.localhost`` counts too, RFC 6761).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (names, not a bind)
#: Distinct Host header values remembered per :class:`ServerNames` (the verdict is pure; clients repeat them).
_HOST_MEMO_SIZE = 256


def _bare(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def _ip(host: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_wildcard_host(host: str) -> bool:
    """True for a bind host meaning every interface (``0.0.0.0``, ``::`` or empty)."""
    return _bare(host) in _WILDCARD_HOSTS


def is_loopback_host(host: str) -> bool:
    """True for a host that only this machine can reach: ``localhost`` (and ``*.localhost``) or a loopback address."""
    name = _bare(host)
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    ip = _ip(name)
    return ip is not None and ip.is_loopback


def bind_warning(host: str) -> Optional[str]:
    """The warning to print when listening on ``host`` exposes the emulator beyond this machine (None: loopback)."""
    if is_loopback_host(host):
        return None
    where = "every network interface" if is_wildcard_host(host) else f"{host!r}"
    return (
        f"WARNING: the emulator listens on {where}, beyond this machine's loopback interface: anyone who can reach "
        "this port can use it. It is a development tool: keep it on a trusted network, with an access key of your own."
    )


def check_bind(host: str, access_key: str, default_key: str, *, allow_default_key: bool = False) -> None:
    """Refuse (``ValueError``) to listen beyond loopback with the published default key, unless explicitly allowed."""
    if is_loopback_host(host) or access_key != default_key or allow_default_key:
        return
    raise ValueError(
        f"refusing to listen on {host or 'every interface'!r} with the published default access key: anyone who can "
        "reach the port could use the emulator. Give a key of your own (--access-key), or pass --allow-default-key "
        "(allow_default_key=True) to do it anyway."
    )


def authority_of(host: Optional[str], port: Optional[int], scheme: str) -> Optional[Authority]:
    """``(host, port)`` of a URL's parts, the port defaulted by scheme; None for an unsupported scheme or no host."""
    if not host or scheme not in DEFAULT_PORTS:
        return None
    return _bare(host), port if port is not None else DEFAULT_PORTS[scheme]


def split_host_port(value: str) -> tuple[str, Optional[int]]:
    """Split ``name``, ``name:port``, ``[v6]`` or ``[v6]:port`` (``ValueError`` when it is not one of those)."""
    text = value.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unclosed '['")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("junk after ']'")
        port_text = rest[1:] if rest else ""
    elif text.count(":") > 1:  # a bare IPv6 address
        host, port_text = text, ""
    else:
        host, _, port_text = text.partition(":")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
            raise ValueError("bad port")
        return _bare(host), int(port_text)
    return _bare(host), None


class ServerNames:
    """The names this emulator answers to, for ``Host`` headers (names only) and token audiences (name and port).

    :param bind_host: the host it listens on.
    :param port: the port it listens on (the real one once bound).
    :param public_hosts: other names that reach it (``name`` or ``name:port``; a name without a port is accepted in
        an ``aud`` with any port, as behind a proxy).
    """

    def __init__(self, bind_host: str, port: int, public_hosts: Iterable[str] = ()) -> None:
        self.bind_host = _bare(bind_host)
        self.port = port
        self.wildcard = is_wildcard_host(bind_host)
        names = {self.bind_host} if self.bind_host else set()
        if self.wildcard or is_loopback_host(bind_host):
            names |= LOOPBACK_NAMES
        if self.wildcard:
            names |= set(_WILDCARD_HOSTS - {""})
            names.add(_bare(socket.gethostname()))
        #: names with this emulator's port
        self.names = frozenset(n for n in names if n)
        self.public_any_port: set[str] = set()
        self.public_with_port: set[Authority] = set()
        for item in public_hosts:
            host, public_port = split_host_port(item)
            if not host:
                raise ValueError(f"not a host name: {item!r}")
            if public_port is None:
                self.public_any_port.add(host)
            else:
                self.public_with_port.add((host, public_port))
        self._host_memo: dict[str, bool] = {}

    @classmethod
    def of_endpoint(cls, endpoint: str, public_hosts: Iterable[str] = ()) -> ServerNames:
        """The names of an emulator whose base URL is ``endpoint`` (e.g. ``http://127.0.0.1:8080``)."""
        parts = urlsplit(endpoint)
        scheme = parts.scheme.lower()
        return cls(parts.hostname or "", parts.port or DEFAULT_PORTS.get(scheme, 80), public_hosts)

    def _is_own_name(self, host: str) -> bool:
        if host in self.names or host in self.public_any_port or any(h == host for h, _ in self.public_with_port):
            return True
        if is_loopback_host(host):
            return True  # only this machine can send such a name: never a rebinding
        # an IP literal cannot be rebound (the browser's origin is the address itself)
        return _ip(host) is not None

    def allows_host_header(self, value: Optional[str]) -> bool:
        """True when a ``Host`` header names this emulator (the port is not compared); no header is allowed."""
        if value is None:
            return True
        verdict = self._host_memo.get(value)
        if verdict is None:
            try:
                host, _port = split_host_port(value)
                verdict = bool(host) and self._is_own_name(host)
            except ValueError:
                verdict = False
            if len(self._host_memo) >= _HOST_MEMO_SIZE:
                self._host_memo.clear()
            self._host_memo[value] = verdict
        return verdict

    def check_host_header(self, value: Optional[str]) -> None:
        """Refuse (400) a request whose ``Host`` header names another server (a DNS-rebinding page, a typo)."""
        if not self.allows_host_header(value):
            shown = (value or "")[:100]
            raise BadRequest(
                f"The Host header {shown!r} does not name this emulator. If it is reached under that name on "
                "purpose (a proxy, a container), start it with --public-host NAME."
            )

    def is_own_authority(self, authority: Authority) -> bool:
        """True when a token's ``aud`` host[:port] names this emulator."""
        host, port = authority
        if host in self.public_any_port or authority in self.public_with_port:
            return True
        if port != self.port:
            return False
        if host in self.names:
            return True
        return self.wildcard and _ip(host) is not None
