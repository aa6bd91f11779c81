"""Sphinx configuration for the API reference (`make docs`).

Everything comes from the docstrings of the installed packages (the editable installs in .venv). The build needs no
network: no intersphinx. With ``--nitpicky`` every cross-reference must resolve; the only ones allowed to stay
unresolved are names from outside this repository (the standard library, typing, azure-core, aiohttp), listed below.
"""

from __future__ import annotations

import azure.messaging.webpubsubservice as sdk

project = "Azure Web PubSub for Python"
author = "The azure-messaging-webpubsubservice authors"
copyright = "the azure-messaging-webpubsubservice authors, MIT License"
version = release = sdk.__version__

extensions = ["sphinx.ext.autodoc"]
root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_default_options = {"member-order": "alphabetical"}
autodoc_typehints = "signature"
autodoc_class_signature = "separated"

# Names defined outside this repository. Without intersphinx (no network) they cannot resolve; anything else must.
nitpick_ignore_regex = [
    ("py:.*", r"(typing|typing_extensions|collections\.abc|io|datetime|enum|types|os)\..*"),
    ("py:.*", r"(azure\.core|aiohttp|requests)(\..*)?"),
    ("py:.*", r"~?(azure\.core|aiohttp)\..*"),
    ("py:class", r"(str|int|float|bool|bytes|bytearray|memoryview|dict|list|tuple|set|frozenset|object|type|None)"),
    ("py:class", r"(Any|Optional|Union|List|Dict|Tuple|Iterable|Iterator|Mapping|MutableMapping|Sequence|Callable)"),
    ("py:class", r"(IO|JSON|Self|Awaitable|AsyncIterator|Coroutine|Literal)"),
    ("py:exc", r"(ValueError|TypeError|ImportError|KeyError|RuntimeError)"),
    ("py:meth", r"(str|bytes|dict|list)\..*"),
    # "any" in a docstring type is the Azure SDK convention for typing.Any
    ("py:class", r"any"),
    # azure-core's credential protocols, named in annotations that are imported for type checking only
    ("py:class", r"(AzureKeyCredential|TokenCredential|AsyncTokenCredential)"),
    # the models' typed attribute descriptor: the reference shows its type parameter, the attribute's value type
    ("py:class", r"azure\.messaging\.webpubsubservice\._custom\.models\._Field"),
    # the emulator's keyword options (a TypedDict used with Unpack); each is described in the class docstring
    ("py:class", r"EmulatorOptions"),
]


#: Public names importable from more than one module: a reference to the alias resolves to the documented one.
_ALIASES = {"azure.messaging.webpubsubservice.GroupMember": "azure.messaging.webpubsubservice.models.GroupMember"}


def _resolve_alias(app, env, node, contnode):  # type: ignore[no-untyped-def]
    target = _ALIASES.get(node.get("reftarget", ""))
    if target is None or node.get("refdomain") != "py":
        return None
    py = env.get_domain("py")
    return py.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], target, node, contnode)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", _resolve_alias)
