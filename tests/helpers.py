"""Small shared test helpers (plain module, importable from every test directory)."""

from __future__ import annotations

import json
import subprocess
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
