"""Real MQTT clients against a real broker over loopback: paho-mqtt (threaded), MQTT.js (Node), and the brokers
(the emulator's MQTT endpoint, Mosquitto as a reference), plus small JSON/raw WebSocket clients for cross-protocol
checks. Tests wait for what they expect with a timeout; they never sleep to let something happen, except where they
assert that nothing happens (``no_message``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import jwt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties as PahoProperties

TIMEOUT = 5.0
ALL_ROLES = ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")
NODE_DIR = Path(__file__).resolve().parents[1] / "mqtt" / "node"


def new_hub() -> str:
    return "mq" + uuid.uuid4().hex[:10]


def new_id() -> str:
    return "c" + uuid.uuid4().hex[:16]


def mqtt_token(
    endpoint: str,
    key: str,
    hub: str,
    *,
    user: Optional[str] = None,
    roles: Sequence[str] = ALL_ROLES,
    groups: Sequence[str] = (),
    lifetime: float = 600,
    path: str = "/clients/mqtt/hubs/",
) -> str:
    """An MQTT client token as the SDK mints it: ``aud`` = endpoint + ``/clients/mqtt/hubs/<hub>``."""
    claims: Dict[str, Any] = {"aud": f"{endpoint}{path}{hub}", "exp": int(time.time() + lifetime)}
    if user is not None:
        claims["sub"] = user
    if roles:
        claims["role"] = list(roles)
    if groups:
        claims["webpubsub.group"] = list(groups)
    return jwt.encode(claims, key, algorithm="HS256")


@dataclass
class Broker:
    """Where MQTT clients connect: the emulator (tokens in the path) or Mosquitto (anonymous)."""

    name: str
    port: int
    endpoint: str = ""
    key: str = ""
    hub: str = ""

    @property
    def is_emulator(self) -> bool:
        return self.name == "emulator"

    def path(self, **token: Any) -> str:
        if not self.is_emulator:
            return "/mqtt"
        return f"/clients/mqtt/hubs/{self.hub}?access_token={mqtt_token(self.endpoint, self.key, self.hub, **token)}"

    def url(self, **token: Any) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path(**token)}"


def emulator_broker(emu: Any, hub: Optional[str] = None) -> Broker:
    return Broker("emulator", emu.port, emu.endpoint, emu.access_key, hub or new_hub())


# ---------------------------------------------------------------------------------------------------- paho
class Paho:
    """A paho-mqtt 2.x client over WebSocket on its own network thread; every callback lands in a queue per kind."""

    def __init__(
        self,
        broker: Broker,
        client_id: str,
        *,
        version: int = 5,
        clean: bool = True,
        keepalive: int = 60,
        path: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        will: Optional[Tuple[str, bytes, int]] = None,
        will_properties: Optional[PahoProperties] = None,
        session_expiry: Optional[int] = None,
        user_properties: Sequence[Tuple[str, str]] = (),
        username: Optional[str] = None,
        password: Optional[str] = None,
        **token: Any,
    ) -> None:
        self.version = version
        self.clean = clean
        self.keepalive = keepalive
        self.broker = broker
        # made up front: a defaultdict filled from two threads (paho's and the test's) can make two queues for one key
        kinds = ("connect", "message", "suback", "unsuback", "disconnect")
        self.queues: Dict[str, queue.Queue[Any]] = {kind: queue.Queue() for kind in kinds}
        protocol = paho.MQTTv5 if version == 5 else paho.MQTTv311
        self.client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            transport="websockets",
            protocol=protocol,
            clean_session=None if version == 5 else clean,
            reconnect_on_failure=False,
        )
        self.client.ws_set_options(path=path if path is not None else broker.path(**token), headers=headers)
        if will is not None:
            self.client.will_set(will[0], will[1], will[2], properties=will_properties)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connect_properties: Optional[PahoProperties] = None
        if version == 5 and (session_expiry is not None or user_properties):
            props = PahoProperties(PacketTypes.CONNECT)
            if session_expiry is not None:
                props.SessionExpiryInterval = session_expiry
            if user_properties:
                props.UserProperty = list(user_properties)
            self.connect_properties = props
        c = self.client
        c.on_connect = lambda _c, _u, flags, rc, props: self.queues["connect"].put((rc, flags.session_present, props))
        c.on_message = lambda _c, _u, msg: self.queues["message"].put(msg)
        c.on_subscribe = lambda _c, _u, mid, rcs, props: self.queues["suback"].put(rcs)
        c.on_unsubscribe = lambda _c, _u, mid, rcs, props: self.queues["unsuback"].put(rcs)
        c.on_disconnect = lambda _c, _u, flags, rc, props: self.queues["disconnect"].put((rc, props))
        self.log: List[str] = []  # paho's own log, shown when an expected callback does not come
        c.on_log = lambda _c, _u, _level, line: self.log.append(line)
        self._started = False

    def connect(self) -> Tuple[Any, bool, Any]:
        """Connect and wait for the CONNACK: (reason code, session present, properties)."""
        kwargs: Dict[str, Any] = {"keepalive": self.keepalive}
        if self.version == 5:
            kwargs["clean_start"] = self.clean
            kwargs["properties"] = self.connect_properties
        self.client.connect("127.0.0.1", self.broker.port, **kwargs)
        self.client.loop_start()
        self._started = True
        return self.next("connect")

    def refused(self) -> Tuple[Any, Any]:
        """Connect, expecting a refusing CONNACK and the close: (reason code, properties)."""
        rc, present, props = self.connect()
        assert rc.is_failure, rc
        assert present is False
        self.next("disconnect")
        return rc, props

    def next(self, kind: str, timeout: float = TIMEOUT) -> Any:
        try:
            return self.queues[kind].get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {kind} within {timeout} s; paho's log ends {self.log[-6:]}") from None

    def message(self, timeout: float = TIMEOUT) -> paho.MQTTMessage:
        return self.next("message", timeout)

    def messages(self, n: int, timeout: float = TIMEOUT) -> List[paho.MQTTMessage]:
        return [self.message(timeout) for _ in range(n)]

    def no_message(self, timeout: float = 0.4) -> None:
        try:
            msg = self.queues["message"].get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {msg.topic!r}: {msg.payload!r}")

    def subscribe(self, topic: str, qos: int = 1, **options: Any) -> List[Any]:
        if self.version == 5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            props = options.pop("properties", None)
            self.client.subscribe(topic, options=SubscribeOptions(qos=qos, **options), properties=props)
        else:
            self.client.subscribe(topic, qos)
        return list(self.next("suback"))

    def unsubscribe(self, topic: str) -> List[Any]:
        self.client.unsubscribe(topic)
        return list(self.next("unsuback"))

    def publish(
        self, topic: str, payload: bytes, qos: int = 0, properties: Optional[PahoProperties] = None
    ) -> paho.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos, properties=properties)
        if qos:
            info.wait_for_publish(TIMEOUT)
            assert info.is_published(), "no acknowledgment within the timeout"
        return info

    def disconnected(self, timeout: float = TIMEOUT) -> Tuple[Any, Any]:
        return self.next("disconnect", timeout)

    def disconnect(self, reason: Optional[int] = None, properties: Optional[PahoProperties] = None) -> None:
        from paho.mqtt.reasoncodes import ReasonCode as PahoReasonCode

        code = PahoReasonCode(PacketTypes.DISCONNECT, identifier=reason) if reason is not None else None
        self.client.disconnect(reasoncode=code, properties=properties)
        self.next("disconnect")

    def drop(self) -> None:
        """Lose the connection without a DISCONNECT (the socket is shut down under paho)."""
        sock: Any = self.client.socket()
        assert sock is not None
        sock = getattr(sock, "_socket", sock)  # paho wraps the TCP socket in its WebSocket layer
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        self.next("disconnect")

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(Exception):
                self.client.disconnect()
            self.client.loop_stop()
            self._started = False


def props(packet_type: int = PacketTypes.PUBLISH, **values: Any) -> PahoProperties:
    p = PahoProperties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def user_props(msg: paho.MQTTMessage) -> List[Tuple[str, str]]:
    return list(getattr(msg.properties, "UserProperty", None) or [])


# ---------------------------------------------------------------------------------------------------- Mosquitto
def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if found is None:
        raise RuntimeError("mosquitto is not installed (make pytest installs Debian's mosquitto when it is missing)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def mosquitto() -> Iterator[Broker]:
    """Debian's Mosquitto on a free loopback port with a WebSocket listener, anonymous, nothing persisted."""
    port, tcp_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        # Mosquitto 2.0.11 refuses to start with WebSocket listeners only: a loopback TCP listener goes beside it
        conf.write_text(
            f"listener {port} 127.0.0.1\nprotocol websockets\nlistener {tcp_port} 127.0.0.1\nprotocol mqtt\n"
            "allow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\n",
            encoding="ascii",
        )
        proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {proc.stderr.read() if proc.stderr else ''}")
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not listen within 10 s")
                time.sleep(0.05)
            yield Broker("mosquitto", port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------------------------------------------- MQTT.js
class NodeMqtt:
    """MQTT.js 5 (npm ``mqtt``) run by Node, driven by one JSON command per line (tests/mqtt/node/client.js)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (NODE_DIR / "node_modules" / "mqtt").is_dir():
            raise RuntimeError("MQTT.js is not installed: run `make venv` (npm ci in tests/mqtt/node)")
        self.proc = subprocess.Popen(
            [node, str(NODE_DIR / "client.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = threading.Lock()  # the reader thread and the test thread both make queues on first use
        self._queues: Dict[str, queue.Queue[Dict[str, Any]]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            self._queue_of(event["event"]).put(event)

    def _queue_of(self, kind: str) -> queue.Queue[Dict[str, Any]]:
        with self._lock:
            return self._queues.setdefault(kind, queue.Queue())

    def send(self, op: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.proc.stdin.flush()

    def next(self, kind: str, timeout: float = TIMEOUT) -> Dict[str, Any]:
        try:
            return self._queue_of(kind).get(timeout=timeout)
        except queue.Empty:
            stderr = ""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                stderr = self.proc.stderr.read()
            raise AssertionError(f"MQTT.js: no {kind} within {timeout} s {stderr}") from None

    def connect(self, url: str, **options: Any) -> Dict[str, Any]:
        self.send("connect", url=url, options=options)
        return self.next("connect")

    def subscribe(self, topic: str, **options: Any) -> List[Dict[str, Any]]:
        self.send("subscribe", topic=topic, options=options)
        return list(self.next("suback")["granted"])

    def publish(self, topic: str, payload: bytes, **options: Any) -> Dict[str, Any]:
        self.send("publish", topic=topic, payload=base64.b64encode(payload).decode(), options=options)
        return self.next("published")

    def message(self, timeout: float = TIMEOUT) -> Dict[str, Any]:
        event = self.next("message", timeout)
        event["payload"] = base64.b64decode(event["payload"])
        return event

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_until(predicate: Any, timeout: float = TIMEOUT, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------------- upstream
@dataclass
class Recorded:
    """One event request the recording handler got."""

    path: str
    headers: Dict[str, str]
    header_lines: List[Tuple[str, str]]
    body: bytes

    @property
    def ce_type(self) -> str:
        return self.headers.get("ce-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingHandler:
    """An event handler over plain HTTP that records every event and answers with ``answer(recorded)``:
    ``(status, [(header, value)], body)``; abuse-protection requests are allowed."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.events: queue.Queue[Recorded] = queue.Queue()
        self.answer: Any = lambda recorded: (200, [], b"")
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                self.send_response(200)
                self.send_header("WebHook-Allowed-Origin", "*")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                lines = [(k, v) for k, v in self.headers.items()]
                recorded = Recorded(self.path, {k.lower(): v for k, v in lines}, lines, body)
                status, headers, data = outer.answer(recorded)
                outer.events.put(recorded)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events/{{event}}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, ce_type: Optional[str] = None, timeout: float = TIMEOUT) -> Recorded:
        """The next event (of ``ce_type``, skipping others)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                recorded = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {ce_type or 'event'} within {timeout} s") from None
            if ce_type is None or recorded.ce_type == ce_type:
                return recorded

    def none(self, ce_type: str, timeout: float = 0.4) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                recorded = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            assert recorded.ce_type != ce_type, f"unexpected {ce_type}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
