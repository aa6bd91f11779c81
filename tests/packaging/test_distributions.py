"""The two distributions as a package index would receive them.

Both are built from this checkout exactly as a release would be (``python -m build``: the sdist first, then the wheel
from that sdist), once per test session, and then checked: ``twine check --strict`` (the index's own rendering and
metadata rules), the files every wheel and sdist must carry (LICENSE, NOTICE, CHANGELOG), the metadata an index shows
(Project-URLs, classifiers, extras) and a long description with no link that only works inside the repository.
"""

from __future__ import annotations

import email
import email.message
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Dist(NamedTuple):
    name: str
    source: Path  # the folder holding its pyproject.toml
    sdist: Path
    wheel: Path


# distribution name -> (source folder, files every sdist and wheel must carry, files only the sdist must carry)
DISTRIBUTIONS = {
    "azure-messaging-webpubsubservice": (ROOT, ["LICENSE", "NOTICE.md"], ["CHANGELOG.md"]),
    "webpubsub-emulator": (ROOT / "emulator", ["LICENSE"], ["CHANGELOG.md"]),
}


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Dist]]:
    out = tmp_path_factory.mktemp("dist")
    built = {}
    for name, (source, _, _) in DISTRIBUTIONS.items():
        target = out / name
        run = subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(target), str(source)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, f"building {name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        (sdist,) = target.glob("*.tar.gz")
        (wheel,) = target.glob("*.whl")
        built[name] = Dist(name, source, sdist, wheel)
    yield built


def _wheel_metadata(dist: Dist) -> email.message.Message:
    with zipfile.ZipFile(dist.wheel) as whl:
        (path,) = [n for n in whl.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(whl.read(path))


def _classified_pythons(metadata: email.message.Message) -> List[str]:
    prefix = "Programming Language :: Python :: "
    return [c[len(prefix) :] for c in metadata.get_all("Classifier", []) if re.fullmatch(r"3\.\d+", c[len(prefix) :])]


def test_twine_check_strict_passes(dists: Dict[str, Dist]) -> None:
    files = [str(p) for d in dists.values() for p in (d.sdist, d.wheel)]
    run = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("PASSED") == 4, run.stdout


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_license_files_are_in_the_wheel_and_the_sdist(dists: Dict[str, Dist], name: str) -> None:
    dist = dists[name]
    _, everywhere, sdist_only = DISTRIBUTIONS[name]
    with zipfile.ZipFile(dist.wheel) as whl:
        licenses = {Path(n).name: whl.read(n) for n in whl.namelist() if ".dist-info/licenses/" in n}
    with tarfile.open(dist.sdist) as sdist:
        top = {Path(m.name).relative_to(Path(m.name).parts[0]).as_posix(): m for m in sdist.getmembers()}
        for wanted in everywhere + sdist_only:
            assert wanted in top, f"{wanted} is missing from the sdist of {name}"
            extracted = sdist.extractfile(top[wanted])
            assert extracted is not None
            assert extracted.read() == (dist.source / wanted).read_bytes()
    for wanted in everywhere:
        assert licenses.get(wanted) == (dist.source / wanted).read_bytes(), f"{wanted} is missing from the wheel"
    assert _wheel_metadata(dist).get("License-Expression") == "MIT"


def test_the_emulator_license_is_the_repository_license() -> None:
    # The emulator's distribution can only carry files from its own folder, so it has a copy.
    assert (ROOT / "emulator" / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_wheel_holds_only_its_package(dists: Dict[str, Dist], name: str) -> None:
    package = {"azure-messaging-webpubsubservice": "azure/messaging/webpubsubservice/", "webpubsub-emulator": ""}[name]
    with zipfile.ZipFile(dists[name].wheel) as whl:
        names = whl.namelist()
    dist_info = [n for n in names if ".dist-info/" in n]
    code = [n for n in names if n not in dist_info]
    if package:
        assert all(n.startswith(package) for n in code), [n for n in code if not n.startswith(package)]
    else:
        assert {n.split("/")[0] for n in code} == {"webpubsub_emulator"}
    assert any(n.endswith("/py.typed") for n in code), "the package is typed: py.typed must ship"
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)


def test_classifiers_name_the_versions_ci_runs(dists: Dict[str, Dist]) -> None:
    """`make test-matrix` runs each classified version (it reads them from the metadata); they must be contiguous
    from the Requires-Python floor, and include the Python running these tests."""
    sdk = _wheel_metadata(dists["azure-messaging-webpubsubservice"])
    emulator = _wheel_metadata(dists["webpubsub-emulator"])
    versions = _classified_pythons(sdk)
    assert versions == _classified_pythons(emulator), "the two distributions must claim the same Pythons"
    minors = [int(v.split(".")[1]) for v in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)), f"not contiguous: {versions}"
    for meta in (sdk, emulator):
        assert meta.get("Requires-Python") == f">={versions[0]}"
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in versions


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_project_urls_are_absolute(dists: Dict[str, Dist], name: str) -> None:
    urls = _wheel_metadata(dists[name]).get_all("Project-URL", [])
    assert urls, "an index shows Project-URLs in its sidebar"
    for entry in urls:
        label, _, url = entry.partition(", ")
        assert label and url.startswith("https://"), entry


def test_extras_are_declared(dists: Dict[str, Dist]) -> None:
    meta = _wheel_metadata(dists["azure-messaging-webpubsubservice"])
    extras = set(meta.get_all("Provides-Extra", []))
    assert {"aio", "identity"} <= extras
    requires = meta.get_all("Requires-Dist", [])
    assert any(r.startswith("aiohttp") and 'extra == "aio"' in r for r in requires), requires
    assert any(r.startswith("azure-identity") and 'extra == "identity"' in r for r in requires), requires


# [text](target), ![alt](target), [label]: target, <a href="target">, <img src="target">
_LINKS = re.compile(r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*(\S+)|(?:href|src)\s*=\s*[\"']([^\"']+)", re.M)


def _links(markdown: str) -> List[str]:
    without_code = re.sub(r"```.*?```|`[^`\n]*`", "", markdown, flags=re.S)
    return [next(g for g in m.groups() if g) for m in _LINKS.finditer(without_code)]


def test_link_finder_finds_relative_links() -> None:
    text = "[a](docs/x.md) ![b](img.png) [c](#top)\n[d]: ../y\n<a href='z.html'>z</a> `[e](code.md)`"
    assert _links(text) == ["docs/x.md", "img.png", "#top", "../y", "z.html"]


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_long_description_has_only_absolute_links(dists: Dict[str, Dist], name: str) -> None:
    meta = _wheel_metadata(dists[name])
    assert meta.get("Description-Content-Type", "").startswith("text/markdown")
    description = meta.get_payload()
    assert isinstance(description, str) and len(description) > 500
    relative = [link for link in _links(description) if not re.match(r"https?://|mailto:", link)]
    assert not relative, f"links that break on a package index: {relative}"
