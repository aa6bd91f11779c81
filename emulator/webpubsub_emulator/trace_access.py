"""Who may watch the live trace page, free of IO.

The page shows what clients send and receive, so it is not for everyone who can reach the port:

* **This machine** gets in without a key: the request comes from a loopback address and was not relayed by a proxy
  (no ``Forwarded``, ``X-Forwarded-For``, ``X-Forwarded-Host`` or ``X-Real-IP`` header: behind a proxy on the same
  machine every client would look local). A DNS-rebinding page (a hostile site whose name was made to resolve to
  127.0.0.1), which would otherwise read the trace through the developer's browser, never gets this far: like every
  request to the emulator, its ``Host`` header must name the emulator (:class:`~.exposure.ServerNames`), and the
  adapter refuses it first.
* **Anyone else** signs in once with the access key: the sign-in form sends it in a POST body, and the answer sets a
  cookie holding a token signed with the key (HS256, audience :data:`AUDIENCE`, valid for
  :data:`~.limits.TRACE_LOGIN_SECONDS`): ``HttpOnly`` (page scripts cannot read it), ``SameSite=Strict`` (no other
  site can make the browser send it), ``Path=/trace``, ``Secure`` over TLS. The key itself is never stored in the
  browser and never travels again; changing the key ends every sign-in.
* A request whose ``Origin`` names another site is refused, key or not.

Why not the key in the URL (``/trace?key=...``): URLs are written to access logs, proxy logs and browser history,
and sent onwards in ``Referer`` headers; a URL is shared by copy and paste. A POST body and a cookie are none of these.
Why not ``Authorization`` headers: a browser cannot add one to a page load or an ``EventSource``.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import time
from typing import Optional

import jwt

from . import limits

__all__ = [
    "AUDIENCE",
    "COOKIE",
    "FORWARDING_HEADERS",
    "Access",
    "decide",
    "is_local",
    "key_matches",
    "mint_sign_in",
    "same_origin",
    "sign_in_valid",
]

#: The ``aud`` of a sign-in token (no other token of the emulator has it).
AUDIENCE = "webpubsub-emulator:trace"
#: The sign-in cookie.
COOKIE = "webpubsub_emulator_trace"
#: Headers that say a request was relayed by a proxy: such a request never counts as local.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


class Access(enum.Enum):
    """The verdict on one request to the trace page."""

    #: from this machine: no key needed
    LOCAL = "local"
    #: signed in with the access key
    SIGNED_IN = "signed-in"
    #: it must sign in first (the page answers with the sign-in form, the API with 401)
    SIGN_IN = "sign-in"
    #: another site's page asked: refused (403)
    CROSS_ORIGIN = "cross-origin"


def is_local(remote: Optional[str], forwarded: bool) -> bool:
    """True for a request from a loopback address that no proxy relayed (``forwarded``: it has a forwarding header)."""
    if forwarded or not remote:
        return False
    try:
        ip = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback  # an IPv4 client of a dual-stack socket
    return ip.is_loopback


def same_origin(origin: Optional[str], scheme: str, host_header: Optional[str]) -> bool:
    """True when there is no ``Origin`` header or it names this very server (scheme and ``Host``)."""
    if origin is None:
        return True
    if not host_header:
        return False
    return origin.strip().lower() == f"{scheme}://{host_header.strip()}".lower()


def key_matches(given: str, access_key: str) -> bool:
    """True when ``given`` is the access key (compared in constant time)."""
    return hmac.compare_digest(given.encode("utf-8"), access_key.encode("utf-8"))


def mint_sign_in(access_key: str, *, now: Optional[float] = None, lifetime: float = limits.TRACE_LOGIN_SECONDS) -> str:
    """A sign-in token: HS256 with the access key, audience :data:`AUDIENCE`, expiring after ``lifetime`` seconds."""
    issued = int(time.time() if now is None else now)
    claims = {"aud": AUDIENCE, "iat": issued, "exp": issued + int(lifetime)}
    return jwt.encode(claims, access_key.encode("utf-8"), algorithm="HS256")


def sign_in_valid(token: Optional[str], access_key: str) -> bool:
    """True for an unexpired sign-in token signed with this access key."""
    if not token:
        return False
    try:
        jwt.decode(
            token,
            access_key.encode("utf-8"),
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "aud"]},
        )
    except jwt.PyJWTError:
        return False
    return True


def decide(
    *,
    remote: Optional[str],
    forwarded: bool,
    host: Optional[str],
    origin: Optional[str],
    scheme: str,
    cookie: Optional[str],
    access_key: str,
) -> Access:
    """Who is asking: from this machine, signed in, to be signed in, or another site (see the module docstring)."""
    if not same_origin(origin, scheme, host):
        return Access.CROSS_ORIGIN
    if sign_in_valid(cookie, access_key):
        return Access.SIGNED_IN
    if is_local(remote, forwarded):
        return Access.LOCAL
    return Access.SIGN_IN
