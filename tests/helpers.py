"""Small shared test helpers (plain module, importable from every test directory)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    """What one `ascendgen ...` run gave: exit code, stdout, stderr."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Result]  # the `run` fixture (conftest.py): `ascendgen ARGS...` in-process
Write = Callable[[str, str], Path]  # the `write` fixture: a dedented text file under tmp_path


def compose_config(directory: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What Compose v2 reads from the compose file in `directory` (`docker compose config --format json`, no
    engine needed), with `env` over the shell's environment (GPUSTACK_* variables of the shell left out)."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("GPUSTACK_")}
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=directory, capture_output=True, text=True, check=False, env={**environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def only_service(config: dict[str, Any]) -> dict[str, Any]:
    """The one service of a compose file (as parsed, or as `compose_config` gives it)."""
    (service,) = config["services"].values()
    return service


def bounded_ascendgen(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """`ascendgen ARGS` (or python `code`) in a child with 1 GiB of address space and 60 s: an unbounded
    read fails the test (MemoryError, a timeout) instead of eating the machine or blocking forever."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "ascendgen", *args]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("ASCENDGEN_DEBUG", None)
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, preexec_fn=limit_memory, check=False
    )


def git_repository(path: Path) -> Path:
    """Make `path` a git repository: `check` lets a recipe read files anywhere inside the repository holding
    the compose file (outside one, only in the compose file's directory)."""
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


# A made-up two-layer model with every required catalog field: for user catalogs in tests.
TINY_MODEL_ENTRY = """\
  - name: {name}
    hub_id: me/{name_lower}
    architecture: Qwen3ForCausalLM
    kind: dense
    attention: gqa
    num_layers: 2
    hidden_size: 64
    num_attention_heads: 4
    num_key_value_heads: 2
    head_dim: 16
    vocab_size: 1000
    params_b: 0.01
    dtype: bfloat16
    max_position_embeddings: 4096
    source: https://example.invalid/config.json
"""


def tiny_model_entry(name: str) -> str:
    return TINY_MODEL_ENTRY.format(name=name, name_lower=name.lower())


# A docker SDK client as far as runtime.container_states and runtime.container_log use it.
class FakeContainer:
    """A compose service's container whose log is streamed in chunks."""

    def __init__(self, service: str, project: str, log: bytes, chunk: int = 64) -> None:
        self.id = f"id-{service}"
        self.name = service
        self.status = "exited"
        self.labels = {"com.docker.compose.project": project, "com.docker.compose.service": service}
        self.attrs = {"State": {"Status": "exited", "ExitCode": 1}, "RestartCount": 0}
        self._log = log
        self._chunk = chunk
        self.asked: dict[str, Any] = {}

    def logs(self, **kwargs: Any) -> Iterator[bytes]:
        self.asked = kwargs
        assert kwargs.get("stream") is True  # streamed, so that a huge log is never held whole
        assert kwargs.get("follow") is False  # the SDK follows a streamed log unless told not to: it would hang
        return iter([self._log[i : i + self._chunk] for i in range(0, len(self._log), self._chunk)])


class FakeClient:
    """`client.containers.list(...)` and `client.containers.get(id)`, over a fixed set of containers."""

    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = self
        self._containers = containers

    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[FakeContainer]:
        project = (filters or {}).get("label", "").split("=", 1)[-1]
        return [c for c in self._containers if c.labels["com.docker.compose.project"] == project]

    def get(self, container_id: str) -> FakeContainer:
        for container in self._containers:
            if container.id == container_id:
                return container
        raise LookupError(f"no such container: {container_id}")  # the SDK raises docker.errors.NotFound


# ---- model directories built by tests: config.json plus real safetensors headers over zero (sparse) data ----

SAFETENSORS_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "I8": 1, "U8": 1, "I32": 4, "I64": 8}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """A safetensors file: 8-byte little-endian header length, the JSON header, then the tensors' bytes (zeros,
    written as a sparse file). Returns the bytes of tensor data."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        size = SAFETENSORS_BYTES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(len(raw).to_bytes(8, "little"))
        handle.write(raw)
        handle.truncate(8 + len(raw) + offset)
    return offset


def make_model_dir(
    directory: Path,
    config: dict[str, Any],
    shards: dict[str, dict[str, tuple[str, list[int]]]],
    *,
    index: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """A model directory: config.json, the shards, model.safetensors.index.json when `index`, and `extra` JSON
    files (name -> content)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    total, weight_map = 0, {}
    for name, tensors in shards.items():
        total += write_safetensors(directory / name, tensors)
        weight_map.update(dict.fromkeys(tensors, name))
    if index:
        content = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (directory / "model.safetensors.index.json").write_text(json.dumps(content), encoding="utf-8")
    for name, content in (extra or {}).items():
        (directory / name).write_text(json.dumps(content), encoding="utf-8")
    return directory
