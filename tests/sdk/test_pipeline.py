"""The client's pipeline crosses each run of SansIO policies in one step, and loses nothing by it.

The policies, their order and their hooks are azure-core's and the generated client's; only the frames are fewer.
These tests prove it three ways: the same policy objects sit in the same order as in the generated pipeline; a chain
calls every hook (including ``on_exception``) in exactly the order azure-core's one-runner-per-policy pipeline does;
and each feature that lives in those policies still works when asked for: request ids, retries, redirects, logging,
custom hooks (tracing: test_tracing.py).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Optional

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline import AsyncPipeline, Pipeline
from azure.core.pipeline.policies import HTTPPolicy, SansIOHTTPPolicy
from azure.core.rest import HttpRequest

from .conftest import (
    ACCESS_KEY,
    ENDPOINT,
    HUB,
    AsyncRecordingTransport,
    Recorder,
    RecordingTransport,
    Reply,
    decode_rest_jwt,
    sdk_module,
)

pipeline_module = sdk_module("._custom.pipeline")


def flat_policies(client: Any) -> list:
    """The policies of a client's pipeline, outermost first, with chains, runners and wrappers unwrapped."""
    wrappers = (pipeline_module.RandomRequestIdPolicy, pipeline_module.EmptyBodyContentDecodePolicy)
    found = []
    for node in client._client._pipeline._impl_policies:
        for policy in getattr(node, "policies", None) or [getattr(node, "_policy", node)]:
            found.append(policy.policy if isinstance(policy, wrappers) else policy)
    return found


@pytest.mark.parametrize("flavour", ["", ".aio"])
def test_the_pipeline_holds_the_generated_policies_in_their_order(flavour: str) -> None:
    module = sdk_module(flavour)
    generated_module = sdk_module(flavour + "._client")
    client = module.WebPubSubServiceClient(ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY))
    construction = sdk_module("._custom.construction")
    _, kwargs = construction.client_settings(
        ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), {}, asynchronous=bool(flavour)
    )
    generated = generated_module.WebPubSubServiceClient(HUB, ENDPOINT, AzureKeyCredential(ACCESS_KEY), **kwargs)
    expected = [getattr(node, "_policy", node) for node in generated._client._pipeline._impl_policies]

    ours = flat_policies(client)

    assert [type(p) for p in ours] == [type(p) for p in expected]
    config = client._config
    for name in ("headers_policy", "user_agent_policy", "proxy_policy", "redirect_policy", "retry_policy"):
        assert getattr(config, name) in ours  # the very objects the configuration exposes
    for name in ("authentication_policy", "custom_hook_policy", "logging_policy", "http_logging_policy"):
        assert getattr(config, name) in ours
    assert len(client._client._pipeline._impl_policies) < len(expected) / 2  # fewer frames per request


@pytest.mark.parametrize("flavour", ["", ".aio"])
def test_a_callers_own_policy_list_is_kept_as_given(flavour: str) -> None:
    class Marker(SansIOHTTPPolicy):
        pass

    class Wrapper(HTTPPolicy):
        def send(self, request: Any) -> Any:  # pragma: no cover - never sent here
            return self.next.send(request)

    policies = [Marker(), Marker(), Wrapper(), Marker()]
    client = sdk_module(flavour).WebPubSubServiceClient(
        ENDPOINT, HUB, AzureKeyCredential(ACCESS_KEY), policies=policies
    )
    assert flat_policies(client) == policies


# ---------------------------------------------------------------------------------------------------- hook order


class Recording(SansIOHTTPPolicy):
    """Records its hook calls; raises from the hook named in ``fail``."""

    def __init__(self, name: str, log: list, fail: Optional[str] = None) -> None:
        super().__init__()
        self.name, self.log, self.fail = name, log, fail

    def _hook(self, hook: str) -> None:
        self.log.append(f"{self.name}.{hook}")
        if self.fail == hook:
            raise RuntimeError(f"{self.name}.{hook}")

    def on_request(self, request: Any) -> None:
        self._hook("on_request")

    def on_response(self, request: Any, response: Any) -> None:
        self._hook("on_response")

    def on_exception(self, request: Any) -> None:
        self._hook("on_exception")


def _transport(asynchronous: bool, fails: bool) -> Any:
    def reply(sent: Any) -> Reply:
        if fails:
            raise ConnectionError("transport")
        return Reply(200)

    recorder = Recorder()
    recorder.script(reply)
    return AsyncRecordingTransport(recorder) if asynchronous else RecordingTransport(recorder)


SCENARIOS = {
    "success": (None, None, False),
    "transport fails": (None, None, True),
    "inner on_request fails": ("c", "on_request", False),
    "middle on_response fails": ("b", "on_response", False),
    "outer on_response fails": ("a", "on_response", False),
    "on_exception fails": ("b", "on_exception", True),
}


async def _hook_order(grouped: bool, asynchronous: bool, scenario: str) -> tuple[list, Optional[str]]:
    who, hook, transport_fails = SCENARIOS[scenario]
    log: list = []
    policies: list = [Recording(n, log, hook if n == who else None) for n in ("a", "b", "c")]
    if grouped:
        chain = pipeline_module.AsyncSansIOPolicyChain if asynchronous else pipeline_module.SansIOPolicyChain
        policies = [chain(policies)]
    error = None
    try:
        if asynchronous:
            await AsyncPipeline(_transport(True, transport_fails), policies=policies).run(HttpRequest("GET", ENDPOINT))
        else:
            Pipeline(_transport(False, transport_fails), policies=policies).run(HttpRequest("GET", ENDPOINT))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return log, error


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "aio"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_chain_calls_the_hooks_exactly_as_azure_cores_runners_do(asynchronous: bool, scenario: str) -> None:
    expected = await _hook_order(False, asynchronous, scenario)
    assert await _hook_order(True, asynchronous, scenario) == expected
    assert expected[0]  # the scenario ran hooks at all


# ---------------------------------------------------------------------------------------------------- features


async def test_request_ids_are_set_per_call_and_kept_across_retries(sdk: Any) -> None:
    client = sdk.client(retry_total=2, retry_backoff_factor=0)
    sdk.script(503, 202, 202)

    await sdk.call(client.send_to_all, {"a": 1})
    await sdk.call(client.send_to_all, {"a": 2})

    first, retried, second = (s.headers["x-ms-client-request-id"] for s in sdk.recorder.sent)
    assert first == retried  # one id per operation, as azure-core's RequestIdPolicy gives
    assert first != second
    assert uuid.UUID(first).version == 4


async def test_a_request_id_given_per_call_or_per_client_is_used(sdk: Any) -> None:
    client = sdk.client()
    sdk.script(202, 202)
    await sdk.call(client.send_to_all, {"a": 1}, request_id="my-id-1")
    await sdk.call(client.send_to_all, {"a": 1}, headers={"x-ms-client-request-id": "my-id-2"})
    assert [s.headers["x-ms-client-request-id"] for s in sdk.recorder.sent] == ["my-id-1", "my-id-2"]

    quiet = sdk.client(auto_request_id=False)
    sdk.script(202)
    await sdk.call(quiet.send_to_all, {"a": 1})
    assert "x-ms-client-request-id" not in sdk.recorder.last.headers


async def test_retries_still_happen_and_give_up(sdk: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    client = sdk.client(retry_total=2, retry_backoff_factor=0)
    sdk.script(503, Reply(429, headers={"Retry-After": "0"}), 202)
    await sdk.call(client.send_to_all, "hi")
    assert len(sdk.recorder.sent) == 3

    sdk.script(503, 503, 503)
    with pytest.raises(HttpResponseError):
        await sdk.call(client.send_to_all, "hi")
    assert len(sdk.recorder.sent) == 6


async def test_redirects_are_followed_and_each_hop_is_signed(sdk: Any) -> None:
    client = sdk.client()
    moved = f"{ENDPOINT}/api/hubs/{HUB}/moved/:send?api-version=2024-12-01"
    sdk.script(Reply(307, headers={"Location": moved}), 202)

    await sdk.call(client.send_to_all, "hi")

    first, second = sdk.recorder.sent
    assert second.url == moved
    assert second.body == first.body == b"hi"
    decode_rest_jwt(second)  # aud = the redirected URL, freshly signed


async def test_redirects_can_be_turned_off(sdk: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    client = sdk.client(permit_redirects=False)
    sdk.script(Reply(307, headers={"Location": f"{ENDPOINT}/elsewhere"}))
    with pytest.raises(HttpResponseError):
        await sdk.call(client.send_to_all, "hi")
    assert len(sdk.recorder.sent) == 1


async def test_logging_and_custom_hooks_still_run(sdk: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list = []
    client = sdk.client(logging_enable=True, raw_request_hook=lambda r: seen.append(r.http_request.url))
    sdk.script(202)

    await sdk.call(client.send_to_all, "hi", raw_response_hook=lambda r: seen.append(r.http_response.status_code))

    assert seen == [sdk.recorder.only.url, 202]
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Request URL: ") and r.levelno == logging.DEBUG for m, r in zip(messages, caplog.records))
    assert any(m.startswith("Response status: ") for m in messages)
    assert any("Authorization': 'REDACTED'" in m for m in messages)


@pytest.mark.parametrize(
    ("reply", "stream"),
    [
        (Reply(202), False),
        (Reply(200, {"token": "t"}), False),
        (Reply(200, "plain text"), False),
        (Reply(200, b"", headers={"Content-Type": "application/json"}), False),
        (Reply(200, {"token": "t"}), True),
    ],
)
async def test_content_decoding_gives_what_azure_cores_policy_gives(sdk: Any, reply: Reply, stream: bool) -> None:
    from azure.core.pipeline.policies import ContentDecodePolicy, CustomHookPolicy

    outcomes = []
    for wrap in (False, True):
        policy: Any = ContentDecodePolicy()
        if wrap:
            policy = pipeline_module.EmptyBodyContentDecodePolicy(policy)
        client = sdk.client(policies=[CustomHookPolicy(), policy])  # the hook sees the decoded context
        sdk.script(reply)
        seen: dict = {}
        await sdk.call(
            client.send_request,
            HttpRequest("GET", "/api/health"),
            stream=stream,
            raw_response_hook=lambda r, seen=seen: seen.update(r.context),
        )
        outcomes.append(seen.get(ContentDecodePolicy.CONTEXT_NAME, "absent"))
    assert outcomes[0] == outcomes[1]
    expected = {"token": "t"} if reply.body == {"token": "t"} else "plain text" if reply.body == "plain text" else None
    assert outcomes[0] == ("absent" if stream else expected)
