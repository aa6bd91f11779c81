"""Shared settings and helpers for the property and fuzz tests.

Every test here is deterministic: ``derandomize=True`` derives the examples from the test itself, no example database
is read or written, and ``max_examples`` keeps the whole directory well under half a minute.
"""

from __future__ import annotations

import time
from typing import Any, Dict

import jwt
from hypothesis import HealthCheck, settings

ACCESS_KEY = "FuzzTestKey-0123456789-abcdefghijklmnopqrstuvwxyz"
HUB = "fuzzhub"
API_VERSION = "2024-12-01"
JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_PROTOCOL = "json.reliable.webpubsub.azure.v1"


def fuzz_settings(max_examples: int) -> Any:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def rest_token(url: str) -> str:
    return jwt.encode({"aud": url, "exp": int(time.time()) + 300}, ACCESS_KEY, algorithm="HS256")


def client_token(endpoint: str, hub: str = HUB, **claims: Any) -> str:
    payload: Dict[str, Any] = {"aud": f"{endpoint}/client/hubs/{hub}", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, ACCESS_KEY, algorithm="HS256")
