"""What vLLM's startup log says it measured (ascendgen.vllmlog), read from real logs: each text below is the
verbatim lines of a public vllm-ascend log on Ascend NPUs (the URL above it; collected in the project's
research notes on startup-log observations), with the numbers they must give."""

from __future__ import annotations

import pytest

from ascendgen.vllmlog import StartupNumbers, difference_percent, last_start, read_startup

# vllm-ascend issue 4037: 910B1, Qwen3-1.7B, TP 1, vllm-ascend 0.11.0rc1 (the <= v0.14 "Available memory" line)
V1_910B1 = """\
(EngineCore_DP0 pid=271251) (Worker pid=271261) INFO 11-06 09:33:06 [model_runner_v1.py:2947] Loading model weights took 3.2153 GB
(EngineCore_DP0 pid=271251) (Worker pid=271261) INFO 11-06 09:33:08 [worker_v1.py:259] Available memory: 47612861952, total memory: 65452113920
(EngineCore_DP0 pid=271251) INFO 11-06 09:33:08 [kv_cache_utils.py:1201] GPU KV cache size: 415,104 tokens
(EngineCore_DP0 pid=271251) INFO 11-06 09:33:08 [kv_cache_utils.py:1206] Maximum concurrency for 64 tokens per request: 3243.00x
"""  # noqa: E501

# vllm-ascend issue 2473: 8 x 910B4, Qwen3-30B-A3B-W8A8, vllm-ascend 0.10.0rc1: every rank prints its own numbers
PER_RANK_910B4 = """\
(VllmWorker rank=0 pid=36105) INFO 08-21 08:26:19 [worker_v1.py:186] Available memory: 19443365990, total memory: 31662800896
(VllmWorker rank=7 pid=37352) INFO 08-21 08:26:19 [worker_v1.py:186] Available memory: 20467316326, total memory: 31662800896
INFO 08-21 08:26:19 [kv_cache_utils.py:833] GPU KV cache size: 791,040 tokens
INFO 08-21 08:26:19 [kv_cache_utils.py:837] Maximum concurrency for 4,096 tokens per request: 193.12x
INFO 08-21 08:26:19 [kv_cache_utils.py:833] GPU KV cache size: 832,768 tokens
INFO 08-21 08:26:19 [kv_cache_utils.py:837] Maximum concurrency for 4,096 tokens per request: 203.31x
"""  # noqa: E501

# vllm-ascend v0.20.2rc1 docs/source/installation.md: the newer "Available KV cache memory" line, in GiB
NEW_WORDING = """\
(EngineCore pid=970) INFO 05-12 11:34:57 [model_runner_v1.py:2599] Loading model weights took 15.2859 GB
(EngineCore pid=970) INFO 05-12 11:35:44 [worker.py:357] Available KV cache memory: 39.06 GiB
(EngineCore pid=970) INFO 05-12 11:35:44 [kv_cache_utils.py:1316] GPU KV cache size: 284,416 tokens
(EngineCore pid=970) INFO 05-12 11:35:44 [kv_cache_utils.py:1321] Maximum concurrency for 40,960 tokens per request: 6.94x
(EngineCore pid=970) INFO 05-12 11:35:59 [gpu_model_runner.py:5746] Graph capturing finished in 12 secs, took 0.13 GiB
"""  # noqa: E501

# vllm-ascend issue 1425: 310P3, the V0 engine counts blocks of 128 tokens (466 x 128 = 1.82 x 32768)
V0_BLOCKS = """\
INFO 06-23 13:45:14 [model_runner.py:1000] Loading model weights took 5.7917 GB
.INFO 06-23 13:45:34 [executor_base.py:113] # npu blocks: 466, # CPU blocks: 1820
INFO 06-23 13:45:34 [executor_base.py:118] Maximum concurrency for 32768 tokens per request: 1.82x
"""

# vllm-ascend v0.7.3 docs/source/installation.md: the first label misprinted as CPU (release notes), still NPU blocks
V0_MISPRINT = """\
INFO 02-18 08:50:24 executor_base.py:108] # CPU blocks: 35064, # CPU blocks: 2730
INFO 02-18 08:50:24 executor_base.py:113] Maximum concurrency for 32768 tokens per request: 136.97x
"""

# vllm-ascend issue 3843: a rank with nothing left for the KV cache
NOTHING_LEFT = """\
(Worker_TP2 pid=554) INFO 10-28 21:14:48 [worker_v1.py:259] Available memory: 0, total memory: 65452113920
(Worker_TP4 pid=556) INFO 10-28 21:14:48 [worker_v1.py:259] Available memory: 0, total memory: 65452113920
"""

GiB = 2**30


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            V1_910B1,
            StartupNumbers(
                weights_gib=3.2153, kv_cache_gib=round(47612861952 / GiB, 2), total_memory_gib=60.96,
                kv_cache_tokens=415_104, concurrency_tokens=64, max_concurrency=3243.0,
            ),
        ),
        (
            PER_RANK_910B4,  # the smallest of the ranks: vLLM sizes every rank's cache to it
            StartupNumbers(
                kv_cache_gib=round(19443365990 / GiB, 2), total_memory_gib=29.49, kv_cache_tokens=791_040,
                concurrency_tokens=4096, max_concurrency=193.12,
            ),
        ),
        (
            NEW_WORDING,
            StartupNumbers(
                weights_gib=15.2859, kv_cache_gib=39.06, kv_cache_tokens=284_416, concurrency_tokens=40_960,
                max_concurrency=6.94,
            ),
        ),
        (
            V0_BLOCKS,
            StartupNumbers(
                weights_gib=5.7917, kv_cache_tokens=466 * 128, concurrency_tokens=32768, max_concurrency=1.82
            ),
        ),
        (V0_MISPRINT, StartupNumbers(kv_cache_tokens=35064 * 128, concurrency_tokens=32768, max_concurrency=136.97)),
        (NOTHING_LEFT, StartupNumbers(kv_cache_gib=0.0, total_memory_gib=60.96)),
        (
            "INFO 07-26 10:00:00 [api_server.py:1395] vLLM API server version 0.9.2\n",
            StartupNumbers(vllm_version="0.9.2"),
        ),
        ("", StartupNumbers()),
    ],
)  # fmt: skip
def test_real_startup_logs(log: str, expected: StartupNumbers) -> None:
    assert read_startup(log) == expected


def test_the_planner_would_have_said_the_same_tokens() -> None:
    # V0: blocks x 128 is the KV capacity the concurrency line divides: 466 x 128 / 32768 = 1.82
    numbers = read_startup(V0_BLOCKS)
    assert numbers.kv_cache_tokens is not None and numbers.concurrency_tokens is not None
    assert round(numbers.kv_cache_tokens / numbers.concurrency_tokens, 2) == numbers.max_concurrency


def test_only_the_latest_start_counts() -> None:
    first = "INFO 07-26 10:00:00 [api_server.py:1395] vLLM API server version 0.9.2\n" + NEW_WORDING
    failed = (
        "INFO 07-26 10:05:00 [api_server.py:1395] vLLM API server version 0.9.2\n"
        "INFO 07-26 10:05:09 [model_runner_v1.py:1777] Loading model weights took 15.2859 GB\n"
    )
    log = first + "ERROR something killed it\n" + failed
    assert last_start(log) == failed
    numbers = read_startup(log)
    assert numbers.weights_gib == 15.2859 and numbers.kv_cache_tokens is None  # not yet logged by this start
    assert not numbers.logged_kv_cache and read_startup(first).logged_kv_cache


def test_difference_percent() -> None:
    assert difference_percent(75_392, 65_536) == -13.1
    assert difference_percent(100, 110) == 10.0
    assert difference_percent(0, 10) is None
