"""Log diagnosis on the wording vLLM / vllm-ascend / torch_npu / transformers really print."""

from __future__ import annotations

import pytest

from ascendgen.diagnose import diagnose

CASES = [
    (
        "ValueError: Total number of attention heads (28) must be divisible by tensor parallel size (8).",
        "tp_heads",
        ["8 does not divide", "28 attention heads", "1, 2, 4", "--tp 4"],
    ),
    (
        # vLLM >= 0.10 (vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory)
        "ValueError: To serve at least one request with the models's max seq len (131072), (18.00 GiB KV cache is "
        "needed, which is larger than the available KV cache memory (9.79 GiB). Based on the available memory, the "
        "estimated maximum model length is 71280. Try increasing `gpu_memory_utilization` or decreasing "
        "`max_model_len` when initializing the engine.",
        "kv_cache",
        ["131072", "18.00 GiB", "9.79 GiB", "--max-model-len 71280"],
    ),
    (
        # older vLLM wording, quoted in the seeds (Qwen2.5-7B)
        "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be "
        "stored in KV cache (26240). Try increasing `gpu_memory_utilization` or decreasing `max_model_len`",
        "kv_cache",
        ["32768", "26240", "--max-model-len 26240"],
    ),
    (
        "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 29.50 GiB total capacity)",
        "npu_oom",
        ["out of memory", "npu-smi"],
    ),
    (
        "ImportError: libascend_hal.so: cannot open shared object file: No such file or directory",
        "driver",
        ["libascend_hal.so", "/usr/local/Ascend/driver/lib64"],
    ),
    (
        "ValueError: Invalid repository ID or local directory specified: '/models/Qwen/Qwen3-8B'.",
        "model_path",
        ["/models/Qwen/Qwen3-8B", "--models-dir"],
    ),
    (
        "ValueError: The checkpoint you are trying to load has model type `qwen3_vl_moe` but Transformers does "
        "not recognize this architecture.",
        "architecture",
        ["qwen3_vl_moe", "newer image"],
    ),
    (
        "ValueError: Model architectures ['Qwen3VLMoeForConditionalGeneration'] are not supported for now.",
        "architecture",
        ["Qwen3VLMoeForConditionalGeneration"],
    ),
]


@pytest.mark.parametrize(("log", "kind", "phrases"), CASES)
def test_known_failures(log: str, kind: str, phrases: list[str]) -> None:
    found = diagnose("INFO starting\n" + log + "\nTraceback ...\n")
    assert found is not None
    assert found.kind == kind
    for phrase in phrases:
        assert phrase in found.message


def test_unknown_log_has_no_diagnosis() -> None:
    assert diagnose("INFO: Application startup complete.\n") is None


def test_last_error_wins() -> None:
    log = CASES[3][0] + "\n...\n" + CASES[0][0]
    found = diagnose(log)
    assert found is not None and found.kind == "tp_heads"


MORE_WORDINGS = [
        ("RuntimeError: please set tensor_parallel_size (4) to less than max local gpu count (2)", "too_few_npus",
         "wants 4 NPUs but the container sees 2"),
        ("RuntimeError: please ensure that world_size (8) is less than than max local gpu count (4)", "too_few_npus",
         "wants 8 NPUs but the container sees 4"),
        ("Value error, User-specified max_model_len (65536) is greater than the derived max_model_len "
         "(max_position_embeddings=40960 or model_max_length=None in model's config.json).", "context",
         "--max-model-len 40960"),
        ("[Error]: The device is unavailable.", "driver", "/dev/davinci"),
        ("ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (1).",
         "tp_heads", "32 attention heads"),
        # Python's own FileNotFoundError text, as transformers raises it for a missing config.json
        ("FileNotFoundError: [Errno 2] No such file or directory: '/models/Qwen/Qwen3-8B/config.json'",
         "model_path", "/models/Qwen/Qwen3-8B/config.json"),
        # transformers' utils/hub.py cached_file wording
        ("OSError: /models/Qwen/Qwen3-8B is not a local folder and is not a valid model identifier listed on "
         "'https://huggingface.co/models'", "model_path", "not found at /models/Qwen/Qwen3-8B inside"),
        ("OSError: /models/Qwen/Qwen3-8B does not appear to have a file named config.json. Checkout "
         "'https://huggingface.co//models/Qwen/Qwen3-8B/tree/None' for available files.", "model_path",
         "/models/Qwen/Qwen3-8B"),
        ("RuntimeError: ACL_ERROR_RT_MEMORY_ALLOCATION", "npu_oom", "ran out of memory"),
]  # fmt: skip


@pytest.mark.parametrize(("log", "kind", "phrase"), MORE_WORDINGS)
def test_more_engine_wordings(log: str, kind: str, phrase: str) -> None:
    found = diagnose(log)
    assert found is not None and found.kind == kind
    assert phrase in found.message


def test_the_tp_hint_follows_the_kv_head_rule_when_the_model_is_known() -> None:
    log = "ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (64)."
    unknown = diagnose(log)
    assert unknown is not None and "use one of 1, 2, 4, 8, 16, 32: ascendgen plan MODEL --tp 32" in unknown.message
    # 32 heads, 4 KV heads: TP 8 replicates each KV head twice (8 % 4 == 0); every power of two up to 32 works
    known = diagnose(log, {"num_key_value_heads": 4})
    assert known is not None and "use one of 1, 2, 4, 8, 16, 32" in known.message
    # 28 heads, 3 KV heads (hypothetical): only TP 1 keeps both rules (2 does not divide 3, nor 3 divide 2)
    odd = diagnose(log.replace("(32)", "(28)"), {"num_key_value_heads": 3})
    assert odd is not None and "use one of 1: ascendgen plan MODEL --tp 1" in odd.message


def test_the_evidence_is_the_whole_matching_line() -> None:
    line = "ImportError: libascend_hal.so: cannot open shared object file: No such file or directory"
    found = diagnose(f"INFO a\n{line}\nINFO b\n")
    assert found is not None and found.evidence == line


def test_every_pattern_of_every_rule_is_exercised_by_a_test_log() -> None:
    """Each alternative a rule lists must match at least one log line quoted in this file."""
    from ascendgen.diagnose import load_rules

    logs = [case[0] for case in CASES] + [case[0] for case in MORE_WORDINGS]
    for rule, patterns in load_rules():
        for pattern in patterns:
            assert any(pattern.search(log) for log in logs), f"{rule.kind}: no test log for {pattern.pattern!r}"


def test_a_rule_whose_message_needs_what_its_pattern_does_not_capture_is_refused() -> None:
    from ascendgen.diagnose import Rule

    with pytest.raises(ValueError, match="message uses fit"):
        Rule.model_validate(
            {"kind": "kv", "patterns": [r"max seq len \((?P<len>\d+)\)"], "message": "{len} > {fit}",
             "source": "https://example.org"}
        )  # fmt: skip
    with pytest.raises(ValueError, match="not a regular expression"):
        Rule.model_validate({"kind": "kv", "patterns": ["("], "message": "x", "source": "https://example.org"})
