"""webpubsub-emulator: a local, offline Azure Web PubSub service (REST API and WebSocket client protocols).

It is an independent implementation of the service contract and never imports the server SDK.
"""

from .faults import FaultPlan, RestRecord
from .server import DEFAULT_ACCESS_KEY, Emulator, EmulatorThread
from .trace import Trace, TraceEvent
from .upstream_contract import EventHandler

__all__ = [
    "DEFAULT_ACCESS_KEY",
    "Emulator",
    "EmulatorThread",
    "EventHandler",
    "FaultPlan",
    "RestRecord",
    "Trace",
    "TraceEvent",
]
__version__ = "0.1.0"
