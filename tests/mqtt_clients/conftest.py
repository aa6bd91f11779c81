"""Fixtures for the MQTT client tests: an emulator, a hub on it, the SDK, and real clients closed after each test."""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest
from azure.messaging.webpubsubservice import WebPubSubServiceClient
from mqtt_clients_support import Broker, Paho, emulator_broker, mosquitto


@pytest.fixture
def broker(webpubsub_emulator: Any) -> Broker:
    """The emulator's MQTT endpoint, on a hub of the test's own."""
    return emulator_broker(webpubsub_emulator)


@pytest.fixture
def service(webpubsub_emulator: Any, broker: Broker) -> Iterator[WebPubSubServiceClient]:
    client = WebPubSubServiceClient.from_connection_string(webpubsub_emulator.connection_string, hub=broker.hub)
    with client:
        yield client


@pytest.fixture
def paho_clients() -> Iterator[Callable[..., Paho]]:
    """``paho_clients(broker, client_id, **options)``: a connected-later paho client, stopped after the test."""
    made: List[Paho] = []

    def make(broker: Broker, client_id: str, **options: Any) -> Paho:
        client = Paho(broker, client_id, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


@pytest.fixture(scope="session")
def mosquitto_broker() -> Iterator[Broker]:
    """One Mosquitto for the session (the reference broker)."""
    with mosquitto() as broker:
        yield broker
