"""A Ray head and a worker of the stand-in, as two compose projects on one engine (two "servers" on
loopback addresses): the worker's command and environment point at the head, and it joins it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from fakehost import FakeHost
from helpers import Run


def inspect(container: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(["docker", "inspect", container], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)[0]  # type: ignore[no-any-return]


def test_head_and_worker_point_at_each_other(
    run: Run, tmp_path: Path, fake_host: FakeHost, hardware_file: Path, standin_image: str
) -> None:
    out = tmp_path / "cluster"
    planned = run(
        "plan", "Qwen3-8B", "--server", "fake-a2", "--hardware", str(hardware_file), "--image", standin_image,
        "--models-dir", str(fake_host.models), "--port", "18080",
        "--node", "127.0.0.1:lo", "--node", "127.0.0.2:lo", "--out", str(out),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    assert "fits on one fake-a2" in planned.stdout  # and the plan proposes replicas instead
    head, worker = out / "head", out / "worker-1"
    try:
        up = run("up", str(head), "--timeout", "60")
        assert up.exit_code == 0, up.stderr
        # the same machine plays the worker: its NPUs are the head's, so start it with compose directly
        started = subprocess.run(["docker", "compose", "up", "-d"], cwd=worker, capture_output=True, text=True)
        assert started.returncode == 0, started.stderr

        worker_container = inspect("vllm-qwen3-8b-worker")
        assert worker_container["Config"]["Entrypoint"] == ["ray"]
        assert "--address=127.0.0.1:6379" in worker_container["Config"]["Cmd"]
        assert "--node-ip-address=127.0.0.2" in worker_container["Config"]["Cmd"]
        env = dict(item.split("=", 1) for item in worker_container["Config"]["Env"])
        assert env["HCCL_IF_IP"] == "127.0.0.2"
        assert env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == env["HCCL_SOCKET_IFNAME"] == "lo"
        assert env["RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES"] == "1"
        assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
        head_env = dict(item.split("=", 1) for item in inspect("vllm-qwen3-8b")["Config"]["Env"])
        assert head_env["HCCL_IF_IP"] == "127.0.0.1"

        for _ in range(30):  # the worker reaches the head's Ray port
            logs = subprocess.run(["docker", "logs", "vllm-qwen3-8b-worker"], capture_output=True, text=True)
            if "joined 127.0.0.1:6379" in logs.stdout + logs.stderr:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the worker did not join the head: {logs.stdout}{logs.stderr}")

        assert run("smoke", str(head)).exit_code == 0
        status = json.loads(run("status", str(worker), "--json").stdout)
        assert status[0]["state"] == "running" and status[0]["port"] is None
    finally:
        for directory in (worker, head):
            subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=directory, capture_output=True)
