"""Patch @autorest/python so its start script does not write to stdout.

@autorest/python 6.50.3 prints ``Executing: ...`` on stdout before it starts its JSON-RPC server. AutoRest talks to
the extension over that same stdout, so the line breaks the channel ("Header must provide a Content-Length
property"). This rewrites the print to go to stderr. It is idempotent: running it again changes nothing.
"""

import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent / "node_modules/@autorest/python/scripts/venvtools.py"
# (line on stdout, replacement on stderr)
FIXES = [
    (
        'print("Executing: {}".format(" ".join(cmd_line)))',
        'print("Executing: {}".format(" ".join(cmd_line)), file=sys.stderr)',
    ),
    ("        print(err)\n", "        print(err, file=sys.stderr)\n"),
]


def main() -> int:
    original = text = TARGET.read_text(encoding="utf-8")
    for old, new in FIXES:
        if new in text:
            continue
        if old not in text:
            print(f"fix-python-extension: expected {old.strip()!r} in {TARGET}; update this script", file=sys.stderr)
            return 1
        text = text.replace(old, new)
    if "\nimport sys\n" not in text:
        text = text.replace("\nimport ", "\nimport sys\nimport ", 1)
    if text != original:
        TARGET.write_text(text, encoding="utf-8")
        print("fix-python-extension: venvtools.py now logs on stderr", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
