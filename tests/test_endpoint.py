"""What `smoke` makes of an answer (endpoint.ask): vLLM's shapes read exactly, and any other JSON a server might send
(a proxy's error page, a truncated body, a different API) either read as far as it has the expected shape or
refused with ValueError, which smoke reports in its table; never another exception, which would end smoke with
"unexpected" instead of a row per endpoint."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascendgen import endpoint
from ascendgen.endpoint import Answer, ask, check_api_key, curl_example, is_healthy, served_models
from ascendgen.errors import InputError

TASKS = ("generate", "embed", "rerank")


def answer_to(payload: Any, task: str) -> Answer:
    with mock.patch.object(endpoint, "_request", lambda url, **_: payload):
        return ask(8000, "m", task, "hello")  # type: ignore[arg-type]


def test_vllm_shapes_read_exactly() -> None:
    chat = {"choices": [{"message": {"content": "Hi there"}}], "usage": {"completion_tokens": 3, "prompt_tokens": 9}}
    assert (answer_to(chat, "generate").tokens, answer_to(chat, "generate").text) == (3, "Hi there")
    embedding = {"data": [{"embedding": [0.1, 0.2, 0.3]}], "usage": {"prompt_tokens": 4, "total_tokens": 4}}
    assert (answer_to(embedding, "embed").tokens, answer_to(embedding, "embed").text) == (
        4,
        "an embedding of 3 numbers",
    )
    ranked = {
        "results": [{"index": 1, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}],
        "usage": {"total_tokens": 21},
    }
    read = answer_to(ranked, "rerank")
    assert (read.tokens, read.text) == (21, "ranked first (0.90): The capital of China is Beijing.")
    # through a LiteLLM gateway: the tokens under meta.billed_units
    litellm = {"results": [{"index": 1, "relevance_score": 0.5}], "meta": {"billed_units": {"total_tokens": 7}}}
    assert (answer_to(litellm, "rerank").tokens, answer_to(litellm, "rerank").text) == (
        7,
        "ranked first (0.50): The capital of France is Paris.",
    )


@pytest.mark.parametrize(
    ("payload", "task"),
    [
        ([], "generate"),
        ({"choices": {"0": 1}}, "generate"),
        ({"usage": {"completion_tokens": None}}, "generate"),
        ({"usage": {"completion_tokens": "3"}}, "generate"),
        ({"data": "x"}, "embed"),
        ({"data": [{"embedding": []}]}, "embed"),
        ({"results": 3}, "rerank"),
        ({"results": [{"relevance_score": True}]}, "rerank"),
        ({"results": [{"relevance_score": "0.9"}]}, "rerank"),
    ],
)
def test_an_odd_answer_is_read_or_refused(payload: Any, task: str) -> None:
    try:
        read = answer_to(payload, task)
    except ValueError:
        assert task != "generate"  # a chat answer without text is still an answer (an empty reply)
        return
    assert task == "generate" and read.tokens == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["choices", "message", "content", "usage", "completion_tokens", "prompt_tokens", "total_tokens", "data",
         "embedding", "results", "index", "relevance_score", "meta", "billed_units"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(payload=json_values, task=st.sampled_from(TASKS))
def test_any_json_is_read_or_refused_with_value_error(payload: Any, task: str) -> None:
    try:
        read = answer_to(payload, task)
    except ValueError:
        return
    assert read.tokens >= 0 and isinstance(read.text, str)


# ---- against the stand-in vLLM's HTTP server (tests/standin/vllm_standin.py), on a free local port ----------------


@contextmanager
def standin(*flags: str, healthy: bool = True) -> Iterator[int]:
    """The stand-in's OpenAI server for `vllm serve /models/m --served-model-name m FLAGS`; yields its port."""
    from standin import vllm_standin

    args = vllm_standin.parse_serve(["/models/m", "--served-model-name", "m", "--port", "0", *flags])
    server = ThreadingHTTPServer(("127.0.0.1", 0), vllm_standin.make_handler(vllm_standin.State(args, 4096, healthy)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_chat_sends_the_model_the_prompt_the_token_limit_and_the_key() -> None:
    with standin("--api-key", "k 1") as port:
        read = ask(port, "m", "generate", "say hello", max_tokens=3, api_key="k 1")
        # the stand-in answers max_tokens words of its fixed reply
        assert (read.tokens, read.text) == (3, "Hello from the") and read.latency_s > 0
        assert read.tokens_per_s == pytest.approx(3 / read.latency_s)
        with pytest.raises(OSError, match="401"):
            ask(port, "m", "generate", "hi", api_key="k 2")
        with pytest.raises(OSError, match="404"):
            ask(port, "other", "generate", "hi", api_key="k 1")  # the model it names is the one asked for


def test_an_embedding_and_a_ranking_go_to_their_routes() -> None:
    with standin("--runner", "pooling") as port:
        assert ask(port, "m", "embed", "two words").text == "an embedding of 16 numbers"
        assert ask(port, "m", "embed", "two words").tokens == 2  # the input's words, as the stand-in counts
        with pytest.raises(OSError, match="400"):
            ask(port, "m", "rerank", "x")
    with standin("--runner", "pooling", '--hf-overrides={"architectures": ["XForSequenceClassification"]}') as port:
        read = ask(port, "m", "rerank", "ignored: the query is fixed")
        assert read.text == "ranked first (0.67): The capital of China is Beijing."
        # the query's 6 words and the documents' 6 + 6, as the stand-in counts them
        assert read.tokens == 18


def test_served_models_and_health() -> None:
    with standin("--api-key", "k") as port:
        assert served_models(port, api_key="k") == ["m"]
        assert served_models(port) is None  # 401 without the key: not answering yet, as far as up can tell
        assert is_healthy(port) is True
        assert is_healthy(port, path="/nothing") is False
    with standin(healthy=False) as port:
        assert is_healthy(port) is False
    assert served_models(closed_port(), timeout=0.5) is None and is_healthy(closed_port(), timeout=0.5) is False


def test_the_curl_hints_word_for_word() -> None:
    assert curl_example(8001, "m") == (
        "curl http://localhost:8001/v1/chat/completions -H 'Content-Type: application/json' "
        """-d '{"model": "m", "messages": [{"role": "user", "content": "Hello!"}]}'"""
    )
    assert curl_example(8001, "m", task="embed", with_key=True) == (
        "curl http://localhost:8001/v1/embeddings -H 'Content-Type: application/json' "
        """-H "Authorization: Bearer $VLLM_API_KEY" -d '{"model": "m", "input": "Hello!"}'"""
    )
    assert curl_example(8001, "it's", task="rerank") == (
        "curl http://localhost:8001/v1/rerank -H 'Content-Type: application/json' -d "
        """'{"model": "it'"'"'s", "query": "What is the capital of China?", "documents": ["The capital of China is """
        """Beijing.", "The capital of France is Paris."]}'"""
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "--api-key is empty: give the key clients will send, or --generate-api-key for a random one"),
        ("  ", "--api-key is only spaces: give the key clients will send, or --generate-api-key for a random one"),
        ("a\tb", "printable ASCII only"),
        ("é", "printable ASCII only"),
        ("\x7f", "printable ASCII only"),
        (" a", "remove the spaces at its start or end"),
        ("a ", "remove the spaces at its start or end"),
    ],
)
def test_a_key_no_client_can_send_is_refused(key: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        check_api_key(key)


def test_a_key_clients_can_send_is_kept_as_it_is() -> None:
    for key in ("a b", "~!@#$%^&*()_+", "sk-" + "x" * 200, "~"):
        assert check_api_key(key) == key
    with pytest.raises(InputError, match=r"^--gateway-key is empty"):
        check_api_key("", flag="--gateway-key")


@pytest.mark.parametrize(
    ("task", "path", "body"),
    [
        ("generate", "/v1/chat/completions",
         {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 7}),
        ("embed", "/v1/embeddings", {"model": "m", "input": "hello"}),
        ("rerank", "/v1/rerank", {"model": "m", "query": "What is the capital of China?", "documents": [
            "The capital of China is Beijing.", "The capital of France is Paris."]}),
    ],
)  # fmt: skip
def test_each_task_sends_exactly_this_request(task: str, path: str, body: dict[str, Any]) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    answers = {
        "generate": {"choices": [{"message": {"content": "x"}}]},
        "embed": {"data": [{"embedding": [1.0]}]},
        "rerank": {"results": [{"index": 0, "relevance_score": 1.0}]},
    }

    def request(url: str, **options: Any) -> Any:
        sent.append((url, options))
        return answers[task]

    with mock.patch.object(endpoint, "_request", request):
        read = ask(8123, "m", task, "hello", max_tokens=7, timeout=12.5, api_key="key")  # type: ignore[arg-type]
    assert sent == [(f"http://127.0.0.1:8123{path}", {"body": body, "timeout": 12.5, "api_key": "key"})]
    assert read.latency_s >= 0 and read.latency_s < 5


def test_defaults_of_a_request() -> None:
    sent: list[dict[str, Any]] = []
    with mock.patch.object(endpoint, "_request", lambda url, **options: sent.append(options) or {}):
        ask(8000, "m", "generate", "p")
    assert sent == [{"body": {"model": "m", "messages": [{"role": "user", "content": "p"}], "max_tokens": 64},
                     "timeout": 300.0, "api_key": None}]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "task", "message"),
    [
        ({"data": []}, "embed", "the answer holds no embedding"),
        ({"results": []}, "rerank", "the answer holds no relevance scores"),
    ],
)
def test_an_answer_without_what_was_asked_says_so(payload: Any, task: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        answer_to(payload, task)


def test_a_ranking_naming_no_document_of_ours_shows_a_question_mark() -> None:
    for index in (2, -1, "0", None):
        read = answer_to({"results": [{"index": index, "relevance_score": 0.5}]}, "rerank")
        assert read.text == "ranked first (0.50): ?"
    assert answer_to({"choices": [{"message": {}}]}, "generate").text == ""
