"""Shared fixtures: run the CLI in-process as a user would, build small trees (catalogs) inline, and require
Compose v2 where a test asks what Compose itself reads (helpers.compose_config)."""

from __future__ import annotations

import os
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from ascendgen.cli.app import main

from helpers import Result

# scripts/test.sh (what CI runs) draws the same examples on every run, so a commit that passed there passes
# again; a plain `pytest` draws new ones each time and keeps looking for the input nobody thought of.
settings.register_profile("ci", derandomize=True)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps ascendgen's cache (the observations `up` records) in a directory of its own: never the
    real ~/.cache, whatever the test runs."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ASCENDGEN_CACHE_DIR", str(path))
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `ascendgen ARGS...` in-process; returns exit code, stdout and stderr."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")

    def invoke(*args: str) -> Result:
        from ascendgen.cli import termui

        # termui's consoles read COLUMNS once, when a process first imports them; give each run the width a
        # process started now would get, whichever test imported them first
        termui.out.width = termui.err.width = int(os.environ["COLUMNS"])
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def compose_v2() -> None:
    """Compose v2's `docker compose config` (no engine needed); a test that needs it fails, never skips, without."""
    done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip().lstrip("v").startswith("2"):
        pytest.fail("docker compose v2 is missing: run scripts/install-test-deps.sh (the README's test command does)")
