"""Small shared test helpers (plain module, importable from every test directory)."""

from __future__ import annotations

import json
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
