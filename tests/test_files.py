"""Writing a deployment is all or nothing: compose.yml (of every node directory), .env and .gitignore are
checked before anything is written, go through temporary files renamed into place, and a failure half-way
puts back what was there and leaves no temporary file (none holding a secret). Errors name the culprit."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ascendgen.errors import InputError
from ascendgen.generated import write_deployment, write_file

from helpers import Result

Run = Callable[..., Result]
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
    """compose.yml is renamed into place: a reader that opened the old file reads the old file to its end (a
    write into the file itself would show it half old, half new), and the old file's inode is not the new one's."""
    assert run("plan", "Qwen3-8B", "--api-key", "k1", "--out", str(tmp_path)).exit_code == 0
    compose, env = tmp_path / "compose.yml", tmp_path / ".env"
    old_text, old_env = compose.read_bytes(), env.read_bytes()
    with compose.open("rb") as reader, env.open("rb") as env_reader:
        before = (os.fstat(reader.fileno()).st_ino, os.fstat(env_reader.fileno()).st_ino)
        result = run("plan", "Qwen3-8B", "--api-key", "k2", "--max-model-len", "4096", "--out", str(tmp_path))
        assert result.exit_code == 0, result.stderr
        assert (reader.read(), env_reader.read()) == (old_text, old_env)
    assert compose.read_bytes() != old_text and b"--max-model-len 4096" in compose.read_bytes()
    assert env.read_text() == "VLLM_API_KEY=k2\n"
    assert (compose.stat().st_ino, env.stat().st_ino) != before
    assert temporary_files(tmp_path) == []


def test_a_failing_rename_keeps_the_old_compose_file_whole(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("plan", "Qwen3-8B", "--out", str(tmp_path)).exit_code == 0
    old = (tmp_path / "compose.yml").read_bytes()
    fail_replace_of(monkeypatch, tmp_path / "compose.yml")
    result = run("plan", "Qwen3-8B", "--max-model-len", "4096", "--out", str(tmp_path))
    refused(result, f"cannot write {tmp_path / 'compose.yml'}: Input/output error; nothing was changed")
    assert (tmp_path / "compose.yml").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]


# ---- the write layer itself (generated.py), called directly ---------------------------------------------------


def test_write_file_creates_0644_keeps_an_existing_mode_and_refuses_a_directory(tmp_path: Path) -> None:
    new = tmp_path / "sub" / "compose.yml"
    write_file(new, "a: 1\n")
    assert new.read_text() == "a: 1\n" and stat.S_IMODE(new.stat().st_mode) == 0o644
    new.chmod(0o600)
    write_file(new, "a: 2\n")
    assert new.read_text() == "a: 2\n" and stat.S_IMODE(new.stat().st_mode) == 0o600
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match=f"{tmp_path / 'dir'} is a directory"):
        write_file(tmp_path / "dir", "x")
    assert temporary_files(tmp_path) == []


def test_temporary_files_sit_beside_their_target_and_say_whose_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    moves: list[tuple[Path, Path]] = []

    def replace(src: str | Path, dst: str | Path) -> None:
        moves.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_deployment(tmp_path, {".": "services: {}\n"}, secrets={"VLLM_API_KEY": "k"})
    assert [dst.name for _, dst in moves] == [".gitignore", ".env", "compose.yml"]
    for src, dst in moves:
        assert src.parent == dst.parent == tmp_path
        assert re.fullmatch(rf"\.{re.escape(dst.name.lstrip('.'))}\.[^/]+\.tmp", src.name), src.name


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
    assert temporary_files(tmp_path) == []


def test_secrets_go_beside_every_node_file(tmp_path: Path) -> None:
    write_deployment(tmp_path, {"head": "services: {}\n", "worker-1": "services: {}\n"}, secrets={"K": "v"})
    for node in ("head", "worker-1"):
        assert (tmp_path / node / ".env").read_text() == "K=v\n"
        assert stat.S_IMODE((tmp_path / node / ".env").stat().st_mode) == 0o600
        assert ".env" in (tmp_path / node / ".gitignore").read_text().split()
