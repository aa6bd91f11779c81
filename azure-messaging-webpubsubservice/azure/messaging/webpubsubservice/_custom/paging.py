# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""Paging of ``list_connections``: the request of each page, the ``nextLink`` it follows, and the members it holds.

The sync and async clients wrap :class:`ListConnectionsPages` in an ``ItemPaged`` / ``AsyncItemPaged``; only running
the pipeline (and awaiting it) is theirs.
"""

from typing import Any, Callable, Dict, List, MutableMapping, Optional, Tuple
from urllib.parse import quote, unquote, urlsplit

from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest

from .error_details import error_map_for, expect_status
from .models import GroupMember

__all__ = ["ListConnectionsPages", "next_link_url"]


def next_link_url(next_link: str, api_version: str) -> str:
    """Turn a ``nextLink`` into the URL, relative to the client endpoint, of the next page request.

    The service may send the link absolute (possibly naming a proxy or another host) or relative. Only its path from
    ``/api/`` on and its query are kept, so the request goes to the client's endpoint (path prefix included);
    ``api-version`` is replaced with the client's.

    :param str next_link: The ``nextLink`` of a ``list_connections`` page (or a continuation token).
    :param str api_version: The client's api-version.
    :return: The relative path and query to request.
    :rtype: str
    """
    parts = urlsplit(next_link)
    # The query is kept byte for byte (a continuation token may hold '+', '/' or '='); only api-version is replaced.
    query = [
        item for item in parts.query.split("&") if item and unquote(item.split("=", 1)[0]).lower() != "api-version"
    ]
    query.append("api-version=" + quote(api_version, safe=""))
    path = parts.path
    anchor = path.find("/api/")
    if anchor > 0:
        path = path[anchor:]
    if not path.startswith("/"):
        path = "/" + path
    return path + "?" + "&".join(query)


class ListConnectionsPages:
    """One ``list_connections`` call: how to request each page and how to read it.

    :param client: The client (it provides the generated ``_config`` and ``_client``).
    :type client: any
    :param builder: The generated ``build_web_pub_sub_service_list_connections_request``.
    :type builder: callable
    :param str group: The group.
    :param top: The ``top`` keyword.
    :type top: int or None
    :param kwargs: The other keyword arguments of the call: the request options (``maxpagesize``,
        ``continuation_token_parameter``, ``headers``, ``params``), ``error_map`` and ``cls`` are taken out; the rest
        is left for the pipeline.
    :type kwargs: ~collections.abc.MutableMapping
    """

    def __init__(
        self,
        client: Any,
        builder: Callable[..., HttpRequest],
        group: str,
        top: Optional[int],
        kwargs: MutableMapping[str, Any],
    ) -> None:
        self._client = client
        self._builder = builder
        self._group = group
        self._options: Dict[str, Any] = {
            "top": top,
            "maxpagesize": kwargs.pop("maxpagesize", None),
            "continuation_token_parameter": kwargs.pop("continuation_token_parameter", None),
        }
        self._headers: Dict[str, str] = dict(kwargs.pop("headers", None) or {})
        self._params: Dict[str, Any] = dict(kwargs.pop("params", None) or {})
        self.error_map = error_map_for(kwargs)
        self._cls = kwargs.pop("cls", None)
        self.run_options: Dict[str, Any] = dict(kwargs)
        """The keyword arguments for ``pipeline.run`` (azure-core per-call options)."""

    def request(self, next_link: Optional[str]) -> HttpRequest:
        """Build the request of one page.

        :param next_link: The next link to follow, or None for the first page.
        :type next_link: str or None
        :return: The request, with its absolute URL.
        :rtype: ~azure.core.rest.HttpRequest
        """
        config = self._client._config
        headers = dict(self._headers)
        if not next_link:
            request = self._builder(
                group=self._group,
                hub=config.hub,
                api_version=config.api_version,
                headers=headers,
                params=dict(self._params),
                **self._options,
            )
        else:
            headers.setdefault("Accept", "application/json")
            request = HttpRequest("GET", next_link_url(next_link, config.api_version), headers=headers)
        request.url = self._client._client.format_url(request.url, endpoint=config.endpoint)
        return request

    def checked(self, pipeline_response: PipelineResponse[Any, Any]) -> PipelineResponse[Any, Any]:
        """Return a page's 200 response; raise the mapped error (with details) for any other status.

        :param pipeline_response: The page's pipeline response.
        :type pipeline_response: ~azure.core.pipeline.PipelineResponse
        :return: The pipeline response.
        :rtype: ~azure.core.pipeline.PipelineResponse
        """
        return expect_status(pipeline_response, 200, self.error_map)

    def page(self, pipeline_response: PipelineResponse[Any, Any]) -> Tuple[Optional[str], List[Any]]:
        """Read one page: its next link and its members (through ``cls`` when given).

        :param pipeline_response: The page's pipeline response.
        :type pipeline_response: ~azure.core.pipeline.PipelineResponse
        :return: The next link (None on the last page) and the items.
        :rtype: tuple[str or None, list[~azure.messaging.webpubsubservice.GroupMember]]
        """
        body = pipeline_response.http_response.json()
        if not isinstance(body, dict):
            return None, []
        members = [GroupMember._from_json(item) for item in body.get("value") or []]
        items: List[Any] = self._cls(members) if self._cls else members
        return body.get("nextLink") or None, items
