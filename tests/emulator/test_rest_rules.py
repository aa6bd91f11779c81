"""The REST rules without IO: routes, send bodies, metadata, batch bodies, pages and continuation tokens."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Optional

import pytest
from multidict import MultiDict
from webpubsub_emulator import rest_rules as rules
from webpubsub_emulator.errors import BadRequest, MethodNotAllowed, NotFound, Unauthorized, UnsupportedMediaType
from webpubsub_emulator.protocol import Payload


def test_every_route_matches_its_own_path_and_method() -> None:
    assert len(rules.ROUTES) == 24
    for route in rules.ROUTES:
        segments = [p.replace("{", "x-").replace("}", "") for p in route.pattern]
        operation, params = rules.match_route(route.method, segments)
        assert operation == route.operation
        assert set(params) == {p[1:-1] for p in route.pattern if p.startswith("{")}


def test_route_refusals() -> None:
    with pytest.raises(MethodNotAllowed):
        rules.match_route("GET", ["hub", ":send"])
    with pytest.raises(NotFound):
        rules.match_route("POST", ["hub", "nothing"])
    assert rules.path_segments("/api/hubs/h/groups/a%2Fb") == ["", "api", "hubs", "h", "groups", "a/b"]
    with pytest.raises(BadRequest):
        rules.path_segments("/api/hubs/%ff")


def test_params_are_checked() -> None:
    params = {"hub": "Hub", "group": "g", "userId": "u"}
    assert rules.check_params("2024-12-01", params) == "Hub" and "hub" not in params
    for version, bad in (
        ("2024-12-01", {"hub": "1"}),
        ("1999-01-01", {"hub": "h"}),
        ("2024-12-01", {"hub": "h", "connectionId": ""}),
    ):
        with pytest.raises(BadRequest):
            rules.check_params(version, bad)


def test_bearer_tokens() -> None:
    assert rules.bearer_token("Bearer abc ") == "abc"
    for header in (None, "", "Basic abc", "Bearer  "):
        with pytest.raises(Unauthorized):
            rules.bearer_token(header)


@pytest.mark.parametrize(
    ("content_type", "body", "payload"),
    [
        (None, b"\x00", Payload.binary(b"\x00")),
        ("", b"x", Payload.binary(b"x")),
        ("application/octet-stream", b"x", Payload.binary(b"x")),
        ("text/plain", "hé".encode(), Payload.text("hé")),
        ("Text/Plain; charset=latin-1", "hé".encode("latin-1"), Payload.text("hé")),
        ('application/json; charset="utf-16"', '"h"'.encode("utf-16"), Payload.json_text('"h"')),
    ],
)
def test_send_bodies(content_type: Optional[str], body: bytes, payload: Payload) -> None:
    assert rules.payload_of(content_type, body) == payload


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("text/html", b"x", UnsupportedMediaType),
        ("text/plain; charset=nope", b"x", UnsupportedMediaType),
        ("text/plain", b"\xff", BadRequest),
        ("application/json", b"{bad", BadRequest),
        ("application/json", b"NaN", BadRequest),
    ],
)
def test_send_body_refusals(content_type: str, body: bytes, error: type) -> None:
    with pytest.raises(error):
        rules.payload_of(content_type, body)


def test_metadata_and_common_parameters() -> None:
    assert rules.metadata_of([("X-WebPubSub-Metadata-Key", "v"), ("x-webpubsub-metadata-", "no"), ("Other", "x")]) == {
        "Key": "v"
    }
    assert rules.metadata_of([]) is None
    query = MultiDict([("excluded", "a"), ("excluded", ""), ("excluded", "b"), ("$filter", "userId eq 'u'")])
    assert rules.excluded_of(query) == {"a", "b"}
    flt = rules.filter_of(query)
    assert flt is not None and flt.matches(SimpleNamespace(connection_id="c", user_id="u", groups=()))
    assert rules.filter_of(MultiDict(filter=" ")) is None
    assert rules.ttl_of(MultiDict(messageTtlSeconds="300")) == 300
    with pytest.raises(BadRequest):
        rules.ttl_of(MultiDict(messageTtlSeconds="301"))
    assert rules.permission_of("sendToGroup", MultiDict()) == ("sendToGroup", None)
    assert rules.permission_of("joinLeaveGroup", MultiDict(targetName="g")) == ("joinLeaveGroup", "g")
    with pytest.raises(BadRequest):
        rules.permission_of("other", MultiDict())


def test_batch_bodies() -> None:
    groups, flt = rules.batch_of(None, b'{"groups":["a","b"],"filter":"userId eq \'u\'"}')
    assert groups == ["a", "b"] and flt is not None
    assert rules.batch_of("text/json", b'{"groups":[]}') == ([], None)
    for content_type, body, error in (
        ("text/plain", b"{}", UnsupportedMediaType),
        (None, b"", BadRequest),
        (None, b"[]", BadRequest),
        (None, b'{"groups":["a"],"x":1}', BadRequest),
        (None, b'{"groups":"a"}', BadRequest),
        (None, b'{"groups":[""]}', BadRequest),
        (None, b'{"groups":[],"filter":1}', BadRequest),
    ):
        with pytest.raises(error):
            rules.batch_of(content_type, body)


def members(count: int) -> list[tuple[int, Any]]:
    return [
        (i * 10, SimpleNamespace(connection_id=f"c{i}", user_id=None if i % 2 else f"u{i}"))
        for i in range(1, count + 1)
    ]


def test_pages_follow_each_other_to_the_end() -> None:
    everyone = members(5)
    page = rules.page_of(everyone, MultiDict(maxpagesize="2"))
    assert page.value == [{"connectionId": "c1"}, {"connectionId": "c2", "userId": "u2"}]
    seen = [v["connectionId"] for v in page.value]
    while page.next_query is not None:
        query = MultiDict({k: str(v) for k, v in page.next_query.items()})
        page = rules.page_of(everyone, query)
        seen += [v["connectionId"] for v in page.value]
    assert seen == ["c1", "c2", "c3", "c4", "c5"]


def test_top_caps_the_total() -> None:
    page = rules.page_of(members(5), MultiDict(maxpagesize="2", top="3"))
    assert page.next_query is not None and page.next_query["top"] == 3
    last = rules.page_of(members(5), MultiDict({k: str(v) for k, v in page.next_query.items()}))
    assert [v["connectionId"] for v in last.value] == ["c3"] and last.next_query is None


def test_continuation_tokens() -> None:
    token = rules.encode_continuation(40, 4)
    assert rules.decode_continuation(token) == (40, 4) and rules.decode_continuation(None) == (0, 0)
    for bad in ("!!", "djI6MTox", "abc"):
        with pytest.raises(BadRequest):
            rules.decode_continuation(bad)
    link = rules.next_link("http://h:1", "hub", "a/b", {"maxpagesize": 2})
    assert link == "http://h:1/api/hubs/hub/groups/a%2Fb/connections?maxpagesize=2"
