"""`make test-matrix` runs what the packages claim: its plan comes from the classifiers, and a claimed Python that is
not on the machine fails the matrix with a message that says so (the runs themselves are CI's job, not this test's)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_matrix", ROOT / ".ci" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plan_is_every_other_classified_python_and_lowest_at_both_ends(matrix: ModuleType) -> None:
    versions = matrix.classified_versions()
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    runs = matrix.planned_runs()
    assert [r.version for r in runs if not r.lowest] == [v for v in versions if v != current]
    assert [r.version for r in runs if r.lowest] == [versions[0], versions[-1]]
    assert len({r.name for r in runs}) == len(runs)


def test_every_direct_dependency_has_one_floor(matrix: ModuleType) -> None:
    floors = matrix.direct_floors()
    assert {"azure-core", "pyjwt", "isodate", "typing-extensions", "aiohttp", "azure-identity"} <= set(floors)
    unclear = {name: versions for name, versions in floors.items() if len(versions) != 1 or versions[0] == "(none)"}
    assert not unclear, f"one lowest-dependency run can test one floor per dependency: {unclear}"


def test_the_lowest_runs_install_every_extra(matrix: ModuleType) -> None:
    import importlib.metadata

    extras = importlib.metadata.metadata("azure-messaging-webpubsubservice").get_all("Provides-Extra") or []
    sdk = matrix.editables()[1]
    assert {"aio", "identity"} <= set(extras)
    assert all(extra in sdk for extra in extras), sdk
    emulator_extras = importlib.metadata.metadata("webpubsub-emulator").get_all("Provides-Extra") or []
    assert "tls" in emulator_extras and matrix.editables()[3] == f"./emulator[{','.join(sorted(emulator_extras))}]"


def test_a_missing_interpreter_fails_the_matrix_and_says_so(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # no pyenv versions here
    monkeypatch.setenv("PATH", str(tmp_path))  # and no pythonX.Y on PATH
    monkeypatch.delenv("PYTHON39", raising=False)
    monkeypatch.setattr(matrix, "planned_runs", lambda: [matrix.Run("full-3.9", "3.9", False)])
    assert matrix.main([]) == 1
    err = capsys.readouterr().err
    assert "no Python 3.9 interpreter found" in err and "pyenv install 3.9" in err


def test_find_python_checks_the_version_it_finds(matrix: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # an interpreter of another version under the expected name is not taken for the one asked for
    monkeypatch.setenv("PYTHON399", sys.executable)
    assert matrix.find_python("3.99") is None
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    monkeypatch.setenv(f"PYTHON{current.replace('.', '')}", sys.executable)
    assert matrix.find_python(current) == sys.executable
