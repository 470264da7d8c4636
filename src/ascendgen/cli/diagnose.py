"""`diagnose`: why a vLLM container failed, from its log: a file, stdin, or the container of a compose service.
Reads at most the last runtime.MAX_LOG_BYTES of the log, runs ascendgen.diagnose over it and renders the
cause (or, when no rule knows it, the last error lines); exit code 1 when no cause is found."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.markup import escape

from ascendgen.cli import project, termui
from ascendgen.cli.options import FileOpt
from ascendgen.composeconfig import locate_project
from ascendgen.diagnose import Diagnosis, diagnose, last_error_lines
from ascendgen.errors import AscendgenError, InputError
from ascendgen.runtime import MAX_LOG_BYTES, LogText, bounded_text, container_log, container_states

_CHUNK = 1 << 20
_BINARY_PROBE = 8192  # a NUL byte in the first 8 KiB read: not a text log


class _Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...


def diagnose_log(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE | - | SERVICE",
            help="A log file, - for stdin, or a service of the compose file (default: its only service).",
            show_default=False,
        ),
    ] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", "-d", help="Directory holding compose.yml (for SERVICE).")
    ] = None,
    file: FileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diagnosis as JSON.")] = False,
) -> None:
    """Say why a vLLM container failed, from its log: the cause and what to check.

    Reads a log FILE, stdin (-), or the whole log of a SERVICE of the compose file here (or --dir / -f).

    A path that exists is a file. Exit code 0 when a known cause is found, 1 when not (the last error lines).

    Example: [bold]ascendgen diagnose vllm-qwen3-8b[/] or [bold]docker logs NAME 2>&1 | ascendgen diagnose -[/]
    """
    what, log, facts = _read_log(source, directory, file)
    found = diagnose(log.text, facts)
    errors = [] if found else last_error_lines(log.text)
    if log.truncated:
        size = f"{MAX_LOG_BYTES >> 20} MiB" if MAX_LOG_BYTES >= 1 << 20 else f"{MAX_LOG_BYTES} bytes"
        termui.info(f"read the last {size} of {what}")
    if as_json:
        termui.print_json(_as_json(found, errors, log.truncated))
    else:
        _render(found, errors)
    if found is None:
        if not log.text.strip():
            detail = "it is empty"
        elif not errors:
            detail = "no line of it looks like an error"
        else:
            detail = f"{len(errors)} last error line(s) shown"
        raise AscendgenError(f"no known cause in {what} ({detail})")


def _read_log(source: str | None, directory: Path | None, file: Path | None) -> tuple[str, LogText, Mapping[str, int]]:
    """What was read (for messages), the log, and what the compose file tells of the model (for hints)."""
    if source == "-":
        stdin: Any = sys.stdin
        if stdin is None:
            raise InputError("there is no stdin to read the log from")
        return "stdin", _read_stream(getattr(stdin, "buffer", None) or _Encoded(stdin), "stdin"), {}
    if source is not None and directory is None and file is None:
        path = Path(source)
        if path.exists() or path.is_symlink() or "/" in source or not _compose_here():
            return str(path), _read_file(path), {}
    return _read_service(source, directory, file)


def _compose_here() -> bool:
    try:
        locate_project(None, None)
    except InputError:
        return False
    return True


def _read_file(path: Path) -> LogText:
    if path.is_dir():
        raise InputError(f"{path} is a directory: give a log file (`docker logs CONTAINER > vllm.log 2>&1`)")
    try:
        with path.open("rb") as handle:
            if path.is_file():  # else a pipe, as from <(docker logs ...): read through
                handle.seek(max(0, path.stat().st_size - MAX_LOG_BYTES))
            return _read_stream(handle, str(path), cut=handle.seekable() and handle.tell() > 0)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _read_stream(stream: _Reader, what: str, cut: bool = False) -> LogText:
    """Everything the stream holds, keeping only its last MAX_LOG_BYTES (`cut`: its start was skipped)."""
    kept = bytearray()
    probed = False
    while chunk := stream.read(_CHUNK):
        kept += chunk
        if not probed and len(kept) >= _BINARY_PROBE:
            _refuse_binary(kept, what)
            probed = True
        if len(kept) > 2 * MAX_LOG_BYTES:
            del kept[: len(kept) - MAX_LOG_BYTES]
            cut = True
    if not probed:
        _refuse_binary(kept, what)
    return bounded_text(bytes(kept), MAX_LOG_BYTES, cut)


def _refuse_binary(data: bytearray, what: str) -> None:
    if b"\0" in data[:_BINARY_PROBE]:
        raise InputError(f"{what} is not a text log (it holds binary data): give the container's log as text")


class _Encoded:
    """A text stream read as UTF-8 bytes (stdin without a binary buffer)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int) -> bytes:
        return str(self._stream.read(size)).encode("utf-8", errors="replace")


def _read_service(
    name: str | None, directory: Path | None, file: Path | None
) -> tuple[str, LogText, Mapping[str, int]]:
    if name is None and directory is None and file is None and not _compose_here():
        raise InputError("give a log FILE, - for stdin, or a SERVICE (there is no compose.yml here)")
    _, config, services = project.open_deployment(directory, file, None)
    if name is None:
        if len(services) != 1:
            raise InputError(f"several services in this deployment: name one ({', '.join(config.names)})")
        service = services[0]
    elif name in config.names:
        service = config.service(name)
    else:
        raise InputError(f"'{name}' is neither a file nor a service of this deployment ({', '.join(config.names)})")
    client = project.engine()
    state = container_states(client, config, [service])[service.name]
    if state.container_id is None:
        raise AscendgenError(f"{service.name} has no container (never started, or removed): no log to read")
    return f"the log of {service.name}", container_log(client, state.container_id), service.model_facts


def _as_json(found: Diagnosis | None, errors: list[str], truncated: bool) -> dict[str, Any]:
    return {
        "kind": found.kind if found else None,
        "message": found.message if found else None,
        "evidence": found.evidence if found else None,
        "last_errors": errors,
        "truncated": truncated,
    }


def _render(found: Diagnosis | None, errors: list[str]) -> None:
    if found is not None:
        termui.out.print(f"[key]cause[/] ({found.kind}): {escape(found.message)}", soft_wrap=True)
        termui.out.print(f"[info]log line:[/] {escape(found.evidence)}", soft_wrap=True)
        return
    if errors:
        termui.out.print("[key]no known cause; the last error lines:[/]")
        for line in errors:
            termui.out.print(f"  {escape(line)}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command(name="diagnose")(diagnose_log)
