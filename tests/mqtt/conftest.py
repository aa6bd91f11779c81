"""Fixtures for the MQTT layer's tests: the Node mqtt-packet oracle (one process for the whole run)."""

from __future__ import annotations

import sys
from typing import Iterator, List

import pytest
from mqtt_support import NodeOracle

#: mqtt5 0.8.0 ships CPython >= 3.11 wheels only (requirements-dev.txt pins it with that marker). Below 3.11 its
#: oracle module is not collected, the report header says so, and the 5.0 cross-check rests on mqtt-packet alone.
MQTT5_ORACLE = sys.version_info >= (3, 11)
collect_ignore: List[str] = [] if MQTT5_ORACLE else ["test_mqtt_oracle_mqtt5.py"]


def pytest_report_header() -> str:
    if MQTT5_ORACLE:
        return "mqtt: 5.0 oracles mqtt5 0.8.0 and mqtt-packet 9.0.2; 3.1.1 oracle mqtt-packet 9.0.2"
    return (
        "mqtt: mqtt5 0.8.0 oracle NOT run on this Python (wheels for >= 3.11 only); "
        "5.0 and 3.1.1 cross-checked by mqtt-packet 9.0.2"
    )


@pytest.fixture(scope="session")
def node_oracle() -> Iterator[NodeOracle]:
    oracle = NodeOracle()
    try:
        yield oracle
    finally:
        oracle.close()
