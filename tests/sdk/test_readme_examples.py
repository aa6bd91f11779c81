"""The examples of the 1.3.0 README run unchanged against our SDK.

The README is not copied into this repository: it is read from the seed directory (``WPS_SEED_DIR``, by default
``shared/seed`` beside the checkout, where the workplace and CI lay it). Its ``python`` blocks before
"Troubleshooting" are executed as written, with only the ``<placeholders>`` filled in. No ``transport=`` appears in
them, so the default requests transport's ``send`` is replaced by the recording transport's for the duration of the
test.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest
from azure.core.pipeline.transport import RequestsTransport

from .conftest import Recorder, RecordingTransport, Reply, decode_rest_jwt

SEED_DIR = Path(os.environ.get("WPS_SEED_DIR", Path(__file__).resolve().parents[3] / "shared" / "seed"))
KEY = "ReadmeExampleKey0123456789=="
ENDPOINT = "https://readme.webpubsub.azure.com"
PLACEHOLDERS = {
    "<connection_string>": f"Endpoint={ENDPOINT};AccessKey={KEY};Version=1.0;",
    "<endpoint>": ENDPOINT,
    "<access_key>": KEY,
}


def readme_text() -> str:
    for path in sorted(SEED_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if "WebPubSubServiceClient" in text and "send_to_all" in text:
            return text
    pytest.fail(f"the 1.3.0 README seed was not found in {SEED_DIR} (set WPS_SEED_DIR)")


def python_examples(text: str) -> list[str]:
    """The ``python`` fenced blocks before the Troubleshooting section, with ``>>>`` prompts removed."""
    text = text.split("## Troubleshooting")[0]
    blocks = []
    for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M):
        code = textwrap.dedent(match.group(2))
        lines = [line[4:] if line.startswith((">>> ", "... ")) else line for line in code.splitlines()]
        blocks.append("\n".join(lines))
    return blocks


def test_readme_examples_run_unchanged(monkeypatch) -> None:
    recorder = Recorder()
    recorder.default = Reply(202)
    recording = RecordingTransport(recorder)
    monkeypatch.setattr(RequestsTransport, "send", lambda self, request, **kwargs: recording.send(request, **kwargs))
    examples = python_examples(readme_text())
    assert len(examples) >= 6, examples  # 3 ways to construct, 3 broadcasts

    for code in examples:
        for placeholder, value in PLACEHOLDERS.items():
            code = code.replace(placeholder, value)
        namespace: dict = {}
        exec(compile(code, "<README example>", "exec"), namespace)  # the documented examples, as written

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
