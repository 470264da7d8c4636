"""What `smoke` makes of an answer (endpoint.ask): vLLM's shapes read exactly, and any other JSON a server might send
(a proxy's error page, a truncated body, a different API) either read as far as it has the expected shape or
refused with ValueError, which smoke reports in its table; never another exception, which would end smoke with
"unexpected" instead of a row per endpoint."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ascendgen import endpoint
from ascendgen.endpoint import Answer, ask

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
