"""The OpenAI-compatible API a vLLM container serves: is it ready, and does it answer what its model is for (a
chat, an embedding, a ranking)."""

from __future__ import annotations

import json
import shlex
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ascendgen.errors import InputError

if TYPE_CHECKING:
    from ascendgen.catalog import Task

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


# What `smoke` sends a pooling model: vLLM serves embedding models on /v1/embeddings and cross-encoders on
# /v1/rerank (Jina/Cohere-style; vllm/entrypoints/openai/api_server.py routes /rerank, /v1/rerank, /v2/rerank),
# and answers a chat request to either with an error.
RERANK_QUERY = "What is the capital of China?"
RERANK_DOCUMENTS = ("The capital of China is Beijing.", "The capital of France is Paris.")


@dataclass(frozen=True)
class Answer:
    """One request's outcome: how long it took, the tokens it generated (a chat) or read (an embedding or a
    ranking), and a short text to show."""

    latency_s: float
    tokens: int
    text: str

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.latency_s if self.latency_s > 0 else 0.0


def ask(
    port: int,
    model: str,
    task: Task,
    prompt: str,
    *,
    max_tokens: int = 64,
    timeout: float = 300.0,
    api_key: str | None = None,
) -> Answer:
    """The request that shows the model works: a chat completion, an embedding of `prompt`, or a ranking of two
    documents. Raises OSError / ValueError when it fails."""
    if task == "embed":
        return _embed(port, model, prompt, timeout=timeout, api_key=api_key)
    if task == "rerank":
        return _rerank(port, model, timeout=timeout, api_key=api_key)
    return chat(port, model, prompt, max_tokens=max_tokens, timeout=timeout, api_key=api_key)


def chat(
    port: int, model: str, prompt: str, *, max_tokens: int = 64, timeout: float = 300.0, api_key: str | None = None
) -> Answer:
    """One chat completion, as the seeds' curl does. Raises OSError / ValueError when it fails."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    payload, latency = _post(port, "/v1/chat/completions", body, timeout=timeout, api_key=api_key)
    text = _object(_object(_first(payload.get("choices"))).get("message")).get("content") or ""
    tokens = _count(_object(payload.get("usage")).get("completion_tokens"))
    return Answer(latency_s=latency, tokens=tokens, text=str(text))


def _embed(port: int, model: str, text: str, *, timeout: float, api_key: str | None) -> Answer:
    body = {"model": model, "input": text}
    payload, latency = _post(port, "/v1/embeddings", body, timeout=timeout, api_key=api_key)
    vector = _object(_first(payload.get("data"))).get("embedding")
    if not isinstance(vector, list) or not vector:
        raise ValueError("the answer holds no embedding")
    tokens = _count(_object(payload.get("usage")).get("prompt_tokens"))
    return Answer(latency_s=latency, tokens=tokens, text=f"an embedding of {len(vector)} numbers")


def _rerank(port: int, model: str, *, timeout: float, api_key: str | None) -> Answer:
    body = {"model": model, "query": RERANK_QUERY, "documents": list(RERANK_DOCUMENTS)}
    payload, latency = _post(port, "/v1/rerank", body, timeout=timeout, api_key=api_key)
    results = payload.get("results")
    scored = [
        item
        for item in map(_object, results if isinstance(results, list) else [])
        if isinstance(item.get("relevance_score"), int | float) and not isinstance(item.get("relevance_score"), bool)
    ]
    if not scored:
        raise ValueError("the answer holds no relevance scores")
    best = max(scored, key=lambda item: item["relevance_score"])
    index = best.get("index")
    document = RERANK_DOCUMENTS[index] if isinstance(index, int) and 0 <= index < len(RERANK_DOCUMENTS) else "?"
    # vLLM counts the tokens in `usage`; a LiteLLM gateway moves them to `meta.billed_units`
    billed = _object(_object(payload.get("meta")).get("billed_units"))
    usage = _object(payload.get("usage"))
    tokens = _count(usage.get("total_tokens") if "total_tokens" in usage else billed.get("total_tokens"))
    return Answer(latency_s=latency, tokens=tokens, text=f"ranked first ({best['relevance_score']:.2f}): {document}")


def _post(
    port: int, path: str, body: dict[str, Any], *, timeout: float, api_key: str | None
) -> tuple[dict[str, Any], float]:
    """POST `body` to the endpoint; its answer (an object, else {}) and the seconds it took."""
    started = time.monotonic()
    payload = _object(_request(f"{base_url(port)}{path}", body=body, timeout=timeout, api_key=api_key))
    return payload, time.monotonic() - started


# An answer is read as far as it has the expected shape: whatever a server sends, `ask` returns or raises ValueError.
def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def curl_example(port: int, model: str, *, task: Task = "generate", with_key: bool = False) -> str:
    """The request a user can paste to try the endpoint, for what the model is for."""
    body: dict[str, Any]
    if task == "embed":
        path, body = "/v1/embeddings", {"model": model, "input": "Hello!"}
    elif task == "rerank":
        path, body = "/v1/rerank", {"model": model, "query": RERANK_QUERY, "documents": list(RERANK_DOCUMENTS)}
    else:
        path, body = "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "Hello!"}]}
    auth = ' -H "Authorization: Bearer $VLLM_API_KEY"' if with_key else ""  # the key stays in .env
    return (
        f"curl {base_url(port, 'localhost')}{path} -H 'Content-Type: application/json'{auth} "
        f"-d {shlex.quote(json.dumps(body))}"
    )
