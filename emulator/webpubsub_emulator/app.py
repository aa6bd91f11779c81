"""The composition root: one aiohttp application wiring the adapters to one :class:`~.core.Core`.

The REST adapter serves ``/api/...``, the WebSocket adapter ``/client/...``, the MQTT adapter ``/clients/mqtt/...``,
the live trace page ``/trace``; the WebSocket and MQTT adapters reach the upstream adapter through its
:class:`~.upstream_contract.UpstreamPort`. Adapters never import each other: only this module knows all of them.
"""

from __future__ import annotations

from typing import Optional

from aiohttp import web

from . import limits
from .core import Core
from .fanout_pump import FanOutPump
from .faults import FaultInjector
from .mqtt_websocket import MqttGateway
from .rest import RestApi
from .trace_page import TracePage
from .upstream import Upstream
from .websocket import WebSocketGateway

__all__ = ["CORE_KEY", "GATEWAY_KEY", "MQTT_KEY", "REST_KEY", "TRACE_PAGE_KEY", "create_app"]

CORE_KEY = web.AppKey("core", Core)
REST_KEY = web.AppKey("rest", RestApi)
GATEWAY_KEY = web.AppKey("gateway", WebSocketGateway)
MQTT_KEY = web.AppKey("mqtt", MqttGateway)
TRACE_PAGE_KEY = web.AppKey("trace_page", TracePage)


def create_app(
    core: Core,
    access_key: str,
    endpoint: str,
    upstream: Optional[Upstream] = None,
    faults: Optional[FaultInjector] = None,
) -> web.Application:
    """Build the aiohttp application serving ``/api/...`` (REST), ``/client/...`` (WebSocket clients),
    ``/clients/mqtt/hubs/{hub}`` (MQTT clients) and ``/trace`` (the live trace page).

    With ``faults`` the REST calls pass through the fault plan and the WebSocket writers ask it whether to drop. The
    REST adapter applies it on its own route only: as an application middleware its frame would stay alive with every
    WebSocket connection, and the app would run aiohttp's middleware chain for each.
    """
    pump = FanOutPump(core)
    rest = RestApi(core, access_key, endpoint, faults, core.trace, pump)
    gateway = WebSocketGateway(core, access_key, endpoint, upstream, faults, core.trace, pump)
    mqtt = MqttGateway(core, access_key, endpoint, upstream, faults, core.trace, pump)
    trace_page = TracePage(core, access_key, endpoint, core.trace)
    app = web.Application(client_max_size=limits.CLIENT_MAX_REQUEST_BYTES)
    app[CORE_KEY] = core
    app[REST_KEY] = rest
    app[GATEWAY_KEY] = gateway
    app[MQTT_KEY] = mqtt
    app[TRACE_PAGE_KEY] = trace_page
    app.router.add_route("*", "/api/{tail:[\\s\\S]*}", rest.handle)
    app.router.add_route("*", "/client", gateway.handle)
    app.router.add_route("*", "/client/{tail:[\\s\\S]*}", gateway.handle)
    app.router.add_route("GET", "/clients/mqtt/hubs/{hub}", mqtt.handle)
    app.router.add_route("*", "/trace", trace_page.handle)
    app.router.add_route("*", "/trace/{tail:[\\s\\S]*}", trace_page.handle)

    async def on_shutdown(_app: web.Application) -> None:
        await trace_page.close_all()
        await mqtt.close_all()
        await gateway.close_all()
        if upstream is not None:
            await upstream.drain_events()
            await upstream.close()

    app.on_shutdown.append(on_shutdown)
    return app
