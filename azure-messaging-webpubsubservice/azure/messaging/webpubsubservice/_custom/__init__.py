# Copyright (c) 2026 The webpubsub-python authors. Licensed under the MIT License.
"""The hand-written layer of the SDK, one module per idea; the generator never writes into this folder.

Nothing here imports the generated code: the ``_patch.py`` files at each generated level import these modules and
hand them the generated pieces (request builders, operations) they work on. The modules are private; the public names
are re-exported by the package, ``models`` and ``aio``.
"""

__all__: "list[str]" = []
