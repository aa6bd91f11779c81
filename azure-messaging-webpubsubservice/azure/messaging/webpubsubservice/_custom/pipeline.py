# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The client's pipeline, with fewer layers per request: each run of SansIO policies is crossed in one step.

azure-core wraps every :class:`~azure.core.pipeline.policies.SansIOHTTPPolicy` of a pipeline in a runner of its own,
so a request crosses one ``send`` frame per policy, and in the async pipeline three more coroutines per policy (each
``on_request`` / ``on_exception`` / ``on_response`` result is checked for being awaitable). The generated client's 13
policies hold 11 SansIO ones; with 64 concurrent sends that bookkeeping costs more than the policies' own work.

:func:`group_sansio_policies` rebuilds the client's pipeline from the same policy objects, in the same order, with
each run of consecutive SansIO policies behind one :class:`SansIOPolicyChain` (or :class:`AsyncSansIOPolicyChain`).
A chain calls the hooks exactly as the runners would: ``on_request`` in order; ``on_response`` in reverse order;
and, when a hook or the rest of the pipeline raises, ``on_exception`` of every policy outside the failing point, inner
first. Retry, redirect and the token policies stay as they are, between the chains, so every attempt and every
redirect passes through the same policies as before. Logging, tracing, request ids, custom hooks and the caller's
own ``policies`` / ``per_call_policies`` / ``per_retry_policies`` work unchanged: only the frames are fewer.
azure-core's request-id policy is wrapped in :class:`RandomRequestIdPolicy`, so the ids it generates are random
(its time-based ones cost about 15 us each), and its content-decode policy in :class:`EmptyBodyContentDecodePolicy`,
which skips guessing the text encoding of an empty body.
"""

import inspect
import uuid
from typing import Any, Callable, List, Sequence, Tuple

from azure.core.pipeline import AsyncPipeline, Pipeline, PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    AsyncHTTPPolicy,
    ContentDecodePolicy,
    HTTPPolicy,
    RequestIdPolicy,
    SansIOHTTPPolicy,
)

__all__ = [
    "AsyncSansIOPolicyChain",
    "EmptyBodyContentDecodePolicy",
    "RandomRequestIdPolicy",
    "SansIOPolicyChain",
    "group_sansio_policies",
]

_REQUEST_ID_HEADER = "x-ms-client-request-id"
_DEFAULT_REQUEST_ID = getattr(RequestIdPolicy(), "_request_id", object())  # azure-core's "not set" marker


class RandomRequestIdPolicy(SansIOHTTPPolicy[Any, Any]):
    """azure-core's :class:`~azure.core.pipeline.policies.RequestIdPolicy`, with random request ids.

    The wrapped policy still decides everything (a per-call ``request_id``, ``set_request_id``, ``auto_request_id``,
    a header the caller set); only the id it would generate is a random UUID (version 4) instead of a time-based one
    (version 1, which also carries the host's MAC address): ``uuid1()`` costs about 15 us here, ``uuid4()`` 2 us.

    :param policy: The client's request-id policy.
    :type policy: ~azure.core.pipeline.policies.RequestIdPolicy
    """

    def __init__(self, policy: RequestIdPolicy) -> None:
        super().__init__()
        self.policy = policy
        """The wrapped policy."""
        self._header: str = getattr(policy, "_request_id_header_name", _REQUEST_ID_HEADER)

    def _generates(self) -> bool:
        """Whether the wrapped policy would generate an id: no fixed id set, and ``auto_request_id`` on."""
        policy = self.policy
        return getattr(policy, "_request_id", None) is _DEFAULT_REQUEST_ID and bool(
            getattr(policy, "_auto_request_id", False)
        )

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Set the request id header.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        headers = request.http_request.headers
        if "request_id" not in request.context.options and self._header not in headers and self._generates():
            headers[self._header] = str(uuid.uuid4())  # what the wrapped policy would do, with another id
            return
        self.policy.on_request(request)


class EmptyBodyContentDecodePolicy(SansIOHTTPPolicy[Any, Any]):
    """azure-core's :class:`~azure.core.pipeline.policies.ContentDecodePolicy`, without the work for an empty body.

    For a response read whole (not streamed) with an empty body the wrapped policy always records None as the
    deserialized data, after guessing the body's text encoding (about 6 us); most Web PubSub answers (202, 204, 200
    without content) have no body. Any other response goes through the wrapped policy.

    :param policy: The client's content-decode policy.
    :type policy: ~azure.core.pipeline.policies.ContentDecodePolicy
    """

    def __init__(self, policy: ContentDecodePolicy) -> None:
        super().__init__()
        self.policy = policy
        """The wrapped policy."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        """Record the response encoding the call asked for, as the wrapped policy does.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        """
        self.policy.on_request(request)

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        """Deserialize the body, unless it is empty (then the deserialized data is None, as the wrapped policy sets).

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        :param response: The pipeline response.
        :type response: ~azure.core.pipeline.PipelineResponse
        """
        if not response.context.options.get("stream", True):
            try:
                empty = not response.http_response.content
            except Exception:  # not read, or a legacy transport response: let the wrapped policy decide
                empty = False
            if empty:
                response.context[ContentDecodePolicy.CONTEXT_NAME] = None
                return
        self.policy.on_response(request, response)


def _unwind(policies: Tuple[SansIOHTTPPolicy[Any, Any], ...], request: PipelineRequest[Any], count: int) -> None:
    """Call ``on_exception`` of the first ``count`` policies, inner first, as the nested runners would."""
    error = None
    for policy in reversed(policies[:count]):
        try:
            policy.on_exception(request)
        except Exception as exc:  # an outer runner would see this one instead; keep unwinding
            error = exc
    if error is not None:
        raise error


class SansIOPolicyChain(HTTPPolicy[Any, Any]):
    """Several SansIO policies crossed in one step of the sync pipeline.

    :param policies: The policies, outermost first.
    :type policies: list[~azure.core.pipeline.policies.SansIOHTTPPolicy]
    """

    def __init__(self, policies: Sequence[SansIOHTTPPolicy[Any, Any]]) -> None:
        super().__init__()
        self.policies: Tuple[SansIOHTTPPolicy[Any, Any], ...] = tuple(policies)
        """The policies, outermost first."""

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        """Run the policies' hooks around the rest of the pipeline.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        :return: The pipeline response.
        :rtype: ~azure.core.pipeline.PipelineResponse
        """
        policies = self.policies
        entered = 0
        try:
            for policy in policies:
                policy.on_request(request)
                entered += 1
            response = self.next.send(request)
        except Exception:
            _unwind(policies, request, entered)
            raise
        index = len(policies)
        try:
            while index:
                index -= 1
                policies[index].on_response(request, response)
        except Exception:
            _unwind(policies, request, index)
            raise
        return response

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[type(p).__name__ for p in self.policies]})"


class AsyncSansIOPolicyChain(AsyncHTTPPolicy[Any, Any]):
    """Several SansIO policies crossed in one step of the async pipeline (a hook may return an awaitable).

    :param policies: The policies, outermost first.
    :type policies: list[~azure.core.pipeline.policies.SansIOHTTPPolicy]
    """

    def __init__(self, policies: Sequence[SansIOHTTPPolicy[Any, Any]]) -> None:
        super().__init__()
        self.policies: Tuple[SansIOHTTPPolicy[Any, Any], ...] = tuple(policies)
        """The policies, outermost first."""

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        """Run the policies' hooks around the rest of the pipeline.

        :param request: The pipeline request.
        :type request: ~azure.core.pipeline.PipelineRequest
        :return: The pipeline response.
        :rtype: ~azure.core.pipeline.PipelineResponse
        """
        policies = self.policies
        entered = 0
        try:
            for policy in policies:
                result: Any = policy.on_request(request)
                if result is not None and inspect.isawaitable(result):
                    await result
                entered += 1
            response = await self.next.send(request)
        except Exception:
            await _unwind_async(policies, request, entered)
            raise
        index = len(policies)
        try:
            while index:
                index -= 1
                result = policies[index].on_response(request, response)
                if result is not None and inspect.isawaitable(result):
                    await result
        except Exception:
            await _unwind_async(policies, request, index)
            raise
        return response

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[type(p).__name__ for p in self.policies]})"


async def _unwind_async(
    policies: Tuple[SansIOHTTPPolicy[Any, Any], ...], request: PipelineRequest[Any], count: int
) -> None:
    error = None
    for policy in reversed(policies[:count]):
        try:
            # typed as returning None in azure-core 1.39 (the newest for Python 3.9), but an async policy's hook may
            # return a coroutine
            hook: Callable[[PipelineRequest[Any]], Any] = policy.on_exception
            result = hook(request)
            if result is not None and inspect.isawaitable(result):
                await result
        except Exception as exc:
            error = exc
    if error is not None:
        raise error


def _original_policies(pipeline: Any) -> List[Any]:
    """The policies a pipeline was built from, outermost first: azure-core's runners unwrapped."""
    policies = []
    for node in pipeline._impl_policies:
        inner = getattr(node, "_policy", None)
        policies.append(inner if isinstance(inner, SansIOHTTPPolicy) else node)
    return policies


def group_sansio_policies(pipeline_client: Any, *, asynchronous: bool) -> None:
    """Rebuild a ``PipelineClient``'s pipeline with each run of SansIO policies behind one chain.

    The policy objects, their order and the transport are kept. If the pipeline does not have the shape azure-core
    gives it (a future azure-core), it is left as it is.

    :param pipeline_client: The generated client's ``PipelineClient`` / ``AsyncPipelineClient`` (``client._client``).
    :type pipeline_client: ~azure.core.PipelineClient or ~azure.core.AsyncPipelineClient
    :keyword bool asynchronous: The pipeline is an ``AsyncPipeline``.
    """
    pipeline = getattr(pipeline_client, "_pipeline", None)
    transport = getattr(pipeline, "_transport", None)
    if transport is None or not isinstance(getattr(pipeline, "_impl_policies", None), list):
        return
    chain = AsyncSansIOPolicyChain if asynchronous else SansIOPolicyChain
    grouped: List[Any] = []
    run: List[SansIOHTTPPolicy[Any, Any]] = []
    for policy in [*_original_policies(pipeline), None]:
        if type(policy) is RequestIdPolicy:
            policy = RandomRequestIdPolicy(policy)
        elif type(policy) is ContentDecodePolicy:
            policy = EmptyBodyContentDecodePolicy(policy)
        if isinstance(policy, SansIOHTTPPolicy):
            run.append(policy)
            continue
        if len(run) == 1:
            grouped.append(run[0])  # azure-core's own runner is as good for one policy
        elif run:
            grouped.append(chain(run))
        run = []
        if policy is not None:
            grouped.append(policy)
    pipeline_type = AsyncPipeline if asynchronous else Pipeline
    pipeline_client._pipeline = pipeline_type(transport, policies=grouped)
