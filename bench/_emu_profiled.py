"""Run the emulator CLI under pyinstrument and write a text report when it exits (used by ``bench.profile``).

``python -m bench._emu_profiled REPORT.txt [emulator CLI arguments...]``
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> int:
    from pyinstrument import Profiler
    from webpubsub_emulator import cli

    report = Path(sys.argv[1])
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    try:
        code = cli.main(sys.argv[2:])
    finally:
        profiler.stop()
        report.write_text(profiler.output_text(unicode=False, color=False, show_all=False), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
