"""What vLLM's startup log says it measured: the weights it loaded, the memory left for the KV cache, how
many tokens that cache holds and how many full-length requests fit at once. Pure: log text in, numbers out.

The lines, as vLLM and vllm-ascend print them (verbatim examples in tests/test_vllmlog.py, from public logs):
- `Loading model weights took 15.2684 GB` (vllm-ascend model_runner_v1.py; vLLM's model runners until the wording
  became `Model loading took 15.27 GiB`): the number is GiB in both, vLLM divides by GiB_bytes (2**30) and only
  the old label says GB. One line per rank.
- `Available KV cache memory: 39.06 GiB` (vLLM v1 gpu_worker.py, vllm-ascend worker.py from v0.15): per rank.
- `Available memory: 47612861952, total memory: 65452113920` (vllm-ascend worker_v1.py / worker.py up to
  v0.14): the KV budget and what the NPU reports as total, in bytes, per rank.
- `GPU KV cache size: 415,104 tokens` (vllm/v1/core/kv_cache_utils.py); older versions print it once per
  worker, so the smallest counts (vLLM sizes every worker's cache to the smallest).
- `# npu blocks: 466, # CPU blocks: 1820` (the V0 engine, executor_base.py; vllm-ascend v0.7.3 printed the
  first label as `# CPU blocks`): blocks of 128 tokens on Ascend (vllm_ascend/utils.py refresh_block_size;
  466 x 128 = 1.82 x 32768 in vllm-ascend issue 1425's `Maximum concurrency` line).
- `Maximum concurrency for 4,096 tokens per request: 45.03x` (kv_cache_utils.py; V0: executor_base.py).
A container's log holds every start since it was created (a restart appends); `last_start` cuts the log of
the latest one."""

from __future__ import annotations

import re
from dataclasses import dataclass

GiB = 2**30
ASCEND_BLOCK_TOKENS = 128

_NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
_WEIGHTS = re.compile(r"(?:Loading model weights|Model loading) took " + _NUMBER + r" ?Gi?B\b")
_KV_GIB = re.compile(r"Available KV cache memory: " + _NUMBER + r" ?GiB")
_KV_BYTES = re.compile(r"Available memory: " + _NUMBER + r", total memory: " + _NUMBER)
_KV_TOKENS = re.compile(r"GPU KV cache size: " + _NUMBER + r" tokens")
_BLOCKS = re.compile(r"# (?:npu|NPU|GPU|CPU) blocks: (\d+), # CPU blocks: \d+")
_CONCURRENCY = re.compile(r"Maximum concurrency for " + _NUMBER + r" tokens per request: " + _NUMBER + r"x")
_VERSION = re.compile(r"vLLM API server version (\S+)")
# A new `vllm serve` begins: its API server prints its version first (vllm/entrypoints/openai/api_server.py).
_START = re.compile(r"vLLM API server version ")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


@dataclass(frozen=True)
class StartupNumbers:
    """What one start logged; None for what it did not (yet)."""

    weights_gib: float | None = None  # the largest any rank loaded
    kv_cache_gib: float | None = None  # the smallest KV budget of any rank
    total_memory_gib: float | None = None  # what the NPU reports as its memory (vllm-ascend up to v0.14)
    kv_cache_tokens: int | None = None
    concurrency_tokens: int | None = None  # the request length of the `Maximum concurrency` line
    max_concurrency: float | None = None
    vllm_version: str | None = None

    @property
    def logged_kv_cache(self) -> bool:
        return self.kv_cache_tokens is not None


def last_start(log: str) -> str:
    """The part of a container's log written by its latest `vllm serve` (all of it without the marker)."""
    starts = [match.start() for match in _START.finditer(log)]
    if not starts:
        return log
    line_start = log.rfind("\n", 0, starts[-1]) + 1
    return log[line_start:]


def read_startup(log: str) -> StartupNumbers:
    """The numbers of the latest start in `log`."""
    text = last_start(log)
    weights = [_number(m.group(1)) for m in _WEIGHTS.finditer(text)]
    kv_gib = [_number(m.group(1)) for m in _KV_GIB.finditer(text)]
    kv_bytes = [(_number(m.group(1)), _number(m.group(2))) for m in _KV_BYTES.finditer(text)]
    tokens = [int(_number(m.group(1))) for m in _KV_TOKENS.finditer(text)]
    tokens += [int(m.group(1)) * ASCEND_BLOCK_TOKENS for m in _BLOCKS.finditer(text)]
    concurrency = [(int(_number(m.group(1))), _number(m.group(2))) for m in _CONCURRENCY.finditer(text)]
    version = _VERSION.search(text)
    kv_cache_gib = min(kv_gib) if kv_gib else (min(b for b, _ in kv_bytes) / GiB if kv_bytes else None)
    least = min(concurrency, key=lambda item: item[1]) if concurrency else None
    return StartupNumbers(
        weights_gib=max(weights) if weights else None,
        kv_cache_gib=None if kv_cache_gib is None else round(kv_cache_gib, 2),
        total_memory_gib=round(min(t for _, t in kv_bytes) / GiB, 2) if kv_bytes else None,
        kv_cache_tokens=min(tokens) if tokens else None,
        concurrency_tokens=least[0] if least else None,
        max_concurrency=least[1] if least else None,
        vllm_version=version.group(1) if version else None,
    )


def difference_percent(planned: float, measured: float) -> float | None:
    """How far vLLM's number is from the plan's, in percent of the plan's (negative: vLLM has less)."""
    if planned <= 0:
        return None
    return round((measured - planned) / planned * 100, 1)
