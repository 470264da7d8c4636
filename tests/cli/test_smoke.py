"""`ascendgen smoke` asks each endpoint what its model is for: a chat model a chat completion, an embedding
model /v1/embeddings, a reranker /v1/rerank. The endpoints are the stand-in vLLM's HTTP handler, started with
the serve command the plan wrote (as Compose reads it), so the stand-in tells a pooling model by the flags
ascendgen gave it, the way vLLM does."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from ascendgen.composeconfig import ServiceConfig
from ascendgen.endpoint import curl_example

from helpers import Run, compose_config

pytestmark = pytest.mark.usefixtures("compose_v2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(directory: Path) -> Iterator[None]:
    """Every service of the compose file in `directory` answered by the stand-in, on its planned port."""
    from standin import vllm_standin

    servers = []
    for service in compose_config(directory)["services"].values():
        args = vllm_standin.parse_serve(service["command"][1:])  # the image's entrypoint is `vllm`
        args.host = "127.0.0.1"
        state = vllm_standin.State(args, args.max_model_len or 8192, healthy=True)
        server = ThreadingHTTPServer((args.host, args.port), vllm_standin.make_handler(state))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def plan(run: Run, directory: Path, model: str) -> Path:
    result = run("plan", model, "--port", str(free_port()), "--out", str(directory))
    assert result.exit_code == 0, result.stderr
    return directory


@pytest.mark.parametrize(
    ("model", "reply"),
    [
        ("Qwen3-8B", "Hello from the ascendgen stand-in"),
        ("bge-m3", "an embedding of 16 numbers"),  # the stand-in's vectors have 16
        ("Qwen3-Embedding-0.6B", "an embedding of 16 numbers"),
        # the stand-in scores by words shared with the query: Beijing's sentence shares "the capital of china"
        ("Qwen3-Reranker-0.6B", "ranked first (0.67): The capital of China is Beijing."),
    ],
)
def test_smoke_asks_each_model_what_it_is_for(run: Run, tmp_path: Path, model: str, reply: str) -> None:
    directory = plan(run, tmp_path, model)
    with serving(directory):
        result = run("smoke", str(directory))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert reply in result.stdout


def test_a_chat_to_an_embedding_model_is_what_the_stand_in_refuses(run: Run, tmp_path: Path) -> None:
    """The check above is not vacuous: the stand-in answers a pooling model's chat as vLLM does, with 400."""
    from ascendgen.endpoint import chat

    directory = plan(run, tmp_path, "bge-m3")
    (svc,) = compose_config(directory)["services"].values()
    port = int(svc["labels"]["io.ascendgen.port"])
    with serving(directory), pytest.raises(OSError, match="400"):
        chat(port, "BAAI/bge-m3", "hi")


@pytest.mark.parametrize(
    ("model", "task"), [("Qwen3-8B", None), ("bge-m3", "embed"), ("Qwen3-Reranker-0.6B", "rerank")]
)
def test_the_plan_labels_a_pooling_model_with_its_task(run: Run, tmp_path: Path, model: str, task: str | None) -> None:
    (service,) = compose_config(plan(run, tmp_path, model))["services"].values()
    assert service["labels"].get("io.ascendgen.task") == task


def service(command: list[str], labels: dict[str, str] | None = None) -> ServiceConfig:
    return ServiceConfig("s", None, "image", (), (), ("serve", "/models/m", *command), {}, labels or {})


@pytest.mark.parametrize(
    ("command", "labels", "task"),
    [
        ([], {"io.ascendgen.task": "rerank"}, "rerank"),
        (["--task", "embed"], {}, "embed"),
        (["--task=score"], {}, "rerank"),
        (["--runner", "pooling"], {}, "embed"),
        (["--runner", "pooling", '--hf-overrides={"architectures": ["Qwen3ForSequenceClassification"]}'], {}, "rerank"),
        (["--runner", "generate"], {}, "generate"),
        (["--max-model-len", "4096"], {"io.ascendgen.task": "bogus"}, "generate"),
    ],
)
def test_a_compose_file_without_the_label_is_read_by_its_flags(
    command: list[str], labels: dict[str, str], task: str
) -> None:
    assert service(command, labels).task == task


def test_the_curl_hint_for_each_task_works_as_pasted(run: Run, tmp_path: Path) -> None:
    """`up` prints curl_example for each endpoint; run each as a user would paste it."""
    for model, served, expected in [
        ("bge-m3", "BAAI/bge-m3", '"embedding"'),
        ("Qwen3-Reranker-0.6B", "Qwen/Qwen3-Reranker-0.6B", '"relevance_score"'),
        ("Qwen3-8B", "Qwen/Qwen3-8B", '"chat.completion"'),
    ]:
        directory = plan(run, tmp_path / model, model)
        (svc,) = compose_config(directory)["services"].values()
        config = service(svc["command"][1:], svc["labels"])
        hint = curl_example(int(svc["labels"]["io.ascendgen.port"]), served, task=config.task)
        with serving(directory):
            done = subprocess.run(["sh", "-c", hint + " --fail --silent --show-error"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout
