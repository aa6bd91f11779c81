"""The emulator's runners: :class:`Emulator` (in the current event loop) and :class:`EmulatorThread` (a thread)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Generic,
    Iterable,
    Mapping,
    Optional,
    Sequence,
    TypedDict,
    TypeVar,
    Union,
    cast,
    overload,
)

from aiohttp import web

from . import auth, limits
from .app import GATEWAY_KEY, MQTT_KEY, REST_KEY, create_app
from .core import Core
from .faults import FaultInjector, FaultPlan, RestRecord
from .trace import Trace
from .upstream import Upstream
from .upstream_contract import EventHandler
from .websocket import DEFAULT_ACK_DELAY

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["DEFAULT_ACCESS_KEY", "Emulator", "EmulatorOptions", "EmulatorThread"]

log = logging.getLogger(__name__)

#: The well-known development key (the same one the other local emulators use). Not a secret.
DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
_TICK_SECONDS = 1.0


def _format_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class EmulatorOptions(TypedDict, total=False):
    """The keyword options of :class:`Emulator` and :class:`EmulatorThread`."""

    event_handlers: Optional[Mapping[str, Union[str, Sequence[EventHandler]]]]
    event_failure: str
    faults: Optional[FaultPlan]
    ack_delay: float
    clock: Callable[[], float]


class Emulator:
    """A running emulator inside the current event loop: ``async with Emulator(port=0) as emu: ...``.

    ``port=0`` picks a free port; after start-up :attr:`port`, :attr:`endpoint` and :attr:`connection_string` tell
    where it listens. ``event_handlers`` maps hub names to upstream handlers: a URL template (every event goes there)
    or a list of :class:`~webpubsub_emulator.upstream.EventHandler`. ``event_failure`` says what happens to a JSON
    client whose user event fails upstream: ``"close"`` (the default: an ``InternalServerError`` ack, ``disconnected``
    and close 1011) or ``"ack"`` (only the ``InternalServerError`` ack; the connection stays open).

    ``faults`` is the initial :class:`~webpubsub_emulator.faults.FaultPlan` (none by default; change it at any time
    with :meth:`set_faults`). ``ack_delay`` is how many seconds a JSON client's ack is held back (default 5 ms, 0 for
    none); other traffic is not held up. ``clock`` drives message TTLs and the recovery window.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = DEFAULT_ACCESS_KEY,
        *,
        event_handlers: Optional[Mapping[str, Union[str, Sequence[EventHandler]]]] = None,
        event_failure: str = "close",
        faults: Optional[FaultPlan] = None,
        ack_delay: float = DEFAULT_ACK_DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        if not 0 <= ack_delay <= 10:
            raise ValueError("ack_delay must be between 0 and 10 seconds")
        self.ack_delay = float(ack_delay)
        self.fault_injector = FaultInjector(faults)
        self.access_key = auth.check_key(access_key)
        if event_failure not in ("close", "ack"):
            raise ValueError("event_failure must be 'close' or 'ack'")
        self.event_failure = event_failure
        self.event_handlers: dict[str, list[EventHandler]] = {}
        for hub, value in (event_handlers or {}).items():
            handlers = [EventHandler(value)] if isinstance(value, str) else list(value)
            self.event_handlers.setdefault(hub.lower(), []).extend(handlers)
        self._requested_port = port
        #: The port it listens on: the one asked for, or once started the free one ``port=0`` picked.
        self.port = port
        #: what the emulator does, for observers (see :mod:`webpubsub_emulator.trace`)
        self.trace = Trace()
        self.core = Core(clock, trace=self.trace)
        self._runner: Optional[web.AppRunner] = None
        self._ticker: Optional[asyncio.Task[None]] = None

    @property
    def endpoint(self) -> str:
        """The HTTP base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{_format_host(self.host)}:{self.port}"

    @property
    def faults(self) -> FaultPlan:
        """The fault plan in force."""
        return self.fault_injector.plan

    def set_faults(self, plan: Optional[FaultPlan] = None) -> None:
        """Put a fault plan in force now (None: no faults). Safe to call from any thread."""
        self.fault_injector.set_plan(plan or FaultPlan())

    @property
    def rest_log(self) -> list[RestRecord]:
        """The newest REST requests the emulator saw (up to 1000; health probes excepted), oldest first."""
        return self.fault_injector.rest_log

    @property
    def connection_string(self) -> str:
        """A connection string the server SDKs accept."""
        return f"Endpoint={self.endpoint};AccessKey={self.access_key};Version=1.0;"

    def client_url(
        self,
        hub: str,
        *,
        user_id: Optional[str] = None,
        roles: Iterable[str] = (),
        groups: Iterable[str] = (),
        minutes_to_expire: int = 60,
    ) -> str:
        """A ready-to-use client URL ``ws://HOST:PORT/client/hubs/<hub>?access_token=<jwt>`` minted by the emulator."""
        token = auth.mint_client_token(
            self.access_key,
            audience=f"{self.endpoint}/client/hubs/{hub}",
            user_id=user_id,
            roles=roles,
            groups=groups,
            minutes_to_expire=minutes_to_expire,
        )
        return f"ws://{_format_host(self.host)}:{self.port}/client/hubs/{hub}?access_token={token}"

    async def start(self) -> None:
        """Start listening; returns once requests are accepted."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # the endpoint (used for `aud` checks) is only known once the port is bound, so the app reads it lazily
        upstream = (
            Upstream(self.access_key, self.endpoint, self.event_handlers, trace=self.trace)
            if self.event_handlers
            else None
        )
        app = create_app(self.core, self.access_key, self.endpoint, upstream, self.fault_injector)
        app[GATEWAY_KEY].close_on_event_failure = self.event_failure == "close"
        app[GATEWAY_KEY].ack_delay = self.ack_delay
        # long filters make long URLs, and the REST token signs the full URL: allow more than aiohttp's 8 KiB default
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=2.0,
            max_line_size=limits.MAX_LINE_BYTES,
            max_field_size=limits.MAX_LINE_BYTES,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        app[REST_KEY].endpoint = self.endpoint
        app[GATEWAY_KEY].endpoint = self.endpoint
        app[MQTT_KEY].endpoint = self.endpoint
        if upstream is not None:
            upstream.endpoint = self.endpoint
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        log.info("emulator listening on %s", self.endpoint)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            try:
                for conn in self.core.expire():
                    log.info("connection %s ended: %s", conn.connection_id, conn.close_reason)
            except Exception:
                log.exception("periodic expiry failed")

    async def stop(self) -> None:
        """Close every client connection and stop listening."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        await self.stop()


_T = TypeVar("_T")


class _FromEmulator(Generic[_T]):
    """A read-only attribute of :class:`EmulatorThread` that reads the same attribute of its :class:`Emulator`."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: Optional[type] = None) -> _FromEmulator[_T]: ...

    @overload
    def __get__(self, obj: EmulatorThread, owner: Optional[type] = None) -> _T: ...

    def __get__(self, obj: Optional[EmulatorThread], owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return cast(_T, getattr(obj.emulator, self._name))

    def __set__(self, obj: EmulatorThread, value: _T) -> None:
        raise AttributeError(f"{self._name} is read-only")


class EmulatorThread:
    """The emulator running in a background thread with its own event loop: ``with EmulatorThread() as emu: ...``.

    It takes the same options and exposes the same attributes as :class:`Emulator`.
    """

    host = _FromEmulator[str]("The listening host.")
    port = _FromEmulator[int]("The listening port (the real one once started, also with ``port=0``).")
    access_key = _FromEmulator[str]("The access key.")
    endpoint = _FromEmulator[str]("The HTTP base URL.")
    connection_string = _FromEmulator[str]("A connection string the server SDKs accept.")
    faults = _FromEmulator[FaultPlan]("The fault plan in force.")
    rest_log = _FromEmulator[list[RestRecord]]("The newest REST requests the emulator saw, oldest first.")
    trace = _FromEmulator[Trace]("What the emulator does, for observers (called on the emulator's thread).")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = DEFAULT_ACCESS_KEY,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        self.emulator = Emulator(host, port, access_key, **options)
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._started = threading.Event()
        self._stop: Optional[asyncio.Event] = None
        self._error: Optional[BaseException] = None

    def set_faults(self, plan: Optional[FaultPlan] = None) -> None:
        """See :meth:`Emulator.set_faults`."""
        self.emulator.set_faults(plan)

    def client_url(
        self,
        hub: str,
        *,
        user_id: Optional[str] = None,
        roles: Iterable[str] = (),
        groups: Iterable[str] = (),
        minutes_to_expire: int = 60,
    ) -> str:
        """See :meth:`Emulator.client_url`."""
        return self.emulator.client_url(
            hub, user_id=user_id, roles=roles, groups=groups, minutes_to_expire=minutes_to_expire
        )

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                await self.emulator.start()
            except BaseException as exc:
                self._error = exc
                self._started.set()
                return
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                await self.emulator.stop()

        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and wait until the emulator accepts requests."""
        if self._thread is not None:
            raise RuntimeError("the emulator thread is already running")
        self._thread = threading.Thread(target=self._run, name="webpubsub-emulator", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the emulator did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the emulator and join its thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(
        self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.stop()
