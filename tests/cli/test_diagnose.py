"""`ascendgen diagnose [FILE | - | SERVICE]` through the real CLI entry: a file, stdin, --json, no known
cause (exit 1), bad input (exit 2), a bounded read of a huge log, and the service path against a fake
Docker client (the real engine is exercised in tests/e2e/test_diagnose_e2e.py)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from ascendgen import runtime
from ascendgen.cli import diagnose as diagnose_cli
from ascendgen.cli import project

from helpers import FakeClient, FakeContainer, Run

OOM = "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 29.50 GiB total capacity)"
ECHO = "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}"
UNKNOWN = "ValueError: the frobnicator is out of frobs"


def failing_log(*middle: str) -> str:
    return "\n".join(["INFO 07-26 10:00:00 [api_server.py:1395] vLLM API server version 0.9.2", *middle, ECHO, ""])


def test_a_log_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    path.write_text(failing_log(OOM))
    result = run("diagnose", str(path))
    assert result.exit_code == 0, result.stderr
    assert "cause (oom_loading): an NPU ran out of memory while loading the model" in result.stdout
    assert f"log line: {OOM}" in result.stdout
    assert result.stderr == ""


def test_stdin(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(failing_log(OOM).encode())))
    result = run("diagnose", "-")
    assert result.exit_code == 0, result.stderr
    assert "(oom_loading)" in result.stdout


def test_stdin_without_a_binary_buffer(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(failing_log(OOM)))
    assert run("diagnose", "-").exit_code == 0


def test_json(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    path.write_text(failing_log(OOM))
    result = run("diagnose", str(path), "--json")
    assert result.exit_code == 0
    assert result.json() == {
        "kind": "oom_loading",
        "message": result.json()["message"],
        "evidence": OOM,
        "last_errors": [],
        "truncated": False,
    }
    assert "ran out of memory" in result.json()["message"]


def test_no_known_cause_shows_the_last_error_lines_and_exits_1(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "vllm.log"
    path.write_text(failing_log(UNKNOWN))
    result = run("diagnose", str(path))
    assert result.exit_code == 1
    assert "no known cause; the last error lines:" in result.stdout
    assert f"  {UNKNOWN}" in result.stdout and f"  {ECHO}" in result.stdout
    assert result.stderr.startswith("error: no known cause in ") and "2 last error line(s) shown" in result.stderr
    as_json = run("diagnose", str(path), "--json")
    assert as_json.exit_code == 1
    assert as_json.json() == {
        "kind": None, "message": None, "evidence": None, "last_errors": [UNKNOWN, ECHO], "truncated": False,
    }  # fmt: skip


def test_an_empty_log_and_one_without_errors(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_text("")
    result = run("diagnose", str(path))
    assert result.exit_code == 1 and "it is empty" in result.stderr
    path.write_text("INFO:     Application startup complete.\n")
    quiet = run("diagnose", str(path))
    assert quiet.exit_code == 1 and "no line of it looks like an error" in quiet.stderr and quiet.stdout == ""


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.log", "missing.log: no such file"),
        (lambda tmp: tmp, "is a directory: give a log file"),
        (lambda tmp: _write_bytes(tmp / "core", b"\x7fELF\x02\x01\x01\x00" * 100), "is not a text log"),
    ],
    ids=["missing", "directory", "binary"],
)
def test_bad_input_is_one_line_and_exit_2(run: Run, tmp_path: Path, make: Any, message: str) -> None:
    result = run("diagnose", str(make(tmp_path)))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_bare_name_that_is_no_file_and_no_compose_here(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("diagnose", "vllm.log")
    assert result.exit_code == 2 and "vllm.log: no such file" in result.stderr
    nothing = run("diagnose")
    assert nothing.exit_code == 2 and "give a log FILE, - for stdin, or a SERVICE" in nothing.stderr


def test_a_huge_log_is_read_from_its_end_only(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose_cli, "MAX_LOG_BYTES", 4096)
    filler = "INFO 07-26 10:02:00 [loggers.py:118] Engine 000: Avg prompt throughput: 12.3 tokens/s\n" * 200
    early = tmp_path / "early.log"
    early.write_text(OOM + "\n" + filler)  # the cause lies before the last 4 KiB
    result = run("diagnose", str(early), "--json")
    assert result.exit_code == 1 and result.json()["truncated"] is True
    assert "read the last 4096 bytes of" in result.stderr
    late = tmp_path / "late.log"
    late.write_text(filler + OOM + "\n")
    found = run("diagnose", str(late), "--json")
    assert found.exit_code == 0 and found.json()["kind"] == "oom_loading" and found.json()["truncated"] is True


def test_a_huge_file_is_not_read_from_its_start(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose_cli, "MAX_LOG_BYTES", 4096)
    read_from: list[int] = []
    real = diagnose_cli._read_stream

    def spy(stream: Any, what: str, cut: bool = False) -> runtime.LogText:
        read_from.append(stream.tell())
        return real(stream, what, cut)

    monkeypatch.setattr(diagnose_cli, "_read_stream", spy)
    path = tmp_path / "big.log"
    path.write_text("INFO a line of a long-running server\n" * 10_000 + OOM + "\n")
    assert run("diagnose", str(path)).exit_code == 0
    assert read_from == [path.stat().st_size - 4096]  # a seek to the last 4 KiB, not a read through


def test_a_huge_stdin_is_bounded_too(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagnose_cli, "MAX_LOG_BYTES", 4096)
    monkeypatch.setattr(diagnose_cli, "_CHUNK", 1000)
    text = OOM + "\n" + "INFO filler line of a long-running server\n" * 1000 + UNKNOWN + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    result = run("diagnose", "-", "--json")
    assert result.exit_code == 1 and result.json()["truncated"] is True
    assert result.json()["last_errors"] == [UNKNOWN]


# ------------------------------------------------------------------------------ the service, a fake engine


@pytest.fixture
def deployment(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "qwen3"
    assert run("plan", "Qwen3-8B", "--out", str(out)).exit_code == 0
    return out


def test_the_whole_log_of_a_service(run: Run, deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the cause is far above the last lines; the echo is repeated after it, as restarts and workers do
    log = failing_log(OOM, *[ECHO] * 100).encode()
    container = FakeContainer("vllm-qwen3-8b", "qwen3", log)
    monkeypatch.setattr(project, "engine", lambda: FakeClient([container]))
    result = run("diagnose", "vllm-qwen3-8b", "--dir", str(deployment), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["kind"] == "oom_loading" and result.json()["evidence"] == OOM
    assert container.asked["tail"] == runtime.MAX_LOG_LINES  # all of it, up to the bound
    # the only service when none is named; in the directory itself, a bare name is the service
    assert run("diagnose", "--dir", str(deployment)).exit_code == 0
    monkeypatch.chdir(deployment)
    here = run("diagnose", "vllm-qwen3-8b")
    assert here.exit_code == 0 and "(oom_loading)" in here.stdout


def test_a_service_that_is_not_there(run: Run, deployment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project, "engine", lambda: FakeClient([]))
    unknown = run("diagnose", "vllm-nope", "--dir", str(deployment))
    assert unknown.exit_code == 2
    assert "'vllm-nope' is neither a file nor a service of this deployment (vllm-qwen3-8b)" in unknown.stderr
    never_started = run("diagnose", "vllm-qwen3-8b", "--dir", str(deployment))
    assert never_started.exit_code == 1 and "vllm-qwen3-8b has no container" in never_started.stderr


def test_the_help_names_the_three_sources(run: Run) -> None:
    result = run("diagnose", "--help")
    assert result.exit_code == 0
    assert "FILE | - | SERVICE" in result.stdout and "--json" in result.stdout
