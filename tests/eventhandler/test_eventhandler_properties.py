"""Property tests: the signature helper and the verifier agree; connection state round-trips any JSON object."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from azure.messaging.webpubsubservice.eventhandler import ConnectionState, WebPubSubEventHandler, compute_signature
from azure.messaging.webpubsubservice.eventhandler import testing as build
from azure.messaging.webpubsubservice.eventhandler._signature import signature_matches
from azure.messaging.webpubsubservice.eventhandler._state import encode_state
from hypothesis import given, settings
from hypothesis import strategies as st

keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64).filter(str.strip)
connection_ids = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=","), min_size=1, max_size=64)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(derandomize=True, max_examples=200)
@given(connection_id=connection_ids, signing=st.lists(keys, min_size=1, max_size=3), other=keys, upper=st.booleans())
def test_the_helper_and_the_verifier_agree(connection_id: str, signing: List[str], other: str, upper: bool) -> None:
    header = compute_signature(connection_id, signing)
    if upper:
        header = header.upper().replace("SHA256=", "sha256=")
    assert signature_matches(header, connection_id, [signing[-1]])
    assert signature_matches(header, connection_id, [other, signing[0]])
    assert signature_matches(header, connection_id, [other]) == (other in signing)
    assert not signature_matches(header, connection_id + "x", signing)


@settings(derandomize=True, max_examples=50, deadline=None)
@given(connection_id=connection_ids.filter(lambda c: c.isprintable() and c.strip() == c and c.isascii()), key=keys)
def test_the_builders_requests_pass_the_handler(connection_id: str, key: str) -> None:
    handler = WebPubSubEventHandler("hub", access_key=key)
    assert handler.handle(build.connected_request(connection_id=connection_id, access_key=key)).status == 200
    assert handler.handle(build.connected_request(connection_id=connection_id, access_key=key + "x")).status == 401


@settings(derandomize=True, max_examples=200)
@given(st.dictionaries(st.text(), json_values, max_size=8))
def test_state_round_trips_any_json_object(values: Dict[str, Any]) -> None:
    state = ConnectionState(encode_state(values))
    assert state.valid and state.to_dict() == values and not state.changed
    copy = ConnectionState(None)
    for key, value in values.items():
        copy[key] = value
    header = copy.header_value()
    assert (header is None) == (values == {})
    assert ConnectionState(header).to_dict() == values
    assert json.loads(json.dumps(values)) == ConnectionState(header).to_dict()
