"""The docs point only at things that exist in a clone of this repository.

* docs/architecture.md: every file or folder it names (in its layout blocks and in backticks) and every dotted module
  it names exists; so whatever the layout becomes, the page cannot keep describing modules that are gone.
* Every relative link in the repository's Markdown files leads to a file or folder inside the repository.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Iterable, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _tracked_folders() -> List[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted({(ROOT / name).parent for name in listed.stdout.split()})


#: Where a bare name in prose (`_patch.py`, `odata.py`) may live: any folder of the repository.
PROSE_BASES = _tracked_folders()

_PATHLIKE = re.compile(r"^\.{0,2}[\w.-]*(/[\w.-]*)*$")
_FILE_SUFFIX = re.compile(r"\.(py|md|json|toml|txt|sh|in|cfg|ini|lock|png)$")
_DOTTED_MODULE = re.compile(r"^(azure\.messaging\.webpubsubservice|webpubsub_emulator)(\.\w+)*$")


def _is_path(token: str) -> bool:
    return bool(_PATHLIKE.match(token)) and ("/" in token or bool(_FILE_SUFFIX.search(token)))


def missing_in_layout(text: str) -> List[str]:
    """Paths named in the untagged/text code blocks that do not exist.

    A line names files up to its first run of two spaces (then comes its description); lines indented more than four
    spaces only continue a description. A line whose first name starts at column 0 and is a folder sets the base for
    the indented lines under it. Names resolve against the repository root or that base; ``...`` is ignored.
    """
    missing = []
    for block in re.findall(r"^```(?:text)?\n(.*?)^```", text, flags=re.M | re.S):
        base = ROOT
        for line in block.splitlines():
            indent = len(line) - len(line.lstrip(" "))
            if indent > 4:
                continue
            names = re.split(r" {2,}", line.strip(), maxsplit=1)[0]
            tokens = [t.strip(",;:()") for t in names.split()]
            tokens = [t.rstrip(".") if t.endswith(("/...", "...")) else t for t in tokens]
            if line[:1].strip() and tokens and tokens[0].endswith("/") and (ROOT / tokens[0]).is_dir():
                base = ROOT / tokens[0]
            for token in tokens:
                if not token or token in (".", "..") or not _is_path(token):
                    continue
                if token.startswith("..") or not ((ROOT / token).exists() or (base / token).exists()):
                    missing.append(token)
    return missing


def missing_in_prose(text: str) -> List[str]:
    """File names (``x.py``), folders (``x/``) and dotted module names in backticks, outside code blocks, that do
    not exist. URL paths (``/client``) and media types (``text/plain``) are not file names."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    missing = []
    for token in re.findall(r"`([^`\s]+)`", prose):
        if _DOTTED_MODULE.match(token):
            if importlib.util.find_spec(token) is None:
                missing.append(token)
        elif (
            _is_path(token) and not token.startswith(("/", "-")) and (token.endswith("/") or _FILE_SUFFIX.search(token))
        ):
            outside = token.startswith("..") or not any((base / token).exists() for base in PROSE_BASES)
            if outside:
                missing.append(token)
    return missing


def test_the_checks_catch_what_is_not_there() -> None:
    page = (
        "Facts live in `../shared/reference/`, see `core.py`, `text/plain`, `/client` and `webpubsub_emulator.nope`.\n"
        "```\nemulator/webpubsub_emulator/\n  core.py     pure, a/b\n  gone.py     removed\n"
        "                    continued/description\n```\n"
    )
    assert missing_in_layout(page) == ["gone.py"]
    assert missing_in_prose(page) == ["../shared/reference/", "webpubsub_emulator.nope"]


def test_architecture_names_only_modules_that_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert "emulator/webpubsub_emulator/" in text and "azure/messaging/webpubsubservice/" in text
    missing = missing_in_layout(text) + missing_in_prose(text)
    assert not missing, f"docs/architecture.md names files or modules that do not exist: {missing}"


def _markdown_files() -> Iterable[Path]:
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(ROOT / name for name in listed.stdout.split() if (ROOT / name).exists())


def _relative_links(text: str) -> Set[str]:
    without_code = re.sub(r"^```.*?^```|`[^`\n]*`", "", text, flags=re.M | re.S)
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)", without_code)
    return {t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)}


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_stay_in_the_repository(path: Path) -> None:
    broken = []
    for target in _relative_links(path.read_text(encoding="utf-8")):
        resolved = (path.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)} links to what a clone does not have: {broken}"
