"""One endpoint for several models (`plan A B --gateway`): the LiteLLM config checked against LiteLLM's documented
schema, the compose wiring (as Compose v2 reads it), ports and hosts, the key, refusals, all-or-nothing writing, drift,
and what up / status / smoke make of the gateway service.

LiteLLM's proxy config (BerriAI/litellm docs/my-website/docs/proxy/configs.md): `model_list` entries with
`model_name` ("the name to pass TO litellm from the external client") and `litellm_params` (`model`: with the
`hosted_vllm/` route "for OpenAI compatible server", docs/my-website/docs/providers/vllm.md, `api_base`, `api_key`);
`general_settings.master_key` ("require all calls to contain this key (Authorization: Bearer ...)");
"os.environ/<YOUR-ENV-VAR> # runs os.getenv(...) This works for ANY value on the config.yaml".
Health (docs/my-website/docs/proxy/health.md): `GET /health/liveliness`, no auth."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from ascendgen.cli.smoke import _endpoints
from ascendgen.composeconfig import Mount, ServiceConfig
from ascendgen.gateway import (
    CONFIG_LABEL,
    GATEWAY_CONFIG,
    GATEWAY_IMAGE,
    Gateway,
    Route,
    config_problem,
    litellm_config,
    render_config_body,
)
from ascendgen.render import content_hash
from ascendgen.runtime import ContainerState, is_ready

from helpers import Result

Run = Callable[..., Result]
MODELS = ("Qwen3-8B", "Qwen2.5-7B-Instruct")
KEY = "s3cret-key"

# The keys LiteLLM's configs.md documents for what ascendgen writes.
TOP_LEVEL = {"model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"}
PARAMS = {"model", "api_base", "api_key", "rpm", "tpm", "timeout", "max_tokens", "temperature"}


def plan_gateway(run: Run, out: Path, *extra: str) -> Result:
    return run("plan", *MODELS, "--gateway", "--api-key", KEY, "--out", str(out), *extra)


def compose_config(directory: Path) -> dict[str, Any]:
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=directory, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- the LiteLLM config


def test_config_follows_litellms_documented_schema(run: Run, tmp_path: Path) -> None:
    result = plan_gateway(run, tmp_path)
    assert result.exit_code == 0, result.stderr
    config = yaml.safe_load((tmp_path / GATEWAY_CONFIG).read_text())
    assert set(config) <= TOP_LEVEL
    assert config["general_settings"] == {"master_key": "os.environ/VLLM_API_KEY"}  # the key is never in the file
    entries = config["model_list"]
    assert [e["model_name"] for e in entries] == ["Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B-Instruct"]
    for entry, port in zip(entries, (8001, 8002), strict=True):
        assert set(entry) == {"model_name", "litellm_params"}
        params = entry["litellm_params"]
        assert set(params) <= PARAMS
        # `hosted_vllm/<served name>`: LiteLLM strips the provider and sends the rest as `model` to the instance
        assert params["model"] == f"hosted_vllm/{entry['model_name']}"
        assert params["api_base"] == f"http://127.0.0.1:{port}/v1"
        assert params["api_key"] == "os.environ/VLLM_API_KEY"  # the instances require the key too
    assert KEY not in (tmp_path / GATEWAY_CONFIG).read_text()


@pytest.mark.parametrize("name", ['odd "name": #1', "模型/é", "a\\b", "- dash", "x: {y: z}"])
def test_served_names_cannot_change_the_configs_structure(name: str) -> None:
    gateway = Gateway(port=8000, host=None, routes=(Route(name, 8001), Route("other", 8002)))
    body = render_config_body(gateway)
    assert yaml.safe_load(body) == litellm_config(gateway)
    assert yaml.safe_load(body)["model_list"][0]["model_name"] == name


def test_a_served_name_litellm_would_read_as_a_variable_is_refused(run: Run, write: Callable[..., Path]) -> None:
    deployment = write(
        "ascendgen.yaml",
        """
        gateway: true
        api_key_env: true
        instances:
          - model: Qwen3-8B
            served_name: os.environ/HOME
          - model: Qwen2.5-7B-Instruct
        """,
    )
    result = run("plan", "-f", str(deployment), "--dry-run")
    assert result.exit_code == 2
    assert "starts with 'os.environ/', which LiteLLM reads as an environment variable" in result.stderr


# ---------------------------------------------------------------------------------------------- compose wiring


def test_gateway_service_ports_and_hosts(run: Run, tmp_path: Path) -> None:
    result = plan_gateway(run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr and GATEWAY_CONFIG in result.stderr
    assert "one endpoint on port 8000" in result.stderr
    assert ".env" in (tmp_path / ".gitignore").read_text()
    services = compose_config(tmp_path)["services"]  # compose reads VLLM_API_KEY from .env
    assert set(services) == {"vllm-qwen3-8b", "vllm-qwen2-5-7b-instruct", "gateway"}
    gateway = services["gateway"]
    assert gateway["image"] == GATEWAY_IMAGE and ":latest" not in GATEWAY_IMAGE and ":main" not in GATEWAY_IMAGE
    assert gateway["network_mode"] == "host"
    assert gateway["command"] == ["--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", "8000"]
    assert gateway["environment"] == {"VLLM_API_KEY": KEY}
    (volume,) = gateway["volumes"]
    assert volume["source"] == str(tmp_path / GATEWAY_CONFIG) and volume["target"] == "/app/config.yaml"
    assert volume["read_only"] is True
    assert "devices" not in gateway  # it reaches no NPU
    labels = gateway["labels"]
    assert json.loads(labels["io.ascendgen.served-model-names"]) == ["Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B-Instruct"]
    assert labels["io.ascendgen.port"] == "8000" and labels["io.ascendgen.role"] == "gateway"
    body = (tmp_path / GATEWAY_CONFIG).read_text().split("\n", 3)[3]  # below the header and its hash line
    assert labels[CONFIG_LABEL] == f"sha256:{content_hash(body)}"
    for name, port in (("vllm-qwen3-8b", "8001"), ("vllm-qwen2-5-7b-instruct", "8002")):
        command = services[name]["command"]
        assert command[command.index("--host") + 1] == "127.0.0.1"  # behind the gateway: this machine only
        assert command[command.index("--port") + 1] == port
        assert services[name]["environment"]["VLLM_API_KEY"] == KEY


def test_gateway_host_and_port_follow_the_flags(run: Run, tmp_path: Path) -> None:
    result = plan_gateway(run, tmp_path, "--port", "9000", "--host", "10.1.2.3")
    assert result.exit_code == 0, result.stderr
    services = compose_config(tmp_path)["services"]
    assert services["gateway"]["command"][-4:] == ["--host", "10.1.2.3", "--port", "9000"]
    assert services["gateway"]["container_name"] == "litellm-9000"
    ports = sorted(s["labels"]["io.ascendgen.port"] for n, s in services.items() if n != "gateway")
    assert ports == ["9001", "9002"]
    header = (tmp_path / "compose.yml").read_text().splitlines()
    assert header[1].endswith(f"ascendgen plan {' '.join(MODELS)} --port 9000 --host 10.1.2.3 --gateway --api-key-env")
    assert header[2].startswith("# Gateway: LiteLLM on port 9000 (10.1.2.3), API key required")
    assert run("check", str(tmp_path)).exit_code == 0


def test_one_model_behind_a_gateway_keeps_port_as_the_gateways(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--gateway", "--generate-api-key", "--port", "8100", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    services = compose_config(tmp_path)["services"]
    assert services["gateway"]["labels"]["io.ascendgen.port"] == "8100"
    assert services["vllm-qwen3-8b"]["labels"]["io.ascendgen.port"] == "8101"
    assert run("check", str(tmp_path)).exit_code == 0  # the recipe reads --port back as the gateway's


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*MODELS, "--gateway"], "--gateway enforces the API key at the one endpoint it opens: add --generate-api-key"),
        (
            ["Qwen3-8B", "--gateway", "--generate-api-key", "--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth0"],
            "--gateway puts several models on one server behind one endpoint",
        ),
    ],
)
def test_gateway_refusals(run: Run, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("plan", *args, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_instance_on_the_gateways_port_is_refused(run: Run, write: Callable[..., Path]) -> None:
    deployment = write(
        "ascendgen.yaml",
        """
        gateway: true
        api_key_env: true
        first_port: 8500
        instances:
          - model: Qwen3-8B
            port: 8500
          - model: Qwen2.5-7B-Instruct
        """,
    )
    result = run("plan", "-f", str(deployment), "--dry-run")
    assert result.exit_code == 2
    assert "port 8500 is the gateway's (--port / first_port)" in result.stderr


# ---------------------------------------------------------------------------------------------- files on disk


def test_a_hand_edit_of_the_config_is_kept_and_nothing_is_written(run: Run, tmp_path: Path) -> None:
    assert plan_gateway(run, tmp_path).exit_code == 0
    config = tmp_path / GATEWAY_CONFIG
    config.write_text(config.read_text().replace("8001", "8009"))
    compose_before = (tmp_path / "compose.yml").read_text()
    edited = config.read_text()
    result = plan_gateway(run, tmp_path, "--port", "9000")
    assert result.exit_code == 1
    assert "litellm-config.yaml was edited by hand since ascendgen wrote it" in result.stderr
    assert config.read_text() == edited and (tmp_path / "compose.yml").read_text() == compose_before
    assert plan_gateway(run, tmp_path, "--port", "9000", "--force").exit_code == 0
    assert "9001" in config.read_text()


def test_check_sees_a_config_that_does_not_go_with_compose(run: Run, tmp_path: Path) -> None:
    assert plan_gateway(run, tmp_path).exit_code == 0
    assert run("check", str(tmp_path)).exit_code == 0
    config = tmp_path / GATEWAY_CONFIG
    config.write_text(config.read_text().replace("http://127.0.0.1:8002/v1", "http://10.0.0.9:8002/v1"))
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert "is not the config compose.yml was planned with" in result.stderr
    config.unlink()
    assert "litellm-config.yaml is missing" in run("check", str(tmp_path)).stderr


def test_config_problem_for_preflight(tmp_path: Path) -> None:
    gateway = Gateway(port=8000, host=None, routes=(Route("a", 8001),))
    body = render_config_body(gateway)
    labels = {"io.ascendgen.role": "gateway", CONFIG_LABEL: f"sha256:{content_hash(body)}"}
    path = tmp_path / GATEWAY_CONFIG
    assert "is missing" in (config_problem(labels, path) or "")
    path.write_text("# Content hash: sha256:x\n" + body)
    assert config_problem(labels, path) is None
    path.write_text("# Content hash: sha256:x\n" + body.replace("8001", "8003"))
    assert "edited by hand, or from another plan" in (config_problem(labels, path) or "")
    assert config_problem({"io.ascendgen.role": "gateway"}, None) is None  # not planned with a config hash
    assert config_problem(labels, None) == "the gateway mounts no litellm-config.yaml at /app/config.yaml"


# ---------------------------------------------------------------------------------------------- up / status / smoke


def service(name: str, labels: dict[str, str], environment: dict[str, str] | None = None) -> ServiceConfig:
    return ServiceConfig(
        name=name, container_name=name, image="x", devices=(), volumes=(Mount("/h", "/app/config.yaml", True),),
        command=("--config", "/app/config.yaml"), environment=environment or {}, labels=labels,
    )  # fmt: skip


def gateway_service(port: int, names: list[str]) -> ServiceConfig:
    labels = {"io.ascendgen.role": "gateway", "io.ascendgen.port": str(port),
              "io.ascendgen.served-model-names": json.dumps(names)}  # fmt: skip
    return service("gateway", labels, {"VLLM_API_KEY": KEY})


def test_service_config_reads_a_gateway() -> None:
    gw = gateway_service(8000, ["a", "b/c"])
    assert gw.is_gateway and gw.served_names == ("a", "b/c") and gw.port == 8000
    assert gw.served_model_name == "a, b/c" and gw.health_path == "/health/liveliness"
    instance = service("vllm-a", {"io.ascendgen.served-model-name": "a", "io.ascendgen.port": "8001"})
    assert not instance.is_gateway and instance.served_names == ("a",) and instance.health_path == "/health"
    broken = service("gateway", {"io.ascendgen.served-model-names": "not json"})
    assert broken.served_names == () and broken.served_model_name is None


def test_smoke_asks_each_model_through_the_gateway_what_it_is_for() -> None:
    gw = gateway_service(8000, ["a", "b"])
    a = service("vllm-a", {"io.ascendgen.served-model-name": "a", "io.ascendgen.port": "8001"})
    b = service(
        "vllm-b", {"io.ascendgen.served-model-name": "b", "io.ascendgen.port": "8002", "io.ascendgen.task": "rerank"}
    )
    other = service(
        "vllm-c", {"io.ascendgen.served-model-name": "c", "io.ascendgen.port": "8003", "io.ascendgen.task": "embed"}
    )
    assert [(s.name, m, t) for s, m, t in _endpoints([a, b, gw, other])] == [
        ("gateway", "a", "generate"), ("gateway", "b", "rerank"), ("vllm-c", "c", "embed"),
    ]  # fmt: skip
    # --service vllm-a: that one directly
    assert [(s.name, m, t) for s, m, t in _endpoints([a])] == [("vllm-a", "a", "generate")]


class _FakeLiteLLM(BaseHTTPRequestHandler):
    """What `is_ready` meets on a LiteLLM port: /v1/models behind the key, /health behind the key (it calls every
    model), /health/liveliness open."""

    names: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        authorized = self.headers.get("Authorization") == f"Bearer {KEY}"
        if self.path == "/health/liveliness":
            self._answer(200, "I'm alive!")
        elif self.path == "/v1/models" and authorized:
            self._answer(200, {"data": [{"id": name, "object": "model"} for name in self.names], "object": "list"})
        else:
            self._answer(401, {"error": "Authentication Error"})

    def _answer(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_litellm() -> Iterator[tuple[int, type[_FakeLiteLLM]]]:
    handler = type("Handler", (_FakeLiteLLM,), {"names": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


def test_the_gateway_is_ready_when_it_lists_every_model(fake_litellm: tuple[int, type[_FakeLiteLLM]]) -> None:
    port, handler = fake_litellm
    running = ContainerState(service="gateway", container_id="x", container_name="litellm", status="running",
                             health=None, exit_code=None, restart_count=0, started_at=None)  # fmt: skip
    gw = gateway_service(port, ["a", "b"])
    handler.names = ["a"]
    assert not is_ready(gw, running)  # one model missing
    handler.names = ["a", "b"]
    assert is_ready(gw, running)  # its /health would answer 401: the liveness probe is asked instead
    keyless = service("gateway", dict(gw.labels))
    assert not is_ready(keyless, running)  # without the key /v1/models answers 401
