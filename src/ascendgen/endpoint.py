"""The OpenAI-compatible API a vLLM container serves: is it ready, and does it answer a chat."""

from __future__ import annotations

import json
import shlex
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ascendgen.errors import InputError

LOCALHOST = "127.0.0.1"  # services run with network_mode: host


def check_api_key(key: str, flag: str = "--api-key") -> str:
    """A key clients can send as it is. vLLM compares the whole value after `Bearer ` with the key
    (vllm/entrypoints/openai/server_utils.py, AuthenticationMiddleware.verify_token), as starlette decodes the
    header: latin-1, with the leading and trailing blanks HTTP strips from every field value (RFC 9110 5.5).
    So the key must be printable ASCII (spaces inside are fine) and start and end with a visible character."""
    if not key.strip():
        what = "empty" if not key else "only spaces"
        raise InputError(f"{flag} is {what}: give the key clients will send, or --generate-api-key for a random one")
    if not all(" " <= char <= "~" for char in key):
        raise InputError(
            f"{flag}: use printable ASCII only (letters, digits, punctuation, spaces); a line break, tab or "
            "non-ASCII character does not reach vLLM unchanged in an HTTP Authorization header"
        )
    if key != key.strip(" "):
        raise InputError(f"{flag}: remove the spaces at its start or end: HTTP strips them, no client can send them")
    return key


def base_url(port: int, host: str = LOCALHOST) -> str:
    return f"http://{host}:{port}"


def _request(url: str, *, body: dict[str, Any] | None = None, timeout: float, api_key: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def served_models(port: int, *, timeout: float = 2.0, api_key: str | None = None) -> list[str] | None:
    """Model ids from GET /v1/models, or None while the server does not answer."""
    try:
        payload = _request(f"{base_url(port)}/v1/models", timeout=timeout, api_key=api_key)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    data = payload.get("data") if isinstance(payload, dict) else None
    return [str(item.get("id")) for item in data or [] if isinstance(item, dict)]


def is_healthy(port: int, *, timeout: float = 2.0, path: str = "/health") -> bool:
    """GET `path` answers 200 (vLLM's liveness endpoint /health, or a gateway's)."""
    try:
        with urllib.request.urlopen(f"{base_url(port)}{path}", timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


@dataclass(frozen=True)
class ChatResult:
    latency_s: float
    completion_tokens: int
    prompt_tokens: int
    text: str

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.latency_s if self.latency_s > 0 else 0.0


def chat(
    port: int, model: str, prompt: str, *, max_tokens: int = 64, timeout: float = 300.0, api_key: str | None = None
) -> ChatResult:
    """One chat completion, as the seeds' curl does. Raises OSError / ValueError when it fails."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    started = time.monotonic()
    payload = _request(f"{base_url(port)}/v1/chat/completions", body=body, timeout=timeout, api_key=api_key)
    latency = time.monotonic() - started
    usage = payload.get("usage") or {}
    choices = payload.get("choices") or [{}]
    text = ((choices[0] or {}).get("message") or {}).get("content") or ""
    return ChatResult(
        latency_s=latency,
        completion_tokens=int(usage.get("completion_tokens", 0)),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        text=str(text),
    )


def curl_example(port: int, model: str, *, with_key: bool = False) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    auth = ' -H "Authorization: Bearer $VLLM_API_KEY"' if with_key else ""  # the key stays in .env
    return (
        f"curl {base_url(port, 'localhost')}/v1/chat/completions -H 'Content-Type: application/json'{auth} "
        f"-d {shlex.quote(body)}"
    )
