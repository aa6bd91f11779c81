# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Framework-neutral pieces the adapters share: the missing-framework error, ASGI paths, WSGI headers, status lines.

The adapters never import each other; whatever two of them need lives here, below them.
"""

from __future__ import annotations

import http
from typing import Any, List, Mapping, Tuple

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "asgi_path",
    "framework_missing",
    "missing_framework",
    "status_line",
    "wsgi_headers",
    "wsgi_path",
]

#: The largest request body the plain ASGI and WSGI apps read (a client message is at most 1 MiB on the service).
DEFAULT_MAX_BODY_SIZE = 2 * 1024 * 1024
#: The methods every adapter routes to the handler.
METHODS = ("GET", "POST", "OPTIONS")


def framework_missing(exc: ImportError, *modules: str) -> bool:
    """Whether ``exc`` says one of ``modules`` is not installed (not that it is installed and fails to import).

    An installed framework that cannot import (an incompatible dependency, say) raises its own ImportError, which
    says what is wrong; calling it "not installed" would send the user to install what they already have.
    """
    name = exc.name if isinstance(exc, ModuleNotFoundError) else None
    return name is not None and name.partition(".")[0] in modules


def missing_framework(package: str, extra: str) -> ImportError:
    """The ImportError an adapter raises when its framework is not installed, naming the extra to install."""
    return ImportError(
        f"this event-handler adapter needs {package}, which is not installed: "
        f"pip install 'azure-messaging-webpubsubservice[{extra}]'"
    )


def asgi_path(scope: Mapping[str, Any]) -> str:
    """The request path relative to the application (``root_path`` removed when the server included it)."""
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :] or "/"
    return path


def wsgi_path(environ: Mapping[str, Any]) -> str:
    """``PATH_INFO`` as text (WSGI hands it over as latin-1-decoded bytes)."""
    raw = str(environ.get("PATH_INFO") or "/")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def wsgi_headers(environ: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """The header lines of a WSGI environ (``HTTP_CE_HUB`` → ``ce-hub``; repeated lines arrive joined by ``", "``)."""
    found = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            found.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            found.append((key.replace("_", "-").lower(), str(value)))
    return found


def status_line(status: int) -> str:
    """``"204 No Content"`` for WSGI's ``start_response``."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"
