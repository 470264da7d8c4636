#!/usr/bin/python3
"""Stand-in for the LiteLLM proxy inside ghcr.io/berriai/litellm, for tests without a registry (installed as
/usr/local/bin/litellm, the ENTRYPOINT of the ascendgen-gateway-standin image; see build.py).

`litellm --config FILE [--host H] [--port P]` reads the config as LiteLLM documents it
(docs/my-website/docs/proxy/configs.md) with PyYAML's safe loader, and refuses to start, as LiteLLM would, on what
it cannot use: an unknown top-level section, a model_list entry without `model_name` or `litellm_params.model`, a
provider other than the OpenAI-compatible ones (`openai/`, `hosted_vllm/`) without an `api_base`, an unset or empty
master key (LiteLLM refuses it since PR #42019). Values `os.environ/NAME` are read from the environment, as
LiteLLM's get_secret does. Then it serves, with stdlib http.server:

  GET  /health/liveliness, /health/liveness, /health/readiness   no key (LiteLLM's probes)
  GET  /v1/models, /models                                       the model_name of every entry, once each
  POST /v1/chat/completions, /chat/completions, /v1/completions,  forwarded to the entry whose model_name the
       /completions, /v1/embeddings, /embeddings                   body names (round robin among equal names), with
  POST /v1/rerank, /rerank (hosted_vllm/ entries only; LiteLLM's   `model` set to litellm_params.model without its
       openai/ provider has no rerank)                             provider and the entry's api_key as Bearer token;
                                                                   a rerank answer reshaped as LiteLLM's
                                                                   RerankResponse (id, results, meta)

Every route but the probes needs `Authorization: Bearer <master_key>` (LiteLLM's user_api_key_auth); a wrong key
is answered 401, an unknown model 400, an unreachable backend 500, with LiteLLM-like error bodies.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

SECTIONS = {"model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"}
OPENAI_COMPATIBLE = ("openai/", "hosted_vllm/")
ENV_PREFIX = "os.environ/"
FORWARDED = {
    "/v1/chat/completions": "/chat/completions",
    "/chat/completions": "/chat/completions",
    "/v1/completions": "/completions",
    "/completions": "/completions",
    "/v1/embeddings": "/embeddings",
    "/embeddings": "/embeddings",
    "/v1/rerank": "/rerank",
    "/rerank": "/rerank",
}
PROBES = ("/health/liveliness", "/health/liveness", "/health/readiness")


class ConfigError(Exception):
    pass


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} - LiteLLM Proxy:INFO: {message}", flush=True)


def secret(value: Any) -> Any:
    """LiteLLM's get_secret for `os.environ/NAME` values (configs.md: 'runs os.getenv(...)')."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        return os.environ.get(value[len(ENV_PREFIX) :])
    return value


class Deployment:
    def __init__(self, index: int, entry: Any) -> None:
        where = f"model_list[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str) or not entry["model_name"]:
            raise ConfigError(f"{where}: needs a model_name")
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not isinstance(params.get("model"), str):
            raise ConfigError(f"{where}: needs litellm_params.model")
        model = params["model"]
        provider = next((p for p in OPENAI_COMPATIBLE if model.startswith(p)), None)
        if provider is None:
            raise ConfigError(f"{where}: provider of {model!r} is not an OpenAI-compatible one this stand-in routes")
        api_base = secret(params.get("api_base"))
        if not isinstance(api_base, str) or not api_base.startswith("http"):
            raise ConfigError(f"{where}: {model!r} needs an api_base (http://host:port/v1)")
        self.model_name: str = entry["model_name"]
        self.backend_model = model[len(provider) :]
        self.provider = provider
        self.api_base = api_base.rstrip("/")
        self.api_key = secret(params.get("api_key"))


def load_config(path: str) -> tuple[list[Deployment], str]:
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    if not isinstance(config, dict):
        raise ConfigError("the config is not a mapping")
    unknown = set(config) - SECTIONS
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    entries = config.get("model_list")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("model_list is empty")
    deployments = [Deployment(i, entry) for i, entry in enumerate(entries)]
    general = config.get("general_settings") or {}
    master_key = secret(general.get("master_key")) if isinstance(general, dict) else None
    if not isinstance(master_key, str) or not master_key:
        raise ConfigError("the master key is unset or empty: set general_settings.master_key (a real key)")
    return deployments, master_key


def make_handler(deployments: list[Deployment], master_key: str) -> type[BaseHTTPRequestHandler]:
    names = list(dict.fromkeys(d.model_name for d in deployments))
    cycles: dict[str, Iterator[Deployment]] = {
        name: itertools.cycle([d for d in deployments if d.model_name == name]) for name in names
    }
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            print(f'INFO:     {self.client_address[0]} - "{self.requestline}"', flush=True)

        def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, code: int, message: str, kind: str) -> None:
            body = {"error": {"message": message, "type": kind, "param": None, "code": str(code)}}
            self._send(code, json.dumps(body).encode())

        def _authorized(self) -> bool:
            if self.headers.get("Authorization", "") == f"Bearer {master_key}":
                return True
            self._error(401, "Authentication Error, Invalid proxy server token passed.", "auth_error")
            return False

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in PROBES:
                self._send(200, json.dumps("I'm alive!" if "live" in path else {"status": "healthy"}).encode())
                return
            if not self._authorized():
                return
            if path in ("/v1/models", "/models"):
                data = [{"id": n, "object": "model", "created": 1677610602, "owned_by": "openai"} for n in names]
                self._send(200, json.dumps({"data": data, "object": "list"}).encode())
            else:
                self._error(404, "Not Found", "not_found_error")

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self._authorized():
                return
            if path not in FORWARDED:
                self._error(404, "Not Found", "not_found_error")
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._error(400, "Invalid JSON body", "invalid_request_error")
                return
            name = body.get("model") if isinstance(body, dict) else None
            if name not in cycles:
                self._error(400, f"Invalid model name passed in model={name}", "invalid_request_error")
                return
            with lock:
                target = next(cycles[name])
            rerank = FORWARDED[path] == "/rerank"
            if rerank and target.provider != "hosted_vllm/":
                self._error(
                    400, f"LiteLLM doesn't support {target.provider.rstrip('/')} for 'rerank'", "invalid_request_error"
                )
                return
            body["model"] = target.backend_model
            headers = {"Content-Type": "application/json"}
            if target.api_key and str(target.api_key).lower() != "none":
                headers["Authorization"] = f"Bearer {target.api_key}"
            request = urllib.request.Request(
                target.api_base + FORWARDED[path], data=json.dumps(body).encode(), headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    answer = response.read()
                    self._send(response.status, _as_litellm_rerank(answer) if rerank else answer)
            except urllib.error.HTTPError as exc:
                self._send(exc.code, exc.read())
            except OSError as exc:
                self._error(500, f"litellm.APIConnectionError: OpenAIException - {exc}", "api_connection_error")

    return Handler


def _as_litellm_rerank(answer: bytes) -> bytes:
    """vLLM's rerank answer as LiteLLM returns it (litellm/llms/hosted_vllm/rerank/transformation.py
    _transform_response): the results, the usage's total_tokens moved into meta.billed_units and meta.tokens."""
    body = json.loads(answer)
    tokens = (body.get("usage") or {}).get("total_tokens", 0)
    return json.dumps(
        {
            "id": body.get("id"),
            "results": body.get("results"),
            "meta": {"billed_units": {"total_tokens": tokens}, "tokens": {"input_tokens": tokens}},
        }
    ).encode()


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="litellm")
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--detailed_debug", action="store_true")
    args = parser.parse_args(argv)  # unknown options are an error, as click makes them in the real CLI
    try:
        deployments, master_key = load_config(args.config)
    except (OSError, yaml.YAMLError, ConfigError) as exc:
        print(f"LiteLLM Proxy:ERROR: could not load {args.config}: {exc}", flush=True)
        return 1
    log(f"Proxy initialized with Config, Set models: {', '.join(d.model_name for d in deployments)}")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(deployments, master_key))
    print(f"INFO:     Uvicorn running on http://{args.host}:{args.port} (Press CTRL+C to quit)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
