#!/usr/bin/python3
"""Stand-in for `vllm` inside quay.io/ascend/vllm-ascend, for tests without NPUs (installed as
/usr/local/bin/vllm in the ascendgen-standin image; see build.py).

`vllm serve MODEL [--flags]` parses the command line as vLLM does (`--a-b` and `--a_b` alike, `--x=y`,
unknown flags ignored), then checks, in the order the real engine meets them, what the real image needs
from its compose service: the driver mounts, the model directory and its config.json, the
tensor-parallel size against the attention heads and the NPUs, and the NPU control devices. A failed
check prints the real vLLM / vllm-ascend / torch_npu / transformers wording and exits 1. Otherwise it
serves the OpenAI API on --host:--port with stdlib http.server: GET /health, /v1/models, /version,
/metrics; POST /v1/chat/completions and /v1/completions, or for a pooling model (--runner pooling, --task
embed|score) /v1/embeddings or /v1/rerank.

Environment (read from the container's environment):
  STANDIN_FAIL=<mode>            fail in a known way: heads, kv_cache, kv_cache_v0, oom, device,
                                 model_path, arch, hang, crashloop, unhealthy
  STANDIN_STARTUP_SECONDS=<s>    seconds "loading weights" before the server answers (default 0)
  STANDIN_KV_AVAILABLE_GIB=<g>   KV cache memory reported by kv_cache (default: half of what is needed)
  STANDIN_KV_TOKENS=<n>          tokens the KV cache holds: logged at start ("GPU KV cache size: n tokens",
                                 with the KV memory and the maximum concurrency), or, when --max-model-len
                                 is longer, vLLM's refusal naming n as the length that fits
  STANDIN_WEIGHTS_GIB=<g>        weights per NPU logged as loaded (default 15.2684)
  STANDIN_VLLM_VERSION=<v>       version to report (default 0.9.2)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import stat
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = os.environ.get("STANDIN_VLLM_VERSION", "0.9.2")
FAIL_MODES = (
    "heads",
    "kv_cache",
    "kv_cache_v0",
    "oom",
    "device",
    "model_path",
    "arch",
    "hang",
    "crashloop",
    "unhealthy",
)
CONTROL_DEVICES = ("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm")
# The driver files every vllm-ascend compose service mounts (vllm-ascend installation docs).
DRIVER_MOUNTS = (
    ("/usr/local/Ascend/driver/lib64", "dir"),
    ("/usr/local/Ascend/driver/version.info", "file"),
    ("/etc/ascend_install.info", "file"),
    ("/usr/local/dcmi", "dir"),
    ("/usr/local/bin/npu-smi", "file"),
)
GiB = 1 << 30
BLOCK_SIZE = 128  # vllm-ascend's default KV block size
PID = os.getpid()
# vLLM v1 prefixes the lines of its engine core and worker processes with their names
ENGINE = f"(EngineCore_DP0 pid={PID}) "
WORKER = f"(Worker_TP0 pid={PID}) "


class EngineFailure(Exception):
    """A startup failure: the lines to print (the last is the exception line vLLM ends with)."""

    def __init__(self, *lines: str, prefix: str = "") -> None:
        super().__init__(lines[-1])
        self.lines = lines
        self.prefix = prefix


# ----------------------------------------------------------------------------------------------- logging


def _stamp() -> str:
    return time.strftime("%m-%d %H:%M:%S")


def log(level: str, where: str, message: str, prefix: str = "") -> None:
    """A vLLM log line: `INFO 07-26 10:00:00 [api_server.py:1395] message`."""
    print(f"{prefix}{level} {_stamp()} [{where}] {message}", flush=True)


def plain(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------------------- arguments


def _size(text: str) -> int:
    """vLLM's human-readable integers: 32768, 32k (x1000), 32K (x1024), 1m, 1M."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgG]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid int value: '{text}'")
    number, unit = float(match.group(1)), match.group(2)
    scale = {"": 1, "k": 10**3, "K": 2**10, "m": 10**6, "M": 2**20, "g": 10**9, "G": 2**30}[unit]
    return int(number * scale)


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """vLLM's FlexibleArgumentParser: `--max_model_len` means `--max-model-len`."""
    out = []
    for arg in argv:
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            arg = name.replace("_", "-") + eq + value
        out.append(arg)
    return out


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vllm serve", add_help=True)
    parser.add_argument("model_tag", nargs="?", default=None)
    parser.add_argument("--model", default=None)
    parser.add_argument("--served-model-name", nargs="+", default=None)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
    parser.add_argument("--distributed-executor-backend", default=None)
    parser.add_argument("--pipeline-parallel-size", "-pp", type=int, default=1)
    parser.add_argument("--data-parallel-size", "-dp", type=int, default=1)
    parser.add_argument("--max-model-len", type=_size, default=None)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    parser.add_argument("--kv-cache-dtype", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-num-seqs", type=int, default=256)
    parser.add_argument("--enable-expert-parallel", action="store_true")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--enable-prefix-caching", action="store_true")
    parser.add_argument("--no-enable-prefix-caching", action="store_true")
    parser.add_argument("--enable-chunked-prefill", action="store_true")
    parser.add_argument("--enable-auto-tool-choice", action="store_true")
    parser.add_argument("--disable-log-requests", action="store_true")
    parser.add_argument("--disable-log-stats", action="store_true")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--runner", default="auto")
    parser.add_argument("--task", default="auto")
    parser.add_argument("--hf-overrides", default=None)
    return parser


@dataclass
class ServeArgs:
    model: str
    served_names: list[str]
    host: str
    port: int
    tp: int
    pp: int
    dp: int
    max_model_len: int | None
    kv_cache_dtype: str
    expert_parallel: bool
    api_key: str | None
    ignored: list[str]
    executor: str | None = None
    pooling: str | None = None  # "embed" or "rerank": a pooling model, served on /v1/embeddings or /v1/rerank

    @property
    def world_size(self) -> int:
        return self.tp * self.pp


def parse_serve(argv: Sequence[str]) -> ServeArgs:
    parser = serve_parser()
    ns, unknown = parser.parse_known_args(normalize_argv(argv))
    model = ns.model_tag or ns.model
    if not model:
        parser.error("the following arguments are required: model_tag")
    return ServeArgs(
        model=model,
        served_names=list(ns.served_model_name or [model]),
        host=ns.host,
        port=ns.port,
        tp=ns.tensor_parallel_size,
        pp=ns.pipeline_parallel_size,
        dp=ns.data_parallel_size,
        max_model_len=ns.max_model_len,
        kv_cache_dtype=ns.kv_cache_dtype,
        expert_parallel=ns.enable_expert_parallel,
        api_key=ns.api_key or os.environ.get("VLLM_API_KEY"),
        ignored=unknown,
        executor=ns.distributed_executor_backend,
        pooling=_pooling(ns.runner, ns.task, ns.hf_overrides or ""),
    )


def _pooling(runner: str, task: str, overrides: str) -> str | None:
    """vLLM's pooling runner: `--task embed|score` (before 0.10.1), or `--runner pooling`, where a
    *ForSequenceClassification checkpoint (or override) scores and any other embeds."""
    if task in ("embed", "score"):
        return "embed" if task == "embed" else "rerank"
    if runner == "pooling":
        return "rerank" if "ForSequenceClassification" in overrides else "embed"
    return None


# ----------------------------------------------------------------------------------------------- checks


def _torch_npu_load_failure(missing: str) -> EngineFailure:
    """What the image prints when torch_npu cannot reach the driver (vllm-ascend issue #1440)."""
    return EngineFailure(
        "Traceback (most recent call last):",
        '  File "/usr/local/python3.10.17/bin/vllm", line 5, in <module>',
        "    from vllm.entrypoints.cli.main import main",
        f"ImportError: {missing}: cannot open shared object file: No such file or directory",
        "RuntimeError: Failed to load the backend extension: torch_npu. You can disable extension auto-loading "
        "with TORCH_DEVICE_BACKEND_AUTOLOAD=0.",
    )


def check_driver() -> None:
    """The driver mounts, first thing the image needs (importing torch_npu loads libascend_hal.so)."""
    missing = []
    for path, kind in DRIVER_MOUNTS:
        ok = os.path.isdir(path) if kind == "dir" else os.path.isfile(path)
        if not ok:
            missing.append(path)
    if not missing:
        return
    for path in missing:
        log("ERROR", "standin.py:1", f"driver mount missing in the container: {path}: No such file or directory")
    # Whatever is missing, the first thing to break is torch_npu loading the driver's libascend_hal.so.
    raise _torch_npu_load_failure("libascend_hal.so")


def load_config(args: ServeArgs, fail: str) -> dict[str, Any]:
    """config.json of a local model directory, or vLLM's error for a path it cannot resolve."""
    config_path = os.path.join(args.model, "config.json")
    if fail == "model_path" or not os.path.isfile(config_path):
        raise EngineFailure(
            "Traceback (most recent call last):",
            '  File "/usr/local/python3.10.17/lib/python3.10/site-packages/vllm/transformers_utils/config.py", '
            "line 300, in get_config",
            "    raise ValueError(error_message) from e",
            f"ValueError: Invalid repository ID or local directory specified: '{args.model}'.",
            "Please verify the following requirements:",
            "1. Provide a valid Hugging Face repository ID.",
            "2. Specify a local directory that contains a recognized configuration file.",
            "   - For Hugging Face models: ensure the presence of a 'config.json'.",
            "   - For Mistral models: ensure the presence of a 'params.json'.",
        )
    with open(config_path, encoding="utf-8") as fh:
        config: dict[str, Any] = json.load(fh)
    return config


def check_architecture(config: dict[str, Any], fail: str) -> None:
    if fail != "arch":
        return
    model_type = config.get("model_type", "unknown")
    raise EngineFailure(
        f"KeyError: '{model_type}'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        f"ValueError: The checkpoint you are trying to load has model type `{model_type}` but Transformers does "
        "not recognize this architecture. This could be because of an issue with the checkpoint, or because "
        "your version of Transformers is out of date.",
    )


def check_heads(args: ServeArgs, config: dict[str, Any], fail: str) -> None:
    """vllm/config.py ModelConfig.verify_with_parallel_config."""
    text = config.get("text_config") or config
    heads = int(text.get("num_attention_heads", 0) or 0)
    if fail == "heads" or (heads and heads % args.tp != 0):
        raise EngineFailure(
            f"ValueError: Total number of attention heads ({heads}) must be divisible by tensor parallel size "
            f"({args.tp})."
        )


def check_max_len(args: ServeArgs, config: dict[str, Any]) -> int:
    """vLLM's _get_and_verify_max_len: --max-model-len may not exceed max_position_embeddings."""
    text = config.get("text_config") or config
    derived = int(text.get("max_position_embeddings", 0) or 0) or 4096
    wanted = args.max_model_len or derived
    allow_long = os.environ.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "0") not in ("", "0", "false", "False")
    if wanted > derived and not allow_long:
        raise EngineFailure(
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig",
            f"  Value error, User-specified max_model_len ({wanted}) is greater than the derived max_model_len "
            f"(max_position_embeddings={derived} or model_max_length=None in model's config.json). This may lead "
            "to incorrect model outputs or CUDA errors. To allow overriding this maximum, set the env var "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1",
        )
    return wanted


def visible_npus() -> list[str]:
    """The /dev/davinciN character devices in the container."""
    found = []
    for name in sorted(os.listdir("/dev"), key=lambda n: (len(n), n)):
        if re.fullmatch(r"davinci\d+", name) and _is_char_device(f"/dev/{name}"):
            found.append(f"/dev/{name}")
    return found


def _is_char_device(path: str) -> bool:
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _no_device(path: str) -> EngineFailure:
    """torch_npu when the runtime finds no usable NPU (gpustack issue #3352, Ascend/pytorch issue #67)."""
    return EngineFailure(
        f"[ERROR] RUNTIME({PID},python3):{time.strftime('%Y-%m-%d-%H:%M:%S')} [standin] {path}: "
        "No such file or directory",
        "RuntimeError: init:build/CMakeFiles/torch_npu.dir/compiler_depend.ts:292 NPU function error: "
        "aclrtGetDeviceCount(&device_count), error code is 207004",
        f"[ERROR] {time.strftime('%Y-%m-%d-%H:%M:%S')} (PID:{PID}, Device:-1, RankID:-1) ERR00100 PTA call acl "
        "api failed",
        "[Error]: The device is unavailable.",
        "        Check whether the device is running properly.",
        "        rtGetDeviceCount execute failed, reason=[driver error:no valid device]",
        "        open device 0 failed, runtime result = 507033.",
    )


def check_devices(args: ServeArgs, fail: str) -> list[str]:
    """The control devices, then TP x PP (x DP) against the NPUs (vLLM's executor checks)."""
    for path in CONTROL_DEVICES:
        if not _is_char_device(path):
            raise _no_device(path)
    npus = visible_npus()
    if fail == "device" or not npus:
        raise _no_device(npus[0] if npus else "/dev/davinci0")
    count = len(npus)
    if args.executor == "ray":
        # the ranks spread over the Ray cluster's nodes; a real head checks the cluster, not its own NPUs
        log("INFO", "ray_distributed_executor.py:1", f"Ray executor: world size {args.world_size} over the cluster")
        return npus
    if args.tp > count:
        raise EngineFailure(
            f"RuntimeError: please set tensor_parallel_size ({args.tp}) to less than max local gpu count ({count})"
        )
    if args.world_size > count:
        raise EngineFailure(
            f"RuntimeError: please ensure that world_size ({args.world_size}) is less than than max local gpu "
            f"count ({count})"
        )
    if args.world_size * args.dp > count:
        raise EngineFailure(
            f"RuntimeError: data_parallel_size ({args.dp}) x world_size ({args.world_size}) needs "
            f"{args.world_size * args.dp} NPUs but only {count} are visible in the container"
        )
    return npus


def kv_bytes_per_token(config: dict[str, Any], tp: int, kv_cache_dtype: str) -> int:
    """K and V of every layer for one token on one TP rank: 2 x layers x kv_heads/tp x head_dim x bytes."""
    text = config.get("text_config") or config
    heads = int(text.get("num_attention_heads", 1) or 1)
    kv_heads = int(text.get("num_key_value_heads", heads) or heads)
    head_dim = int(text.get("head_dim", 0) or 0) or int(text.get("hidden_size", 4096)) // heads
    layers = int(text.get("num_hidden_layers", 32))
    dtype_bytes = 1 if kv_cache_dtype.startswith(("fp8", "int8")) else 2
    return 2 * layers * max(1, kv_heads // tp) * head_dim * dtype_bytes


def kv_cache_failure(
    args: ServeArgs, config: dict[str, Any], max_len: int, old: bool, fit: int | None = None
) -> EngineFailure:
    """vLLM's refusal of a --max-model-len its KV cache cannot hold; `fit`: the tokens it holds (default: from
    STANDIN_KV_AVAILABLE_GIB, else half of what is needed)."""
    per_token = kv_bytes_per_token(config, args.tp, args.kv_cache_dtype)
    needed = math.ceil(max_len / BLOCK_SIZE) * BLOCK_SIZE * per_token
    available_env = os.environ.get("STANDIN_KV_AVAILABLE_GIB")
    if fit is not None:
        available = fit * per_token
    else:
        available = int(float(available_env) * GiB) if available_env else needed // 2
        fit = available // (BLOCK_SIZE * per_token) * BLOCK_SIZE
    if old:
        # vLLM V0 engine's wording (vllm-ascend 0.7.x worker).
        return EngineFailure(
            f"ValueError: The model's max seq len ({max_len}) is larger than the maximum number of tokens that can "
            f"be stored in KV cache ({fit}). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` "
            "when initializing the engine."
        )
    prefix = f"(EngineCore_DP0 pid={PID}) "
    return EngineFailure(
        f"{prefix}ERROR {_stamp()} [core.py:586] EngineCore failed to start.",
        f"{prefix}ERROR {_stamp()} [core.py:586] ValueError: To serve at least one request with the model's max "
        f"seq len ({max_len}), ({needed / GiB:.2f} GiB KV cache is needed, which is larger than the available KV "
        f"cache memory ({available / GiB:.2f} GiB). Based on the available memory, the estimated maximum model "
        f"length is {fit}. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
        "initializing the engine.",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
    )


def oom_failure() -> EngineFailure:
    """torch_npu's allocator message (vllm-ascend issues #19, #1127)."""
    prefix = f"(EngineCore_DP0 pid={PID}) "
    return EngineFailure(
        f"{prefix}ERROR {_stamp()} [core.py:586] EngineCore failed to start.",
        f"{prefix}ERROR {_stamp()} [core.py:586] RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB "
        "(NPU 0; 29.50 GiB total capacity; 27.10 GiB already allocated; 27.10 GiB current active; 1.03 GiB free; "
        "27.44 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting "
        "max_split_size_mb to avoid fragmentation.",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
    )


# ----------------------------------------------------------------------------------------------- server


class State:
    def __init__(self, args: ServeArgs, max_len: int, healthy: bool) -> None:
        self.args = args
        self.max_len = max_len
        self.healthy = healthy
        self.created = int(time.time())
        self.requests = 0
        self.lock = threading.Lock()


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "uvicorn"
        sys_version = ""

        def log_message(self, format: str, *fmt_args: Any) -> None:
            pass  # _send prints uvicorn-style access lines instead

        def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            phrase = self.responses.get(code, ("",))[0]
            plain(f'INFO:     {self.client_address[0]}:{self.client_address[1]} - "{self.requestline}" {code} {phrase}')

        def _json(self, code: int, obj: Any) -> None:
            self._send(code, json.dumps(obj).encode())

        def _error(self, code: int, message: str, kind: str) -> None:
            self._json(code, {"object": "error", "message": message, "type": kind, "param": None, "code": code})

        def _authorized(self) -> bool:
            if not args.api_key or not self.path.startswith("/v1"):
                return True
            if self.headers.get("Authorization", "") == f"Bearer {args.api_key}":
                return True
            self._json(401, {"error": "Unauthorized"})
            return False

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if not self._authorized():
                return
            if path == "/health":
                self._send(200 if state.healthy else 500, b"")
            elif path == "/ping":
                self._send(200, b"")
            elif path == "/version":
                self._json(200, {"version": VERSION})
            elif path == "/v1/models":
                self._json(200, {"object": "list", "data": [self._model_card(n) for n in args.served_names]})
            elif path == "/metrics":
                body = (
                    "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
                    "# TYPE vllm:num_requests_running gauge\n"
                    f'vllm:num_requests_running{{model_name="{args.served_names[0]}"}} 0.0\n'
                    f'vllm:request_success_total{{model_name="{args.served_names[0]}"}} {state.requests}.0\n'
                )
                self._send(200, body.encode(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._json(404, {"detail": "Not Found"})

        def do_HEAD(self) -> None:
            self.do_GET()

        def _model_card(self, name: str) -> dict[str, Any]:
            return {
                "id": name,
                "object": "model",
                "created": state.created,
                "owned_by": "vllm",
                "root": args.model,
                "parent": None,
                "max_model_len": state.max_len,
                "permission": [],
            }

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if not self._authorized():
                return
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path not in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/rerank", "/rerank"):
                self._json(404, {"detail": "Not Found"})
                return
            try:
                request = json.loads(raw or b"{}")
                if not isinstance(request, dict):
                    raise ValueError("body is not a JSON object")
            except ValueError as exc:
                self._error(400, f"Invalid JSON body: {exc}", "BadRequestError")
                return
            model = request.get("model") or args.served_names[0]
            if model not in args.served_names:
                self._error(404, f"The model `{model}` does not exist.", "NotFoundError")
                return
            wanted = {"/v1/embeddings": "embed", "/v1/rerank": "rerank", "/rerank": "rerank"}.get(path)
            if wanted != args.pooling:
                # vLLM's api_server.py: a route whose handler the model lacks answers 400 with this wording
                api = {"embed": "Embeddings", "rerank": "Rerank"}.get(wanted or "", "Chat Completions")
                self._error(400, f"The model does not support {api} API", "BadRequestError")
                return
            if wanted is not None:
                self._pooled(request, model, wanted)
                return
            if path == "/v1/chat/completions":
                messages = request.get("messages")
                if not isinstance(messages, list) or not messages:
                    self._error(400, "messages must be a non-empty list", "BadRequestError")
                    return
                prompt = " ".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
            else:
                prompt = str(request.get("prompt", ""))
            prompt_tokens = max(1, len(prompt.split()))
            max_tokens = request.get("max_tokens") or request.get("max_completion_tokens") or 16
            if prompt_tokens + int(max_tokens) > state.max_len:
                self._error(
                    400,
                    f"This model's maximum context length is {state.max_len} tokens. However, you requested "
                    f"{prompt_tokens + int(max_tokens)} tokens ({prompt_tokens} in the messages, {max_tokens} in "
                    "the completion). Please reduce the length of the messages or completion.",
                    "BadRequestError",
                )
                return
            words = ("Hello", "from", "the", "ascendgen", "stand-in", "vLLM", "engine", "on", "a", "fake", "NPU.")
            output = [words[i % len(words)] for i in range(min(int(max_tokens), len(words)))]
            finish = "length" if int(max_tokens) < len(words) else "stop"
            usage = {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + len(output),
                "completion_tokens": len(output),
                "prompt_tokens_details": None,
            }
            with state.lock:
                state.requests += 1
            text = " ".join(output)
            if path == "/v1/chat/completions":
                choice: dict[str, Any] = {
                    "index": 0,
                    "message": {"role": "assistant", "reasoning_content": None, "content": text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": finish,
                    "stop_reason": None,
                }
                kind, rid = "chat.completion", f"chatcmpl-{uuid.uuid4().hex}"
            else:
                choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish, "stop_reason": None}
                kind, rid = "text_completion", f"cmpl-{uuid.uuid4().hex}"
            response = {
                "id": rid,
                "object": kind,
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": usage,
                "prompt_logprobs": None,
            }
            if request.get("stream"):
                self._stream(response, output, path)
            else:
                self._json(200, response)

        def _pooled(self, request: dict[str, Any], model: str, task: str) -> None:
            """An embedding of the input, or the documents ranked by the words they share with the query; the
            shapes of vLLM's EmbeddingResponse and RerankResponse."""
            with state.lock:
                state.requests += 1
            if task == "embed":
                text = str(request.get("input", ""))
                tokens = max(1, len(text.split()))
                vector = [round((len(text) * 31 + i * 17) % 1000 / 1000, 3) for i in range(16)]
                usage = {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}
                self._json(
                    200,
                    {
                        "id": f"embd-{uuid.uuid4().hex}",
                        "object": "list",
                        "created": int(time.time()),
                        "model": model,
                        "data": [{"index": 0, "object": "embedding", "embedding": vector}],
                        "usage": usage,
                    },
                )
                return
            query = set(str(request.get("query", "")).lower().split())
            documents = [str(d) for d in request.get("documents") or []]
            scores = [len(query & set(d.lower().split())) / (len(query) or 1) for d in documents]
            results = [
                {"index": i, "document": {"text": documents[i]}, "relevance_score": scores[i]}
                for i in sorted(range(len(documents)), key=lambda i: -scores[i])
            ]
            tokens = len(query) + sum(len(d.split()) for d in documents)
            self._json(
                200,
                {
                    "id": f"rerank-{uuid.uuid4().hex}",
                    "model": model,
                    "usage": {"total_tokens": tokens},
                    "results": results,
                },
            )

        def _stream(self, response: dict[str, Any], output: list[str], path: str) -> None:
            chunks = []
            chat = path == "/v1/chat/completions"
            kind = "chat.completion.chunk" if chat else "text_completion"
            for i, word in enumerate(output):
                piece = word if i == 0 else " " + word
                last = i == len(output) - 1
                finish = response["choices"][0]["finish_reason"] if last else None
                delta = {"delta": {"content": piece}} if chat else {"text": piece}
                chunk = {
                    "id": response["id"],
                    "object": kind,
                    "created": response["created"],
                    "model": response["model"],
                    "choices": [{"index": 0, **delta, "logprobs": None, "finish_reason": finish}],
                }
                chunks.append(f"data: {json.dumps(chunk)}\n\n")
            chunks.append("data: [DONE]\n\n")
            self._send(200, "".join(chunks).encode(), "text/event-stream; charset=utf-8")

    return Handler


# ----------------------------------------------------------------------------------------------- main


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


def _on_sigterm(signum: int, frame: Any) -> None:
    plain("INFO:     Shutting down")
    plain(f"INFO:     Finished server process [{PID}]")
    sys.exit(0)


def serve(argv: Sequence[str]) -> int:
    fail = os.environ.get("STANDIN_FAIL", "").strip()
    if fail and fail not in FAIL_MODES:
        plain(f"standin: unknown STANDIN_FAIL={fail!r}; known: {', '.join(FAIL_MODES)}")
        return 2
    args = parse_serve(argv)
    log("INFO", "__init__.py:44", "plugin ascend loaded.")
    log("INFO", "__init__.py:235", "Platform plugin ascend is activated")
    log(
        "INFO",
        "standin.py:1",
        "This is the ascendgen test stand-in for quay.io/ascend/vllm-ascend (no NPU, no model weights).",
    )
    log("INFO", "api_server.py:1395", f"vLLM API server version {VERSION}")
    non_default = {"model_tag": args.model, "port": args.port, "tensor_parallel_size": args.tp}
    if args.served_names != [args.model]:
        non_default["served_model_name"] = args.served_names
    if args.max_model_len:
        non_default["max_model_len"] = args.max_model_len
    if args.pp != 1:
        non_default["pipeline_parallel_size"] = args.pp
    if args.expert_parallel:
        non_default["enable_expert_parallel"] = True
    log("INFO", "cli_args.py:325", f"non-default args: {non_default}")
    if args.ignored:
        log("INFO", "standin.py:1", f"arguments the stand-in does not model (accepted): {args.ignored}")
    if fail == "crashloop":
        raise EngineFailure(
            f"(EngineCore_DP0 pid={PID}) ERROR {_stamp()} [core.py:586] EngineCore failed to start.",
            "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
        )

    check_driver()
    config = load_config(args, fail)
    check_architecture(config, fail)
    max_len = check_max_len(args, config)
    log("INFO", "config.py:1472", f"Using max model len {max_len}")
    check_heads(args, config, fail)
    npus = check_devices(args, fail)
    log(
        "INFO",
        "core.py:455",
        f"Initializing a V1 LLM engine (v{VERSION}) with config: model='{args.model}', "
        f"tensor_parallel_size={args.tp}, pipeline_parallel_size={args.pp}, max_seq_len={max_len}, "
        f"device_config=npu, served_model_name={args.served_names[0]}, "
        f"enable_expert_parallel={args.expert_parallel}",
    )
    log("INFO", "standin.py:1", f"NPUs visible in the container: {', '.join(npus)}")
    log("INFO", "model_runner_v1.py:1745", f"Starting to load model {args.model}...")
    if fail == "oom":
        raise oom_failure()
    delay = float(os.environ.get("STANDIN_STARTUP_SECONDS", "0") or 0)
    if fail == "hang":
        log("INFO", "model_runner_v1.py:1750", "Loading weights (the stand-in hangs here: STANDIN_FAIL=hang)")
        _sleep_forever()
    if delay > 0:
        time.sleep(delay)
    weights = float(os.environ.get("STANDIN_WEIGHTS_GIB", "") or 15.2684)
    # vllm-ascend model_runner_v1.py's wording: the number is GiB, the label GB
    log("INFO", "model_runner_v1.py:1777", f"Loading model weights took {weights:.4f} GB")
    if fail in ("kv_cache", "kv_cache_v0"):
        raise kv_cache_failure(args, config, max_len, old=fail == "kv_cache_v0")
    per_token = kv_bytes_per_token(config, args.tp, args.kv_cache_dtype)
    capacity = os.environ.get("STANDIN_KV_TOKENS", "").strip()
    if capacity:
        kv_tokens = int(capacity)
        if max_len > kv_tokens:
            raise kv_cache_failure(args, config, max_len, old=False, fit=kv_tokens)
    else:
        kv_tokens = max(max_len, 8 * GiB // per_token // BLOCK_SIZE * BLOCK_SIZE)
    log("INFO", "worker.py:357", f"Available KV cache memory: {kv_tokens * per_token / GiB:.2f} GiB", prefix=WORKER)
    log("INFO", "kv_cache_utils.py:1316", f"GPU KV cache size: {kv_tokens:,} tokens", prefix=ENGINE)
    log(
        "INFO",
        "kv_cache_utils.py:1321",
        f"Maximum concurrency for {max_len:,} tokens per request: {kv_tokens / max_len:.2f}x",
        prefix=ENGINE,
    )

    state = State(args, max_len, healthy=fail != "unhealthy")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state))
    server.daemon_threads = True
    log("INFO", "api_server.py:1457", f"Starting vLLM API server 0 on http://{args.host}:{args.port}")
    log("INFO", "launcher.py:29", "Available routes are:")
    for route in ("/health", "/version", "/metrics", "/v1/models", "/v1/chat/completions", "/v1/completions"):
        log("INFO", "launcher.py:37", f"Route: {route}, Methods: {'POST' if 'completions' in route else 'GET'}")
    plain(f"INFO:     Started server process [{PID}]")
    plain("INFO:     Waiting for application startup.")
    plain("INFO:     Application startup complete.")
    plain(f"INFO:     Uvicorn running on http://{args.host}:{args.port} (Press CTRL+C to quit)")
    server.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not argv or argv[0] in ("-h", "--help"):
        plain("usage: vllm [-h] [-v] {serve} ...  (ascendgen stand-in: only `vllm serve` is modelled)")
        return 0 if argv else 2
    if argv[0] in ("-v", "--version"):
        plain(VERSION)
        return 0
    if argv[0] != "serve":
        plain(f"vllm: error: argument subparser: invalid choice: '{argv[0]}' (the stand-in models only 'serve')")
        return 2
    try:
        return serve(argv[1:])
    except EngineFailure as failure:
        for line in failure.lines:
            plain(failure.prefix + line)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
