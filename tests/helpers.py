"""Small shared test helpers (plain module, importable from every test directory)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
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
