"""Code written from the documented examples of the 1.3.0 SDK runs unchanged against ours.

The calls below are the ones the official 1.3.0 reference page shows (its three ways to build a client and its three
broadcast formats), restated here so the test needs nothing outside the repository. They are executed exactly as a
1.3.0 user writes them: keyword arguments, ``content_type`` where the page gives one, and an ``io.StringIO`` sent as
``application/octet-stream``. No ``transport=`` appears in them, so the default requests transport's ``send`` is
replaced by the recording transport's for the duration of the test.
"""

from __future__ import annotations

import json

from azure.core.pipeline.transport import RequestsTransport

from .conftest import Recorder, RecordingTransport, Reply, decode_rest_jwt

KEY = "ReadmeExampleKey0123456789=="
ENDPOINT = "https://readme.webpubsub.azure.com"
CONNECTION_STRING = f"Endpoint={ENDPOINT};AccessKey={KEY};Version=1.0;"

DOCUMENTED_EXAMPLES = [
    # Create a client from a connection string.
    """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
service = WebPubSubServiceClient.from_connection_string(connection_string=CONNECTION_STRING, hub='hub')
""",
    # Create a client from an endpoint and an access key.
    """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.core.credentials import AzureKeyCredential
service = WebPubSubServiceClient(endpoint=ENDPOINT, hub='hub', credential=AzureKeyCredential(KEY))
""",
    # Create a client with Microsoft Entra ID (no request is sent by construction alone).
    """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.identity import DefaultAzureCredential
service = WebPubSubServiceClient(endpoint=ENDPOINT, hub='hub', credential=DefaultAzureCredential())
""",
    # Broadcast JSON.
    """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
service = WebPubSubServiceClient.from_connection_string(CONNECTION_STRING, hub='hub1')
service.send_to_all(message = {
    'from': 'user1',
    'data': 'Hello world'
})
""",
    # Broadcast plain text.
    """
from azure.messaging.webpubsubservice import WebPubSubServiceClient
service = WebPubSubServiceClient.from_connection_string(CONNECTION_STRING, hub='hub1')
service.send_to_all(message = 'Hello world', content_type='text/plain')
""",
    # Broadcast binary, from a text stream.
    """
import io
from azure.messaging.webpubsubservice import WebPubSubServiceClient
service = WebPubSubServiceClient.from_connection_string(CONNECTION_STRING, hub='hub')
service.send_to_all(message=io.StringIO('Hello World'), content_type='application/octet-stream')
""",
]


def test_documented_examples_run_unchanged(monkeypatch) -> None:
    recorder = Recorder()
    recorder.default = Reply(202)
    recording = RecordingTransport(recorder)
    monkeypatch.setattr(RequestsTransport, "send", lambda self, request, **kwargs: recording.send(request, **kwargs))

    for code in DOCUMENTED_EXAMPLES:
        namespace: dict = {"CONNECTION_STRING": CONNECTION_STRING, "ENDPOINT": ENDPOINT, "KEY": KEY}
        exec(compile(code, "<documented example>", "exec"), namespace)  # as a 1.3.0 user writes it

    sends = recorder.sent
    assert len(sends) == 3
    as_json, as_text, as_binary = sends
    for sent in sends:
        assert sent.method == "POST"
        assert sent.url.startswith(f"{ENDPOINT}/api/hubs/hub")
        assert sent.url.split("?")[0].endswith("/:send")
        decode_rest_jwt(sent, key=KEY)
    assert as_json.headers["Content-Type"] == "application/json"
    assert json.loads(as_json.body) == {"from": "user1", "data": "Hello world"}
    assert as_text.headers["Content-Type"] == "text/plain"
    assert as_text.body == b"Hello world"
    assert as_binary.headers["Content-Type"] == "application/octet-stream"
    assert as_binary.body == b"Hello World"
