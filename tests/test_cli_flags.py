"""The command line as a whole: what plain `ascendgen` does, and one meaning per flag across every command."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from ascendgen.cli import runtime_commands
from ascendgen.cli.app import app

from helpers import Result

Run = Callable[..., Result]


@pytest.mark.parametrize("args", [[], ["gpustack"]], ids=["ascendgen", "ascendgen gpustack"])
def test_no_arguments_prints_help_and_exits_0(run: Run, args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0, result
    assert "Usage: ascendgen" in result.stdout and "Commands" in result.stdout
    assert result.stderr == ""  # no empty `error:` line


def _commands(group: Any, path: str = "ascendgen") -> Iterator[tuple[str, Any]]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


def test_each_short_flag_means_one_thing_in_every_command() -> None:
    meaning: dict[str, tuple[str, str]] = {}  # "-f" -> (its long name, the first command seen with it)
    seen = 0
    for path, command in _commands(typer.main.get_command(app)):
        for param in command.params:
            if param.param_type_name != "option":
                continue
            short = [o for o in param.opts if not o.startswith("--")]
            long = next((o for o in param.opts if o.startswith("--")), None)
            for flag in short:
                seen += 1
                assert long is not None, f"{path}: {flag} has no long form"
                first = meaning.setdefault(flag, (long, path))
                assert first[0] == long, f"{flag} is {long} in '{path}' but {first[0]} in '{first[1]}'"
    assert seen >= 10
    assert meaning["-f"][0] == "--file" and meaning["-s"][0] == "--service"


def test_runtime_commands_take_the_directory_the_same_way() -> None:
    group = typer.main.get_command(app)
    for name in ("up", "status", "smoke", "logs", "down"):
        params = {p.name: p for p in group.commands[name].params}  # type: ignore[attr-defined]
        first = group.commands[name].params[0]  # type: ignore[attr-defined]
        assert first.name == "directory" and first.param_type_name == "argument", name
        assert params["file"].opts == ["--file", "-f"], name


@pytest.fixture
def compose_dir(tmp_path: Path) -> Path:
    (tmp_path / "compose.yml").write_text(
        "services:\n  one:\n    image: busybox\n  two:\n    image: busybox\n", encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], Any]]:
    """What `ascendgen logs` hands to docker compose (no engine needed to check that)."""
    seen: list[tuple[list[str], Any]] = []

    def call(args: list[str], cwd: Any = None) -> int:
        seen.append((list(args), cwd))
        return 0

    monkeypatch.setattr(runtime_commands.subprocess, "call", call)
    return seen


def test_logs_takes_dir_service_and_follow(run: Run, compose_dir: Path, calls: list[tuple[list[str], Any]]) -> None:
    result = run("logs", str(compose_dir), "--service", "two", "-F", "--tail", "5")
    assert result.exit_code == 0, result.stderr
    ((args, cwd),) = calls
    assert args[-5:] == ["logs", "--tail", "5", "--follow", "two"]
    assert Path(cwd) == compose_dir.resolve()


def test_logs_without_follow_and_every_service(run: Run, compose_dir: Path, calls: list[Any]) -> None:
    assert run("logs", str(compose_dir)).exit_code == 0
    ((args, _),) = calls
    assert args[-3:] == ["logs", "--tail", "200"]


def test_logs_f_is_the_file_option(run: Run, compose_dir: Path, calls: list[Any]) -> None:
    other = compose_dir / "other.yml"
    other.write_text("services:\n  three:\n    image: busybox\n", encoding="utf-8")
    assert run("logs", "-f", str(other), "--service", "three").exit_code == 0
    ((args, _),) = calls
    assert str(other.resolve()) in args and args[-1] == "three"


def test_logs_with_a_service_name_where_the_directory_goes(
    run: Run, compose_dir: Path, calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(compose_dir)
    result = run("logs", "two")
    assert result.exit_code == 2 and not calls
    assert "--service NAME" in result.stderr and result.stderr.count("\n") == 1


def test_logs_unknown_service_is_refused(run: Run, compose_dir: Path, calls: list[Any]) -> None:
    result = run("logs", str(compose_dir), "--service", "nine")
    assert result.exit_code == 2 and not calls
    assert "no service 'nine'" in result.stderr
