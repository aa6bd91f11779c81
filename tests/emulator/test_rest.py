"""Every REST operation over real HTTP against a running :class:`Emulator`.

Requests are signed here with pyjwt (never with the SDK): HS256 with the access key, ``aud`` = the full request URL.
WebSocket clients are plain aiohttp clients.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import aiohttp
import jwt
import pytest
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator
from webpubsub_emulator.session import SessionState as ConnectionState
from ws_support import Api, recv, recv_json, run_cli, seg, sign

API = "2024-12-01"
KEY = DEFAULT_ACCESS_KEY
JSON_P = "json.webpubsub.azure.v1"
RELIABLE_P = "json.reliable.webpubsub.azure.v1"


async def silent(ws: aiohttp.ClientWebSocketResponse, timeout: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(ws.receive(), timeout)
    except asyncio.TimeoutError:
        return True
    return False


@pytest.fixture
def api(emu: Emulator, session: aiohttp.ClientSession) -> Api:
    return Api(session, emu)


def error_of(headers: Dict[str, str], body: bytes) -> Tuple[str, str]:
    doc = json.loads(body)
    assert set(doc) == {"code", "message"}
    assert headers["x-ms-error-code"] == doc["code"]
    return doc["code"], doc["message"]


# ---------------------------------------------------------------- health, api-version, routing


async def test_health_needs_no_auth(api: Api) -> None:
    async with api.session.head(f"{api.emu.endpoint}/api/health") as resp:
        assert resp.status == 200
    async with api.session.head(f"{api.emu.endpoint}/api/health?api-version={API}") as resp:
        assert resp.status == 200


@pytest.mark.parametrize("version", ["2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01"])
async def test_supported_api_versions(api: Api, version: str) -> None:
    assert await api.status("POST", "/:send", body=b"x", content_type="text/plain", api_version=version) == 202


@pytest.mark.parametrize("version", [None, "", "2020-10-01", "2024-12-01-preview", "latest"])
async def test_bad_api_version_is_400(api: Api, version: Optional[str]) -> None:
    status, headers, body = await api.request(
        "POST", "/:send", body=b"x", content_type="text/plain", api_version=version
    )
    assert status == 400
    assert error_of(headers, body)[0] == "BadRequest"


async def test_unknown_route_is_404_json(api: Api) -> None:
    status, headers, body = await api.request("POST", "/:nope")
    assert status == 404 and error_of(headers, body)[0] == "NotFound"


@pytest.mark.parametrize("hub", ["1hub", "hub-1", "a" * 129, "hub%20x"])
async def test_bad_hub_is_400(api: Api, hub: str) -> None:
    api.hub = hub
    status, headers, body = await api.request("POST", "/:send", body=b"x", content_type="text/plain")
    assert status == 400 and error_of(headers, body)[0] == "BadRequest"


async def test_hub_with_allowed_punctuation(api: Api) -> None:
    api.hub = "Hub_1`,.[]"
    assert await api.status("POST", "/:send", body=b"x", content_type="text/plain") == 202


# ---------------------------------------------------------------- authentication


async def test_missing_token_is_401(api: Api) -> None:
    status, headers, body = await api.request("POST", "/:send", body=b"x", content_type="text/plain", token=None)
    assert status == 401 and error_of(headers, body)[0] == "Unauthorized"


@pytest.mark.parametrize(
    "make",
    [
        lambda url: sign(url, key="B" * 44),  # wrong key
        lambda url: sign(url, lifetime=-3600),  # expired beyond the skew
        lambda url: jwt.encode({"aud": url}, KEY, algorithm="HS256"),  # no exp
        lambda url: sign(url.replace("/:send", "/:closeConnections")),  # other path
        lambda url: sign(url.replace("127.0.0.1", "example.com")),  # other host
        lambda url: sign(url.rsplit(":", 1)[0] + ":1/api/hubs/hub1/:send"),  # other port
        lambda url: "not-a-jwt",
        lambda url: jwt.encode({"aud": url, "exp": int(time.time()) + 60}, KEY * 2, algorithm="HS512"),
    ],
)
async def test_bad_tokens_are_401_and_leak_nothing(api: Api, make: Any) -> None:
    url = api.url("/:send")
    token = make(url)
    status, headers, body = await api.request(
        "POST", "/:send", body=b"x", content_type="text/plain", token=token, url=url
    )
    assert status == 401 and error_of(headers, body)[0] == "Unauthorized"
    assert KEY.encode() not in body and token.encode() not in body


async def test_aud_rules_host_case_scheme_and_query_are_lenient(api: Api) -> None:
    url = api.url("/:send")
    variants = [
        url.replace("http://127.0.0.1", "HTTPS://127.0.0.1"),  # scheme ignored, host case-insensitive
        url.split("?")[0],  # query ignored
        url.replace("127.0.0.1", "localhost"),  # loopback aliases
    ]
    for aud in variants:
        token = sign(aud)
        assert await api.status("POST", "/:send", body=b"x", content_type="text/plain", token=token, url=url) == 202
    # the path is compared exactly
    token = sign(url.replace("/api/hubs/hub1/", "/api/hubs/HUB1/"))
    assert await api.status("POST", "/:send", body=b"x", content_type="text/plain", token=token, url=url) == 401


async def test_token_within_clock_skew_is_accepted(api: Api) -> None:
    url = api.url("/:send")
    token = sign(url, lifetime=-60)
    assert await api.status("POST", "/:send", body=b"x", content_type="text/plain", token=token, url=url) == 202


async def test_head_auth_failure_has_header_but_no_body(api: Api) -> None:
    status, headers, body = await api.request("HEAD", "/connections/c1", token=None)
    assert status == 401 and headers["x-ms-error-code"] == "Unauthorized" and body == b""


# ---------------------------------------------------------------- sends


async def test_send_to_all_reaches_every_kind_of_client(api: Api) -> None:
    js, _ = await api.connect()
    rel, _ = await api.connect(protocol=RELIABLE_P)
    raw, _ = await api.connect(protocol=None)
    assert await api.status("POST", "/:send", body=b"hello", content_type="text/plain") == 202
    assert await recv_json(js) == {"type": "message", "from": "server", "dataType": "text", "data": "hello"}
    assert await recv_json(rel) == {
        "sequenceId": 1,
        "type": "message",
        "from": "server",
        "dataType": "text",
        "data": "hello",
    }
    msg = await recv(raw)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.TEXT, "hello")


async def test_payload_types(api: Api) -> None:
    js, _ = await api.connect()
    raw, _ = await api.connect(protocol=None)
    cases: List[Tuple[Optional[str], bytes, Dict[str, Any], Any]] = [
        ("application/json", b'"Hello"', {"dataType": "json", "data": "Hello"}, '"Hello"'),
        ("application/json; charset=utf-8", b'{"a":[1]}', {"dataType": "json", "data": {"a": [1]}}, '{"a":[1]}'),
        ("application/octet-stream", b"\x00\xff", {"dataType": "binary", "data": "AP8="}, b"\x00\xff"),
        (None, b"\x01", {"dataType": "binary", "data": "AQ=="}, b"\x01"),
        ("text/plain; charset=iso-8859-1", "café".encode("latin-1"), {"dataType": "text", "data": "café"}, "café"),
    ]
    for content_type, body, expected, raw_expected in cases:
        assert await api.status("POST", "/:send", body=body, content_type=content_type) == 202
        msg = await recv_json(js)
        assert {k: msg[k] for k in ("dataType", "data")} == expected
        assert (await recv(raw)).data == raw_expected


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b"{not json", 400, "BadRequest"),
        ("application/xml", b"<a/>", 415, "UnsupportedMediaType"),
        ("text/plain; charset=nope", b"x", 415, "UnsupportedMediaType"),
        ("text/plain; charset=utf-8", b"\xff\xfe\xfa", 400, "BadRequest"),
        ("text/plain", b"x" * (1024 * 1024 + 1), 413, "PayloadTooLarge"),
    ],
)
async def test_bad_payloads(api: Api, content_type: str, body: bytes, status: int, code: str) -> None:
    got, headers, resp = await api.request("POST", "/:send", body=body, content_type=content_type)
    assert got == status and error_of(headers, resp)[0] == code


async def test_body_of_exactly_1_mib_is_accepted(api: Api) -> None:
    assert await api.status("POST", "/:send", body=b"x" * (1024 * 1024), content_type="text/plain") == 202


async def test_send_to_all_excluded_and_filter(api: Api) -> None:
    a, aid = await api.connect(user="listener-a")
    b, _bid = await api.connect(user="listener-b")
    c, _ = await api.connect(user="other")
    query = [("excluded", aid), ("filter", "startswith(userId, 'listener-')")]
    assert await api.status("POST", "/:send", query, body=b"x", content_type="text/plain") == 202
    assert (await recv_json(b))["data"] == "x"
    assert await silent(a) and await silent(c)
    # the preview spelling `$filter` is accepted too
    assert (
        await api.status(
            "POST", "/:send", [("$filter", f"connectionId eq '{aid}'")], body=b"y", content_type="text/plain"
        )
        == 202
    )
    assert (await recv_json(a))["data"] == "y"
    assert await silent(b)


@pytest.mark.parametrize("flt", ["userId eq", "not length(userId) gt 5", "userId eq 'a' and", "1"])
async def test_bad_filter_is_400(api: Api, flt: str) -> None:
    status, headers, body = await api.request("POST", "/:send", [("filter", flt)], body=b"x", content_type="text/plain")
    assert status == 400 and error_of(headers, body)[0] == "BadRequest"


@pytest.mark.parametrize("ttl", ["-1", "301", "abc", "1.5"])
async def test_bad_ttl_is_400(api: Api, ttl: str) -> None:
    status = await api.status("POST", "/:send", [("messageTtlSeconds", ttl)], body=b"x", content_type="text/plain")
    assert status == 400


async def test_send_to_group_user_connection(api: Api) -> None:
    g, gid = await api.connect(user="u1", groups=["grp/1"])
    other, _oid = await api.connect(user="u2")
    assert (
        await api.status(
            "POST",
            f"/groups/{seg('grp/1')}/:send",
            [("messageTtlSeconds", "300")],
            body=b"{}",
            content_type="application/json",
        )
        == 202
    )
    assert await recv_json(g) == {
        "type": "message",
        "from": "group",
        "group": "grp/1",
        "fromUserId": None,
        "dataType": "json",
        "data": {},
    }
    assert await silent(other)
    assert await api.status("POST", f"/users/{seg('u2')}/:send", body=b"to-user", content_type="text/plain") == 202
    assert (await recv_json(other))["data"] == "to-user"
    assert await api.status("POST", f"/connections/{seg(gid)}/:send", body=b"to-conn", content_type="text/plain") == 202
    assert (await recv_json(g)) == {"type": "message", "from": "server", "dataType": "text", "data": "to-conn"}
    assert await silent(other)
    # targets that do not exist still give 202
    assert await api.status("POST", "/users/nobody/:send", body=b"x", content_type="text/plain") == 202
    assert await api.status("POST", "/connections/nope/:send", body=b"x", content_type="text/plain") == 202
    assert await api.status("POST", "/groups/empty/:send", body=b"x", content_type="text/plain") == 202


async def test_send_to_group_excluded_and_metadata(api: Api) -> None:
    a, aid = await api.connect(groups=["g"])
    b, _ = await api.connect(groups=["g"])
    status = await api.status(
        "POST",
        "/groups/g/:send",
        [("excluded", aid)],
        body=b"m",
        content_type="text/plain",
        headers={"X-WebPubSub-Metadata-Color": "blue"},
    )
    assert status == 202
    assert (await recv_json(b))["metadata"] == {"Color": "blue"}
    assert await silent(a)


async def test_user_with_special_characters_in_path(api: Api) -> None:
    user = "user 1/é"
    ws, _ = await api.connect(user=user)
    assert await api.status("HEAD", f"/users/{seg(user)}") == 200
    assert await api.status("POST", f"/users/{seg(user)}/:send", body=b"x", content_type="text/plain") == 202
    assert (await recv_json(ws))["data"] == "x"


async def test_bad_group_name_is_400(api: Api) -> None:
    for group in ["   ", "a\nb", "g" * 1025]:
        status = await api.status("POST", f"/groups/{seg(group)}/:send", body=b"x", content_type="text/plain")
        assert status == 400
    assert await api.status("POST", f"/groups/{seg('g' * 1024)}/:send", body=b"x", content_type="text/plain") == 202


# ---------------------------------------------------------------- closes


async def test_close_connection_with_reason(api: Api) -> None:
    ws, cid = await api.connect()
    assert await api.status("DELETE", f"/connections/{cid}", [("reason", "bye now")]) == 204
    assert await recv_json(ws) == {"type": "system", "event": "disconnected", "message": "bye now"}
    msg = await recv(ws)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1000
    assert await api.status("HEAD", f"/connections/{cid}") == 404
    assert await api.status("DELETE", "/connections/unknown") == 204


async def test_close_all_group_user_with_excluded(api: Api) -> None:
    a, aid = await api.connect(user="u", groups=["g"])
    b, _bid = await api.connect(user="u", groups=["g"])
    c, cid = await api.connect(user="v")
    assert await api.status("POST", "/users/u/:closeConnections", [("excluded", aid), ("reason", "r1")]) == 204
    assert (await recv_json(b))["message"] == "r1"
    assert await silent(a)
    assert await api.status("POST", "/groups/g/:closeConnections", [("reason", "r2")]) == 204
    assert (await recv_json(a))["message"] == "r2"
    assert await api.status("POST", "/:closeConnections", [("excluded", cid)]) == 204
    assert await silent(c)
    assert await api.status("HEAD", f"/connections/{cid}") == 200
    assert await api.status("POST", "/:closeConnections") == 204
    assert (await recv_json(c))["event"] == "disconnected"
    assert await api.status("HEAD", f"/connections/{cid}") == 404


# ---------------------------------------------------------------- existence and membership


async def test_exists_checks(api: Api) -> None:
    ws, cid = await api.connect(user="u1", groups=["g1"])
    assert await api.status("HEAD", f"/connections/{cid}") == 200
    assert await api.status("HEAD", "/connections/nope") == 404
    assert await api.status("HEAD", "/groups/g1") == 200
    assert await api.status("HEAD", "/groups/g2") == 404
    assert await api.status("HEAD", "/users/u1") == 200
    assert await api.status("HEAD", "/users/U1") == 404
    api.hub = "HUB1"  # hub names are case-insensitive
    assert await api.status("HEAD", f"/connections/{cid}") == 200
    await ws.close()
    api.hub = "hub1"
    for _ in range(50):
        if await api.status("HEAD", f"/connections/{cid}") == 404:
            break
        await asyncio.sleep(0.05)
    assert await api.status("HEAD", "/groups/g1") == 404
    assert await api.status("HEAD", "/users/u1") == 404


async def test_connection_membership(api: Api) -> None:
    _ws, cid = await api.connect()
    assert await api.status("PUT", f"/groups/g/connections/{cid}") == 200
    assert await api.status("HEAD", "/groups/g") == 200
    assert await api.status("PUT", f"/groups/g2/connections/{cid}") == 200
    assert await api.status("DELETE", f"/groups/g/connections/{cid}") == 204
    assert await api.status("DELETE", f"/groups/g/connections/{cid}") == 204  # not a member: still 204
    assert await api.status("HEAD", "/groups/g") == 404
    assert await api.status("DELETE", f"/connections/{cid}/groups") == 204
    assert await api.status("HEAD", "/groups/g2") == 404
    status, headers, body = await api.request("PUT", "/groups/g/connections/unknown")
    assert status == 404 and error_of(headers, body)[0] == "NotFound"


async def test_user_membership(api: Api) -> None:
    a, _ = await api.connect(user="u")
    b, _ = await api.connect(user="u")
    assert await api.status("PUT", "/users/u/groups/g") == 200
    assert await api.status("POST", "/groups/g/:send", body=b"x", content_type="text/plain") == 202
    assert (await recv_json(a))["group"] == "g" and (await recv_json(b))["group"] == "g"
    assert await api.status("PUT", "/users/u/groups/h") == 200
    assert await api.status("DELETE", "/users/u/groups/g") == 204
    assert await api.status("HEAD", "/groups/g") == 404
    assert await api.status("DELETE", "/users/u/groups") == 204
    assert await api.status("HEAD", "/groups/h") == 404
    assert await api.status("PUT", "/users/nobody/groups/g") == 404
    assert await api.status("DELETE", "/users/nobody/groups/g") == 204
    assert await api.status("DELETE", "/users/nobody/groups") == 204


async def test_add_and_remove_connections_by_filter(api: Api) -> None:
    a, aid = await api.connect(user="listener-1")
    b, bid = await api.connect(user="other")
    body = json.dumps({"groups": ["g1", "g2"], "filter": "startswith(userId, 'listener-')"}).encode()
    assert await api.status("POST", "/:addToGroups", body=body, content_type="application/json") == 200
    assert await api.status("HEAD", "/groups/g1") == 200 and await api.status("HEAD", "/groups/g2") == 200
    assert await api.status("POST", "/groups/g1/:send", body=b"x", content_type="text/plain") == 202
    assert (await recv_json(a))["group"] == "g1"
    assert await silent(b)
    # no filter: every connection
    body = json.dumps({"groups": ["g3"]}).encode()
    assert await api.status("POST", "/:addToGroups", body=body, content_type="application/json") == 200
    status, _h, raw = await api.request("GET", "/groups/g3/connections")
    assert status == 200
    assert {m["connectionId"] for m in json.loads(raw)["value"]} == {aid, bid}
    body = json.dumps({"groups": ["g1", "g3"], "filter": f"connectionId eq '{aid}'"}).encode()
    assert await api.status("POST", "/:removeFromGroups", body=body, content_type="application/json") == 200
    assert await api.status("HEAD", "/groups/g1") == 404
    _status, _h, raw = await api.request("GET", "/groups/g3/connections")
    assert [m["connectionId"] for m in json.loads(raw)["value"]] == [bid]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"[]",
        b"{bad",
        b'{"groups":"g"}',
        b'{"groups":[1]}',
        b'{"groups":["  "]}',
        b'{"groups":["g"],"filter":"x eq"}',
        b'{"groups":["g"],"filter":5}',
    ],
)
async def test_bad_batch_bodies(api: Api, body: bytes) -> None:
    for op in ("/:addToGroups", "/:removeFromGroups"):
        status, headers, resp = await api.request("POST", op, body=body, content_type="application/json")
        assert status == 400 and error_of(headers, resp)[0] == "BadRequest"


# ---------------------------------------------------------------- listing


async def test_list_connections_paging(api: Api) -> None:
    sockets = []
    ids = []
    for i in range(5):
        ws, cid = await api.connect(user=f"u{i}" if i % 2 == 0 else None)
        sockets.append(ws)
        ids.append(cid)
        assert await api.status("PUT", f"/groups/g/connections/{cid}") == 200
    status, _h, raw = await api.request("GET", "/groups/g/connections")
    doc = json.loads(raw)
    assert status == 200 and [m["connectionId"] for m in doc["value"]] == ids  # join order
    assert doc["value"][0]["userId"] == "u0" and "userId" not in doc["value"][1]
    assert doc.get("nextLink") is None

    seen: List[str] = []
    status, _h, raw = await api.request("GET", "/groups/g/connections", [("maxpagesize", "2"), ("top", "3")])
    doc = json.loads(raw)
    pages = 1
    while True:
        seen += [m["connectionId"] for m in doc["value"]]
        link = doc.get("nextLink")
        if not link:
            break
        parts = urlsplit(link)
        assert parts.scheme == "http" and parts.netloc == urlsplit(api.emu.endpoint).netloc  # absolute
        q = parse_qs(parts.query)
        assert q["top"] == ["3"] and q["maxpagesize"] == ["2"] and q["continuationToken"]
        assert q["api-version"] == [API]  # so that a client can follow the link as given (the JS SDK does)
        status, _h, raw = await api.request("GET", "", url=link)
        assert status == 200
        doc = json.loads(raw)
        pages += 1
    assert seen == ids[:3] and pages == 2


async def test_list_connections_empty_and_bad_params(api: Api) -> None:
    status, _h, raw = await api.request("GET", "/groups/none/connections")
    assert status == 200 and json.loads(raw)["value"] == []
    for query in ([("maxpagesize", "0")], [("maxpagesize", "201")], [("top", "0")], [("continuationToken", "%%%")]):
        assert await api.status("GET", "/groups/g/connections", query) == 400


# ---------------------------------------------------------------- permissions


async def test_permissions_lifecycle(api: Api) -> None:
    ws, cid = await api.connect()
    path = f"/permissions/sendToGroup/connections/{cid}"
    assert await api.status("HEAD", path, [("targetName", "g")]) == 404
    assert await api.status("PUT", path, [("targetName", "g")]) == 200
    assert await api.status("HEAD", path, [("targetName", "g")]) == 200
    assert await api.status("HEAD", path, [("targetName", "h")]) == 404
    assert await api.status("HEAD", path) == 404  # not the all-groups permission
    # the grant is effective on the wire
    await ws.send_str(json.dumps({"type": "sendToGroup", "group": "g", "ackId": 1, "data": 1}))
    assert (await recv_json(ws))["success"] is True
    assert await api.status("DELETE", path, [("targetName", "g")]) == 204
    assert await api.status("HEAD", path, [("targetName", "g")]) == 404
    await ws.send_str(json.dumps({"type": "sendToGroup", "group": "g", "ackId": 2, "data": 1}))
    ack = await recv_json(ws)
    assert ack["success"] is False and ack["error"]["name"] == "Forbidden"


async def test_permission_without_target_means_all_groups(api: Api) -> None:
    _ws, cid = await api.connect(roles=["webpubsub.joinLeaveGroup.only"])
    path = f"/permissions/joinLeaveGroup/connections/{cid}"
    assert await api.status("HEAD", path, [("targetName", "only")]) == 200
    assert await api.status("HEAD", path) == 404
    assert await api.status("PUT", path) == 200
    assert await api.status("HEAD", path) == 200
    assert await api.status("HEAD", path, [("targetName", "any")]) == 200
    assert await api.status("DELETE", path, [("targetName", "any")]) == 204
    assert await api.status("HEAD", path, [("targetName", "any")]) == 404
    assert await api.status("DELETE", path) == 204  # removes every grant, token roles included
    assert await api.status("HEAD", path, [("targetName", "only")]) == 404


async def test_permission_errors(api: Api) -> None:
    _ws, cid = await api.connect()
    assert await api.status("PUT", f"/permissions/admin/connections/{cid}") == 400
    assert await api.status("PUT", "/permissions/sendToGroup/connections/unknown", [("targetName", "g")]) == 404
    assert await api.status("DELETE", "/permissions/sendToGroup/connections/unknown", [("targetName", "g")]) == 204
    assert await api.status("HEAD", "/permissions/sendToGroup/connections/unknown", [("targetName", "g")]) == 404
    assert await api.status("PUT", f"/permissions/sendToGroup/connections/{cid}", [("targetName", " ")]) == 400


# ---------------------------------------------------------------- generateToken


async def test_generate_token(api: Api) -> None:
    query = [
        ("userId", "user1"),
        ("role", "webpubsub.joinLeaveGroup"),
        ("role", "webpubsub.sendToGroup"),
        ("minutesToExpire", "5"),
        ("group", "g1"),
        ("group", "g2"),
    ]
    status, headers, raw = await api.request("POST", "/:generateToken", query)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    token = json.loads(raw)["token"]
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["aud"] == f"{api.emu.endpoint}/client/hubs/hub1"
    assert claims["sub"] == "user1"
    assert claims["role"] == ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
    assert claims["webpubsub.group"] == ["g1", "g2"]
    assert 290 <= claims["exp"] - claims["iat"] <= 310
    # the token connects
    url = f"ws://{urlsplit(api.emu.endpoint).netloc}/client/hubs/hub1?access_token={token}"
    ws = await api.session.ws_connect(url, protocols=(JSON_P,))
    msg = await recv_json(ws)
    assert msg["userId"] == "user1"
    assert await api.status("HEAD", "/groups/g2") == 200


async def test_generate_token_defaults_and_mqtt(api: Api) -> None:
    status, _h, raw = await api.request("POST", "/:generateToken")
    assert status == 200
    claims = jwt.decode(json.loads(raw)["token"], KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert set(claims) == {"aud", "iat", "exp"} and claims["exp"] - claims["iat"] == 3600
    _status, _h, raw = await api.request("POST", "/:generateToken", [("clientType", "MQTT")])
    claims = jwt.decode(json.loads(raw)["token"], KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["aud"].endswith("/clients/mqtt/hubs/hub1")


@pytest.mark.parametrize(
    "query", [[("minutesToExpire", "0")], [("minutesToExpire", "x")], [("clientType", "Other")], [("group", "")]]
)
async def test_generate_token_bad_input(api: Api, query: List[Tuple[str, str]]) -> None:
    assert await api.status("POST", "/:generateToken", query) == 400


# ---------------------------------------------------------------- robustness


async def test_method_not_allowed_and_unknown_paths_never_500(api: Api) -> None:
    for method, path in [("GET", "/:send"), ("PATCH", "/groups/g"), ("GET", "/users/u/x/y/z"), ("POST", "")]:
        status = await api.status(method, path)
        assert status in (404, 405)


async def test_reliable_connection_held_for_recovery_exists(api: Api) -> None:
    ws, cid = await api.connect(protocol=RELIABLE_P)
    # drop the transport without a close handshake
    assert ws._response is not None
    ws._response.connection.transport.abort()  # type: ignore[union-attr]
    await asyncio.sleep(0.3)
    assert await api.status("HEAD", f"/connections/{cid}") == 200
    assert await api.status("DELETE", f"/connections/{cid}") == 204
    assert await api.status("HEAD", f"/connections/{cid}") == 404


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_start_up_contract(stop_signal: signal.Signals) -> None:
    import websocket

    exe = os.path.join(os.path.dirname(sys.executable), "webpubsub-emulator")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "webpubsub_emulator"]
    proc = subprocess.Popen([*cmd, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Endpoint=http://127.0.0.1:") and line.endswith(f";AccessKey={KEY};Version=1.0;")
        endpoint = line.split(";")[0].split("=", 1)[1]
        port = int(endpoint.rsplit(":", 1)[1])
        assert port > 0

        async def probe() -> int:
            async with aiohttp.ClientSession() as session, session.head(f"{endpoint}/api/health") as resp:
                return resp.status

        assert asyncio.run(probe()) == 200
        # a connected client does not hold up the shutdown
        token = sign(f"{endpoint}/client/hubs/h", lifetime=600)
        client = websocket.create_connection(
            f"{endpoint.replace('http', 'ws', 1)}/client/hubs/h?access_token={token}", subprotocols=[JSON_P], timeout=10
        )
        assert json.loads(client.recv())["event"] == "connected"
        proc.send_signal(stop_signal)
        assert proc.wait(timeout=15) == 0
        client.close()
        assert proc.stdout.read() == ""  # exactly one line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_busy_port_exits_1_without_a_line() -> None:
    from webpubsub_emulator import EmulatorThread

    with EmulatorThread(port=0) as first:
        proc = subprocess.run(
            [sys.executable, "-m", "webpubsub_emulator", "--port", str(first.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1 and proc.stdout == "" and "cannot listen" in proc.stderr


def test_cli_rejects_short_key() -> None:
    proc = run_cli("--port", "0", "--access-key", "short")
    assert proc.returncode == 2 and "32 bytes" in proc.stderr and "short" not in proc.stdout


# ---------------------------------------------------------------- limits and slow clients


async def test_health_checks_a_given_api_version(api: Api) -> None:
    async with api.session.head(f"{api.emu.endpoint}/api/health?api-version=1999-01-01") as resp:
        assert resp.status == 400 and resp.headers["x-ms-error-code"] == "BadRequest"


async def test_json_body_with_out_of_range_number_is_400(api: Api) -> None:
    status, headers, body = await api.request("POST", "/:send", body=b'{"v":1e999}', content_type="application/json")
    assert status == 400 and error_of(headers, body)[0] == "BadRequest"


async def test_long_signed_url_still_gets_a_json_error(api: Api) -> None:
    flt = "(" * 3000 + "true" + ")" * 3000  # ~18 KB of URL, signed into an even longer header
    status, headers, body = await api.request("POST", "/:send", [("filter", flt)], body=b"x", content_type="text/plain")
    assert status == 400 and error_of(headers, body)[0] == "BadRequest"


async def test_oversized_client_frame_gets_disconnected_and_1009(api: Api) -> None:
    ws, _ = await api.connect()
    await ws.send_str(json.dumps({"type": "event", "event": "e", "dataType": "text", "data": "x" * (1024 * 1024)}))
    msg = await recv_json(ws)
    assert msg["event"] == "disconnected" and "1048576" in msg["message"]
    close = await recv(ws)
    assert close.type == aiohttp.WSMsgType.CLOSE and close.data == 1009 and close.extra


async def test_slow_client_does_not_block_others_and_ttl_drops_for_it_only(api: Api) -> None:
    fast, _ = await api.connect(protocol=None)
    slow, _ = await api.connect(protocol=None)  # does not read until the TTL has passed
    body = b"x" * 500_000
    count = 40
    for _ in range(count):
        status = await api.status("POST", "/:send", [("messageTtlSeconds", "1")], body=body, content_type="text/plain")
        assert status == 202
        msg = await recv(fast)  # the fast client gets each message right away
        assert msg.type == aiohttp.WSMsgType.TEXT and len(msg.data) == len(body)
    await asyncio.sleep(1.5)
    received = 0
    while not await silent(slow, 0.5):
        received += 1
    assert 0 < received < count  # what sat in the emulator's queue past the TTL was dropped


async def test_client_that_stops_reading_is_dropped_after_a_close(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from webpubsub_emulator import limits

    monkeypatch.setattr(limits, "CLOSE_GRACE_SECONDS", 0.5)
    stuck, _ = await api.connect(protocol=None)
    conn = api.emu.core.live_connections("hub1")[0]
    cid = conn.connection_id
    for _ in range(30):
        await api.status("POST", "/:send", body=b"y" * 1_000_000, content_type="text/plain")
    assert await api.status("DELETE", f"/connections/{cid}") == 204
    assert await api.status("HEAD", f"/connections/{cid}") == 404  # detached from the hub at once
    for _ in range(40):
        if conn.state is ConnectionState.GONE:
            break
        await asyncio.sleep(0.1)
    assert conn.state is ConnectionState.GONE  # the stuck transport was dropped after the grace period
    other, _ = await api.connect()
    assert await api.status("POST", "/:send", body=b"z", content_type="text/plain") == 202
    assert (await recv_json(other))["data"] == "z"
    await stuck.close()


# ---------------------------------------------------------------- the pytest fixture and the thread runner


def test_pytest_fixture_yields_a_started_thread(webpubsub_emulator: Any) -> None:
    import urllib.request

    emu = webpubsub_emulator
    assert emu.port > 0 and emu.endpoint == f"http://127.0.0.1:{emu.port}"
    assert emu.access_key == KEY
    assert emu.connection_string == f"Endpoint={emu.endpoint};AccessKey={KEY};Version=1.0;"
    request = urllib.request.Request(f"{emu.endpoint}/api/health", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    url = emu.client_url("Hub", user_id="u", roles=["webpubsub.sendToGroup"], groups=["g"], minutes_to_expire=5)
    assert url.startswith(f"ws://127.0.0.1:{emu.port}/client/hubs/Hub?access_token=")
    claims = jwt.decode(url.split("access_token=")[1], KEY, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["aud"] == f"{emu.endpoint}/client/hubs/Hub" and claims["sub"] == "u"
    assert claims["role"] == ["webpubsub.sendToGroup"] and claims["webpubsub.group"] == ["g"]
    assert claims["exp"] - claims["iat"] == 300


def test_emulator_thread_with_websocket_client() -> None:
    import websocket
    from webpubsub_emulator import EmulatorThread

    with EmulatorThread(port=0) as emu:
        ws = websocket.create_connection(emu.client_url("h", user_id="a"), subprotocols=[JSON_P], timeout=10)
        try:
            assert json.loads(ws.recv())["userId"] == "a"
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv()) == {"type": "pong"}
        finally:
            ws.close()
    with pytest.raises(ValueError):
        EmulatorThread(access_key="too-short")


def test_emulator_thread_reports_a_busy_port() -> None:
    from webpubsub_emulator import EmulatorThread

    with EmulatorThread(port=0) as first, pytest.raises(OSError):
        EmulatorThread(port=first.port).start()


async def test_unexpected_errors_are_500_json_without_internals(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(api.emu.core, "live_connections", explode)
    status, headers, body = await api.request("POST", "/:send", body=b"x", content_type="text/plain")
    assert status == 500 and error_of(headers, body)[0] == "InternalServerError"
    assert b"secret" not in body and b"Traceback" not in body
    status, headers, body = await api.request("HEAD", "/users/u")  # unaffected operations keep working
    assert status == 404
