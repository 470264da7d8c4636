"""Writing a deployment is all or nothing: compose.yml (of every node directory), .env and .gitignore are
checked before anything is written, go through temporary files renamed into place, and a failure half-way
puts back what was there and leaves no temporary file (none holding a secret). Errors name the culprit."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

from ascendgen import generated
from ascendgen.errors import AscendgenError, InputError
from ascendgen.generated import render_extra_files, render_files, write_compose, write_deployment, write_file
from ascendgen.plans import make_plans
from ascendgen.request import request_from_flags

from helpers import Result, Run

TWO_NODES = ["--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth0"]
GPUSTACK_WORKER = ["gpustack", "worker", "--server-url", "http://10.0.0.1:8080", "--token", "tok123"]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and directory (None) under root."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# ---- refused before anything is written ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [".env", ".gitignore"])
def test_env_or_gitignore_being_a_directory_writes_nothing(run: Run, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    result = run("plan", "Qwen3-8B", "--api-key", "sk-1", "--out", str(out))
    refused(result, f"{out / name} is a directory")
    assert "--out" not in result.stderr  # the culprit is named, not the flag
    assert tree(out) == {name: None}


def test_gpustack_env_being_a_directory_writes_nothing(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    refused(run(*GPUSTACK_WORKER, "--out", str(tmp_path)), f"{tmp_path / '.env'} is a directory")
    assert tree(tmp_path) == {".env": None}


def test_a_newline_in_the_key_writes_nothing(run: Run, tmp_path: Path) -> None:
    refused(run("plan", "Qwen3-8B", "--api-key", "sk\nx", "--out", str(tmp_path)), "--api-key")
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("out", ["dep\nloy", "dep\rloy", "dep\x1bloy", "dep\tloy"])
def test_out_with_a_control_character_is_refused(run: Run, tmp_path: Path, out: str) -> None:
    for command in (["plan", "Qwen3-8B"], GPUSTACK_WORKER):
        refused(run(*command, "--out", str(tmp_path / out)), "--out", "control characters")
    assert tree(tmp_path) == {}


def test_a_file_in_the_way_of_the_directory_is_named(run: Run, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file\n")
    refused(run("plan", "Qwen3-8B", "--out", str(tmp_path / "taken" / "sub")), f"{tmp_path / 'taken'} is a file")


def test_a_hand_edited_worker_stops_the_head_from_being_written(run: Run, tmp_path: Path) -> None:
    assert run("plan", "Qwen3-32B", *TWO_NODES, "--out", str(tmp_path)).exit_code == 0
    worker = tmp_path / "worker-1" / "compose.yml"
    worker.write_text(worker.read_text() + "# my note\n")
    (tmp_path / "head" / "compose.yml").unlink()
    before = tree(tmp_path)
    result = run("plan", "Qwen3-32B", *TWO_NODES, "--api-key", "sk-new", "--out", str(tmp_path))
    assert result.exit_code == 1 and f"{worker} was edited by hand" in result.stderr
    assert tree(tmp_path) == before  # no head/compose.yml, no .env anywhere


def test_unwritable_directory_is_a_clean_refusal_for_plan_and_gpustack(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (tests run as root, where chmod cannot make a directory read-only: ask os.access as the kernel would)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: real_access(path, mode) and not (Path(path) == tmp_path and mode & os.W_OK)
    )
    for command in (["plan", "Qwen3-8B", "--api-key", "sk-1"], GPUSTACK_WORKER, ["gpustack", "server"]):
        refused(run(*command, "--out", str(tmp_path)), f"{tmp_path} is not writable")
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("failure", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_gpustack_failing_to_create_a_file_is_a_clean_refusal(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: int
) -> None:
    """What a read-only file system or a full disk does to `gpustack --out`: one line, exit 2, nothing left
    (it was 'unexpected OSError', exit 1)."""

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    for command in (GPUSTACK_WORKER, ["gpustack", "server"], ["plan", "Qwen3-8B"]):
        refused(run(*command, "--out", str(tmp_path / "new" / "dir")), os.strerror(failure), "nothing was changed")
    assert tree(tmp_path) == {}  # the directories made for it are gone again


# ---- a failure half-way puts everything back ----------------------------------------------------------------


def fail_replace_of(monkeypatch: pytest.MonkeyPatch, victim: Path) -> list[Path]:
    """Make the first os.replace onto `victim` fail (later ones, the roll-back's, work); returns every target
    replaced, in order."""
    real_replace = os.replace
    targets: list[Path] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == victim and victim not in targets:
            targets.append(victim)
            raise OSError(errno.EIO, "Input/output error")
        targets.append(Path(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return targets


def test_failing_rename_of_compose_restores_env_and_gitignore(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("plan", "Qwen3-8B", "--api-key", "old-key", "--out", str(tmp_path)).exit_code == 0
    (tmp_path / ".gitignore").write_text("node_modules\n")
    before = tree(tmp_path)
    targets = fail_replace_of(monkeypatch, tmp_path / "compose.yml")
    result = run("plan", "Qwen3-8B", "--api-key", "new-key", "--max-model-len", "4096", "--out", str(tmp_path))
    refused(result, f"cannot write {tmp_path / 'compose.yml'}: Input/output error; nothing was changed")
    # .gitignore, then .env were renamed into place before compose.yml failed; both were put back
    assert targets[:3] == [tmp_path / ".gitignore", tmp_path / ".env", tmp_path / "compose.yml"]
    assert tree(tmp_path) == before
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert temporary_files(tmp_path) == []


def test_failing_rename_of_env_leaves_no_file_and_no_secret(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    fail_replace_of(monkeypatch, out / ".env")
    refused(run("plan", "Qwen3-8B", "--api-key", "sk-secret", "--out", str(out)), f"cannot write {out / '.env'}")
    assert tree(tmp_path) == {}  # not even out/, and no .env.tmp holding the key


def test_failing_worker_rename_restores_the_head(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("plan", "Qwen3-32B", *TWO_NODES, "--out", str(tmp_path)).exit_code == 0
    before = tree(tmp_path)
    fail_replace_of(monkeypatch, tmp_path / "worker-1" / "compose.yml")
    result = run("plan", "Qwen3-32B", *TWO_NODES, "--generate-api-key", "--out", str(tmp_path))
    refused(result, f"cannot write {tmp_path / 'worker-1' / 'compose.yml'}")
    assert tree(tmp_path) == before  # head/compose.yml as it was; no .env or .gitignore in either directory


def test_gpustack_failing_rename_keeps_the_old_compose(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("gpustack", "server", "--out", str(tmp_path)).exit_code == 0
    before = tree(tmp_path)
    fail_replace_of(monkeypatch, tmp_path / "compose.yml")
    refused(run("gpustack", "server", "--generate-password", "--out", str(tmp_path)), "compose.yml")
    assert tree(tmp_path) == before


def test_env_temporary_file_is_0600_from_its_creation(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkstemp = tempfile.mkstemp
    modes: dict[str, int] = {}

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        modes[Path(name).name] = stat.S_IMODE(os.fstat(fd).st_mode)
        return fd, name  # type: ignore[no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert run("plan", "Qwen3-8B", "--api-key", "sk-1", "--out", str(tmp_path)).exit_code == 0
    env_temporaries = [name for name in modes if name.startswith(".env.")]
    assert env_temporaries and all(modes[name] == 0o600 for name in env_temporaries)
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "compose.yml").stat().st_mode) == 0o644
    assert temporary_files(tmp_path) == []


def test_an_existing_env_is_tightened_and_ignored_with_api_key_env(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VLLM_API_KEY='k $x'\n")
    (tmp_path / ".env").chmod(0o644)
    assert run("plan", "Qwen3-8B", "--api-key-env", "--out", str(tmp_path)).exit_code == 0
    assert (tmp_path / ".env").read_text() == "VLLM_API_KEY='k $x'\n"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()


def test_an_env_compose_cannot_read_is_refused_with_its_line(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nB='open\n")
    refused(run("plan", "Qwen3-8B", "--api-key", "k", "--out", str(tmp_path)), f"{tmp_path / '.env'}, line 2")
    assert sorted(tree(tmp_path)) == [".env"]


def test_a_rewrite_replaces_the_file_and_never_writes_into_it(run: Run, tmp_path: Path) -> None:
    """compose.yml and .env are renamed into place: a reader that opened the old file reads the old file to its
    end (a write into the file itself would show it half old, half new), and the new file is a new inode."""
    assert run("plan", "Qwen3-8B", "--api-key", "k1", "--out", str(tmp_path)).exit_code == 0
    compose, env = tmp_path / "compose.yml", tmp_path / ".env"
    old_text, old_env = compose.read_bytes(), env.read_bytes()
    with compose.open("rb") as reader, env.open("rb") as env_reader:
        before = (os.fstat(reader.fileno()).st_ino, os.fstat(env_reader.fileno()).st_ino)
        result = run("plan", "Qwen3-8B", "--api-key", "k2", "--max-model-len", "4096", "--out", str(tmp_path))
        assert result.exit_code == 0, result.stderr
        assert (reader.read(), env_reader.read()) == (old_text, old_env)
    assert b'"--max-model-len", "4096"' in compose.read_bytes()
    assert env.read_text() == "VLLM_API_KEY=k2\n"
    assert compose.stat().st_ino != before[0] and env.stat().st_ino != before[1]
    assert temporary_files(tmp_path) == []


# ---- the write layer itself (generated.py), called directly ---------------------------------------------------


def test_write_file_creates_0644_keeps_an_existing_mode_and_refuses_a_directory(tmp_path: Path) -> None:
    new = tmp_path / "sub" / "compose.yml"
    write_file(new, "a: 1\n")
    assert new.read_text() == "a: 1\n" and stat.S_IMODE(new.stat().st_mode) == 0o644
    new.chmod(0o600)
    write_file(new, "a: 2\n")
    assert new.read_text() == "a: 2\n" and stat.S_IMODE(new.stat().st_mode) == 0o600
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError) as refused:
        write_file(tmp_path / "dir", "x")
    assert str(refused.value) == f"{tmp_path / 'dir'} is a directory"
    assert temporary_files(tmp_path) == []


def test_targets_that_cannot_be_written_are_named_exactly(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    cases = {
        tmp_path / "file" / "sub" / "compose.yml": f"cannot write {tmp_path / 'file' / 'sub' / 'compose.yml'}: "
        f"{tmp_path / 'file'} is a file, not a directory",
        tmp_path / "fifo": f"{tmp_path / 'fifo'} is not a regular file",
        tmp_path / ("x" * 300): f"cannot write {tmp_path / ('x' * 300)}: File name too long",
    }
    for target, message in cases.items():
        with pytest.raises(InputError) as refused:
            write_file(target, "x")
        assert str(refused.value) == message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "file"]


def test_a_directory_that_is_not_writable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (tests run as root, where chmod cannot make a directory read-only: ask os.access as the kernel would)
    asked: list[tuple[Path, int]] = []

    def access(path: str | Path, mode: int) -> bool:
        asked.append((Path(path), mode))
        return Path(path) != tmp_path

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(InputError) as refused:
        write_file(tmp_path / "new" / "compose.yml", "x")
    assert str(refused.value) == f"cannot write {tmp_path / 'new' / 'compose.yml'}: {tmp_path} is not writable"
    assert asked == [(tmp_path, os.W_OK | os.X_OK)]  # the nearest directory that exists, to create and enter
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_sit_beside_their_target_and_say_whose_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    moves: list[tuple[Path, Path]] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_deployment(tmp_path, {".": "services: {}\n"}, secrets={"VLLM_API_KEY": "k"},
                     extra_files={".": {"litellm-config.yaml": "model_list: []\n"}})  # fmt: skip
    # .gitignore, .env, the files compose.yml mounts, then compose.yml: a stop half-way leaves no secret unignored
    assert [dst.name for _, dst in moves] == [".gitignore", ".env", "litellm-config.yaml", "compose.yml"]
    for src, dst in moves:
        assert src.parent == dst.parent == tmp_path
        assert re.fullmatch(rf"\.{re.escape(dst.name.lstrip('.'))}\.[^/]+\.tmp", src.name), src.name
    assert (tmp_path / "litellm-config.yaml").read_text() == "model_list: []\n"
    write_file(tmp_path / "Xmine.yaml", "models: []\n")  # a catalog file: its whole name in the temporary's
    assert moves[-1][0].name.startswith(".Xmine.yaml.") and moves[-1][1] == tmp_path / "Xmine.yaml"
    assert stat.S_IMODE((tmp_path / "litellm-config.yaml").stat().st_mode) == 0o644


def test_a_failure_writing_a_temporary_file_names_it_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "out"
    with pytest.raises(InputError) as refused:
        write_deployment(out, {".": "services: {}\n"})
    assert str(refused.value) == f"cannot write {out / 'compose.yml'}: No space left on device; nothing was changed"
    assert list(tmp_path.iterdir()) == []  # out/ was made for it and removed again


def test_a_directory_that_cannot_be_made_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: object, **kwargs: object) -> None:
        if self.name == "worker-1":
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(InputError) as refused:
        write_deployment(tmp_path, {"head": "services: {}\n", "worker-1": "services: {}\n"})
    assert str(refused.value) == f"cannot write {tmp_path / 'worker-1'}: Disk quota exceeded; nothing was changed"
    assert list(tmp_path.iterdir()) == []  # head/ too was removed


def test_a_failure_that_is_not_an_os_error_is_undone_and_raised_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yml").write_text("old\n")
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).parent.name == "worker-1" and Path(dst).name == "compose.yml":
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_deployment(tmp_path / "new", {".": "services: {}\n", "worker-1": "services: {}\n"}, secrets={"K": "v"})
    # new/ and its .env, .gitignore and compose.yml, and worker-1/ and its .env and .gitignore, are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]


def test_what_could_not_be_undone_is_named(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("plan", "Qwen3-8B", "--api-key", "old-key", "--out", str(tmp_path)).exit_code == 0
    real_replace = os.replace
    failed: list[Path] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        # compose.yml cannot be replaced, and then .env cannot be put back
        if Path(dst).name == "compose.yml" or (failed and Path(dst).name == ".env"):
            failed.append(Path(dst))
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = run("plan", "Qwen3-8B", "--api-key", "new-key", "--max-model-len", "4096", "--out", str(tmp_path))
    refused(result, f"cannot write {tmp_path / 'compose.yml'}: Input/output error; could not undo the changes to "
                    f"{tmp_path / '.env'}")  # fmt: skip
    assert failed == [tmp_path / "compose.yml", tmp_path / ".env"]
    assert temporary_files(tmp_path) == []  # not even the one holding the old key


def test_what_cannot_be_removed_again_is_named_and_the_rest_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace, real_unlink = os.replace, Path.unlink

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == "compose.yml":
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name in (".env", ".gitignore") or self.name.startswith(".compose.yml."):
            raise OSError(errno.EBUSY, "Device or resource busy")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(Path, "unlink", unlink)
    out = tmp_path / "new"
    with pytest.raises(InputError) as refused:
        write_deployment(out, {".": "services: {}\n"}, secrets={"K": "v"})
    (leftover,) = temporary_files(out)  # compose.yml's, never renamed
    # the temporary file first, then what was renamed into place, last first; new/ stays, not empty
    assert str(refused.value) == (
        f"cannot write {out / 'compose.yml'}: Input/output error; could not undo the changes to {leftover}, "
        f"{out / '.env'}, {out / '.gitignore'}"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([".env", ".gitignore", leftover.name])


def test_a_failure_of_a_file_never_renamed_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if Path(dst).name == ".env":
            raise OSError(errno.EIO, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(InputError, match=r"; nothing was changed$"):
        write_deployment(tmp_path, {".": "services: {}\n"}, secrets={"K": "v"})
    assert list(tmp_path.iterdir()) == []  # .gitignore removed again; .env's and compose.yml's temporary files too


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("K=v\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == ".env":
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(InputError) as refused:
        write_deployment(tmp_path, {".": "services: {}\n"}, secrets={"K": "w"})
    assert str(refused.value) == f"cannot read {tmp_path / '.env'}: Permission denied"

    (tmp_path / "compose.yml").write_text("services: {}\n")

    def unreadable(path: Path) -> str:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(generated, "read_text_file", unreadable)
    with pytest.raises(InputError) as refused:
        write_deployment(tmp_path, {".": "services: {}\n"})
    assert str(refused.value) == f"cannot read {tmp_path / 'compose.yml'}: Permission denied"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "compose.yml"]


def test_secrets_go_beside_every_node_file(tmp_path: Path) -> None:
    write_deployment(tmp_path, {"head": "services: {}\n", "worker-1": "services: {}\n"}, secrets={"K": "v"})
    for node in ("head", "worker-1"):
        assert (tmp_path / node / ".env").read_text() == "K=v\n"
        assert stat.S_IMODE((tmp_path / node / ".env").stat().st_mode) == 0o600
        assert (tmp_path / node / ".gitignore").read_text() == "# secrets for docker compose (ascendgen)\n.env\n"
        assert stat.S_IMODE((tmp_path / node / ".gitignore").stat().st_mode) == 0o644


def test_env_is_written_only_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True, secrets={})  # no secrets and no .env: none made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True, secrets={"K": "v"})
    real_replace = os.replace
    written: list[str] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        written.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True, secrets={"K": "v"})
    assert written == ["compose.yml"]  # .env says the same and is 0600; .gitignore lists it
    (tmp_path / ".env").chmod(0o644)
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True, secrets={"K": "v"})
    assert written[1:] == [".env", "compose.yml"] and stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / ".gitignore").chmod(0o640)
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True, secrets={"K": "w"})
    assert written[3:] == [".gitignore", ".env", "compose.yml"]
    assert (tmp_path / ".gitignore").read_text() == "*.log\n# secrets for docker compose (ascendgen)\n.env\n"
    assert stat.S_IMODE((tmp_path / ".gitignore").stat().st_mode) == 0o640  # its mode kept
    assert (tmp_path / ".env").read_text() == "K=w\n"


def test_an_env_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"K=\xff\n")
    with pytest.raises(InputError) as refused:
        write_deployment(tmp_path, {".": "services: {}\n"}, secrets={"K": "v"})
    assert str(refused.value) == f"{tmp_path / '.env'} is not UTF-8 text: fix or remove it"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env"]


def test_an_existing_file_is_kept_unless_ascendgen_wrote_it_unedited(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services: {}\n")
    with pytest.raises(AscendgenError) as refused:
        write_deployment(tmp_path, {".": "services: {}\n"})
    assert str(refused.value) == (
        f"{tmp_path / 'compose.yml'} exists and was not written by ascendgen: keep local changes in "
        "compose.override.yml (docker compose merges it over compose.yml; ascendgen never touches it), or rerun "
        "with --force to overwrite"
    )
    (tmp_path / "compose.yml").write_bytes(b"\x00\xff")
    with pytest.raises(AscendgenError, match="exists and is not a compose file ascendgen wrote \\(not a text file"):
        write_deployment(tmp_path, {".": "services: {}\n"})
    write_deployment(tmp_path, {".": "services: {}\n"}, force=True)
    assert (tmp_path / "compose.yml").read_text() == "services: {}\n"


def test_out_with_a_control_character_is_refused_by_the_write_layer(tmp_path: Path) -> None:
    with pytest.raises(InputError) as refused:
        write_deployment(tmp_path / "a\x1bb", {".": "services: {}\n"})
    assert str(refused.value) == f"--out '{tmp_path}/a\\x1bb': a directory name cannot hold control characters"
    assert list(tmp_path.iterdir()) == []


# ---- what is rendered where ------------------------------------------------------------------------------------


def test_files_per_directory_for_one_server_a_gateway_and_a_cluster(tmp_path: Path) -> None:
    one = request_from_flags(["Qwen3-8B"], {})
    assert list(render_files(make_plans(one), one, tmp_path)) == ["."]
    assert render_extra_files(make_plans(one), one, tmp_path) == {}
    nodes = request_from_flags(["Qwen3-32B"], {"nodes": ["10.0.0.1:eth0", "10.0.0.2:eth0"]})
    texts = render_files(make_plans(nodes), nodes, tmp_path)
    assert list(texts) == ["head", "worker-1"]
    assert "ray start" in texts["head"] and "--headless" not in texts["worker-1"]
    dp = request_from_flags(["Qwen3-32B"], {"nodes": ["10.0.0.1:eth0", "10.0.0.2:eth0"], "layout": "dp"})
    texts = render_files(make_plans(dp), dp, tmp_path)
    assert list(texts) == ["head", "worker-1"] and "--headless" in texts["worker-1"]
    assert render_extra_files(make_plans(dp), dp, tmp_path) == {}
    gateway = request_from_flags(["Qwen3-8B", "Qwen3-4B"], {"gateway": True, "api_key_env": True})
    texts = render_files(make_plans(gateway), gateway, tmp_path)
    (service,) = (s for name, s in yaml.safe_load(texts["."])["services"].items() if name == "gateway")
    extra = render_extra_files(make_plans(gateway), gateway, tmp_path)
    assert list(extra) == ["."] and list(extra["."]) == ["litellm-config.yaml"]
    assert "Content hash: sha256:" in extra["."]["litellm-config.yaml"]
    assert service["labels"]["io.ascendgen.role"] == "gateway"


def test_a_multi_node_data_parallel_plan_of_two_ranks_runs_without_ray(tmp_path: Path) -> None:
    # Llama-3.3-70B: 70.6e9 x 2 B = 131.5 GiB; TP 4: 32.9 GiB per NPU > 26.541 usable, TP 8: 16.4 GiB fits; two
    # 8-NPU nodes hold DP 2
    request = request_from_flags(["Llama-3.3-70B-Instruct"], {"nodes": ["10.0.0.1:eth0", "10.0.0.2:eth0"],
                                                              "layout": "dp"})  # fmt: skip
    (plan,) = make_plans(request)
    assert (plan.tensor_parallel_size, plan.data_parallel_size) == (8, 2)
    texts = render_files([plan], request, tmp_path)
    assert "ray start" not in texts["head"] and '"--headless"' in texts["worker-1"]


def test_write_compose_writes_the_gateway_config_beside_compose(tmp_path: Path) -> None:
    catalog = tmp_path / "mine.yaml"
    catalog.write_text("models:\n  - name: Qwen3-8B\n    served_name: qwen3\n")
    given = {"gateway": True, "api_key_env": True, "host": "127.0.0.1", "port": 9000, "catalogs": [str(catalog)]}
    request = request_from_flags(["Qwen3-8B", "Qwen3-4B"], given)
    out = tmp_path / "deploy"
    written = write_compose(make_plans(request), request, out, secrets={"VLLM_API_KEY": "k"})
    assert written == [out / "compose.yml"]
    recipe = (
        "# Regenerate (in this directory): ascendgen plan Qwen3-8B Qwen3-4B --port 9000 --host 127.0.0.1 "
        "--gateway --api-key-env --catalog ../mine.yaml"
    )
    compose, config = (out / "compose.yml").read_text(), (out / "litellm-config.yaml").read_text()
    assert compose.split("\n")[1] == config.split("\n")[1] == recipe  # both relative to the directory
    gateway = yaml.safe_load(compose)["services"]["gateway"]
    assert gateway["command"] == ["--config", "/app/config.yaml", "--host", "127.0.0.1", "--port", "9000"]
    routes = [(m["model_name"], m["litellm_params"]["api_base"]) for m in yaml.safe_load(config)["model_list"]]
    assert routes == [("qwen3", "http://127.0.0.1:9001/v1"), ("Qwen/Qwen3-4B", "http://127.0.0.1:9002/v1")]
    assert (out / ".env").read_text() == "VLLM_API_KEY=k\n"
    # a second run over an edited config is refused, and writes nothing
    (out / "litellm-config.yaml").write_text(config + "# mine\n")
    with pytest.raises(AscendgenError, match=r"litellm-config\.yaml was edited by hand since ascendgen wrote it"):
        write_compose(make_plans(request), request, out)
