"""What `up` and `diagnose` read of a container's log (runtime.container_log): all of it, streamed and
bounded, and `up`'s failure path, which diagnoses the whole log and shows only its tail."""

from __future__ import annotations

from ascendgen import runtime
from ascendgen.composeconfig import ServiceConfig
from ascendgen.runtime import ContainerState, bounded_text, container_log

from helpers import FakeClient, FakeContainer

OOM = "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 29.50 GiB total capacity)"
ECHO = "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}"


def test_container_log_keeps_only_the_end_of_a_huge_log() -> None:
    lines = b"".join(b"line %05d of a long-running server\n" % n for n in range(5000))
    client = FakeClient([FakeContainer("svc", "p", lines, chunk=100)])
    log = container_log(client, "id-svc", max_bytes=1000)
    assert log.truncated and len(log.text) <= 1000
    assert log.text.endswith("line 04999 of a long-running server\n") and log.text.startswith("line ")
    whole = container_log(client, "id-svc")
    assert not whole.truncated and whole.text == lines.decode()
    assert container_log(client, "id-gone") == runtime.LogText("", False)  # a removed container: no log


def test_up_diagnoses_the_whole_log_and_shows_its_tail() -> None:
    shutdown = [f"INFO 07-26 10:00:{n:02d} [core.py:1] shutting down worker {n}" for n in range(60)]
    log = "\n".join(["INFO 07-26 10:00:00 [api_server.py:1395] vLLM API server version 0.9.2", OOM, ECHO, *shutdown])
    container = FakeContainer("vllm-qwen3-8b", "qwen3", log.encode())
    service = ServiceConfig(
        name="vllm-qwen3-8b", container_name=None, image="x", devices=(), volumes=(), command=(),
        environment={}, labels={},
    )  # fmt: skip
    state = ContainerState("vllm-qwen3-8b", container.id, container.name, "exited", None, 1, 0, None)
    failure = runtime._failure(FakeClient([container]), service, state, "its container exited with code 1")
    assert failure.diagnosis is not None and failure.diagnosis.kind == "oom_loading"
    assert failure.log_tail.splitlines() == log.splitlines()[-runtime.LOG_TAIL_LINES :]
    assert OOM not in failure.log_tail  # the cause was above what the user is shown


def test_bounded_text_starts_at_a_whole_line() -> None:
    data = b"first line\nsecond line\nthird line\n"
    assert bounded_text(data, 1000) == runtime.LogText(data.decode(), False)
    cut = bounded_text(data, 15)
    assert cut.truncated and cut.text == "third line\n"
    assert bounded_text(b"\xff\xfe broken utf-8\n", 100).text.endswith(" broken utf-8\n")
