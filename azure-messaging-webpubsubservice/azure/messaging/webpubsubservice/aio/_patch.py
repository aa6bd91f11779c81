# --------------------------------------------------------------------------
# Copyright (c) the azure-messaging-webpubsubservice reimplementation authors.
# Licensed under the MIT License; see the LICENSE file at the root of the repository.
# --------------------------------------------------------------------------
"""Hand-written customisation of the generated code at this level.

Regeneration never overwrites this file. Names listed in ``__all__`` are re-exported by the generated
``__init__``, which also calls ``patch_sdk()`` once on import.
"""

__all__: list[str] = []


def patch_sdk() -> None:
    """Run once when the package is imported; nothing to do yet."""
