"""The host checks of `ascendgen doctor`, against a fake NPU host (mknod devices, a fake driver tree and a
fake npu-smi under tmp_path; needs root) reached through a server profile's host_root. No Docker here:
the engine rows run in tests/e2e/test_doctor.py against a real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascendgen.doctor import (
    CheckRow,
    check_docker_runtime,
    check_driver,
    check_engine,
    check_models_dir,
    check_npu_devices,
    check_npu_smi,
    run_doctor,
)
from ascendgen.hardware import Platform, ServerProfile, load_hardware

from fakehost import QWEN3_8B_CONFIG, FakeHost, NpuProcess, make_fake_npu_host, write_hardware_file, write_model
from helpers import Run


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    return make_fake_npu_host(tmp_path / "host")


@pytest.fixture
def hardware_file(tmp_path: Path, host: FakeHost) -> Path:
    return write_hardware_file(tmp_path / "fake-hardware.yaml", host)


@pytest.fixture
def profile(hardware_file: Path) -> tuple[ServerProfile, Platform]:
    hardware = load_hardware([hardware_file])
    server = hardware.server("fake-a2")
    return server, hardware.platform(hardware.npu_type(server.npu_type).platform)


def host_rows(profile: tuple[ServerProfile, Platform], models: Path) -> list[CheckRow]:
    server, platform = profile
    return [
        check_npu_devices(server, platform),
        check_driver(server, platform),
        check_npu_smi(server, platform),
        check_docker_runtime(None, server),
        check_models_dir(models),
    ]


def test_healthy_fake_host(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    devices, driver, npu_smi, runtime, models = host_rows(profile, host.models)
    assert [r.status for r in (devices, driver, npu_smi, runtime, models)] == ["ok"] * 5
    assert all(r.fix is None for r in (devices, driver, npu_smi, runtime, models))
    assert devices.detail.startswith("8 NPU(s): 0-7; control devices present")
    assert driver.detail == "version 25.5.0; all 5 driver paths present"
    assert npu_smi.detail == f"{host.npu_smi}: no processes on any NPU"
    assert runtime.detail.startswith("not installed: ascendgen maps devices")
    assert models.detail == f"{host.models}: 1 model(s): Qwen/Qwen3-8B"


def test_run_doctor_without_engine(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    server, platform = profile
    rows = run_doctor(None, server=server, platform=platform, models_dir=host.models, engine_reason="no socket")
    assert [r.check for r in rows] == [
        "Docker Engine",
        "Docker Compose v2",
        "NPU devices",
        "Driver",
        "Driver and image",
        "npu-smi",
        "Ascend Docker Runtime",
        "Model directory",
    ]
    engine = rows[0]
    assert engine.status == "error" and engine.detail == "not reachable (no socket)"
    assert engine.fix is not None and "docker" in engine.fix
    assert engine.to_json() == {"check": "Docker Engine", "status": "error", "detail": engine.detail, "fix": engine.fix}
    assert [r.status for r in rows[2:]] == ["ok"] * 6


def test_engine_row_says_what_to_do() -> None:
    row = check_engine(None, "Error while fetching server API version: Permission denied")
    assert row.status == "error" and "docker group" in (row.fix or "")


def test_missing_davinci_device_is_a_warning(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.davinci[3].unlink()
    row = check_npu_devices(*profile)
    assert row.status == "warning"
    assert row.detail.startswith("7 NPU(s): 0-2,4-7; control devices present")
    assert "the server profile fake-a2 expects 8; missing: 3" in row.detail
    assert row.fix is not None and "--npus" in row.fix


def test_no_davinci_device_is_an_error(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    for device in host.davinci:
        device.unlink()
    row = check_npu_devices(*profile)
    assert row.status == "error"
    assert row.detail.startswith(f"no NPU devices ({host.dev}/davinciN); control devices present")


def test_davinci_regular_file_is_an_error(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.davinci[5].unlink()
    host.davinci[5].write_text("not a device\n")
    row = check_npu_devices(*profile)
    assert row.status == "error"
    assert row.detail.startswith("7 NPU(s): 0-4,6-7; control devices present")
    assert f"not character devices: {host.davinci[5]} (a regular file)" in row.detail


def test_control_device_regular_file_is_an_error(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    hdc = host.control_devices["hisi_hdc"]
    hdc.unlink()
    hdc.write_text("")
    row = check_npu_devices(*profile)
    assert row.status == "error"
    assert row.detail == f"8 NPU(s): 0-7; not character devices: {hdc} (a regular file)"
    assert row.fix is not None and "driver" in row.fix


def test_missing_control_device_is_an_error(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.control_devices["davinci_manager"].unlink()
    row = check_npu_devices(*profile)
    assert row.status == "error"
    assert f"missing control devices: {host.control_devices['davinci_manager']}" in row.detail


def test_missing_version_info_is_an_error(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.driver_version_info.unlink()
    row = check_driver(*profile)
    assert row.status == "error"
    assert row.detail == f"{host.driver_version_info} is missing; the other 4 driver paths are present"
    assert row.fix is not None and "version.info" in row.fix


def test_version_info_without_version_line(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.driver_version_info.write_text("ascendhal_version=7.35.19\n")
    row = check_driver(*profile)
    assert row.status == "error" and "has no Version= line" in row.detail


def test_missing_driver_mounts_are_listed(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.ascend_install_info.unlink()
    (host.dcmi / "libdcmi.so").unlink()
    host.dcmi.rmdir()
    row = check_driver(*profile)
    assert row.status == "error"
    assert row.detail == f"version 25.5.0; missing driver paths: {host.dcmi}, {host.ascend_install_info}"


def test_busy_npu_is_named(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.set_busy({2: [NpuProcess(pid=4242, name="python3")], 6: [NpuProcess(pid=77, name="")]})
    row = check_npu_smi(*profile)
    assert row.status == "warning"
    assert row.detail == f"{host.npu_smi}: busy NPUs: NPU 2: pid 4242 (python3); NPU 6: pid 77 (unnamed)"
    assert row.fix is not None and "--npus" in row.fix


def test_npu_smi_absent_is_a_warning(
    host: FakeHost, profile: tuple[ServerProfile, Platform], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.npu_smi.unlink()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no npu-smi on PATH either
    row = check_npu_smi(*profile)
    assert row.status == "warning"
    assert row.detail == f"not found at {host.npu_smi} or on PATH: busy NPUs cannot be checked"


def test_npu_smi_failing_or_hanging_is_a_warning(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    host.npu_smi.write_text("#!/bin/sh\necho 'dcmi module initialize failed. ret is -8005' >&2\nexit 255\n")
    failed = check_npu_smi(*profile)
    assert failed.status == "warning"
    assert failed.detail == f"`{host.npu_smi} info` failed (exit 255: dcmi module initialize failed. ret is -8005)"

    host.npu_smi.write_text("#!/bin/sh\nexec sleep 5\n")
    hung = check_npu_smi(*profile, timeout_s=0.3)
    assert hung.status == "warning" and "did not answer within 0.3 s" in hung.detail


def test_ascend_docker_runtime_directory(host: FakeHost, profile: tuple[ServerProfile, Platform]) -> None:
    installed = host.root / "usr/local/Ascend/Ascend-Docker-Runtime"
    installed.mkdir(parents=True)
    row = check_docker_runtime(None, profile[0])
    assert row.status == "ok"
    assert row.detail == f"installed at {installed} (compose files may use runtime: ascend)"


def test_models_good_and_broken(host: FakeHost) -> None:
    write_model(host.models, "Qwen/Qwen2.5-7B-Instruct", QWEN3_8B_CONFIG)
    broken = host.models / "deepseek-ai/DeepSeek-V3"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text('{"num_attention_heads": 128,')  # cut short by a failed download
    (host.models / "Qwen/half-downloaded").mkdir()  # no config.json: not a model, not listed
    row = check_models_dir(host.models)
    assert row.status == "warning"
    assert row.detail.startswith(
        f"{host.models}: 2 model(s): Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen3-8B; "
        "unreadable config.json in deepseek-ai/DeepSeek-V3 (not JSON: "
    )
    assert row.fix is not None and "download" in row.fix


def test_models_dir_missing_or_empty(tmp_path: Path) -> None:
    missing = check_models_dir(tmp_path / "nowhere")
    assert missing.status == "warning"
    assert missing.detail == f"{tmp_path / 'nowhere'} does not exist"
    assert missing.fix is not None and "--models-dir" in missing.fix

    (tmp_path / "empty").mkdir()
    empty = check_models_dir(tmp_path / "empty")
    assert empty.status == "warning" and empty.detail == f"{tmp_path / 'empty'}: 0 model(s)"


def test_doctor_help_has_an_example(run: Run) -> None:
    result = run("doctor", "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout and "--models-dir" in result.stdout


def test_unknown_server_profile_is_bad_input(run: Run) -> None:
    result = run("doctor", "--server", "atlas-9000")
    assert result.exit_code == 2
    assert "unknown server profile 'atlas-9000'" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_engine_fails_in_one_line(
    run: Run, host: FakeHost, hardware_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")  # the real SDK, pointed nowhere
    args = ["--server", "fake-a2", "--hardware", str(hardware_file), "--models-dir", str(host.models)]
    result = run("doctor", "--json", *args)
    assert result.exit_code == 1
    rows = {row["check"]: row for row in result.json()}
    assert rows["Docker Engine"]["status"] == "error"
    assert rows["Docker Engine"]["detail"].startswith("not reachable (")
    assert rows["NPU devices"]["status"] == "ok" and rows["Driver"]["status"] == "ok"
    assert "check(s) failed: Docker Engine" in result.stderr and "Traceback" not in result.stderr
