"""`make test-matrix`: the checks `make test` runs, on every other Python the packages claim, and on the lowest
dependency versions their metadata allows.

The Python versions come from the SDK's classifiers (the metadata of the editable install in .venv), so the versions
CI runs and the versions the packages claim cannot drift apart. For each classified version other than the .venv's
(`make test` covers that one):

* ``full-X.Y``: the whole suite and mypy on the hand-written code (``--python-version X.Y``), with
  requirements-dev.txt (its markers pick the newest release of each tool that runs on X.Y).

On the oldest and the newest classified version:

* ``lowest-X.Y``: both distributions installed with ``uv pip install --resolution lowest-direct`` (as the Azure SDK's
  "mindependency" runs do): every direct runtime dependency, extras included, at the lowest version its declared
  floor allows; transitive ones at their newest. Before any test runs, each installed direct dependency is checked to
  *be* its declared floor, so a test tool that drags one higher fails the run instead of hiding the floor. Then the SDK
  and emulator tests run (everything but tests/fuzz, tests/bench and tests/packaging, whose tools need newer
  libraries than our floors).

Each run has its own virtual environment under .matrix/ (made with uv, reused while the requirements, the metadata
and the interpreter are unchanged) and its own log, .matrix/<run>.log. A Python that cannot be found is reported, and
fails the matrix, before anything runs. Usage: ``python .ci/matrix.py [RUN ...]`` (default: all runs; ``--list``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / ".matrix"
UV = str(Path(sys.executable).with_name("uv"))
DISTRIBUTIONS = ["azure-messaging-webpubsubservice", "webpubsub-emulator"]
#: The tools the lowest runs need (pinned as in requirements-dev.txt); nothing else is installed beside the floors.
LOWEST_TOOLS = [
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "hypothesis",
    "websocket-client",
    "websockets",
    "azure-messaging-webpubsubclient",
    "paho-mqtt",  # samples/mqtt_devices.py, which tests/e2e runs
    "uvicorn",
    "waitress",
    "opentelemetry-sdk",
    "azure-core-tracing-opentelemetry",
]
LOWEST_TESTS = ["tests/sdk", "tests/e2e", "tests/emulator", "tests/faults", "tests/security", "tests/eventhandler"]
PYTEST_MARK = "\n=== pytest ===\n"


class Run(NamedTuple):
    name: str
    version: str  # "3.9"
    lowest: bool

    @property
    def venv(self) -> Path:
        return MATRIX / self.name


class Outcome(NamedTuple):
    run: Run
    python: str
    ok: bool
    summary: str
    seconds: float
    counts: Dict[str, int]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def classified_versions() -> List[str]:
    prefix = "Programming Language :: Python :: "
    meta = importlib.metadata.metadata(DISTRIBUTIONS[0])
    found = [c[len(prefix) :] for c in meta.get_all("Classifier") or [] if re.fullmatch(r"3\.\d+", c[len(prefix) :])]
    return sorted(found, key=lambda v: int(v.split(".")[1]))


def planned_runs() -> List[Run]:
    versions = classified_versions()
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    runs = [Run(f"full-{v}", v, False) for v in versions if v != current]
    runs += [Run(f"lowest-{v}", v, True) for v in dict.fromkeys([versions[0], versions[-1]])]
    return runs


def find_python(version: str) -> Optional[str]:
    """An interpreter for X.Y: $PYTHON<XY>, pyenv's versions, or pythonX.Y on PATH (only if it really runs X.Y)."""
    candidates = []
    if os.environ.get(f"PYTHON{version.replace('.', '')}"):
        candidates.append(os.environ[f"PYTHON{version.replace('.', '')}"])
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = sorted(
        (pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")],
        reverse=True,
    )
    candidates += [str(p) for p in installed]
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def _requirement_lines(path: Path) -> List[str]:
    """The requirement lines of a requirements file, without comments (a ``#`` after white space, as pip reads it)."""
    lines = (re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def editables() -> List[str]:
    """Both distributions, editable, each with every extra it declares (so every extra's floor is installed)."""
    targets = []
    for dist, path in zip(DISTRIBUTIONS, (".", "./emulator")):
        extras = importlib.metadata.metadata(dist).get_all("Provides-Extra") or []
        targets += ["-e", f"{path}[{','.join(sorted(extras))}]" if extras else path]
    return targets


def direct_floors() -> Dict[str, List[str]]:
    """Every direct runtime dependency of both distributions (extras included) -> the floors declared for it.

    A dependency without a floor, or with two different floors (say one per extra), is a problem the caller reports:
    one environment can only test one of them.
    """
    floors: Dict[str, List[str]] = {}
    for dist in DISTRIBUTIONS:
        for text in importlib.metadata.requires(dist) or []:
            req = Requirement(text)
            lower = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
            declared = floors.setdefault(_canonical(req.name), [])
            for version in lower[:1] or ["(none)"]:
                if version not in declared:
                    declared.append(version)
    return floors


def _lowest_tools_file() -> Path:
    wanted = set(LOWEST_TOOLS)
    lines = [
        line
        for line in _requirement_lines(ROOT / "requirements-dev.txt")
        if _canonical(Requirement(line).name) in wanted
    ]
    missing = wanted - {_canonical(Requirement(line).name) for line in lines}
    if missing:
        raise SystemExit(f"matrix: requirements-dev.txt has no pin for {sorted(missing)}")
    path = MATRIX / "lowest-tools.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fingerprint(run: Run, python: str) -> str:
    digest = hashlib.sha256(f"{run}|{python}|{sys.version}".encode())
    for name in ("requirements-dev.txt", "pyproject.toml", "emulator/pyproject.toml", ".ci/matrix.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _sh(cmd: List[str], log, timeout: float) -> int:
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    return subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, timeout=timeout).returncode


def _prepare(run: Run, python: str, log) -> Optional[str]:
    """Create and fill the run's venv; None when ready, else what went wrong."""
    stamp = run.venv / ".matrix-installed"
    fingerprint = _fingerprint(run, python)
    if stamp.exists() and stamp.read_text() == fingerprint:
        log.write("(environment unchanged: reused)\n")
        return None
    shutil.rmtree(run.venv, ignore_errors=True)
    if _sh([UV, "venv", "--quiet", "--python", python, str(run.venv)], log, 300):
        return "could not create the virtual environment"
    target = ["--python", str(run.venv / "bin" / "python")]
    if run.lowest:
        install = [UV, "pip", "install", *target, "--resolution", "lowest-direct", "-r", str(_lowest_tools_file())]
    else:
        install = [UV, "pip", "install", *target, "-r", "requirements-dev.txt"]
    if _sh(install + editables(), log, 1200):
        return "installing the dependencies failed"
    stamp.write_text(fingerprint)
    return None


def _check_floors(run: Run, log) -> Optional[str]:
    declared = direct_floors()
    unclear = [f"{n} ({' and '.join(v)})" for n, v in sorted(declared.items()) if len(v) != 1 or v[0] == "(none)"]
    if unclear:
        return "each dependency needs one declared floor (>=), the same in every extra: " + ", ".join(unclear)
    floors = {name: versions[0] for name, versions in declared.items()}
    probe = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    out = subprocess.run(
        [str(run.venv / "bin" / "python"), "-c", probe, *floors], capture_output=True, text=True, timeout=60
    )
    if out.returncode:
        return "could not read the installed versions: " + out.stderr.strip()[-300:]
    installed = json.loads(out.stdout)
    log.write("\ndirect dependencies (declared floor -> installed):\n")
    for name, floor in sorted(floors.items()):
        log.write(f"  {name} >= {floor} -> {installed[name]}\n")
    above = [f"{n} {installed[n]} (floor {f})" for n, f in floors.items() if Version(installed[n]) != Version(f)]
    return "installed above the declared floor: " + ", ".join(above) if above else None


def _pytest_counts(text: str) -> Dict[str, int]:
    lines = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    if not lines:
        return {}
    return {kind.rstrip("s"): int(n) for n, kind in re.findall(r"(\d+) ([a-z]+)", lines[-1])}


def execute(run: Run, python: str) -> Outcome:
    started = time.monotonic()
    log_path = MATRIX / f"{run.name}.log"
    python_version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    ).stdout.strip()
    print(f"matrix: {run.name}: Python {python_version} ({python}); log {log_path.relative_to(ROOT)}", flush=True)

    def done(ok: bool, summary: str, counts: Optional[Dict[str, int]] = None) -> Outcome:
        return Outcome(run, python_version, ok, summary, time.monotonic() - started, counts or {})

    with open(log_path, "w") as log:
        problem = _prepare(run, python, log)
        if problem:
            return done(False, problem)
        bin_dir = run.venv / "bin"
        checks = []
        if run.lowest:
            problem = _check_floors(run, log)
            if problem:
                return done(False, problem)
            tests = LOWEST_TESTS
        else:
            tests = []
            if _sh([str(bin_dir / "mypy"), "--python-version", run.version], log, 1200):
                checks.append(f"mypy --python-version {run.version} failed")
            else:
                checks.append("mypy ok")
        log.write(PYTEST_MARK)
        code = _sh([str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], log, 3000)
    text = log_path.read_text().rpartition(PYTEST_MARK)[2]
    counts = _pytest_counts(text)
    failures = [line for line in text.splitlines() if re.match(r"(FAILED|ERROR) tests/", line)]
    for line in failures[:30]:
        print(f"  {line}")
    result = ", ".join(f"{n} {k}" for k, n in counts.items()) or f"pytest exit {code}"
    ok = code == 0 and not any("failed" in c for c in checks) and counts.get("passed", 0) > 0
    return done(ok, "; ".join([*checks, result]), counts)


def main(argv: List[str]) -> int:
    runs = planned_runs()
    if "--list" in argv:
        for run in runs:
            print(run.name)
        return 0
    if argv:
        unknown = set(argv) - {r.name for r in runs}
        if unknown:
            print(f"matrix: unknown run(s) {sorted(unknown)}; the runs are {[r.name for r in runs]}", file=sys.stderr)
            return 2
        runs = [r for r in runs if r.name in argv]
    pythons = {v: find_python(v) for v in dict.fromkeys(r.version for r in runs)}
    missing = [v for v, p in pythons.items() if p is None]
    if missing:
        for version in missing:
            print(
                f"matrix: FAILED: no Python {version} interpreter found (looked for $PYTHON{version.replace('.', '')}, "
                f"pyenv's versions/{version}.*, and python{version} on PATH). The packages claim {version}, so the "
                f"matrix must run it: install it (pyenv install {version}) or point $PYTHON{version.replace('.', '')}"
                " at one.",
                file=sys.stderr,
            )
        return 1
    MATRIX.mkdir(exist_ok=True)
    outcomes = []
    for run in runs:
        python = pythons[run.version]
        assert python is not None
        outcome = execute(run, python)
        outcomes.append(outcome)
        print(f"matrix: {run.name}: {'ok' if outcome.ok else 'FAILED'}: {outcome.summary} ({outcome.seconds:.0f} s)")
    print("\nmatrix summary")
    print(f"  {'run':<13} {'python':<8} {'dependencies':<13} {'result':<6} {'time':>6}  details")
    for o in outcomes:
        deps = "lowest-direct" if o.run.lowest else "pinned"
        result = "ok" if o.ok else "FAILED"
        print(f"  {o.run.name:<13} {o.python:<8} {deps:<13} {result:<6} {o.seconds:>5.0f}s  {o.summary}")
    passed = sum(o.counts.get("passed", 0) for o in outcomes)
    failed = sum(o.counts.get("failed", 0) + o.counts.get("error", 0) for o in outcomes)
    failed_runs = [o.run.name for o in outcomes if not o.ok]
    if failed_runs:
        print(f"matrix: failed runs: {', '.join(failed_runs)} (their logs are in .matrix/)")
    print(f"matrix: {passed} passed, {failed} failed")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
