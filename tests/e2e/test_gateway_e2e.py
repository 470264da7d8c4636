"""One endpoint for two models, and one model twice behind one port, on a real Docker Engine: the generated
compose.yml and litellm-config.yaml run unchanged except for the images (the vLLM stand-in, and the LiteLLM
stand-in set in compose.override.yml: tests/standin/litellm_standin.py reads the config as LiteLLM documents it,
checks the master key and routes by model name). So the config's schema, the key passed from .env, the mount, the
ports and the instances' 127.0.0.1 are proven together, and `up`, `status` and `smoke` with them."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakehost import FakeHost
from helpers import Result
from standin.build import GATEWAY_TAG, build_gateway_standin_image

Run = Callable[..., Result]
MODELS = ("Qwen3-8B", "Qwen2.5-7B-Instruct")
SERVED = ["Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B-Instruct"]
KEY = "e2e-gateway-key"


@pytest.fixture(scope="session")
def gateway_image(docker_engine: None) -> str:
    return build_gateway_standin_image(GATEWAY_TAG)


def free_ports(count: int) -> int:
    """The first of `count` consecutive free TCP ports (the gateway's, then each instance's)."""
    for start in range(20000, 60000, 7):
        try:
            for port in range(start, start + count):
                with socket.socket() as probe:
                    probe.bind(("0.0.0.0", port))
        except OSError:
            continue
        return start
    raise RuntimeError("no free port range")


def http(port: int, path: str, *, key: str | None = KEY, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def gateway_deployment(
    run: Run, tmp_path: Path, fake_host: FakeHost, hardware_file: Path, standin_image: str, gateway_image: str
) -> Iterator[tuple[Path, int]]:
    port = free_ports(3)
    directory = tmp_path / "gateway"
    planned = run(
        "plan", *MODELS, "--gateway", "--api-key", KEY, "--server", "fake-a2", "--hardware", str(hardware_file),
        "--image", standin_image, "--models-dir", str(fake_host.models), "--port", str(port), "--out", str(directory),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    # the one change: the gateway's image (ghcr.io cannot be pulled here), as a user pins another tag
    (directory / "compose.override.yml").write_text(f"services:\n  gateway:\n    image: {gateway_image}\n")
    yield directory, port
    subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=directory, capture_output=True, check=False)


def test_two_models_behind_one_gateway(run: Run, gateway_deployment: tuple[Path, int]) -> None:
    directory, port = gateway_deployment
    up = run("up", str(directory), "--timeout", "90")
    assert up.exit_code == 0, up.stderr
    assert "gateway ready in" in up.stderr and f"http://localhost:{port}/v1" in up.stderr

    # the gateway lists both names, with the key only
    status, models = http(port, "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == SERVED
    assert http(port, "/v1/models", key=None)[0] == 401
    assert http(port, "/v1/models", key="wrong")[0] == 401
    assert http(port, "/health/liveliness", key=None)[0] == 200

    # each request reaches the instance serving the model it names (the stand-in answers with its served name)
    for name in SERVED:
        body = {"model": name, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}
        status, answer = http(port, "/v1/chat/completions", body=body)
        assert status == 200, answer
        assert answer["model"] == name  # LiteLLM sends `hosted_vllm/<name>` without its provider: the served name
    status, answer = http(port, "/v1/chat/completions", body={"model": "nope", "messages": [{"content": "x"}]})
    assert status == 400

    # the instances sit on the ports after the gateway's and still require the key
    for offset in (1, 2):
        assert http(port + offset, "/v1/models", key=None)[0] == 401
        assert http(port + offset, "/v1/models")[0] == 200

    rows = json.loads(run("status", str(directory), "--json").stdout)
    by_service = {row["service"]: row for row in rows}
    assert set(by_service) == {"gateway", "vllm-qwen3-8b", "vllm-qwen2-5-7b-instruct"}
    assert by_service["gateway"]["ready"] is True and by_service["gateway"]["port"] == port
    assert by_service["gateway"]["npus"] == []
    assert [by_service[s]["port"] for s in ("vllm-qwen3-8b", "vllm-qwen2-5-7b-instruct")] == [port + 1, port + 2]

    smoke = run("smoke", str(directory))
    assert smoke.exit_code == 0, smoke.stderr
    assert smoke.stdout.count("gateway") >= 2  # one chat per model, through the gateway
    for name in SERVED:
        assert name in smoke.stdout

    down = run("down", str(directory))
    assert down.exit_code == 0, down.stderr


def test_a_config_edited_after_the_plan_stops_up(run: Run, gateway_deployment: tuple[Path, int]) -> None:
    directory, _ = gateway_deployment
    config = directory / "litellm-config.yaml"
    config.write_text(config.read_text().replace("/v1", "/v2", 1))
    result = run("up", str(directory), "--timeout", "30")
    assert result.exit_code == 1
    assert "is not the config compose.yml was planned with" in result.stderr
    assert "nothing was started" in result.stderr


def test_the_gateway_refuses_to_start_without_a_key(run: Run, gateway_deployment: tuple[Path, int]) -> None:
    """An empty VLLM_API_KEY: compose refuses it (`${VLLM_API_KEY:?...}` also fails on an empty value), so the gateway
    never runs without a master key."""
    directory, _ = gateway_deployment
    (directory / ".env").write_text("VLLM_API_KEY=\n")
    result = run("up", str(directory), "--timeout", "30")
    assert result.exit_code != 0
    assert "VLLM_API_KEY" in result.stderr


def test_one_model_twice_behind_one_port(run: Run, tmp_path: Path, fake_host: FakeHost, hardware_file: Path,
                                         standin_image: str) -> None:  # fmt: skip
    port = free_ports(1)
    directory = tmp_path / "dp"
    planned = run(
        "plan", "Qwen3-8B", "--dp", "2", "--server", "fake-a2", "--hardware", str(hardware_file), "--image",
        standin_image, "--models-dir", str(fake_host.models), "--port", str(port), "--out", str(directory),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    try:
        up = run("up", str(directory), "--timeout", "60")
        assert up.exit_code == 0, up.stderr  # the stand-in checks DP x TP = 2 NPUs are visible
        (row,) = json.loads(run("status", str(directory), "--json").stdout)
        assert row["npus"] == [0, 1] and row["ready"] is True
        assert run("smoke", str(directory)).exit_code == 0
    finally:
        subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=directory, capture_output=True, check=False)


def test_a_chat_an_embedding_and_a_reranker_behind_one_gateway(
    run: Run, tmp_path: Path, fake_host: FakeHost, hardware_file: Path, standin_image: str, gateway_image: str
) -> None:
    """The models people serve beside a chat model: each routed by the gateway (LiteLLM's hosted_vllm/ provider has
    /embeddings and /rerank), and `smoke` asks each what it is for, through the gateway."""
    configs = Path(__file__).parents[1] / "fixtures" / "configs"
    for name in ("BAAI/bge-m3", "Qwen/Qwen3-Reranker-0.6B"):
        fake_host.add_model(name, json.loads((configs / f"{name.replace('/', '__')}.json").read_text()))
    port = free_ports(4)
    directory = tmp_path / "pooling"
    planned = run(
        "plan", "Qwen3-8B", "bge-m3", "Qwen3-Reranker-0.6B", "--gateway", "--api-key", KEY, "--server", "fake-a2",
        "--hardware", str(hardware_file), "--image", standin_image, "--models-dir", str(fake_host.models),
        "--port", str(port), "--out", str(directory),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr
    (directory / "compose.override.yml").write_text(f"services:\n  gateway:\n    image: {gateway_image}\n")
    try:
        up = run("up", str(directory), "--timeout", "90")
        assert up.exit_code == 0, up.stderr
        status, answer = http(port, "/v1/embeddings", body={"model": "BAAI/bge-m3", "input": "hello"})
        assert status == 200 and answer["data"][0]["embedding"], answer
        body = {"model": "Qwen/Qwen3-Reranker-0.6B", "query": "capital of China", "documents": ["Paris", "Beijing"]}
        status, answer = http(port, "/v1/rerank", body=body)
        assert status == 200 and "results" in answer and "meta" in answer, answer  # LiteLLM's RerankResponse
        smoke = run("smoke", str(directory))
        assert smoke.exit_code == 0, smoke.stdout + smoke.stderr
        assert "Hello from the ascendgen stand-in" in smoke.stdout
        assert "an embedding of 16 numbers" in smoke.stdout and "ranked first" in smoke.stdout
        assert smoke.stdout.count("gateway") >= 3
    finally:
        subprocess.run(["docker", "compose", "down", "--timeout", "2"], cwd=directory, capture_output=True, check=False)
