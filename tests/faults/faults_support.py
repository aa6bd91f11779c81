"""Helpers for the fault tests: a fast REST sender and a hand-written reliable client that acks and recovers.

Both are independent of the SDKs: REST calls are signed with pyjwt (HS256 keyed with the access key, ``aud`` = the full
request URL) and the reliable client is a plain aiohttp WebSocket client speaking ``json.reliable.webpubsub.azure.v1``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional
from urllib.parse import quote, urlencode

import aiohttp
import jwt

API_VERSION = "2024-12-01"
RELIABLE = "json.reliable.webpubsub.azure.v1"


class NumberSender:
    """Sends numbered text messages over REST, one request at a time, as fast as the emulator answers.

    The URL of a send does not change between messages, so one signed token (valid for 10 minutes) serves them all.
    """

    def __init__(self, session: aiohttp.ClientSession, endpoint: str, key: str, hub: str, path: str) -> None:
        self.base = f"{endpoint}/api/hubs/{quote(hub, safe='')}{path}"
        self.session = session
        self.key = key
        self._headers: Dict[str, Dict[str, str]] = {}

    def _signed(self, url: str) -> Dict[str, str]:
        headers = self._headers.get(url)
        if headers is None:
            token = jwt.encode({"aud": url, "exp": int(time.time()) + 600}, self.key, algorithm="HS256")
            headers = self._headers[url] = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        return headers

    async def send(self, body: str, *, ttl: Optional[int] = None) -> None:
        query = [("api-version", API_VERSION)] + ([("messageTtlSeconds", str(ttl))] if ttl is not None else [])
        url = f"{self.base}?{urlencode(query)}"
        async with self.session.post(url, data=body.encode(), headers=self._signed(url)) as resp:
            assert resp.status == 202, (resp.status, await resp.text())

    async def send_range(self, start: int, stop: int, *, ttl: Optional[int] = None) -> None:
        for number in range(start, stop):
            await self.send(str(number), ttl=ttl)


@dataclass
class ReliableStats:
    """What a reliable client saw."""

    numbers: List[int] = field(default_factory=list)
    sequence_ids: List[int] = field(default_factory=list)
    duplicates: int = 0
    recoveries: int = 0
    close_codes: List[Optional[int]] = field(default_factory=list)


class ReliableClient:
    """A ``json.reliable.webpubsub.azure.v1`` client: drops seen sequence ids, acks every ``ack_every`` messages and
    recovers (``awps_connection_id`` + ``awps_reconnection_token``) whenever the transport drops."""

    def __init__(self, session: aiohttp.ClientSession, url: str, *, ack_every: int = 100) -> None:
        self.session = session
        self.url = url
        self.ack_every = ack_every
        self.stats = ReliableStats()
        self.connection_id = ""
        self._token = ""
        self._last_seq = 0
        self._acked = 0
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None

    async def connect(self) -> str:
        ws = await self.session.ws_connect(self.url, protocols=(RELIABLE,))
        msg = await asyncio.wait_for(ws.receive(), 5)
        connected = json.loads(msg.data)
        assert connected["type"] == "system" and connected["event"] == "connected", connected
        self.connection_id = connected["connectionId"]
        self._token = connected["reconnectionToken"]
        self._ws = ws
        return self.connection_id

    def _recovery_url(self) -> str:
        query = urlencode([("awps_connection_id", self.connection_id), ("awps_reconnection_token", self._token)])
        return f"{self.url}&{query}"

    async def _ack(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        if self._last_seq > self._acked:
            self._acked = self._last_seq
            await ws.send_str(json.dumps({"type": "sequenceAck", "sequenceId": self._last_seq}))

    async def receive(self, count: int) -> ReliableStats:
        """Receive until ``count`` distinct messages arrived, recovering after every drop."""
        ws = self._ws
        assert ws is not None
        while len(self.stats.numbers) < count:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                data: Dict[str, Any] = json.loads(msg.data)
                if data.get("type") != "message":
                    continue
                seq = data["sequenceId"]
                if seq <= self._last_seq:
                    self.stats.duplicates += 1
                    continue
                self._last_seq = seq
                self.stats.sequence_ids.append(seq)
                self.stats.numbers.append(int(data["data"]))
                if seq - self._acked >= self.ack_every:
                    await self._ack(ws)
                continue
            # the transport went away (CLOSE, CLOSED or ERROR): recover unless the service ended the session
            code = ws.close_code if msg.type != aiohttp.WSMsgType.CLOSE else int(msg.data)
            self.stats.close_codes.append(code)
            assert code != 1008, f"the emulator refused the session: {msg.extra!r}"
            await ws.close()
            ws = self._ws = await self.session.ws_connect(self._recovery_url(), protocols=(RELIABLE,))
            self._acked = 0  # the recovered transport re-sends everything after the last ack the service got
            self.stats.recoveries += 1
        await self._ack(ws)
        return self.stats

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
