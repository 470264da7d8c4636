"""Log diagnosis on the wording vLLM / vllm-ascend / torch_npu / CANN / HCCL / Ray / transformers really print:
every real failure text of tests/fixtures/failures.yaml gives its kind, every pattern matches a quoted
text, the root cause wins over the errors printed after it, and healthy logs give nothing."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen.diagnose import Rule, _tail_start, diagnose, last_error_lines, load_rules
from ascendgen.records import validate

FIXTURE = Path(__file__).parent / "fixtures" / "failures.yaml"


@cache
def corpus() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return entries


def log_of(entry: dict[str, Any]) -> str:
    """The entry's text; with the evidence line added when it was taken from the issue title (the full log
    holds it; the stored excerpt was cut before it)."""
    text: str = entry["text"]
    return text if entry["evidence"] in text else f"{text}\n{entry['evidence']}\n"


def entry_id(entry: dict[str, Any]) -> str:
    return entry["url"].removeprefix("https://github.com/")


def decidable(entries: list[dict[str, Any]]) -> list[Any]:
    return [
        pytest.param(
            e,
            id=entry_id(e),
            marks=[pytest.mark.xfail(reason=e["undecidable"], strict=True)] if "undecidable" in e else [],
        )
        for e in entries
    ]


# ------------------------------------------------------------------------------------------ the real corpus


@pytest.mark.parametrize("entry", decidable(corpus()))
def test_every_real_failure_text_gives_its_kind(entry: dict[str, Any]) -> None:
    found = diagnose(log_of(entry))
    assert found is not None, f"no rule recognises {entry['evidence']!r}"
    assert found.kind == entry["kind"], found


@pytest.mark.parametrize("entry", [e for e in corpus() if "undecidable" not in e], ids=entry_id)
def test_the_reported_line_is_the_one_that_shows_the_cause(entry: dict[str, Any]) -> None:
    """The line shown as evidence is the root cause the report points at, not an echo printed after it."""
    found = diagnose(log_of(entry))
    assert found is not None
    if "evidence_diagnosed" in entry:
        assert found.evidence == entry["evidence_diagnosed"].strip()
    else:
        assert entry["evidence"].strip() in found.evidence


@pytest.mark.parametrize("entry", [e for e in corpus() if "undecidable" in e], ids=entry_id)
def test_a_text_that_cannot_show_the_cause_gets_no_wrong_diagnosis(entry: dict[str, Any]) -> None:
    assert diagnose(entry["text"]) is None


def test_the_corpus_covers_the_kinds_of_issue_10() -> None:
    kinds = {e["kind"] for e in corpus() if "undecidable" not in e}
    issue_10 = {
        "device_index", "npu_permission", "driver_libs", "cann_init", "driver_cann_mismatch", "torch_npu_import",
        "architecture", "cann_mounted", "oom_loading", "oom_profiling", "no_kv_memory", "kv_cache",
        "quant_flag_rejected", "quant_flag_missing", "no_ascend_quantizer", "quant_description_mismatch",
        "ray_no_npu", "ray_join", "ray_visible_devices", "hccl_init", "hccl_timeout", "too_few_npus", "shm",
        "port_in_use", "dir_permission", "model_path",
    }  # fmt: skip
    assert issue_10 <= kinds, issue_10 - kinds
    # and the one kind no public report in the corpus shows raw: no NPU visible at all (quoted below)
    assert "no_npu" in {rule.rule.kind for rule in load_rules()}


def test_every_kind_of_the_corpus_has_a_rule_and_every_rule_kind_a_text() -> None:
    rule_kinds = {rule.rule.kind for rule in load_rules()}
    corpus_kinds = {e["kind"] for e in corpus()}
    assert corpus_kinds <= rule_kinds, corpus_kinds - rule_kinds
    quoted = {k for _, k, *_ in CASES + MORE_WORDINGS}
    assert rule_kinds <= corpus_kinds | quoted, rule_kinds - corpus_kinds - quoted


# ----------------------------------------------------------------------- wordings quoted from source code


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
        "oom_loading",
        ["out of memory", "npu-smi"],
    ),
    (
        "ImportError: libascend_hal.so: cannot open shared object file: No such file or directory",
        "driver_libs",
        ["driver's libraries", "/usr/local/Ascend/driver/lib64"],
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
    (
        # gpustack#3352 (a MindIE log, the same CANN runtime line): the bracketed form of the range error
        "[ERROR] RUNTIME(42,mindie_llm_backend_connector):2025-11-18-09:33:13.666.323 [runtime.cc:5632]58 "
        "GetVisibleDevices:[INIT][DEFAULT]set ASCEND_RT_VISIBLE_DEVICES:[4] error, input data rang[0-2)",
        "device_index",
        ["ASCEND_RT_VISIBLE_DEVICES=4", "below 2", "not a driver problem"],
    ),
    (
        # vllm/v1/worker/gpu_worker.py init_device (the vllm#28873 wording) with no NPU in the container
        "AssertionError: local_world_size (1) must be less than or equal to the number of visible devices (0).",
        "no_npu",
        ["sees no usable NPU", "/dev/davinci_manager"],
    ),
    (
        # torch's shared-memory writer (torch/storage.py _share_fd_cpu_), as quoted in hopsworks#1557
        "RuntimeError: unable to write to file </torch_739_144252761_4>: No space left on device (28)",
        "shm",
        ["/dev/shm", "shm_size"],
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


MORE_WORDINGS = [
        ("RuntimeError: please set tensor_parallel_size (4) to less than max local gpu count (2)", "too_few_npus",
         "wants 4 NPUs but the container sees 2"),
        ("RuntimeError: please ensure that world_size (8) is less than than max local gpu count (4)", "too_few_npus",
         "wants 8 NPUs but the container sees 4"),
        ("Value error, User-specified max_model_len (65536) is greater than the derived max_model_len "
         "(max_position_embeddings=40960 or model_max_length=None in model's config.json).", "context",
         "--max-model-len 40960"),
        ("[Error]: The device is unavailable.", "no_npu", "/dev/davinci"),
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
        ("RuntimeError: ACL_ERROR_RT_MEMORY_ALLOCATION", "oom_loading", "ran out of memory"),
        # torch_npu's import on a host without CANN's libraries (github.com/LinZhekai/X-Oscar/issues/4, a comment)
        ("ImportError: libhccl.so: cannot open shared object file: No such file or directory. Please check that the "
         "cann package is installed. Please run 'source set_env.sh' in the CANN installation path.",
         "torch_npu_import", "torch_npu, CANN and NNAL (ATB) must be one matched set"),
]  # fmt: skip


@pytest.mark.parametrize(("log", "kind", "phrase"), MORE_WORDINGS)
def test_more_engine_wordings(log: str, kind: str, phrase: str) -> None:
    found = diagnose(log)
    assert found is not None and found.kind == kind
    assert phrase in found.message


def test_every_pattern_of_every_rule_is_exercised_by_a_real_text() -> None:
    """Each pattern a rule lists (and its `after` condition) matches at least one text quoted in this file or
    in the corpus of real failures."""
    logs = [case[0] for case in CASES] + [case[0] for case in MORE_WORDINGS] + [log_of(e) for e in corpus()]
    for compiled in load_rules():
        for pattern in compiled.patterns:
            assert any(pattern.search(log) for log in logs), f"{compiled.rule.kind}: no text for {pattern.pattern!r}"
        if compiled.after is not None:
            assert any(compiled.first_match(log) for log in logs), f"{compiled.rule.kind}: `after` never met"


# -------------------------------------------------------------------------- messages with the log's numbers


def test_the_messages_carry_what_the_log_says() -> None:
    by_url = {entry_id(e): e for e in corpus()}

    def message(url: str) -> str:
        found = diagnose(log_of(by_url[url]))
        assert found is not None
        return found.message

    assert "--max-model-len 122080" in message("vllm-project/vllm/issues/25350")  # what vLLM computed
    assert "--max-model-len 7344" in message("QwenLM/Qwen3/issues/295")
    assert "built for Ascend910B1 but the NPU is Ascend310P3" in message("vllm-project/vllm-ascend/issues/2725")
    assert "qwen3_5_moe" in message("vllm-project/vllm-ascend/issues/8409")
    assert "ASCEND_RT_VISIBLE_DEVICES=4,7" in message("vllm-project/vllm-ascend/issues/2557")
    assert "below 4" in message("vllm-project/vllm-ascend/issues/2557")
    assert "172.16.11.65:41000" in message("gpustack/gpustack/issues/5181")
    assert "port 8000" in message("vllm-project/vllm/issues/8791")
    assert "ss -ltnp" in message("vllm-project/vllm/issues/8791")
    assert "'/.cache'" not in message("vllm-project/vllm/issues/20127")  # the path, unquoted
    assert "/.cache" in message("vllm-project/vllm/issues/20127")
    assert "layers.0.mlp.gate_up_proj.deq_scale" in message("vllm-project/vllm-ascend/issues/3177")
    assert "--quantization ascend" in message("vllm-project/vllm-ascend/issues/3177")
    assert "prefill role dp_size 2" in message("vllm-project/vllm-ascend/issues/8344")
    assert "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES=1" in message("vllm-project/vllm-ascend/issues/167")
    assert "/usr/local/Ascend/cann-8.5.0" in message("vllm-project/vllm-ascend/issues/6336")
    for url, checks in {
        "vllm-project/vllm-ascend/issues/3162": ["HCCL_IF_IP", "hccn_tool -i 0 -link -g", "firewall", "same image"],
        "vllm-project/vllm-ascend/issues/692": ["driver/version.info", "npu-smi info", "image's CANN"],
        "vllm-project/vllm-ascend/issues/4859": ["driver/version.info", "image's CANN"],
        "gpustack/gpustack/issues/5014": ["shm_size", "--shm-size"],
        "vllm-project/vllm-ascend/issues/8393": ["--enforce-eager", "--gpu-memory-utilization"],
        "vllm-project/vllm-ascend/issues/1440": ["/usr/local/Ascend/driver/lib64"],
        "Project-HAMi/ascend-device-plugin/issues/139": ["0660", "uid 1000"],
    }.items():
        for check in checks:
            assert check in message(url), (url, check)


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


# ------------------------------------------------------------------------------ root cause over its echoes


def entry(url: str) -> dict[str, Any]:
    return next(e for e in corpus() if entry_id(e) == url)


def kinds_matching(log: str) -> set[str]:
    return {compiled.rule.kind for compiled in load_rules() if compiled.first_match(log)}


@pytest.mark.parametrize(
    ("url", "cause", "echoes"),
    [
        # no valid device / 207004 first, then the visible-devices range error that caused them
        ("vllm-project/vllm-ascend/issues/2557", "device_index", {"no_npu"}),
        # Ray narrowed the visible NPUs: the invalid-device lines are its consequence
        ("vllm-project/vllm-ascend/issues/167", "ray_visible_devices", {"device_index"}),
        # the CANN mount is why CANN's platform init fails
        ("vllm-project/vllm-ascend/issues/6336", "cann_mounted", {"cann_init"}),
        # a graph-capture OOM also prints the generic allocation failure, before the weights line is seen
        ("vllm-project/vllm-ascend/issues/8393", "oom_profiling", {"oom_loading"}),
        # the driver library is missing; torch_npu's "failed to load the backend extension" follows
        ("vllm-project/vllm-ascend/issues/1440", "driver_libs", {"torch_npu_import"}),
        # DCMI refused the NPU; the ascend_hal warning is printed in healthy logs too
        ("Project-HAMi/ascend-device-plugin/issues/139", "npu_permission", {"no_npu"}),
        # with --quantization ascend given, a missing quantized parameter is the description's fault
        ("vllm-project/vllm-ascend/issues/11368", "quant_description_mismatch", {"quant_flag_missing"}),
    ],
)
def test_the_root_cause_wins_over_the_errors_it_causes(url: str, cause: str, echoes: set[str]) -> None:
    log = log_of(entry(url))
    assert echoes <= kinds_matching(log)  # the log really holds the echoes' texts too
    found = diagnose(log)
    assert found is not None and found.kind == cause


def test_a_cause_printed_after_generic_echoes_still_wins() -> None:
    # a Ray log: a worker's HCCL timeout (an echo) arrives before the OOM of the rank that died
    timeout = entry("vllm-project/vllm-ascend/issues/382")["text"]
    oom = entry("vllm-project/vllm-ascend/issues/19")["text"]
    found = diagnose(timeout + oom)
    assert found is not None and found.kind == "oom_loading"
    # and "EngineCore failed to start" / "See root cause above" lines around it change nothing
    engine = "ERROR 08-26 12:16:18 [core.py:515] EngineCore failed to start.\n"
    root = "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
    found = diagnose(engine + timeout + oom + engine + root)
    assert found is not None and found.kind == "oom_loading"


def test_an_echo_alone_is_still_reported() -> None:
    found = diagnose(entry("vllm-project/vllm-ascend/issues/382")["text"])
    assert found is not None and found.kind == "hccl_timeout" and "first error of the other ranks" in found.message


def test_among_equal_priorities_the_first_error_is_the_cause() -> None:
    # one worker fails for lack of memory, then the engine trips on another check: the first is the cause
    oom = entry("vllm-project/vllm-ascend/issues/19")["text"]
    heads = "ValueError: Total number of attention heads (52) must be divisible by tensor parallel size (8).\n"
    assert (found := diagnose(oom + heads)) is not None and found.kind == "oom_loading"
    assert (found := diagnose(heads + oom)) is not None and found.kind == "tp_heads"


def test_repeated_tracebacks_report_the_first_copy() -> None:
    text = entry("vllm-project/vllm-ascend/issues/3843")["text"]
    found = diagnose(text * 3)
    assert found is not None and found.evidence.startswith("(Worker_TP2 pid=554)")


def test_the_exception_line_is_reported_not_the_raise_statement_quoting_it() -> None:
    found = diagnose(log_of(entry("vllm-project/vllm-ascend/issues/2636")))
    assert found is not None and "ValueError: No available memory" in found.evidence
    # a log cut so that only the quoted source line is left still gives the cause
    quoted = '  raise ValueError("No available memory for the cache blocks. "\n'
    assert (only := diagnose(quoted)) is not None and only.kind == "no_kv_memory"


def test_oom_after_the_weights_loaded_is_not_a_loading_problem() -> None:
    oom = "RuntimeError: NPU out of memory. Tried to allocate 3.47 GiB (NPU 0; 60.97 GiB total capacity)\n"
    loaded = "INFO 07-26 10:00:00 [model_runner_v1.py:2114] Loading model weights took 14.2488 GB\n"
    assert (found := diagnose(oom)) is not None and found.kind == "oom_loading"
    assert (found := diagnose(loaded + oom)) is not None and found.kind == "oom_profiling"
    # the order matters: weights loaded after the OOM (another worker) do not make it a profiling OOM
    assert (found := diagnose(oom + loaded)) is not None and found.kind == "oom_loading"


def test_a_quantized_checkpoint_without_the_flag_is_told_to_add_it() -> None:
    key_error = "KeyError: 'layers.0.mlp.gate_up_proj.deq_scale'\n"
    assert (found := diagnose(key_error)) is not None and found.kind == "quant_flag_missing"
    for given in ("non-default args: {'quantization': 'ascend'}\n", "  --quantization=ascend \\\n"):
        assert (found := diagnose(given + key_error)) is not None and found.kind == "quant_description_mismatch"


# -------------------------------------------------------------------------------------------- negatives

# A healthy vllm-ascend start and first requests: the warnings such logs carry, a Ray worker's prefix, and
# lines close to the rules' texts (quantization in the non-default args, "Available memory" and "Available
# KV cache memory" above 0, "Loading weights took", HCCL's timeout setting).
HEALTHY = (Path(__file__).parent / "fixtures" / "healthy.log").read_text(encoding="utf-8")


def test_a_healthy_startup_with_warnings_has_no_diagnosis() -> None:
    assert diagnose(HEALTHY) is None


@pytest.mark.parametrize(
    "line",
    [
        "INFO 07-26 10:00:00 [config.py:1472] Using max model len 32768",
        "WARNING: error handling is set to 'strict'",  # a bare 'error'
        "KeyError handling: falling back to defaults",
        'INFO:     127.0.0.1:51336 - "GET /health HTTP/1.1" 200 OK',
        "INFO 07-26 10:00:00 [worker_v1.py:259] Available memory: 1073741824, total memory: 65452113920",
        "INFO 07-26 10:00:00 [kv_cache_utils.py:716] Available KV cache memory: 0.87 GiB",
        "export ASCEND_RT_VISIBLE_DEVICES=0,1,2,3",
        "--quantization ascend \\",
        "ERROR 07-26 10:00:00 [core.py:515] EngineCore failed to start.",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
        "RuntimeError: Worker failed with error 'boom', please check the stack trace above for the root cause",
    ],
)
def test_lines_near_a_rule_but_not_a_failure_give_nothing(line: str) -> None:
    assert diagnose(line + "\n") is None


# ----------------------------------------------------------------------------- last error lines, no match


def test_the_last_error_lines_leave_out_frames_and_repeats() -> None:
    log = (
        "INFO starting\n"
        "(Worker_TP0 pid=1) ERROR 08-26 12:16:15 [multiproc_executor.py:492] ValueError: odd thing happened\n"
        "(Worker_TP1 pid=2) ERROR 08-26 12:16:15 [multiproc_executor.py:492] ValueError: odd thing happened\n"
        "Traceback (most recent call last):\n"
        '  File "/vllm-workspace/vllm/vllm/v1/engine/core.py", line 699, in run_engine_core\n'
        "    engine_core = EngineCoreProc(*args, **kwargs)\n"
        "ERROR 08-26 12:16:18 [core.py:515] EngineCore failed to start.\n"
        "INFO shutting down\n"
    )
    assert last_error_lines(log) == [
        "(Worker_TP1 pid=2) ERROR 08-26 12:16:15 [multiproc_executor.py:492] ValueError: odd thing happened",
        "ERROR 08-26 12:16:18 [core.py:515] EngineCore failed to start.",
    ]
    many = "".join(f"RuntimeError: failure number {n}\n" for n in range(30))
    assert last_error_lines(many, limit=3) == [f"RuntimeError: failure number {n}" for n in (27, 28, 29)]
    assert last_error_lines(HEALTHY) == []


# ------------------------------------------------------------------------------------------ the rule file


def test_a_rule_whose_message_needs_what_its_pattern_does_not_capture_is_refused() -> None:
    with pytest.raises(ValueError, match="message uses fit"):
        validate(Rule, {"kind": "kv", "patterns": [r"max seq len \((?P<len>\d+)\)"], "message": "{len} > {fit}",
             "source": "https://example.org"})  # fmt: skip
    with pytest.raises(ValueError, match="not a regular expression"):
        validate(Rule, {"kind": "kv", "patterns": ["("], "message": "x", "source": "https://example.org"})
    with pytest.raises(ValueError, match="not a regular expression"):
        validate(Rule, {"kind": "kv", "patterns": ["x"], "after": "[", "message": "x", "source": "https://example.org"})
    with pytest.raises(ValueError, match="less than or equal to 2"):
        validate(
            Rule, {"kind": "kv", "patterns": ["x"], "priority": 5, "message": "x", "source": "https://example.org"}
        )


def test_every_rule_names_a_source_and_every_kind_one_message_per_wording() -> None:
    for compiled in load_rules():
        rule = compiled.rule
        assert rule.source.startswith("https://github.com/"), rule.kind
        assert len(rule.message) > 60, f"{rule.kind}: say what to check, not only what failed"


def test_the_rules_scan_a_large_log_in_bounded_time() -> None:
    import time

    line = "INFO 07-26 10:02:00 [loggers.py:118] Engine 000: Avg prompt throughput: 12.3 tokens/s, Running: 1 reqs\n"
    log = line * (4 * 2**20 // len(line)) + "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB\n"
    started = time.monotonic()
    found = diagnose(log)
    assert found is not None and found.kind == "oom_loading"
    assert time.monotonic() - started < 5  # about 0.4 s; 16 MiB (runtime.MAX_LOG_BYTES) about four times that


# ------------------------------------------------------------- the stand-in the end-to-end tests start

# tests/e2e/test_up.py starts the stand-in image with STANDIN_FAIL=<mode> and expects these phrases in `up`'s
# diagnosis; here the stand-in's own failure output is fed to diagnose() directly, without Docker.
STANDIN_DIAGNOSES = [
    ("heads", "tp_heads", "does not divide the model's 32 attention heads"),
    ("kv_cache", "kv_cache", "of KV cache but only"),
    ("kv_cache_v0", "kv_cache", "is larger than the"),
    ("oom", "oom_loading", "ran out of memory"),
    ("device", "no_npu", "sees no usable NPU"),
    ("model_path", "model_path", "the model was not found at /models/Qwen/Qwen3-8B"),
    ("arch", "architecture", "does not know the architecture"),
]


@pytest.mark.parametrize(("mode", "kind", "phrase"), STANDIN_DIAGNOSES)
def test_the_stand_ins_failures_give_what_the_e2e_tests_expect(
    mode: str,
    kind: str,
    phrase: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from fakehost import QWEN3_8B_CONFIG
    from standin import vllm_standin

    model = tmp_path / "Qwen" / "Qwen3-8B"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps(QWEN3_8B_CONFIG))
    monkeypatch.setenv("STANDIN_FAIL", mode)
    monkeypatch.setattr(vllm_standin, "check_driver", lambda: None)  # this host has no driver mounts
    if mode != "device":  # nor NPUs: let the checks after the devices run
        monkeypatch.setattr(vllm_standin, "check_devices", lambda args, fail: ["/dev/davinci0"])
    path = "/models/Qwen/Qwen3-8B" if mode == "model_path" else str(model)
    with pytest.raises(vllm_standin.EngineFailure) as failure:
        vllm_standin.serve([path, "--served-model-name", "Qwen/Qwen3-8B"])
    log = capsys.readouterr().out + "".join(failure.value.prefix + line + "\n" for line in failure.value.lines)
    found = diagnose(log)
    assert found is not None and found.kind == kind, log
    assert phrase in found.message


def test_the_e2e_expectations_are_the_ones_checked_here() -> None:
    e2e = (Path(__file__).parent / "e2e" / "test_up.py").read_text(encoding="utf-8")
    for mode, _, phrase in STANDIN_DIAGNOSES:
        assert f'("{mode}", "{phrase}")' in e2e, mode


def test_the_readme_states_the_coverage_truthfully() -> None:
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    claim = re.search(
        r"against (\d+) real failure texts.*?(\d+) kinds among the (\d+) of `diagnoses.yaml`\. (\d+) are recognised"
        r".*?the other (\d+) cannot be",
        readme,
        re.S,
    )
    assert claim is not None
    texts, kinds, rule_kinds, recognised, undecidable = map(int, claim.groups())
    decided = [e for e in corpus() if "undecidable" not in e]
    assert texts == len(corpus()) and recognised == len(decided) and undecidable == texts - recognised
    assert kinds == len({e["kind"] for e in decided})
    assert rule_kinds == len({rule.rule.kind for rule in load_rules()})


# ---- every alternative of every pattern, fed real text ------------------------------------------------------


def alternatives_removed(pattern: str) -> list[tuple[str, str]]:
    """(the alternative, the pattern without it) for each `|` alternative of the pattern, at any depth: the
    mutants a regex mutation tool would make by deleting one branch. Escapes and character classes are
    skipped; a group left with one branch keeps it."""
    groups: list[list[int]] = [[-1]]  # per open group: the positions of its `|`, after its opening
    spans: list[tuple[int, list[int], int]] = []  # (group start, bars, group end)
    starts: list[int] = [-1]
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif char == "(":
            groups.append([])
            starts.append(i)
        elif char == ")":
            spans.append((starts.pop(), groups.pop(), i))
        elif char == "|":
            groups[-1].append(i)
        i += 1
    spans.append((starts.pop(), groups.pop(), len(pattern)))
    mutants = []
    for start, bars, end in spans:
        bars = [b for b in bars if b != -1]
        if not bars:
            continue
        body_start = start + 1
        if start >= 0 and pattern[body_start] == "?":  # (?:, (?P<name>, lookarounds
            body_start = pattern.index(":", body_start) + 1 if pattern[body_start + 1] == ":" else (
                pattern.index(">", body_start) + 1 if pattern[body_start + 1] == "P" else body_start + 2
            )  # fmt: skip
        edges = [body_start - 1, *bars, end]
        for k in range(len(edges) - 1):
            left, right = edges[k], edges[k + 1]
            branch = pattern[left + 1 : right]
            # the first branch goes with the `|` after it, the others with the `|` before them
            mutant = pattern[: left + 1] + pattern[right + 1 :] if k == 0 else pattern[:left] + pattern[right:]
            mutants.append((branch, mutant))
    return mutants


def test_alternatives_are_found_where_regex_syntax_puts_them() -> None:
    assert alternatives_removed(r"a (?:are|is) b") == [("are", "a (?:is) b"), ("is", "a (?:are) b")]
    assert alternatives_removed(r"x|y\|z") == [("x", r"y\|z"), (r"y\|z", "x")]
    assert alternatives_removed(r"[a|b]c") == []
    assert alternatives_removed(r"(?P<n>\d+|none) left") == [(r"\d+", "(?P<n>none) left"), ("none", r"(?P<n>\d+) left")]


def all_texts() -> list[str]:
    return [case[0] for case in CASES] + [case[0] for case in MORE_WORDINGS] + [log_of(e) for e in corpus()]


# Branches no public text shows yet (each searched for in public issues): the wording is the source's or the
# dynamic loader's, with another library name. A text for one of them moves it out of this list (the test says so).
WITHOUT_A_PUBLIC_TEXT = {
    # vLLM's registry writes "are not supported" in every version quoted here; "is" covers a one-model wording
    ("architecture", "is"),
    # vllm-ascend worker_v1.py logs `Available memory: {available}, total memory: {total}`; the public logs show 0
    ("no_kv_memory", r"-\d+"),
    # the driver's other two libraries, loaded by npu-smi and torch_npu alike; reports quote libascend_hal.so
    ("driver_libs", "dcmi"),
    ("driver_libs", "drvdsmi_host"),
}


def test_every_alternative_of_every_pattern_is_needed_by_a_real_text() -> None:
    """Deleting any one branch of a pattern's alternations loses at least one real text that the whole pattern
    matched: no branch is dead, and a broken branch would fail here (the regex side of mutation testing)."""
    texts = all_texts()
    untested = []
    for compiled in load_rules():
        for pattern in compiled.patterns:
            matched = [t for t in texts if pattern.search(t)]
            for branch, mutant in alternatives_removed(pattern.pattern):
                try:
                    weaker = re.compile(mutant)
                except re.error:
                    continue
                if all(weaker.search(t) for t in matched):
                    untested.append((compiled.rule.kind, branch))
    assert set(untested) == WITHOUT_A_PUBLIC_TEXT


# ---- the helpers' edges ---------------------------------------------------------------------------------------


def test_the_tp_hint_suggests_only_a_smaller_valid_size() -> None:
    # heads 32, TP 1 (a real wording, MORE_WORDINGS): every valid size is 1 or more, none below: no suggestion
    found = diagnose("ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (1).")
    assert found is not None
    assert found.message == (
        "tensor-parallel size 1 does not divide the model's 32 attention heads; use one of 1, 2, 4, 8, 16, 32"
    )
    # the evidence is the whole last line, though the log does not end with a line break
    assert found.evidence == (
        "ValueError: Total number of attention heads (32) must be divisible by tensor parallel size (1)."
    )
    below = diagnose(
        "x\nValueError: Total number of attention heads (28) must be divisible by tensor parallel size (8)."
    )
    assert below is not None and below.message.endswith("use one of 1, 2, 4: ascendgen plan MODEL --tp 4")


@pytest.mark.parametrize(
    ("log", "lines", "start"),
    [
        ("a\nb\nc\n\n", 2, 2),  # "b\nc": trailing line breaks are not lines
        ("a\nb\nc\n\n", 3, 0),
        ("a\nb\nc\n\n", 10, 0),
        ("a\nb\nc", 1, 4),
        ("abc", 1, 0),
        ("", 1, 0),
        ("\n\n", 1, 0),
        ("a\nb\n", 1, 2),  # one trailing line break stripped, one at a time
        ("\nab", 1, 1),  # a line break at the very start still ends a line
    ],
)
def test_the_tail_starts_where_the_last_lines_begin(log: str, lines: int, start: int) -> None:
    assert _tail_start(log, lines) == start


def test_error_lines_come_from_the_last_5000_lines_once_each() -> None:
    filler = "INFO 10-28 21:14:49 [x.py:1] loading\n" * 4997
    log = "ValueError: too far back\nRuntimeError: first\n" + filler + "KeyError: b\nKeyError: b\n"
    # 5,001 lines: the first is outside the last 5,000, the second inside; the repeated KeyError counts once and
    # does not end the scan
    assert last_error_lines(log) == ["RuntimeError: first", "KeyError: b"]
