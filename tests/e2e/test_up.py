"""`ascendgen up / status / smoke / logs / down` on a real Docker Engine, against the stand-in engine
image on a fake NPU host: the happy path, every preflight refusal, every log diagnosis, timeout,
rollback and re-runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from deployment import Deployment
from fakehost import FakeHost, NpuProcess
from helpers import REPO, Result, Run

Deploy = Callable[..., Deployment]


def up(run: Run, deployment: Deployment, *args: str) -> Result:
    return run("up", str(deployment.directory), *args)


def test_plan_up_ready_smoke_status_down(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    result = up(run, d, "--timeout", "60")
    assert result.exit_code == 0, result.stderr
    assert "ready in" in result.stderr and f"http://localhost:{d.port}/v1" in result.stderr
    assert f"curl http://localhost:{d.port}/v1/chat/completions" in result.stdout

    smoke = run("smoke", str(d.directory))
    assert smoke.exit_code == 0, smoke.stderr
    assert "Qwen/Qwen3-8B" in smoke.stdout and "Tokens/s" in smoke.stdout

    status = run("status", str(d.directory), "--json")
    assert status.exit_code == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert row["service"] == d.service and row["state"] == "running" and row["ready"] is True
    assert row["port"] == d.port and row["npus"] == [0] and row["model"] == "Qwen/Qwen3-8B"

    # `logs` hands over to `docker compose logs`, which writes to the process's own stdout (not the captured
    # streams of the in-process `run`): run it as a user does, in a plain child process (no address-space limit,
    # which docker compose does not start under)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "ascendgen", "logs", str(d.directory), "--service", d.service, "--tail", "all"]
    logs = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert logs.returncode == 0, logs.stderr
    # the stand-in's startup lines (tests/standin/vllm_standin.py serve()), each after compose's "NAME  | " prefix
    lines = logs.stdout.splitlines()
    assert lines and all(" | " in line for line in lines), logs.stdout
    (service,) = yaml.safe_load((d.directory / "compose.yml").read_text())["services"].values()
    max_len = service["command"][service["command"].index("--max-model-len") + 1]
    for expected in (
        f"[config.py:1472] Using max model len {max_len}",
        "[standin.py:1] NPUs visible in the container: ",
        "[api_server.py:1457] Starting vLLM API server 0 on http://",
        "INFO:     Application startup complete.",
    ):
        assert any(expected in line for line in lines), (expected, logs.stdout)
    (serving,) = [line for line in lines if "Starting vLLM API server 0 on http://" in line]
    assert serving.endswith(f":{d.port}"), serving
    assert "Traceback" not in logs.stdout and "ERROR" not in logs.stdout

    down = run("down", str(d.directory))
    assert down.exit_code == 0, down.stderr
    assert d.project_containers() == []


def test_two_instances_on_disjoint_npus(run: Run, deploy: Deploy) -> None:
    first = deploy("Qwen3-8B", "--npus", "0")
    second = deploy("Qwen2.5-7B-Instruct", "--npus", "4-5")
    assert up(run, first, "--timeout", "60").exit_code == 0
    result = up(run, second, "--timeout", "60")
    assert result.exit_code == 0, result.stderr
    for d in (first, second):
        status = json.loads(run("status", str(d.directory), "--json").stdout)
        assert status[0]["ready"] is True
    assert json.loads(run("status", str(second.directory), "--json").stdout)[0]["npus"] == [4, 5]
    assert run("smoke", str(second.directory)).exit_code == 0


def test_up_twice_is_a_no_op_and_a_change_recreates(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    assert up(run, d, "--timeout", "60").exit_code == 0
    (container,) = d.project_containers()
    first_id = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container], capture_output=True, text=True).stdout

    again = up(run, d, "--timeout", "60")
    assert again.exit_code == 0, again.stderr
    assert "already up and unchanged: nothing to do" in again.stderr
    assert (
        subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container], capture_output=True, text=True).stdout
        == first_id
    )

    # a local change kept in compose.override.yml is honoured, and only what changed is recreated
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_STARTUP_SECONDS: '1'\n")
    changed = up(run, d, "--timeout", "60")
    assert changed.exit_code == 0, changed.stderr
    assert f"started: {d.service}" in changed.stderr


@pytest.mark.parametrize(
    ("mode", "phrase"),
    [
        ("heads", "does not divide the model's 32 attention heads"),
        ("kv_cache", "of KV cache but only"),
        ("kv_cache_v0", "is larger than the"),
        ("oom", "ran out of memory"),
        ("device", "sees no usable NPU"),
        ("model_path", "the model was not found at /models/Qwen/Qwen3-8B"),
        ("arch", "does not know the architecture"),
    ],
)
def test_failure_is_diagnosed_from_the_log(run: Run, deploy: Deploy, mode: str, phrase: str) -> None:
    d = deploy("Qwen3-8B")
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_FAIL: {mode}\n")
    result = up(run, d, "--timeout", "60")
    assert result.exit_code == 1
    assert f"error: {d.service}: its container" in result.stderr
    assert "last lines of" in result.stderr
    assert "error: diagnosis: " in result.stderr and phrase in result.stderr, result.stderr
    assert "containers are left for inspection" in result.stderr
    assert d.project_containers() == [d.service]  # left for inspection without --rollback


def test_timeout(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_FAIL: hang\n")
    result = up(run, d, "--timeout", "3")
    assert result.exit_code == 1
    assert "not ready after 3 s" in result.stderr


def test_unhealthy(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    d.override(
        f"services:\n  {d.service}:\n    environment:\n      STANDIN_FAIL: unhealthy\n"
        "    healthcheck:\n      interval: 1s\n      retries: 1\n      start_period: 0s\n"
    )
    result = up(run, d, "--timeout", "60")
    # /v1/models answers but /health does not: never ready; docker's health check turns unhealthy
    assert result.exit_code == 1
    assert f"error: {d.service}: its health check fails" in result.stderr
    status = json.loads(run("status", str(d.directory), "--json").stdout)
    assert status[0]["health"] == "unhealthy" and status[0]["ready"] is False


def test_rollback_leaves_nothing_behind(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_FAIL: crashloop\n")
    result = up(run, d, "--timeout", "30", "--rollback")
    assert result.exit_code == 1
    assert "rolled back: removed" in result.stderr
    assert d.project_containers() == []


def test_rollback_keeps_what_was_already_running(run: Run, deploy: Deploy) -> None:
    keep = deploy("Qwen2.5-7B-Instruct", "--npus", "4")
    assert up(run, keep, "--timeout", "60").exit_code == 0
    failing = deploy("Qwen3-8B")
    failing.override(f"services:\n  {failing.service}:\n    environment:\n      STANDIN_FAIL: crashloop\n")
    assert up(run, failing, "--timeout", "30", "--rollback").exit_code == 1
    assert failing.project_containers() == []
    assert keep.project_containers() == [keep.service]


# ----------------------------------------------------------------------------------------------- preflight


def refused(result: Result, phrase: str) -> None:
    assert result.exit_code == 1, result.stderr
    assert phrase in result.stderr, result.stderr
    assert "nothing was started" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_device_is_refused(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    fake_host.davinci[0].unlink()
    result = up(run, d)
    refused(result, f"device {fake_host.davinci[0]} does not exist on this host")
    assert d.project_containers() == []


def test_device_that_is_not_a_character_device(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    fake_host.control_devices["hisi_hdc"].unlink()
    fake_host.control_devices["hisi_hdc"].write_text("not a device")
    refused(up(run, d), "is not a character device")


def test_missing_driver_is_refused(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    fake_host.driver_version_info.unlink()
    refused(up(run, d), "driver path")


def test_npu_held_by_another_container(run: Run, deploy: Deploy) -> None:
    first = deploy("Qwen3-8B", "--npus", "0")
    assert up(run, first, "--timeout", "60").exit_code == 0
    second = deploy("Qwen2.5-7B-Instruct", "--npus", "0")
    refused(up(run, second), f"NPU 0 is held by running container '{first.service}'")


def test_container_name_held_by_the_same_model_planned_elsewhere(run: Run, deploy: Deploy) -> None:
    first = deploy("Qwen3-8B", "--npus", "0")
    assert up(run, first, "--timeout", "60").exit_code == 0
    second = deploy("Qwen3-8B", "--npus", "1")  # another directory, the same container name
    where = first.directory.resolve()
    refused(up(run, second), f"the container name '{first.service}' belongs to the deployment in {where}, running")
    assert second.project_containers() == []


def test_npu_busy_per_npu_smi(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B", "--npus", "2")
    fake_host.set_busy({2: [NpuProcess(pid=4242, name="python3")]})
    refused(up(run, d), "NPU 2 is in use by process 4242 (python3) per npu-smi")


def test_port_taken(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", d.port))
        squatter.listen()
        refused(up(run, d), f"port {d.port} is already in use")


def test_model_dir_missing(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    (fake_host.models / "Qwen/Qwen3-8B/config.json").unlink()
    (fake_host.models / "Qwen/Qwen3-8B").rmdir()
    refused(up(run, d), f"model directory {fake_host.models}/Qwen/Qwen3-8B does not exist")


def test_config_json_disagrees_with_catalog(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    config_path = fake_host.models / "Qwen/Qwen3-8B/config.json"
    config = json.loads(config_path.read_text())
    config["num_attention_heads"] = 40
    config_path.write_text(json.dumps(config))
    refused(up(run, d), "says num_attention_heads 40, but the plan for Qwen3-8B expects 32")


def test_all_problems_listed_together(run: Run, deploy: Deploy, fake_host: FakeHost) -> None:
    d = deploy("Qwen3-8B")
    fake_host.davinci[0].unlink()
    fake_host.driver_version_info.unlink()
    result = up(run, d)
    refused(result, "preflight found 2 problem(s)")


def test_no_compose_file_here(run: Run, tmp_path: Path) -> None:
    result = run("up", str(tmp_path))
    assert result.exit_code == 2
    assert "no compose.yml in" in result.stderr


def test_missing_image_is_pulled_with_visible_progress(run: Run, deploy: Deploy) -> None:
    # a registry on loopback that is not there: the pull runs (through docker compose) and fails fast
    d = deploy("Qwen3-8B", "--image", "127.0.0.1:5999/ascendgen-missing:test")
    result = up(run, d)
    assert result.exit_code == 1
    assert "pulling 127.0.0.1:5999/ascendgen-missing:test" in result.stderr
    assert "docker compose pull failed for 127.0.0.1:5999/ascendgen-missing:test" in result.stderr
    assert d.project_containers() == []


def test_api_key_from_env_file_reaches_vllm(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B", "--generate-api-key")
    key = (d.directory / ".env").read_text().strip().split("=", 1)[1]
    result = up(run, d, "--timeout", "60")
    assert result.exit_code == 0, result.stderr
    assert "without an API key" not in result.stderr
    assert "Authorization: Bearer $VLLM_API_KEY" in result.stdout and key not in result.stdout
    assert run("smoke", str(d.directory)).exit_code == 0
    # the stand-in, like vLLM, refuses /v1 requests without the key
    from ascendgen.endpoint import served_models

    assert served_models(d.port) is None  # 401 without the key
    assert served_models(d.port, api_key=key) == ["Qwen/Qwen3-8B"]


def test_open_api_is_warned_about_at_up(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    result = up(run, d, "--timeout", "60")
    assert result.exit_code == 0
    assert f"warning: {d.service} serves on all interfaces without an API key" in result.stderr


def test_hostile_served_name_reaches_the_engine_exactly(run: Run, deploy: Deploy, tmp_path: Path) -> None:
    catalog = tmp_path / "hostile.yaml"
    catalog.write_text('models:\n  - name: Qwen3-8B\n    served_name: "qwen $HOME \\"x\\" #1"\n')
    d = deploy("Qwen3-8B", "--catalog", str(catalog))
    assert up(run, d, "--timeout", "60").exit_code == 0
    status = json.loads(run("status", str(d.directory), "--json").stdout)
    assert status[0]["ready"] is True and status[0]["model"] == 'qwen $HOME "x" #1'


def test_two_instances_in_one_compose_file(
    run: Run, tmp_path: Path, fake_host: FakeHost, hardware_file: Path, standin_image: str
) -> None:
    from deployment import free_port

    out = tmp_path / "two"
    first_port = free_port()
    planned = run(
        "plan", "Qwen3-8B", "Qwen2.5-7B-Instruct", "--server", "fake-a2", "--hardware", str(hardware_file),
        "--image", standin_image, "--models-dir", str(fake_host.models), "--port", str(first_port),
        "--out", str(out),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    try:
        # one service first, then the whole file: only the missing one starts
        one = run("up", str(out), "--service", "vllm-qwen3-8b", "--timeout", "60")
        assert one.exit_code == 0, one.stderr
        both = run("up", str(out), "--timeout", "60")
        assert both.exit_code == 0, both.stderr
        assert "started: vllm-qwen2-5-7b-instruct" in both.stderr
        assert "unchanged, already running: vllm-qwen3-8b" in both.stderr

        rows = json.loads(run("status", str(out), "--json").stdout)
        assert {r["service"]: r["npus"] for r in rows} == {"vllm-qwen2-5-7b-instruct": [1], "vllm-qwen3-8b": [0]}
        assert all(r["ready"] for r in rows)
        assert sorted(r["port"] for r in rows) == [first_port, first_port + 1]
        smoke = run("smoke", str(out))
        assert smoke.exit_code == 0 and "Qwen/Qwen3-8B" in smoke.stdout and "Qwen/Qwen2.5-7B-Instruct" in smoke.stdout
        assert run("down", str(out)).exit_code == 0
        assert json.loads(run("status", str(out), "--json").stdout)[0]["state"] == "missing"
    finally:
        subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=out, capture_output=True)
