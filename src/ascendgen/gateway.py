"""One endpoint for several models: a LiteLLM proxy beside the vLLM instances, in the same compose file.

The gateway listens on the plan's first port (--port), on every interface unless --host, and sends each request to
the instance serving the `model` it names; GET /v1/models lists them all. It requires the API key from .env
(VLLM_API_KEY, as the instances do); the instances move to the ports after it and listen on 127.0.0.1 only, still
requiring the key, which the gateway passes on.

Why LiteLLM (ghcr.io/berriai/litellm; research in docs and the README): it routes by model name from a YAML file
(`model_list[].model_name` is what clients send, `litellm_params.model` + `api_base` the backend), one static
`general_settings.master_key` enforces a Bearer key without a database, it publishes linux/arm64 images (Ascend hosts
are mostly Kunpeng aarch64) and is MIT-licensed and maintained. Sources: docs/my-website/docs/proxy/configs.md
(BerriAI/litellm; "os.environ/<YOUR-ENV-VAR> # runs
os.getenv(...) This works for ANY value on the config.yaml", "master_key: ... require all calls to contain this key
(Authorization: Bearer sk-1234)"), docs/my-website/docs/proxy/health.md (`GET /health/liveliness`, auth none),
docs/my-website/docs/providers/vllm.md (the `hosted_vllm/` route "for OpenAI compatible server", endpoints
/chat/completions, /embeddings, /completions, /rerank: so an embedding model or a reranker routes like a chat model;
litellm/llms/hosted_vllm/rerank/transformation.py posts a rerank to api_base + "/rerank", vLLM's /v1/rerank)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ascendgen import __version__
from ascendgen.envfile import EnvRef
from ascendgen.errors import AscendgenError
from ascendgen.planner import API_KEY_ENV, BACKEND_HOST, Plan
from ascendgen.planner import LITELLM_ENV_PREFIX as _ENV_PREFIX
from ascendgen.render import LABEL_PREFIX, content_hash, read_generated, with_header
from ascendgen.yamlfile import UnreadableFileError, read_text_file

# LiteLLM's long-term-support line 1.108.x ("1.108.12 (LTS)", release notes of BerriAI/litellm v1.108.12, image
# ghcr.io/berriai/litellm:v1.108.12). arm64: the reusable publish workflow builds `platforms: linux/amd64,linux/arm64`
# by default (.github/workflows/_publish-container.yml at 186226d), and the ghcr package page lists a linux/arm64
# digest for each release (e.g. v1.80.11-stable.1). A pinned release, never :main-latest or :dev (issue #26974:
# an x86 binary in a :dev image on aarch64). Another tag: set `image:` in compose.override.yml.
GATEWAY_IMAGE = "ghcr.io/berriai/litellm:v1.108.12"
GATEWAY_SERVICE = "gateway"
GATEWAY_CONFIG = "litellm-config.yaml"  # beside compose.yml
CONFIG_IN_CONTAINER = "/app/config.yaml"  # where LiteLLM's docker docs mount it (`--config /app/config.yaml`)
HEALTH_PATH = "/health/liveliness"  # LiteLLM's liveness probe: no key, no model calls (its /health calls every model)
ROLE = "gateway"
NAMES_LABEL = f"{LABEL_PREFIX}.served-model-names"  # JSON list of the names the gateway routes
CONFIG_LABEL = f"{LABEL_PREFIX}.gateway-config"  # the config's content hash: check and up see an edit or a drift


@dataclass(frozen=True)
class Route:
    served_name: str  # what clients send as `model`
    port: int  # the instance's port on 127.0.0.1


@dataclass(frozen=True)
class Gateway:
    port: int
    host: str | None  # None: every interface
    routes: tuple[Route, ...]

    @property
    def served_names(self) -> list[str]:
        """Each name once, in the order of the instances (two instances of one name are load-balanced)."""
        return list(dict.fromkeys(route.served_name for route in self.routes))


def gateway_for(plans: Sequence[Plan], port: int, host: str | None) -> Gateway:
    return Gateway(port=port, host=host, routes=tuple(Route(p.model.served_model_name, p.port) for p in plans))


def litellm_config(gateway: Gateway) -> dict[str, Any]:
    """LiteLLM's proxy config (docs/my-website/docs/proxy/configs.md): one `model_list` entry per instance, the
    `hosted_vllm/` provider (a vLLM server) at the instance's /v1, the key from the container's
    environment for both the clients (`general_settings.master_key`) and the instances (`litellm_params.api_key`)."""
    key = _ENV_PREFIX + API_KEY_ENV
    return {
        "model_list": [
            {
                "model_name": route.served_name,
                "litellm_params": {
                    "model": f"hosted_vllm/{route.served_name}",
                    "api_base": f"http://{BACKEND_HOST}:{route.port}/v1",
                    "api_key": key,
                },
            }
            for route in gateway.routes
        ],
        "general_settings": {"master_key": key},
    }


def render_config_body(gateway: Gateway) -> str:
    """The config as YAML, every string double-quoted (JSON's escapes are YAML's), so a served name cannot change
    its structure; checked to read back as meant."""
    config = litellm_config(gateway)
    lines = ["model_list:"]
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        lines += [
            f"  - model_name: {_quote(entry['model_name'])}",
            "    litellm_params:",
            *(f"      {key}: {_quote(params[key])}" for key in ("model", "api_base", "api_key")),
        ]
    lines += ["general_settings:", f"  master_key: {_quote(config['general_settings']['master_key'])}"]
    body = "\n".join(lines) + "\n"
    if yaml.safe_load(body) != config:
        raise AscendgenError("internal error: the gateway config does not read back as planned")
    return body


def render_config(gateway: Gateway, header: Sequence[str]) -> str:
    """litellm-config.yaml: `header` (what generated it, the recipe), a content hash, the config."""
    return with_header(header, render_config_body(gateway))


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


@dataclass(frozen=True)
class GatewayService:
    """The gateway's compose service, as templates/gateway.yml.j2 lays it out."""

    name: str
    container_name: str
    image: str
    volume: str
    environment: tuple[tuple[str, str | EnvRef], ...]
    labels: tuple[tuple[str, str], ...]
    command: tuple[str, ...]


def gateway_service(gateway: Gateway, config_body: str) -> GatewayService:
    """LiteLLM's image runs `litellm` with the arguments given (Dockerfile: ENTRYPOINT docker/prod_entrypoint.sh,
    CMD ["--port", "4000"]); its CLI takes --config, --host and --port. The config is mounted read-only; the key
    reaches it as VLLM_API_KEY from .env (compose refuses to start without it)."""
    labels = (
        (f"{LABEL_PREFIX}.role", ROLE),
        (f"{LABEL_PREFIX}.port", str(gateway.port)),
        (NAMES_LABEL, json.dumps(gateway.served_names, ensure_ascii=True)),
        (CONFIG_LABEL, f"sha256:{content_hash(config_body)}"),
    )
    return GatewayService(
        name=GATEWAY_SERVICE,
        container_name=f"litellm-{gateway.port}",  # ports are unique on a host (network_mode: host)
        image=GATEWAY_IMAGE,
        volume=f"./{GATEWAY_CONFIG}:{CONFIG_IN_CONTAINER}:ro",
        environment=((API_KEY_ENV, EnvRef(API_KEY_ENV)),),
        labels=labels,
        command=("--config", CONFIG_IN_CONTAINER, "--host", gateway.host or "0.0.0.0", "--port", str(gateway.port)),
    )


def render_gateway_service(service: GatewayService) -> str:
    """The service's lines, to follow the vLLM services under `services:`."""
    from ascendgen.render import jinja_environment

    return jinja_environment().get_template("gateway.yml.j2").render(gw=service).strip("\n") + "\n"


def check_gateway_round_trip(compose_text: str, service: GatewayService) -> None:
    """The rendered compose file holds the gateway exactly as planned (compose un-doubles `$$`)."""
    parsed: Any = yaml.load(compose_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # as render reads
    got = parsed["services"][service.name]
    expected = {
        "image": service.image,
        "volumes": [service.volume],
        "environment": {name: str(value) for name, value in service.environment},
        "labels": dict(service.labels),
        "command": list(service.command),
    }
    for key, value in expected.items():
        actual = got[key]
        if isinstance(actual, dict):
            actual = {k: v.replace("$$", "$") if k != API_KEY_ENV else v for k, v in actual.items()}
        elif isinstance(actual, list):
            actual = [v.replace("$$", "$") for v in actual]
        if actual != value:
            raise AscendgenError(f"internal error: rendered {key} of the gateway does not read back as planned")


def header_line(gateway: Gateway) -> str:
    routes = ", ".join(f"{route.served_name} -> {route.port}" for route in gateway.routes)
    where = gateway.host or "all interfaces"
    return f"# Gateway: LiteLLM on port {gateway.port} ({where}), API key required; {routes} on {BACKEND_HOST}"


def render_gateway_files(plans: Sequence[Plan], port: int, host: str | None, regenerate: str) -> tuple[str, str]:
    """compose.yml (the instances, then the gateway) and litellm-config.yaml, for plans on one server."""
    from ascendgen.render import build_service, header_lines, plan_note, render_services, unique_service_names

    gateway = gateway_for(plans, port, host)
    config_body = render_config_body(gateway)
    service = gateway_service(gateway, config_body)
    names = unique_service_names(plans)
    services = [build_service(plan, name) for plan, name in zip(plans, names, strict=True)]
    body = render_services(services) + render_gateway_service(service)
    check_gateway_round_trip(body, service)
    header = header_lines(regenerate, [header_line(gateway).removeprefix("# "), *(plan_note(p) for p in plans)])
    config_header = [
        f"# Generated by ascendgen {__version__} with the compose.yml beside it: LiteLLM's config for its gateway "
        "service. Do not edit; change the plan and regenerate both.",
        header[1],
    ]
    return with_header(header, body), render_config(gateway, config_header)


def config_problem(labels: dict[str, str], config_path: Path | None) -> str | None:
    """Why the gateway's config file does not go with its compose service (missing, edited by hand, from another
    plan), or None. The service's label holds the hash of the config it was planned with."""
    recorded = labels.get(CONFIG_LABEL)
    if recorded is None or labels.get(f"{LABEL_PREFIX}.role") != ROLE:
        return None
    if config_path is None:
        return f"the gateway mounts no {GATEWAY_CONFIG} at {CONFIG_IN_CONTAINER}"
    if not config_path.exists():
        return f"{config_path} is missing: rerun the plan command in compose.yml's header"
    try:
        text = read_text_file(config_path)
    except UnreadableFileError as exc:
        return f"{config_path}: {exc.reason}"
    body = read_generated(text).body
    if f"sha256:{content_hash(body)}" != recorded:
        return (
            f"{config_path} is not the config compose.yml was planned with (edited by hand, or from another plan): "
            "rerun the plan command in compose.yml's header (with --force to overwrite an edit)"
        )
    return None
