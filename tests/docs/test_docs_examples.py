"""Every Python block in the README and in docs/*.md runs, as written, against a local emulator.

The blocks of one file run in order in one fresh interpreter, like a reader typing them into one session: a later
block may use what an earlier one defined. The process gets the environment the README tells a reader to set for the
emulator (``WEBPUBSUB_CONNECTION_STRING``, ``WEBPUBSUB_ENDPOINT``, ``WEBPUBSUB_ACCESS_KEY``), pointing at an emulator
started for that file alone.

A block that needs a real Azure resource (Microsoft Entra ID, say) is marked by an HTML comment on the line before its
fence, ``<!-- docs: needs-azure -->``. Such a block runs on its own against the emulator over TLS in its Entra mode,
with a stand-in for azure-identity's ``DefaultAzureCredential`` (see below). Any other ``<!-- docs: ... -->`` marker
is an error, so a typo cannot hide a block. Conventions for writers: docs/README.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple

import pytest
from webpubsub_emulator import EmulatorThread

ROOT = Path(__file__).resolve().parents[2]
#: The files whose Python blocks must run: the repository README, every page under docs/, the SDK's index page.
DOC_FILES = sorted(
    [ROOT / "README.md", ROOT / "azure-messaging-webpubsubservice" / "README.md", *(ROOT / "docs").glob("*.md")]
)
MARKER = re.compile(r"<!--\s*docs:\s*(.*?)\s*-->")
NEEDS_AZURE = "needs-azure"
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
RUNNER = Path(__file__).with_name("run_blocks.py")


class Block(NamedTuple):
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str  # "" or the text inside <!-- docs: ... -->

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> List[Block]:
    """Every fenced code block of a Markdown file, with the docs marker on the line before it (if any)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: List[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = (opening["info"].strip().split() or [""])[0].lower()
        previous = lines[i - 1] if i else ""
        marker = MARKER.search(previous)
        body: List[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        found.append(Block(path, i + 1, language, "\n".join(body) + "\n", marker.group(1) if marker else ""))
        i = j + 1
    return found


def python_blocks(path: Path) -> List[Block]:
    return [b for b in blocks_of(path) if b.language in ("python", "py", "python3")]


ALL_BLOCKS = [b for path in DOC_FILES for b in python_blocks(path)]
MARKED = [b for b in ALL_BLOCKS if b.marker]


def test_block_finder_reads_fences_languages_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n<!-- docs: needs-azure -->\n```py title\nb = 2\n```\n"
        "- item\n\n  ```python\n  c = 3\n  ```\n````bash\n```python\nnot python\n```\n````\n",
        encoding="utf-8",
    )
    found = python_blocks(page)
    assert [(b.line, b.code, b.marker) for b in found] == [
        (2, "a = 1\n", ""),
        (6, "b = 2\n", "needs-azure"),
        (11, "c = 3\n", ""),
    ]


def test_there_are_blocks_to_run() -> None:
    readme = [b for b in ALL_BLOCKS if b.path == ROOT / "README.md"]
    assert len(readme) >= 10, "the README's examples are the first thing a newcomer runs"


#: What a needs-azure block may take from the blocks before it and from azure-identity (not a dependency): ``os``, the
#: client, and a ``DefaultAzureCredential`` that hands out an unsigned Entra-shaped token, as the emulator's Entra mode
#: accepts (audience and lifetime checked, signature not: local testing only).
_ENTRA_PRELUDE = """
import os
import sys
import time
import types

import jwt
from azure.core.credentials import AccessToken
from azure.messaging.webpubsubservice import WebPubSubServiceClient


class DefaultAzureCredential:
    def get_token(self, *scopes, **kwargs):
        assert scopes == ("https://webpubsub.azure.com/.default",), scopes
        expires = int(time.time()) + 3600
        claims = {"aud": "https://webpubsub.azure.com", "exp": expires, "oid": "docs-stand-in"}
        return AccessToken(jwt.encode(claims, key=None, algorithm="none"), expires)


sys.modules["azure.identity"] = types.SimpleNamespace(DefaultAzureCredential=DefaultAzureCredential)
"""


@pytest.mark.parametrize("block", MARKED, ids=[b.where for b in MARKED])
def test_a_block_that_needs_azure_runs_against_the_emulators_entra_mode(block: Block, tmp_path: Path) -> None:
    # Such a block is written for a real resource and Microsoft Entra ID. Offline it runs, as written, against the
    # emulator over TLS with --accept-entra-tokens (what the README tells a reader to do), azure-identity's
    # DefaultAzureCredential standing in as above; every REST call it makes must succeed with a bearer token.
    assert block.marker == NEEDS_AZURE, f"{block.where}: unknown docs marker {block.marker!r} (only {NEEDS_AZURE!r})"
    calls: List[Dict[str, object]] = []
    with EmulatorThread(port=0, tls_self_signed=str(tmp_path / "tls"), accept_entra_tokens=True) as emulator:
        unsubscribe = emulator.trace.subscribe(
            lambda event: calls.append(dict(event.detail)) if event.kind == "rest" else None
        )
        env = _environment(emulator)
        env.update(REQUESTS_CA_BUNDLE=str(emulator.tls_cert_file), SSL_CERT_FILE=str(emulator.tls_cert_file))
        env.pop("WEBPUBSUB_CONNECTION_STRING")
        env.pop("WEBPUBSUB_ACCESS_KEY")  # only the endpoint and the credential
        stand_in = {"where": f"{Path(__file__).relative_to(ROOT)}:1", "code": _ENTRA_PRELUDE}
        result = subprocess.run(
            [sys.executable, str(RUNNER)],
            input=json.dumps([stand_in, {"where": block.where, "code": block.code}]),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )
        unsubscribe()
    assert result.returncode == 0, f"{result.stderr[-6000:]}\n--- stdout ---\n{result.stdout[-3000:]}"
    assert result.stdout.count("\0block ok\0") == 2
    assert calls, f"{block.where} made no REST call"
    assert all(call["status"] in (200, 202, 204) for call in calls), calls


def _environment(emulator: EmulatorThread) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBPUBSUB_")}
    env.update(
        WEBPUBSUB_CONNECTION_STRING=emulator.connection_string,
        WEBPUBSUB_ENDPOINT=emulator.endpoint,
        WEBPUBSUB_ACCESS_KEY=emulator.access_key,
    )
    return env


@pytest.mark.parametrize("path", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_python_blocks_run_against_the_emulator(path: Path, tmp_path: Path) -> None:
    runnable = [b for b in python_blocks(path) if not b.marker]
    if not runnable:
        assert not python_blocks(path) or all(b.marker for b in python_blocks(path))
        return
    with EmulatorThread(port=0) as emulator:
        result = subprocess.run(
            [sys.executable, str(RUNNER)],
            input=json.dumps([{"where": b.where, "code": b.code} for b in runnable]),
            capture_output=True,
            text=True,
            cwd=tmp_path,  # a block that writes a file writes it here
            env=_environment(emulator),
            timeout=300,
        )
    assert result.returncode == 0, f"{result.stderr[-6000:]}\n--- stdout ---\n{result.stdout[-3000:]}"
    assert result.stdout.count("\0block ok\0") == len(runnable)
    # A reader copying the examples should see no warning caused by them (a deprecated call, an unclosed socket).
    warned = re.findall(r"^\S+\.md:\d+: \w*Warning.*$", result.stderr, flags=re.M)
    assert not warned, warned
