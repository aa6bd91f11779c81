"""REST requests well outside the spec, thrown at a running emulator: odd raw paths (bad percent-escapes, dot
segments, control characters, huge values), unknown and repeated query parameters, pathological filters, bodies that do
not match their content type, bogus charsets. Every request is correctly signed, so it gets past authentication.

The emulator must never answer 5xx; a 400 or 415 carries the flat ``{"code","message"}`` body and the
``x-ms-error-code`` header (service-behaviour.md §11); and its health endpoint keeps answering 200."""

from __future__ import annotations

import http.client
import json
from typing import Any, List, Optional, Tuple
from urllib.parse import quote

from fuzz_support import ACCESS_KEY, API_VERSION, HUB, fuzz_settings, rest_token
from hypothesis import example, given
from hypothesis import strategies as st
from webpubsub_emulator import EmulatorThread

TEMPLATES = [
    ("POST", "/api/hubs/{hub}/:send"),
    ("POST", "/api/hubs/{hub}/:addToGroups"),
    ("POST", "/api/hubs/{hub}/:removeFromGroups"),
    ("POST", "/api/hubs/{hub}/:closeConnections"),
    ("POST", "/api/hubs/{hub}/:generateToken"),
    ("DELETE", "/api/hubs/{hub}/connections/{a}"),
    ("HEAD", "/api/hubs/{hub}/connections/{a}"),
    ("POST", "/api/hubs/{hub}/connections/{a}/:send"),
    ("DELETE", "/api/hubs/{hub}/connections/{a}/groups"),
    ("HEAD", "/api/hubs/{hub}/groups/{a}"),
    ("POST", "/api/hubs/{hub}/groups/{a}/:closeConnections"),
    ("POST", "/api/hubs/{hub}/groups/{a}/:send"),
    ("GET", "/api/hubs/{hub}/groups/{a}/connections"),
    ("PUT", "/api/hubs/{hub}/groups/{a}/connections/{b}"),
    ("DELETE", "/api/hubs/{hub}/groups/{a}/connections/{b}"),
    ("PUT", "/api/hubs/{hub}/permissions/{a}/connections/{b}"),
    ("HEAD", "/api/hubs/{hub}/permissions/{a}/connections/{b}"),
    ("DELETE", "/api/hubs/{hub}/permissions/{a}/connections/{b}"),
    ("HEAD", "/api/hubs/{hub}/users/{a}"),
    ("POST", "/api/hubs/{hub}/users/{a}/:closeConnections"),
    ("POST", "/api/hubs/{hub}/users/{a}/:send"),
    ("DELETE", "/api/hubs/{hub}/users/{a}/groups"),
    ("PUT", "/api/hubs/{hub}/users/{a}/groups/{b}"),
    ("DELETE", "/api/hubs/{hub}/users/{a}/groups/{b}"),
    ("GET", "/api/hubs/{hub}/unknown"),
    ("PATCH", "/api/hubs/{hub}/:send"),
]
ODD = ["", " ", "%", "%2", "%ZZ", "%00", "%0A", "..", ".", "a/b", "%2F", "é", "\U0001f600", "x" * 3000, "sendToGroup"]
values = st.one_of(st.sampled_from(ODD), st.text(max_size=40))
# "encoded": each value percent-encoded as a whole; "raw": only what http.client refuses is escaped, so stray '%',
# '/' and '.' reach the server as they are
encodings = st.sampled_from(["encoded", "encoded", "raw"])
QUERY_NAMES = [
    "api-version",
    "filter",
    "excluded",
    "messageTtlSeconds",
    "reason",
    "targetName",
    "userId",
    "role",
    "group",
    "minutesToExpire",
    "clientType",
    "maxpagesize",
    "top",
    "continuationToken",
    "hub",
]
query_values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "-1", "0", "301", "1.5", "1e3", "NaN", "true", "null", "MQTT", "mqtt", "SocketIO", "Default"]),
    st.sampled_from(
        [
            "userId eq 'a'",
            "userId eq 'a",
            "'a' in groups",
            "length(groups) gt 0",
            "not length(userId) gt 5",
            "(" * 1000 + "true" + ")" * 1000,
            "not " * 1000 + "true",
            " or ".join(["userId eq 'x'"] * 200),
            "userId in (" + ",".join(["'x'"] * 500) + ")",
            "substring(userId, 99999999999999999999)",
            "indexof(userId, '') eq 99999999999999999999",
            "userId eq 1",
            "connectionId gt null",
            "groups eq 'a'",
        ]
    ),
)
queries = st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8)), query_values), max_size=6)
CONTENT_TYPES = [
    None,
    "text/plain",
    "application/json",
    "application/octet-stream",
    "application/json; charset=utf-16",
    "text/plain; charset=bogus",
    "text/plain; charset=utf-32",
    "TEXT/PLAIN",
    "application/xml",
    "",
    "multipart/form-data; boundary=x",
    "text/plain; charset",
]
bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
        max_leaves=10,
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b'{"groups": ["g1"], "filter": "userId eq \'a\'"}',
            b'{"groups": []}',
            b'{"groups": "g1"}',
            b'{"groups": [1, null]}',
            b'{"filter": "((("}',
            b'{"groups": ["g1"], "extra": 1}',
            b"[" * 50_000 + b"]" * 50_000,
            b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
            b"\xff\xfe\xfd",
            b"x" * 300_000,
        ]
    ),
)


def _encode(value: str, how: str) -> str:
    return quote(value, safe="") if how == "encoded" else quote(value, safe="/%.:")


def _request(
    emu: EmulatorThread, method: str, target: str, body: Optional[bytes], content_type: Optional[str]
) -> Tuple[int, dict, bytes]:
    host, port = emu.endpoint.split("://", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        headers = {"Authorization": "Bearer " + rest_token(emu.endpoint + target)}
        if content_type is not None:
            headers["Content-Type"] = content_type
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# aiohttp's HTTP parser refuses a request line or a header over 8190 bytes with its own plain-text 400 before any
# handler runs. The JWT signs the full URL, so the Authorization header is about 4/3 of the URL length: URLs over
# ~6 KB never reach the emulator's own validation and its JSON errors (reported; not worked around here).
MAX_REQUEST_LINE = 5500


def _check_response(method: str, target: str, status: int, headers: dict, body: bytes) -> None:
    assert status < 500, f"{status}: {body[:300]!r}"
    assert ACCESS_KEY.encode() not in body
    if status in (400, 415) and method != "HEAD" and len(target) < MAX_REQUEST_LINE:
        error = json.loads(body)
        assert isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)
        assert headers.get("x-ms-error-code"), headers


def _health(emu: EmulatorThread) -> None:
    status, _, _ = _request(emu, "HEAD", f"/api/health?api-version={API_VERSION}", None, None)
    assert status == 200


@fuzz_settings(max_examples=400)
@given(
    template=st.sampled_from(TEMPLATES),
    hub=st.one_of(st.just(HUB), st.just(HUB), values),
    a=values,
    b=values,
    how=encodings,
    query=queries,
    real_version=st.sampled_from([True, True, True, False]),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
)
@example(
    template=("POST", "/api/hubs/{hub}/:send"),
    hub=HUB,
    a="",
    b="",
    how="encoded",
    query=[("filter", "(" * 1000 + "true" + ")" * 1000)],
    real_version=True,
    body=b"x",
    content_type="text/plain",
)
@example(
    template=("POST", "/api/hubs/{hub}/:addToGroups"),
    hub=HUB,
    a="",
    b="",
    how="encoded",
    query=[],
    real_version=True,
    body=b'{"groups": ["g1"], "filter": "' + b"not " * 3000 + b'true"}',
    content_type="application/json",
)
def test_odd_requests_never_fail_the_server(
    emu: EmulatorThread,
    template: Tuple[str, str],
    hub: str,
    a: str,
    b: str,
    how: str,
    query: List[Tuple[str, str]],
    real_version: bool,
    body: Optional[bytes],
    content_type: Optional[str],
) -> None:
    method, path = template
    path = path.replace("{hub}", _encode(hub, how)).replace("{a}", _encode(a, how)).replace("{b}", _encode(b, how))
    pairs: List[Any] = [(k, v) for k, v in query if not (real_version and k == "api-version")]
    if real_version:
        pairs.append(("api-version", API_VERSION))
    target = path + "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    status, headers, content = _request(emu, method, target, None if method == "HEAD" else body, content_type)
    _check_response(method, target, status, headers, content)
    _health(emu)


def test_huge_url_is_refused_cleanly(emu: EmulatorThread) -> None:
    target = f"/api/hubs/{HUB}/:send?api-version={API_VERSION}&" + "&".join(["excluded=c"] * 5000)
    try:
        status, _, _ = _request(emu, "POST", target, b"x", "text/plain")
    except ConnectionResetError:
        # The server answers 400 after the first 8 KiB and closes; on a loaded machine that close can reach the client
        # while it is still sending the rest of the ~130 KB request, and the reset then hides the answer.
        status = 400
    assert 400 <= status < 500, status
    _health(emu)
