"""`ascendgen doctor` as a user runs it: the real Docker Engine and Compose v2 of this machine, and the fake
NPU host (tests/e2e/conftest.py) reached through the fake-a2 profile's host_root."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fakehost import FakeHost, NpuProcess
from helpers import Result, Run

CHECKS = [
    "Docker Engine",
    "Docker Compose v2",
    "NPU devices",
    "Driver",
    "Driver and image",
    "npu-smi",
    "Ascend Docker Runtime",
    "Model directory",
]


@pytest.fixture
def doctor(run: Run, docker_engine: None, fake_host: FakeHost, hardware_file: Path) -> Callable[..., Result]:
    def _doctor(*args: str) -> Result:
        return run(
            "doctor", "--server", "fake-a2", "--hardware", str(hardware_file), "--models-dir", str(fake_host.models),
            *args,
        )  # fmt: skip

    return _doctor


def engine_version() -> str:
    return subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, check=True
    ).stdout.strip()


def compose_version() -> str:
    done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, check=True)
    return done.stdout.strip().lstrip("v")


def table_row(stdout: str, check: str) -> list[str]:
    """The cells of the table line that starts with `check`."""
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] == check:
            return cells
    raise AssertionError(f"no row {check!r} in:\n{stdout}")


def test_healthy_host_table(doctor: Callable[..., Result]) -> None:
    result = doctor()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "all checks passed" in result.stderr
    engine = table_row(result.stdout, "Docker Engine")
    assert engine[1] == "ok" and engine[2].startswith(f"{engine_version()} (API ")
    assert table_row(result.stdout, "Docker Compose v2")[1:3] == ["ok", compose_version()]
    for check in CHECKS:
        assert table_row(result.stdout, check)[1] == "ok"
    assert "Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen3-8B" in table_row(result.stdout, "Model directory")[2]


def test_json_rows(doctor: Callable[..., Result], fake_host: FakeHost) -> None:
    result = doctor("--json")
    assert result.exit_code == 0, result.stderr
    rows = result.json()
    assert [row["check"] for row in rows] == CHECKS
    assert all(set(row) == {"check", "status", "detail", "fix"} for row in rows)
    assert all(row["status"] == "ok" and row["fix"] is None for row in rows)
    by_check = {row["check"]: row for row in rows}
    assert by_check["Docker Engine"]["detail"].startswith(engine_version())
    assert by_check["Docker Compose v2"]["detail"] == compose_version()
    assert by_check["NPU devices"]["detail"].startswith("8 NPU(s): 0-7")
    assert by_check["Driver"]["detail"].startswith("version 25.5.0")
    # Docker 20.10 from Debian has runc only: ascendgen maps the devices itself
    assert by_check["Ascend Docker Runtime"]["detail"].startswith("not installed")


def test_missing_device_fails(doctor: Callable[..., Result], fake_host: FakeHost) -> None:
    manager = fake_host.control_devices["davinci_manager"]
    manager.unlink()
    result = doctor()
    assert result.exit_code == 1
    assert "error: 1 check(s) failed: NPU devices" in result.stderr
    assert "Traceback" not in result.stderr
    devices = table_row(result.stdout, "NPU devices")
    assert devices[1] == "error"

    rows = {row["check"]: row for row in doctor("--json").json()}
    assert rows["NPU devices"]["status"] == "error"
    assert f"missing control devices: {manager}" in rows["NPU devices"]["detail"]
    assert rows["Docker Engine"]["status"] == "ok"


def test_warnings_do_not_fail(doctor: Callable[..., Result], fake_host: FakeHost, tmp_path: Path) -> None:
    fake_host.set_busy({2: [NpuProcess(pid=4242, name="python3")]})
    result = doctor("--models-dir", str(tmp_path / "no-models"))
    assert result.exit_code == 0, result.stderr
    assert "warning: 2 check(s) with warnings: npu-smi, Model directory" in result.stderr
    rows = {row["check"]: row for row in doctor("--json", "--models-dir", str(tmp_path / "no-models")).json()}
    assert rows["npu-smi"]["status"] == "warning" and "NPU 2: pid 4242 (python3)" in rows["npu-smi"]["detail"]
    assert rows["Model directory"]["status"] == "warning"
