"""Read a failed vLLM container's log and say what went wrong in words a user can act on.

Pure: log text in, Diagnosis out. Each pattern is the wording vLLM, vllm-ascend, torch_npu or
transformers print for that failure (old and new spellings where they changed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    message: str


def _heads(m: re.Match[str]) -> str:
    heads, tp = int(m["heads"]), int(m["tp"])
    valid = [t for t in (1, 2, 4, 8, 16, 32) if heads % t == 0]
    below = [t for t in valid if t < tp]
    suggestion = f": ascendgen plan MODEL --tp {below[-1]}" if below else ""
    return (
        f"tensor-parallel size {tp} does not divide the model's {heads} attention heads; "
        f"use one of {', '.join(map(str, valid))}{suggestion}"
    )


def _too_few_npus(m: re.Match[str]) -> str:
    return (
        f"the engine wants {m['want']} NPUs but the container sees {m['have']}: map one /dev/davinciN per rank "
        "(regenerate with ascendgen plan, which maps them) or lower --tp"
    )


def _above_context(m: re.Match[str]) -> str:
    return (
        f"max-model-len {m['len']} is above the model's context of {m['derived']} tokens (config.json): "
        f"rerun ascendgen plan with --max-model-len {m['derived']} or less"
    )


def _kv_new(m: re.Match[str]) -> str:
    return (
        f"max-model-len {m['len']} needs {m['need']} GiB of KV cache but only {m['have']} GiB is left after "
        f"the weights; vLLM estimates {m['fit']} tokens fit: rerun ascendgen plan with --max-model-len "
        f"{m['fit']} (or use more NPUs)"
    )


def _kv_old(m: re.Match[str]) -> str:
    return (
        f"max-model-len {m['len']} is larger than the {m['fit']} tokens the KV cache holds: rerun ascendgen "
        f"plan with --max-model-len {m['fit']} (or use more NPUs)"
    )


def _oom(m: re.Match[str]) -> str:
    return (
        "an NPU ran out of memory: another process may hold HBM on these NPUs (check npu-smi info), or "
        "lower --gpu-memory-utilization / --max-model-len, or use more NPUs"
    )


def _driver(m: re.Match[str]) -> str:
    return (
        f"the container cannot reach the NPU driver ({m['what'].strip()}): check that the host has the "
        "Ascend driver installed and that compose.yml maps /dev/davinci*, /dev/davinci_manager, "
        "/dev/hisi_hdc, /dev/devmm_svm and mounts /usr/local/Ascend/driver/lib64"
    )


def _model_path(m: re.Match[str]) -> str:
    return (
        f"the model was not found at {m['path']} inside the container: check that --models-dir points at "
        "the directory holding <org>/<model> and that config.json is there"
    )


def _arch(m: re.Match[str]) -> str:
    return (
        f"this image's vLLM/transformers does not know the architecture {m['arch']}: use a newer image "
        "(ascendgen plan MODEL --image TAG; see the model's min_image in `ascendgen models --json`)"
    )


_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        "tp_heads",
        re.compile(
            r"Total number of attention heads \((?P<heads>\d+)\) must be divisible by tensor parallel size "
            r"\((?P<tp>\d+)\)"
        ),
        _heads,
    ),
    (
        "kv_cache",
        re.compile(
            r"max seq len \((?P<len>\d+)\), \((?P<need>[\d.]+) GiB KV cache is needed, which is larger than the "
            r"available KV cache memory \((?P<have>[\d.]+) GiB\)\. Based on the available memory, the estimated "
            r"maximum model length is (?P<fit>\d+)"
        ),
        _kv_new,
    ),
    (
        "kv_cache",
        re.compile(
            r"The model's max seq len \((?P<len>\d+)\) is larger than the maximum number of tokens that can be "
            r"stored in KV cache \((?P<fit>\d+)\)"
        ),
        _kv_old,
    ),
    *(
        ("too_few_npus", re.compile(pattern), _too_few_npus)
        for pattern in (
            r"please set tensor_parallel_size \((?P<want>\d+)\) to less than max local \w+ count \((?P<have>\d+)\)",
            r"world_size \((?P<want>\d+)\) is less than(?: than)? max local \w+ count \((?P<have>\d+)\)",
        )
    ),
    (
        "context",
        re.compile(
            r"User-specified max_model_len \((?P<len>\d+)\) is greater than the derived max_model_len "
            r"\(\w+=(?P<derived>\d+)"
        ),
        _above_context,
    ),
    ("npu_oom", re.compile(r"NPU out of memory|ACL_ERROR_RT_MEMORY_ALLOCATION|EL0004"), _oom),
    (
        "driver",
        re.compile(
            r"(?P<what>lib(?:ascend_hal|dcmi|drvdsmi_host)\.so: cannot open shared object file"
            r"|/dev/davinci\w*: No such file or directory|No NPU device|device count is 0"
            r"|npu-smi: (?:command )?not found|open device \S+ failed|The device is unavailable)"
        ),
        _driver,
    ),
    *(
        ("model_path", re.compile(pattern), _model_path)
        for pattern in (
            r"Invalid repository ID or local directory specified: '(?P<path>[^']+)'",
            r"No such file or directory: '(?P<path>/models/[^']*)'",
            r"(?P<path>/models/\S+?)'? (?:is not a local folder|does not appear to have a file named config\.json)",
        )
    ),
    *(
        ("architecture", re.compile(pattern), _arch)
        for pattern in (
            r"model type `(?P<arch>[\w.-]+)` but Transformers does not recognize this architecture",
            r"Model architectures \['(?P<arch>[\w.-]+)'\] (?:are|is) not supported",
        )
    ),
]


def diagnose(log: str) -> Diagnosis | None:
    """The first known failure found in the log, reading from its end (the last error is the cause)."""
    best: tuple[int, Diagnosis] | None = None
    for kind, pattern, explain in _PATTERNS:
        for match in pattern.finditer(log):
            if best is None or match.start() > best[0]:
                best = (match.start(), Diagnosis(kind, explain(match)))
    return best[1] if best else None
