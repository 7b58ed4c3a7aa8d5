#!/usr/bin/env python3
"""Makes sure Segment's official Python library is importable, installing it into a private venv if not.

The benchmark helpers in this folder are run by hand and never by CI, so they install what they need themselves:
a virtual environment at ``<repo>/.build-bench-venv/`` (ignored by git through the ``.build-*/`` pattern) holding
``segment-analytics-python``. The version is pinned so that figures taken on different days compare the same
code; set ``BENCH_SEGMENT_PACKAGE`` (a pip requirement, e.g. ``segment-analytics-python==2.5.0`` or just
``segment-analytics-python``) to measure another one.

As a script: ``python3 Benchmarks/bench_venv.py`` creates or updates the venv and prints its interpreter's path.
As a module: ``ensure_segment()`` at the top of a script re-executes that script inside the venv when needed.

Stdlib only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The library measured in Benchmarks/README.md. Override with the BENCH_SEGMENT_PACKAGE environment variable.
DEFAULT_REQUIREMENT = "segment-analytics-python==2.4.0"
DISTRIBUTION = "segment-analytics-python"

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".build-bench-venv"
VENV_PYTHON = VENV_DIR / "bin" / "python"

_REEXEC_MARKER = "BENCH_VENV_REEXECUTED"


def requirement() -> str:
    """The pip requirement to install: ``BENCH_SEGMENT_PACKAGE`` if set, else the pinned default."""
    return os.environ.get("BENCH_SEGMENT_PACKAGE", "").strip() or DEFAULT_REQUIREMENT


def _log(message: str) -> None:
    print(f"bench-venv: {message}", file=sys.stderr, flush=True)


def _installed_version(python: Path) -> str | None:
    probe = (
        "import importlib.metadata as m\n"
        "try:\n"
        f"    print(m.version({DISTRIBUTION!r}))\n"
        "except m.PackageNotFoundError:\n"
        "    pass\n"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    version = result.stdout.strip()
    return version or None


def _satisfied(version: str | None, req: str) -> bool:
    if version is None:
        return False
    if "==" in req:
        return req.split("==", 1)[1].strip() == version
    # An unpinned or ranged requirement: whatever is installed will do; delete the venv to upgrade.
    return True


def ensure_venv() -> Path:
    """Create ``.build-bench-venv`` if missing, install the requirement if not satisfied; return its python."""
    req = requirement()
    if not VENV_PYTHON.exists():
        _log(f"creating {VENV_DIR}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    if not _satisfied(_installed_version(VENV_PYTHON), req):
        _log(f"installing {req} into {VENV_DIR}")
        subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", req], check=True)
    return VENV_PYTHON


def ensure_segment() -> None:
    """Return if ``segment.analytics`` imports; otherwise set up the venv and re-run this script inside it."""
    try:
        import segment.analytics  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get(_REEXEC_MARKER):
        sys.exit("bench-venv: segment.analytics still does not import inside .build-bench-venv; delete it and retry")
    python = ensure_venv()
    env = dict(os.environ, **{_REEXEC_MARKER: "1"})
    script = os.path.abspath(sys.argv[0])
    os.execve(str(python), [str(python), script, *sys.argv[1:]], env)


def installed_library_version() -> str:
    """The version of the imported Segment library, as the library itself reports it."""
    from segment.analytics.version import VERSION

    return VERSION


if __name__ == "__main__":
    print(ensure_venv())
