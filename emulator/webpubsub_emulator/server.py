"""The emulator's runners: :class:`Emulator` (in the current event loop) and :class:`EmulatorThread` (a thread)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import ssl
import tempfile
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

from . import auth, exposure, limits, tls
from .activity_log import ActivityLog
from .app import GATEWAY_KEY, MQTT_KEY, REST_KEY, TRACE_PAGE_KEY, create_app
from .connection_guard import GuardedRunner
from .core import Core
from .faults import FaultInjector, FaultPlan, RestRecord
from .trace import Trace
from .upstream import Upstream
from .upstream_contract import EventHandler, HandlerSpec, handlers_of
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

    event_handlers: Optional[Mapping[str, HandlerSpec]]
    event_failure: str
    faults: Optional[FaultPlan]
    ack_delay: float
    clock: Callable[[], float]
    allow_default_key: bool
    public_hosts: Sequence[str]
    tls_cert: Optional[str]
    tls_key: Optional[str]
    tls_self_signed: Union[bool, str]
    accept_entra_tokens: bool


class Emulator:
    """A running emulator inside the current event loop: ``async with Emulator(port=0) as emu: ...``.

    ``port=0`` picks a free port; after start-up :attr:`port`, :attr:`endpoint` and :attr:`connection_string` tell
    where it listens. ``event_handlers`` maps hub names to upstream handlers: a URL template (every event goes there)
    or a list of :class:`~webpubsub_emulator.EventHandler`. ``event_failure`` says what happens to a JSON
    client whose user event fails upstream: ``"close"`` (the default: an ``InternalServerError`` ack, ``disconnected``
    and close 1011) or ``"ack"`` (only the ``InternalServerError`` ack; the connection stays open).

    ``faults`` is the initial :class:`~webpubsub_emulator.faults.FaultPlan` (none by default; change it at any time
    with :meth:`set_faults`). ``ack_delay`` is how many seconds a JSON client's ack is held back (default 5 ms, 0 for
    none); other traffic is not held up. ``clock`` drives message TTLs and the recovery window.

    Exposure: a ``host`` beyond loopback logs a warning, and with :data:`~webpubsub_emulator.DEFAULT_ACCESS_KEY` it
    is refused (``ValueError``) unless ``allow_default_key=True``. ``public_hosts`` are other names that reach this
    emulator (``name`` or ``name:port``): requests whose ``Host`` header names anything else are refused with 400.

    TLS: ``tls_cert`` and ``tls_key`` (PEM files) serve https and wss; ``tls_self_signed=True`` makes a certificate
    for the emulator's names in a temporary directory (a path: in that directory, reused while valid); then
    :attr:`tls_cert_file` is the certificate clients should trust. ``accept_entra_tokens=True`` (TLS only; for local
    testing only) lets REST calls in with a Microsoft Entra bearer token for ``https://webpubsub.azure.com`` whose
    lifetime is valid, WITHOUT checking its signature.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = DEFAULT_ACCESS_KEY,
        *,
        event_handlers: Optional[Mapping[str, HandlerSpec]] = None,
        event_failure: str = "close",
        faults: Optional[FaultPlan] = None,
        ack_delay: float = DEFAULT_ACK_DELAY,
        clock: Callable[[], float] = time.monotonic,
        allow_default_key: bool = False,
        public_hosts: Sequence[str] = (),
        tls_cert: Optional[str] = None,
        tls_key: Optional[str] = None,
        tls_self_signed: Union[bool, str] = False,
        accept_entra_tokens: bool = False,
    ) -> None:
        self.host = host
        if not 0 <= ack_delay <= 10:
            raise ValueError("ack_delay must be between 0 and 10 seconds")
        self.ack_delay = float(ack_delay)
        self.fault_injector = FaultInjector(faults)
        self.access_key = auth.check_key(access_key)
        exposure.check_bind(host, self.access_key, DEFAULT_ACCESS_KEY, allow_default_key=allow_default_key)
        self.public_hosts = tuple(public_hosts)
        exposure.ServerNames(host, port, self.public_hosts)  # a bad public host is refused now, not at start
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if tls_self_signed and tls_cert is not None:
            raise ValueError("give either tls_cert/tls_key or tls_self_signed, not both")
        self._tls_files = tls.TlsFiles(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
        self._tls_self_signed = tls_self_signed
        self._tls_temp: Optional[str] = None
        if accept_entra_tokens and not (self._tls_files or tls_self_signed):
            raise ValueError("accept_entra_tokens needs TLS (tls_cert/tls_key or tls_self_signed)")
        self.accept_entra_tokens = accept_entra_tokens
        if event_failure not in ("close", "ack"):
            raise ValueError("event_failure must be 'close' or 'ack'")
        self.event_failure = event_failure
        self.event_handlers: dict[str, list[EventHandler]] = {}
        for hub, value in (event_handlers or {}).items():
            self.event_handlers.setdefault(hub.lower(), []).extend(handlers_of(value))
        self._requested_port = port
        #: The port it listens on: the one asked for, or once started the free one ``port=0`` picked.
        self.port = port
        #: what the emulator does, for observers (see :class:`~webpubsub_emulator.Trace`)
        self.trace = Trace()
        self.core = Core(clock, trace=self.trace)
        self._runner: Optional[web.AppRunner] = None
        self._ticker: Optional[asyncio.Task[None]] = None
        self._activity: Optional[ActivityLog] = None
        #: log a warning at start when listening beyond loopback (the CLI prints its own banner instead)
        self.announce_exposure = True

    @property
    def scheme(self) -> str:
        """``https`` when serving TLS, else ``http``."""
        return "https" if self._tls_files is not None or self._tls_self_signed else "http"

    @property
    def endpoint(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (``https://`` with TLS)."""
        return f"{self.scheme}://{_format_host(self.host)}:{self.port}"

    @property
    def tls_cert_file(self) -> Optional[str]:
        """The TLS certificate in use (PEM), which clients trust for a self-signed one; None without TLS."""
        return self._tls_files.cert_file if self._tls_files is not None else None

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
        """A ready-to-use client URL ``ws://HOST:PORT/client/hubs/<hub>?access_token=<jwt>`` minted by the emulator
        (``wss://`` with TLS)."""
        token = auth.mint_client_token(
            self.access_key,
            audience=f"{self.endpoint}/client/hubs/{hub}",
            user_id=user_id,
            roles=roles,
            groups=groups,
            minutes_to_expire=minutes_to_expire,
        )
        ws_scheme = "wss" if self.scheme == "https" else "ws"
        return f"{ws_scheme}://{_format_host(self.host)}:{self.port}/client/hubs/{hub}?access_token={token}"

    async def start(self) -> None:
        """Start listening; returns once requests are accepted."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        warning = exposure.bind_warning(self.host)
        if warning and self.announce_exposure:
            log.warning("%s", warning)
        ssl_context = self._ssl_context()
        # the endpoint (used for `aud` checks) is only known once the port is bound, so the app reads it lazily
        upstream = (
            Upstream(self.access_key, self.endpoint, self.event_handlers, trace=self.trace)
            if self.event_handlers
            else None
        )
        app = create_app(self.core, self.access_key, self.endpoint, upstream, self.fault_injector)
        app[GATEWAY_KEY].close_on_event_failure = self.event_failure == "close"
        app[GATEWAY_KEY].ack_delay = self.ack_delay
        # long filters make long URLs, and the REST token signs the full URL: allow more than aiohttp's 8 KiB default;
        # until its first request head has arrived a connection is bounded by the guard (see connection_guard.py)
        runner = GuardedRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=2.0,
            max_line_size=limits.MAX_LINE_BYTES,
            max_field_size=limits.MAX_LINE_BYTES,
            max_headers=limits.MAX_HEADERS,
            keepalive_timeout=limits.KEEPALIVE_TIMEOUT_SECONDS,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True, ssl_context=ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._remove_temp_tls()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        names = exposure.ServerNames(self.host, self.port, self.public_hosts)
        app[REST_KEY].endpoint = self.endpoint
        app[REST_KEY].names = names
        app[REST_KEY].accept_entra_tokens = self.accept_entra_tokens
        app[GATEWAY_KEY].endpoint = self.endpoint
        app[GATEWAY_KEY].names = names
        app[MQTT_KEY].endpoint = self.endpoint
        app[MQTT_KEY].names = names
        app[TRACE_PAGE_KEY].names = names
        if upstream is not None:
            upstream.endpoint = self.endpoint
        self._activity = ActivityLog.attach(self.trace)
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        log.info("emulator listening on %s", self.endpoint)

    def _ssl_context(self) -> Optional[ssl.SSLContext]:
        if self._tls_self_signed and self._tls_files is None:
            if isinstance(self._tls_self_signed, str):
                directory = self._tls_self_signed
            else:
                directory = self._tls_temp = tempfile.mkdtemp(prefix="webpubsub-emulator-tls-")
            self._tls_files = tls.self_signed(directory, [self.host, *self.public_hosts])
            log.info("TLS: self-signed certificate (trust it to connect): %s", self._tls_files.cert_file)
        return tls.server_context(self._tls_files) if self._tls_files is not None else None

    def _remove_temp_tls(self) -> None:
        if self._tls_temp is not None:
            shutil.rmtree(self._tls_temp, ignore_errors=True)
            self._tls_temp = None
            self._tls_files = None

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
        if self._activity is not None:
            self._activity.detach()
            self._activity = None
        self._remove_temp_tls()

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
    endpoint = _FromEmulator[str]("The base URL (``http://`` or, with TLS, ``https://``).")
    scheme = _FromEmulator[str]("``https`` when serving TLS, else ``http``.")
    tls_cert_file = _FromEmulator[Optional[str]]("The TLS certificate in use (PEM; what clients trust), or None.")
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
            try:
                _finish_leftover_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
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


def _finish_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is still pending on a stopped emulator's loop and let it unwind (as :func:`asyncio.run` does), within
    :data:`~.limits.CLOSE_GRACE_SECONDS`: e.g. aiohttp's handler still draining the rest of a body the emulator
    already answered. Closing the loop under a pending task loses it with a "Task was destroyed" warning."""
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.wait(tasks, timeout=limits.CLOSE_GRACE_SECONDS))
