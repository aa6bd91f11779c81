"""Run documentation blocks in order, in one namespace, as a reader's session would (used by test_docs_examples).

Reads ``[{"where": "README.md:12", "code": "..."}, ...]`` as JSON on stdin. Each block runs as its own module-level
code (so ``asyncio.run(main())`` and ``if __name__ == "__main__"`` behave as in a script). The first block that raises
ends the run with exit status 1 and a traceback that names the file and line of the block.
"""

from __future__ import annotations

import json
import sys
import traceback


def main() -> int:
    blocks = json.load(sys.stdin)
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        where, code = block["where"], block["code"]
        path, _, line = where.rpartition(":")
        # Pad with newlines so a traceback's line numbers are the Markdown file's own (the code starts after the fence)
        source = "\n" * int(line) + code
        try:
            exec(compile(source, path, "exec"), namespace)
        except BaseException:
            sys.stdout.flush()
            print(f"\nThe block at {where} failed:", file=sys.stderr)
            traceback.print_exc()
            return 1
        sys.stdout.flush()
        sys.stdout.write("\0block ok\0\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
