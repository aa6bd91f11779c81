"""The OData helper end to end: a filter built by ``odata(...)`` from an arbitrary value travels through the SDK's
query encoding and the emulator's query decoding and parser, and the message reaches exactly the intended connection.

Each example connects two raw WebSocket clients whose user id (and group) is the value and a near miss of it, sends
with the filter, then sends an unfiltered marker: the near miss must see the marker first, the match the message."""

from __future__ import annotations

import contextlib
from typing import Iterator, Tuple

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata
from fuzz_support import ACCESS_KEY, HUB, client_token, fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st
from webpubsub_emulator import EmulatorThread
from websockets.sync.client import ClientConnection, connect

# user ids and group names: any text the service accepts (groups: 1-1024 chars, not only whitespace, no newline)
names = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from(list("'\"&#+%=?/ ")),
    min_size=1,
    max_size=24,
).filter(lambda s: s.strip() != "")


@pytest.fixture(scope="module")
def sdk(emu: EmulatorThread) -> Iterator[WebPubSubServiceClient]:
    conn_str = f"Endpoint={emu.endpoint};AccessKey={ACCESS_KEY};Version=1.0;"
    with WebPubSubServiceClient.from_connection_string(conn_str, hub=HUB) as client:
        yield client


def _raw_client(stack: contextlib.ExitStack, emu: EmulatorThread, user: str, group: str) -> ClientConnection:
    token = client_token(emu.endpoint, sub=user, **{"webpubsub.group": [group]})
    url = emu.endpoint.replace("http://", "ws://", 1) + f"/client/hubs/{HUB}?access_token={token}"
    return stack.enter_context(connect(url, open_timeout=10))


def _near_miss(value: str) -> str:
    return value + "'" if not value.endswith("'") else value[:-1] + "x"


def _roundtrip(emu: EmulatorThread, sdk: WebPubSubServiceClient, template: str, value: str) -> Tuple[str, str]:
    with contextlib.ExitStack() as stack:
        match = _raw_client(stack, emu, value, value)
        miss = _raw_client(stack, emu, _near_miss(value), _near_miss(value))
        sdk.send_to_all("filtered", content_type="text/plain", filter=odata(template, value))
        sdk.send_to_all("marker", content_type="text/plain")
        return str(match.recv(timeout=10)), str(miss.recv(timeout=10))


@fuzz_settings(max_examples=40)
@given(value=names)
@example(value="x' or userId ne 'x")
@example(value="a&filter=true")
@example(value="%27")
@example(value="'")
def test_user_filter_reaches_only_that_user(emu: EmulatorThread, sdk: WebPubSubServiceClient, value: str) -> None:
    assert _roundtrip(emu, sdk, "userId eq {}", value) == ("filtered", "marker")


@fuzz_settings(max_examples=30)
@given(value=names)
@example(value="g' in groups or 'x")
def test_group_filter_reaches_only_that_group(emu: EmulatorThread, sdk: WebPubSubServiceClient, value: str) -> None:
    assert _roundtrip(emu, sdk, "{} in groups", value) == ("filtered", "marker")
