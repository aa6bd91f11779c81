"""The live trace page over real sockets: its files, the snapshot, the live channel (what it carries, its bounds,
a stalled watcher), and who may watch (this machine, a proxy, a rebound name, another site; another address is
tests/browser/test_trace_browser.py's)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
from upstream_support import HandlerServer
from webpubsub_emulator import Emulator, limits
from webpubsub_emulator.trace_access import COOKIE, mint_sign_in
from ws_support import JSON, Api, recv

KEY = "trace-page-tests-key-0123456789abcdefghij"


class Live:
    """A reader of the live channel: its events as (event, id, data), parsed from the Server-Sent Events stream."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.buffer = ""
        self.entries: List[Dict[str, Any]] = []
        self.lost = 0
        self.last_id: Optional[str] = None

    async def event(self, timeout: float = 5.0) -> Tuple[str, Optional[str], Any]:
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.response.content.readany(), timeout)
            if not chunk:
                raise AssertionError("the live channel ended")
            self.buffer += chunk.decode("utf-8")
        block, self.buffer = self.buffer.split("\n\n", 1)
        fields: Dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" not in fields:
            return await self.event(timeout)
        if "id" in fields:
            self.last_id = fields["id"]
        return fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])

    async def snapshot(self) -> Dict[str, Any]:
        event, _id, data = await self.event()
        assert event == "snapshot", event
        return data

    async def until(self, predicate: Callable[[Dict[str, Any]], bool], timeout: float = 5.0) -> Dict[str, Any]:
        """Read entries until one matches (entries read on the way are kept in :attr:`entries`)."""
        for entry in self.entries:
            if predicate(entry):
                return entry
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no such entry; got {[(e['kind'], e['detail']) for e in self.entries][-20:]}")
            event, _id, data = await self.event(remaining)
            assert event == "entries", event
            self.lost += data["lost"]
            self.entries.extend(data["entries"])
            for entry in data["entries"]:
                if predicate(entry):
                    return entry


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key=KEY) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def open_live(session: aiohttp.ClientSession, emu: Emulator, **headers: str) -> Live:
    response = await session.get(f"{emu.endpoint}/trace/api/live", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return Live(response)


def kind(name: str, **detail: Any) -> Callable[[Dict[str, Any]], bool]:
    return lambda e: e["kind"] == name and all(e["detail"].get(k) == v for k, v in detail.items())


# ---------------------------------------------------------------------------------------------------- files


async def test_the_page_and_its_files_come_from_the_package_with_strict_headers(
    emu: Emulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{emu.endpoint}/trace") as page:
        html = await page.text()
        assert page.status == 200 and page.content_type == "text/html"
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["Cache-Control"] == "no-store"
    assert "<title>Live trace" in html
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert referenced == ["data:,", "/trace/static/trace.css", "/trace/static/trace.js"]  # nothing from elsewhere
    for path, media_type in (("/trace/static/trace.css", "text/css"), ("/trace/static/trace.js", "text/javascript")):
        async with session.get(emu.endpoint + path) as asset:
            assert asset.status == 200 and asset.content_type == media_type
            assert asset.headers["X-Content-Type-Options"] == "nosniff"
            text = await asset.text()
            assert "http://" not in text and "https://" not in text
    for missing in ("/trace/static/../server.py", "/trace/static/index.html", "/trace/nothing", "/trace/api/x"):
        async with session.get(emu.endpoint + missing) as answer:
            assert answer.status == 404, missing
    async with session.get(f"{emu.endpoint}/trace/", allow_redirects=False) as slash:
        assert slash.status == 308 and slash.headers["Location"] == "/trace"
    async with session.head(f"{emu.endpoint}/trace") as head:
        assert head.status == 200


def test_the_readme_states_the_limits_in_force() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "emulator" / "README.md").read_text(encoding="utf-8").split())
    script = (root / "emulator" / "webpubsub_emulator" / "trace_static" / "trace.js").read_text(encoding="utf-8")
    keep = re.search(r"const KEEP = (\d+);", script)
    rows = re.search(r"const ROWS = (\d+);", script)
    assert keep and rows
    for promise in (
        f"The page keeps the newest {keep.group(1)} entries and shows {rows.group(1)}.",
        f"one ring of the newest {limits.TRACE_FEED_ENTRIES} entries",
        f"at most {limits.TRACE_BATCH_ENTRIES} entries per write and one write per "
        f"{limits.TRACE_FLUSH_SECONDS * 1000:.0f} ms",
        f"a page that takes nothing for {limits.TRACE_WRITE_TIMEOUT_SECONDS:.0f} s is disconnected",
        f"At most {limits.TRACE_MAX_WATCHERS} pages watch at once",
        f"valid for {limits.TRACE_LOGIN_SECONDS // 3600} hours",
        f"their first {limits.TRACE_PREVIEW_CHARS} characters",
    ):
        assert promise in readme, promise


# ---------------------------------------------------------------------------------------------------- data


async def test_the_snapshot_lists_hubs_and_live_connections(emu: Emulator, session: aiohttp.ClientSession) -> None:
    api = Api(session, emu, hub="chat")
    ws, cid = await api.connect(user="alice", groups=["room", "all"])
    raw, _ = await api.connect(protocol=None, hub="other")
    async with session.get(f"{emu.endpoint}/trace/api/snapshot") as answer:
        assert answer.status == 200 and answer.content_type == "application/json"
        snapshot = await answer.json()
    assert snapshot["access"] == "local"
    hubs = {h["name"]: h for h in snapshot["hubs"]}
    assert set(hubs) == {"chat", "other"}
    (alice,) = hubs["chat"]["connections"]
    assert (alice["connection"], alice["user"], alice["protocol"], alice["groups"], alice["state"]) == (
        cid,
        "alice",
        JSON,
        ["all", "room"],
        "open",
    )
    assert alice["since"] <= snapshot["now"]
    assert hubs["other"]["connections"][0]["protocol"] == "raw"
    await ws.close()
    await raw.close()


async def test_the_live_channel_shows_what_happens_as_it_happens(
    session: aiohttp.ClientSession, handler: HandlerServer
) -> None:
    handler_url = handler.url + "?code=handler-secret"  # a handler's key in its URL, as Azure Functions have it
    async with Emulator(access_key=KEY, event_handlers={"chat": handler_url}) as emu:
        live = await open_live(session, emu)
        first = await live.snapshot()
        assert first["hubs"] == [] and first["seq"] == 0 and first["resumed"] is False

        api = Api(session, emu, hub="chat")
        ws, cid = await api.connect(user="alice", roles=["webpubsub.sendToGroup.room"], groups=["room"])
        opened = await live.until(kind("session", event="open"))
        assert (opened["hub"], opened["connection"], opened["user"]) == ("chat", cid, "alice")
        assert opened["detail"]["protocol"] == JSON
        connect = await live.until(kind("upstream", event="connect"))
        assert connect["detail"]["status"] == 204 and connect["detail"]["ms"] >= 0
        assert "handler-secret" not in json.dumps(live.entries)

        await ws.send_str(json.dumps({"type": "sendToGroup", "group": "room", "data": "hello room"}))
        message = await recv(ws)
        frame_in = await live.until(kind("frame-in", type="text"))
        assert "hello room" in frame_in["detail"]["text"] and frame_in["groups"] == ["room"]
        frame_out = await live.until(lambda e: e["kind"] == "frame-out" and e["detail"].get("text") == message.data)
        assert frame_out["user"] == "alice"

        assert await api.send_to_user("alice", b"just for you") == 202
        rest = await live.until(kind("rest", status=202))
        assert (rest["hub"], rest["user"], rest["detail"]["operation"]) == ("chat", "alice", "send_to_user")
        assert json.loads((await recv(ws)).data)["data"] == "just for you"

        assert await api.close_connection(cid, reason="maintenance") == 204
        close = await live.until(kind("frame-out", type="close"))
        assert (close["connection"], close["detail"]["code"]) == (cid, 1000)
        ended = await live.until(kind("session", event="close"))
        assert ended["detail"]["reason"] == "maintenance" and ended["user"] == "alice"
        await live.until(kind("upstream", event="disconnected"))
        assert [e["seq"] for e in live.entries] == sorted(e["seq"] for e in live.entries)
        assert live.lost == 0
        await ws.close()
        live.response.close()


async def test_nobody_watching_means_nobody_subscribed(emu: Emulator, session: aiohttp.ClientSession) -> None:
    assert not emu.trace.observers
    live = await open_live(session, emu)
    await live.snapshot()
    assert len(emu.trace.observers) == 1
    second = await open_live(session, emu)
    await second.snapshot()
    assert len(emu.trace.observers) == 1  # one feed for every watcher
    async with session.get(f"{emu.endpoint}/trace/api/snapshot") as answer:
        assert (await answer.json())["watchers"] == 2  # asking for a snapshot is no watching
    live.response.close()
    second.response.close()
    for _ in range(300):  # the channel notices within a second or so that its page went away
        if not emu.trace.observers:
            break
        await asyncio.sleep(0.02)
    assert not emu.trace.observers
    async with session.get(f"{emu.endpoint}/trace/api/snapshot") as answer:
        assert (await answer.json())["watchers"] == 0


async def test_a_watcher_that_falls_behind_loses_entries_and_is_told_how_many(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(limits, "TRACE_FEED_ENTRIES", 50)
    monkeypatch.setattr(limits, "TRACE_BATCH_ENTRIES", 10)
    monkeypatch.setattr(limits, "TRACE_FLUSH_SECONDS", 0.3)
    async with Emulator(access_key=KEY) as emu:
        live = await open_live(session, emu)
        await live.snapshot()
        api = Api(session, emu)
        # 200 entries at once: the page gets 10 every 0.3 s from a ring of 50
        statuses = await asyncio.gather(*(api.call("GET", "/nothing-here") for _ in range(200)))
        assert {status for status, _ in statuses} == {404}
        got: List[int] = []
        lost = 0
        while len(got) + lost < 200:
            event, event_id, batch = await live.event()
            assert event == "entries" and len(batch["entries"]) <= 10
            lost += batch["lost"]
            got.extend(e["seq"] for e in batch["entries"])
            assert event_id == str(got[-1])
        assert lost >= 200 - 50 - 10 and len(got) + lost == 200  # every entry is either shown or counted
        assert got == sorted(got) and got[-1] == 199  # what it gets is the newest
        live.response.close()


async def test_a_stalled_watcher_holds_nobody_up(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(limits, "TRACE_FEED_ENTRIES", 500)
    monkeypatch.setattr(limits, "TRACE_FLUSH_SECONDS", 0.01)
    async with Emulator(access_key=KEY) as emu:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # and it never reads
        stalled.connect(("127.0.0.1", emu.port))
        stalled.sendall(f"GET /trace/api/live HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\n\r\n".encode())
        live = await open_live(session, emu)
        await live.snapshot()
        api = Api(session, emu)
        clients = [await api.connect(user=f"reader{n}", protocol=None) for n in range(40)]  # raw: frames as sent
        body = b"x" * 1200
        # about 10 MB of entries, more than the socket buffers between the emulator and the stalled watcher hold; paced
        # so that the reading watcher never falls 500 entries behind
        for _round in range(50):
            for _ in range(4):
                assert await api.send_to_all(body) == 202
            for ws, _cid in clients:
                for _ in range(4):
                    assert (await recv(ws)).data == body.decode()
            last = live.entries[-1]["seq"] if live.entries else -1
            await live.until(lambda e, last=last: e["seq"] >= last + 4 * 41)
        assert live.lost == 0  # the clients (above) and the reading watcher got everything
        # the stalled one was left behind: when it reads at last, it is told what it lost
        stalled.setblocking(False)
        loop = asyncio.get_running_loop()
        data = b""
        while not re.search(rb'"lost":[1-9]', data[-(1 << 16) :]):
            chunk = await asyncio.wait_for(loop.sock_recv(stalled, 1 << 20), 5)
            assert chunk, "the stalled watcher was disconnected before it was told"
            data += chunk
        stalled.close()
        for ws, _cid in clients:
            await ws.close()
        live.response.close()


async def test_a_watcher_that_takes_nothing_for_too_long_is_disconnected(
    monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(limits, "TRACE_WRITE_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(limits, "TRACE_FLUSH_SECONDS", 0.01)
    caplog.set_level(logging.INFO, logger="webpubsub_emulator.trace_page")
    async with Emulator(access_key=KEY) as emu:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # and it never reads
        stalled.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(stalled, ("127.0.0.1", emu.port))
        await loop.sock_sendall(stalled, f"GET /trace/api/live HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\n\r\n".encode())
        api = Api(session, emu)
        clients = [await api.connect(protocol=None) for _ in range(20)]
        snapshot = f"{emu.endpoint}/trace/api/snapshot"
        deadline = loop.time() + 20
        while True:  # until its socket is full and a write waits longer than allowed
            for _ in range(20):
                assert await api.send_to_all(b"y" * 1200) == 202
            async with session.get(snapshot) as answer:
                if (await answer.json())["watchers"] == 0:
                    break
            assert loop.time() < deadline, "the stalled watcher was never let go"
            await asyncio.sleep(0.05)
        assert not emu.trace.observers
        assert "stopped reading; disconnected" in caplog.text
        assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        data = b""
        with pytest.raises((ConnectionError, OSError)):  # what it had not read went with it
            while True:
                chunk = await asyncio.wait_for(loop.sock_recv(stalled, 1 << 20), 5)
                if not chunk:
                    raise ConnectionResetError("closed")
                data += chunk
        stalled.close()
        for ws, _cid in clients:
            await ws.close()


async def test_a_returning_page_gets_what_it_missed(emu: Emulator, session: aiohttp.ClientSession) -> None:
    keeper = await open_live(session, emu)  # keeps the feed recording
    await keeper.snapshot()
    api = Api(session, emu)
    live = await open_live(session, emu)
    await live.snapshot()
    assert await api.send_to_all(b"one") == 202
    seen = await live.until(kind("rest"))
    live.response.close()
    for _ in range(3):
        assert await api.send_to_all(b"more") == 202
    await keeper.until(lambda e: e["seq"] == seen["seq"] + 3)
    back = await open_live(session, emu, **{"Last-Event-ID": str(seen["seq"])})
    snapshot = await back.snapshot()
    assert snapshot["resumed"] is True
    missed = await back.until(lambda e: e["seq"] == seen["seq"] + 3)
    assert [e["seq"] for e in back.entries] == [seen["seq"] + 1, seen["seq"] + 2, missed["seq"]]
    fresh = await open_live(session, emu, **{"Last-Event-ID": "not a number"})
    assert (await fresh.snapshot())["resumed"] is False
    for reader in (keeper, back, fresh):
        reader.response.close()


async def test_watchers_are_capped(
    monkeypatch: pytest.MonkeyPatch, emu: Emulator, session: aiohttp.ClientSession
) -> None:
    monkeypatch.setattr(limits, "TRACE_MAX_WATCHERS", 2)
    first, second = await open_live(session, emu), await open_live(session, emu)
    await first.snapshot()
    await second.snapshot()
    async with session.get(f"{emu.endpoint}/trace/api/live") as third:
        assert third.status == 503
        assert (await third.json())["code"] == "ServiceUnavailable"
    first.response.close()
    second.response.close()


async def test_watchers_are_let_go_when_the_emulator_stops(session: aiohttp.ClientSession) -> None:
    emu = Emulator(access_key=KEY)
    await emu.start()
    live = await open_live(session, emu)
    await live.snapshot()
    await asyncio.wait_for(emu.stop(), 10)
    with pytest.raises((AssertionError, aiohttp.ClientError)):
        while True:
            await live.event(timeout=5)
    assert not emu.trace.observers


# ---------------------------------------------------------------------------------------------------- access


def signed_in_cookie(answer: aiohttp.ClientResponse) -> str:
    header = answer.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/trace" in header
    assert "Secure" not in header  # plain HTTP here
    return header.split(";", 1)[0].split("=", 1)[1]


async def test_through_a_proxy_the_page_needs_the_key_sent_once_in_a_form(
    emu: Emulator, session: aiohttp.ClientSession
) -> None:
    proxied = {"X-Forwarded-For": "198.51.100.7"}
    async with session.get(f"{emu.endpoint}/trace", headers=proxied) as page:
        html = await page.text()
        assert page.status == 200 and 'action="/trace/sign-in"' in html and 'type="password"' in html
        assert "trace.js" not in html  # the sign-in form, not the trace
        assert f"valid for {limits.TRACE_LOGIN_SECONDS // 3600} hours" in html
    for path in ("/trace/api/snapshot", "/trace/api/live"):
        async with session.get(emu.endpoint + path, headers=proxied) as answer:
            assert answer.status == 401 and (await answer.json())["code"] == "Unauthorized"
    assert not emu.trace.observers

    async with session.post(
        f"{emu.endpoint}/trace/sign-in", data={"key": KEY[:-1] + "?"}, headers=proxied, allow_redirects=False
    ) as wrong:
        text = await wrong.text()
        assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
        assert "not this emulator's access key" in text and KEY[:-1] not in text
    async with session.post(
        f"{emu.endpoint}/trace/sign-in", data={"key": KEY}, headers=proxied, allow_redirects=False
    ) as right:
        assert right.status == 303 and right.headers["Location"] == "/trace"
        cookie = signed_in_cookie(right)
        assert KEY not in cookie and KEY not in await right.text()
    signed_in = {**proxied, "Cookie": f"{COOKIE}={cookie}"}
    async with session.get(f"{emu.endpoint}/trace", headers=signed_in) as page:
        assert "trace.js" in await page.text()
    async with session.get(f"{emu.endpoint}/trace/api/snapshot", headers=signed_in) as answer:
        assert answer.status == 200 and (await answer.json())["access"] == "signed-in"
    live = await open_live(session, emu, **signed_in)
    assert (await live.snapshot())["access"] == "signed-in"
    live.response.close()
    async with session.post(f"{emu.endpoint}/trace/sign-out", headers=signed_in, allow_redirects=False) as out:
        assert out.status == 303 and f"{COOKIE}=" in out.headers["Set-Cookie"]
        assert "Max-Age=0" in out.headers["Set-Cookie"] or "expires" in out.headers["Set-Cookie"].lower()

    other_key = {**proxied, "Cookie": f"{COOKIE}={mint_sign_in('some-other-key-0123456789abcdefghijkl')}"}
    async with session.get(f"{emu.endpoint}/trace/api/snapshot", headers=other_key) as answer:
        assert answer.status == 401
    async with session.post(
        f"{emu.endpoint}/trace/sign-in", data="x" * (limits.TRACE_LOGIN_BYTES + 1), headers=proxied
    ) as huge:
        assert huge.status == 413


async def test_a_rebound_name_or_another_sites_page_gets_nothing(emu: Emulator, session: aiohttp.ClientSession) -> None:
    rebound = {"Host": f"evil.example:{emu.port}"}  # a DNS-rebinding page: loopback, under the attacker's name
    for path in ("/trace", "/trace/api/snapshot", "/trace/api/live", "/trace/static/trace.js"):
        async with session.get(emu.endpoint + path, headers=rebound) as answer:
            assert answer.status == 400, path  # the emulator's Host check, as for REST and clients
            assert "does not name this emulator" in (await answer.json())["message"]
    async with session.post(f"{emu.endpoint}/trace/sign-in", data={"key": KEY}, headers=rebound) as answer:
        assert answer.status == 400 and "Set-Cookie" not in answer.headers
    cross = {"Origin": "http://evil.example"}
    for method, path in (("GET", "/trace"), ("GET", "/trace/api/snapshot"), ("GET", "/trace/api/live")):
        async with session.request(method, emu.endpoint + path, headers=cross) as answer:
            assert answer.status == 403, path
    async with session.post(f"{emu.endpoint}/trace/sign-in", data={"key": KEY}, headers=cross) as answer:
        assert answer.status == 403 and "Set-Cookie" not in answer.headers
    same = {"Origin": emu.endpoint}
    async with session.get(f"{emu.endpoint}/trace/api/snapshot", headers=same) as answer:
        assert answer.status == 200
    assert not emu.trace.observers
