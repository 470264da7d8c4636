"""Properties over hostile input (hypothesis): flags, catalog entries, deployment files, --out paths and the
file paths a recipe records.

Each input comes from one of two pools. Plausible input must plan: a compose.yml that reads back as exactly the
intended values (compose un-doubles `$$`) and that `check` finds up to date. Input with a defect must be refused:
one `error:` line, exit 2, nothing written. A mixed property per input kind throws anything and asks for one of
the two, never a traceback. Each example runs the CLI in-process in a fresh temporary directory."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from unittest import mock

import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from ascendgen.catalog import builtin_catalog_path, load_catalog
from ascendgen.cli.app import main
from ascendgen.images import REPOSITORY
from ascendgen.npuset import parse_npus
from ascendgen.planner import valid_tp_sizes

from helpers import Result, git_repository

CATALOG = load_catalog()
SMALL_MODELS = ["Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B", "Qwen2.5-0.5B-Instruct", "Qwen2.5-7B-Instruct"]
MODEL_NAMES = [m.name for m in CATALOG.models] + [m.hub_id for m in CATALOG.models] + ["qwen3-8b", "QWEN/QWEN3-8B"]
# The catalog reader's own YAML loader: what a catalog file means is what this loader reads.
LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BUILTIN = yaml.load(builtin_catalog_path().read_text(encoding="utf-8"), LOADER)
BUILTIN_ENTRIES = {entry["name"]: entry for entry in _BUILTIN["models"]}

PROPERTY = settings(max_examples=120, deadline=None)

# ------------------------------------------------------------------------------------------------ input

# Pieces with a meaning to YAML, a shell, compose interpolation, a terminal or a file system.
SPECIAL_PIECES = [
    "$", "$$", "${HOME}", "$(id)", "`id`", '"', "'", "#", " #", ": ", ":", "{", "}", "[", "]", ",", "*", "&",
    "!", "|", ">", "%", "@", "\\", "\\n", "\n", "\r", "\t", "\x00", "\x01", "\x1b[31m", "\x7f", "\x85", "\u2028",
    "\u2029", "\ufeff", "../", "..", "/", " ", "-", "--", "--x", "yes", "null", "~", "0", "1e3", "中文", "🚀",
    "é", "Qwen3-8B", "Qwen/Qwen3-8B", "a",
]  # fmt: skip
# every character but lone surrogates, which neither argv nor a UTF-8 file can hold
ANY_CHAR = st.characters(codec="utf-8")
hostile_text = st.one_of(
    st.text(ANY_CHAR, max_size=20),
    st.lists(st.sampled_from(SPECIAL_PIECES), min_size=1, max_size=5).map("".join),
)
model_name = st.one_of(st.sampled_from(MODEL_NAMES), hostile_text)
EDGE_INTS = [0, -1, 1, 2, 3, 4, 8, 16, 128, 8192, 65535, 65536, 2**31, 2**63, 10**30, -(10**30)]
edge_int = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-100, 70000), st.integers())
int_text = st.one_of(edge_int.map(str), hostile_text)
float_text = st.one_of(
    st.sampled_from(["0", "-0.0", "0.0", "1", "0.5", "0.85", "0.9", "1e-300", "1e309", "nan", "inf", "-inf", "2"]),
    st.floats().map(str),
    hostile_text,
)
npu_index = st.integers(0, 9)
NPUS = ["0", "1", "7", "0-1", "2-3", "0-3", "4-7", "0-1,6-7", "0,2", "6,7"]
npus_text = st.one_of(
    st.lists(npu_index, min_size=1, max_size=8).map(lambda xs: ",".join(map(str, xs))),
    st.tuples(npu_index, npu_index).map(lambda r: f"{r[0]}-{r[1]}"),
    st.sampled_from(["", " ", ",", "0-99999", "٣", "0--1", "-1"]),
    hostile_text,
)
HOSTS = ["127.0.0.1", "0.0.0.0", "::1", "[::1]", "localhost"]
IMAGES = ["v0.9.2rc1", "v0.11.0rc3", "v9.9.9", "my.registry:5000/vllm-ascend:v0.9.1", "quay.io/x/y", "latest"]
MODELS_DIRS = ["/models", "/data/my models", "../../x", "/m/../../etc", "rel dir", "/模型", "/a#b", "/$HOME"]


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each as often as its weight says (st.one_of does not weigh); shrinks to the first."""
    total = sum(weight for weight, _ in choices)

    @st.composite
    def pick(draw: st.DrawFn) -> Any:
        number = draw(st.integers(0, total - 1))
        for weight, strategy in choices:
            if number < weight:
                return draw(strategy)
            number -= weight
        raise AssertionError("unreachable")

    return pick()


def usually(plausible: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a value that should plan, so that most examples get as far as writing the file."""
    return weighted((4, plausible), (1, hostile))


def optional(
    plausible: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any], *, hostile_in_20: int = 2
) -> st.SearchStrategy[Any]:
    """Absent about half the time, else mostly plausible."""
    return weighted((10, st.none()), (10 - hostile_in_20, plausible), (hostile_in_20, hostile))


rarely = weighted((19, st.just(False)), (1, st.just(True)))
# a served name that should be taken as is, however odd
served_name = hostile_text.map(lambda text: text if text.strip() else f"x{text}")


# ---------------------------------------------------------------------------------------- running the CLI


@contextlib.contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh git repository (as deployments are: `check` reads the recipe's files inside it), made the
    working directory, with the environment the CLI tests use."""
    env = {k: v for k, v in os.environ.items() if k != "ASCENDGEN_DEBUG"}
    env.update(NO_COLOR="1", COLUMNS="200")
    with (
        tempfile.TemporaryDirectory(prefix="ascendgen-prop-") as tmp,
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.chdir(tmp),
    ):
        yield git_repository(Path(tmp))


def ascendgen(*args: str) -> Result:
    """`ascendgen ARGS...` in-process, as the `run` fixture runs it (which cannot serve hypothesis examples)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


# what main() prints for an exception no one meant to raise
UNEXPECTED = re.compile(r"^error: unexpected [A-Za-z_.]+: ", re.M)


def assert_no_crash(result: Result) -> None:
    event(f"exit {result.exit_code}")  # shown by --hypothesis-show-statistics
    assert "Traceback" not in result.stderr, result
    assert not UNEXPECTED.search(result.stderr), result
    assert result.exit_code in (0, 2), result


def assert_refused(result: Result, out: Path) -> None:
    """Exit 2: one `error:` line on stderr, and nothing written."""
    assert result.stderr.startswith("error: "), result
    assert result.stderr.endswith("\n") and len(result.stderr.splitlines()) == 1, result
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


def compose_of(out: Path) -> dict[str, Any]:
    """compose.yml as compose reads it: YAML, then `$$` -> `$` in every string."""
    parsed = yaml.safe_load((out / "compose.yml").read_text(encoding="utf-8"))
    assert isinstance(parsed, dict) and set(parsed) == {"services"}, f"top-level keys: {list(parsed)}"

    def undouble(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("$$", "$")
        if isinstance(value, list):
            return [undouble(v) for v in value]
        if isinstance(value, dict):
            return {k: undouble(v) for k, v in value.items()}
        return value

    return undouble(parsed)  # type: ignore[no-any-return]


def plans_of(result: Result) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    return data if isinstance(data, list) else [data]


def assert_reads_back(out: Path, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each service of compose.yml says what its plan says; `check` finds the file up to date."""
    services = list(compose_of(out)["services"].values())
    assert len(services) == len(plans)
    for service, plan in zip(services, plans, strict=True):
        assert service["command"] == ["serve", *plan["serve_args"]]
        assert service["image"] == plan["image"]
        labels = service["labels"]
        assert labels["io.ascendgen.served-model-name"] == plan["served_model_name"]
        assert labels["io.ascendgen.port"] == str(plan["port"])
        assert labels["io.ascendgen.npus"] == ",".join(map(str, plan["npus"]))
        assert [d for d in service["devices"] if re.fullmatch(r"/dev/davinci\d+", d)] == [
            f"/dev/davinci{i}" for i in plan["npus"]
        ]
        assert service["environment"] == plan["environment"]
    checked = ascendgen("check", str(out))
    assert checked.exit_code == 0, checked
    return services


def flag_value(args: list[str], flag: str) -> str | None:
    """The value the serve args give a flag (None when absent)."""
    return args[args.index(flag) + 1] if flag in args else None


# ------------------------------------------------------------------------------------- the two pools
# Every property comes in two halves. Input drawn from a plausible pool must plan: exit 0, a compose.yml that
# reads back as asked and that `check` finds up to date (with `make_plans` made to refuse everything, these
# fail). Input with one defect drawn from a hostile pool must be refused: exit 2, one `error:` line that names
# what is wrong, nothing written. A third, mixed property throws anything at the CLI and asks only for one of
# the two outcomes, never a traceback.

# Printable text: no control characters, line or paragraph separators (what has_control_chars refuses).
PRINTABLE = st.characters(codec="utf-8", exclude_categories=("Cc", "Zl", "Zp", "Cs"))
NOT_PRINTABLE = st.characters(codec="utf-8", categories=("Cc", "Zl", "Zp"))
printable_text = st.one_of(
    st.text(PRINTABLE, min_size=1, max_size=20),
    st.lists(st.sampled_from([p for p in SPECIAL_PIECES if not any(unicodedata.category(c) in ("Cc", "Zl", "Zp")
                                                                   for c in p)]),
             min_size=1, max_size=5).map("".join),
    st.just('$HOME "x"'),
).filter(lambda text: text.strip() == text and text and not text.startswith("-"))  # fmt: skip
# the same text with a character that cannot be one line of printable text somewhere in it
unprintable_text = st.tuples(st.text(PRINTABLE, max_size=5), NOT_PRINTABLE, st.text(PRINTABLE, max_size=5)).map("".join)


def not_a_number(convert: type) -> Any:
    def check(text: str) -> bool:
        try:
            convert(text)
        except ValueError:
            return True
        return False

    return check


def valid_tps(name: str) -> list[int]:
    """The TP sizes each small model takes on one 8-NPU server, up to 4 (so that several instances fit)."""
    return [tp for tp in valid_tp_sizes(CATALOG.get(name), 8) if tp <= 4]


def smallest_context() -> int:
    return min(CATALOG.get(name).max_position_embeddings for name in SMALL_MODELS)


# --------------------------------------------------------------------------------------------- 1. flags
# Every small model fits one 910B4 at TP 1 with utilization 0.8 and its full context (Qwen3-8B, the largest:
# 29.49 x 0.8 - 15.27 GiB weights - 1.5 GiB reserves = 6.82 GiB of KV cache, 49,600 tokens > 40,960), so no
# combination of these values is refused.
PLAUSIBLE_HOSTS = ["127.0.0.1", "0.0.0.0", "::1", "[::1]", "localhost", "10.0.0.5"]
PLAUSIBLE_IMAGES = ["v0.9.2rc1", "v0.11.0rc3", "v9.9.9", "my.registry:5000/vllm-ascend:v0.9.1", "quay.io/x/y", "latest"]
PLAUSIBLE_MODELS_DIRS = ["/models", "/data/my models", "/模型", "/a#b", "/$HOME", "/m/../../etc", "/a'b\"c"]


def npus_of(draw: st.DrawFn, count: int) -> str:
    """`count` distinct NPUs of 0-7, written as a range or a list."""
    picked = sorted(draw(st.lists(st.integers(0, 7), min_size=count, max_size=count, unique=True)))
    if picked == list(range(picked[0], picked[0] + count)) and count > 1 and draw(st.booleans()):
        return f"{picked[0]}-{picked[-1]}"
    return ",".join(map(str, picked))


@st.composite
def plausible_flags(draw: st.DrawFn, *, one_model: bool = False) -> dict[str, Any]:
    maybe = st.booleans()
    flags: dict[str, Any] = {}
    if not one_model and draw(weighted((4, st.just(False)), (1, st.just(True)))):
        # several models: only the request's own flags (per-instance ones belong in a deployment file)
        flags["models"] = draw(st.lists(st.sampled_from(SMALL_MODELS), min_size=2, max_size=3))
        if draw(maybe):
            flags["--port"] = str(draw(st.integers(1, 65000)))
    else:
        name = draw(st.sampled_from(SMALL_MODELS))
        flags["models"] = [name]
        tp = draw(st.one_of(st.none(), st.sampled_from(valid_tps(name))))
        if tp is not None:
            flags["--tp"] = str(tp)
        if draw(maybe):
            flags["--npus"] = npus_of(draw, tp or draw(st.sampled_from(valid_tps(name))))
        if draw(maybe):
            flags["--port"] = str(draw(st.integers(1, 65535)))
        if draw(maybe):
            flags["--max-model-len"] = str(draw(st.integers(1, smallest_context())))
        if draw(maybe):
            flags["--gpu-memory-utilization"] = str(draw(st.floats(0.8, 1.0)))
        if draw(maybe):
            flags["--served-name"] = draw(printable_text)
    for flag, pool in [("--models-dir", PLAUSIBLE_MODELS_DIRS), ("--host", PLAUSIBLE_HOSTS),
                       ("--image", PLAUSIBLE_IMAGES)]:  # fmt: skip
        if draw(maybe):
            flags[flag] = draw(st.sampled_from(pool))
    return flags


@st.composite
def plan_flags(draw: st.DrawFn) -> dict[str, Any]:
    one_model = usually(st.sampled_from(SMALL_MODELS), model_name)
    return {
        "models": draw(weighted((4, st.tuples(one_model).map(list)), (1, st.lists(one_model, min_size=2, max_size=3)))),
        "--tp": draw(optional(st.sampled_from(["1", "2", "4", "8"]), int_text)),
        "--npus": draw(optional(st.sampled_from(NPUS), npus_text)),
        "--port": draw(optional(st.integers(1, 65535).map(str), int_text)),
        "--max-model-len": draw(optional(st.integers(1, 40960).map(str), int_text)),
        "--gpu-memory-utilization": draw(optional(st.floats(0.3, 1.0).map(str), float_text)),
        "--served-name": draw(optional(served_name, st.one_of(hostile_text, st.sampled_from(SPECIAL_PIECES)))),
        "--models-dir": draw(optional(st.sampled_from(MODELS_DIRS), hostile_text)),
        "--host": draw(optional(st.sampled_from(HOSTS), hostile_text)),
        "--image": draw(optional(st.sampled_from(IMAGES), hostile_text)),
    }


def expected_image(image: str) -> str:
    return f"{REPOSITORY}:{image}" if ":" not in image.rsplit("/", 1)[-1] and "/" not in image else image


def plan_with(flags: dict[str, Any], out: Path, *extra: str) -> Result:
    # `--flag=value` and `--` keep every value a value, whatever it starts with
    options = [f"{flag}={value}" for flag, value in flags.items() if flag != "models" and value is not None]
    return ascendgen("plan", *extra, f"--out={out}", *options, "--", *flags["models"])


def assert_flags_honoured(flags: dict[str, Any], out: Path, result: Result) -> None:
    """compose.yml reads back as the plans say, and the plans as the flags asked."""
    options = {flag: value for flag, value in flags.items() if flag != "models" and value is not None}
    plans = plans_of(result)
    services = assert_reads_back(out, plans)
    several = len(flags["models"]) > 1
    for name, plan, service in zip(flags["models"], plans, services, strict=True):
        model = CATALOG.get(name)
        served = options.get("--served-name", model.served_model_name)
        assert plan["served_model_name"] == served
        assert service["labels"]["io.ascendgen.served-model-name"] == served
        assert plan["serve_args"][0] == plan["model_path"] == f"/models/{model.hub_id}"
        assert flag_value(plan["serve_args"], "--served-model-name") == served
        if "--tp" in options:
            assert plan["tensor_parallel_size"] == int(options["--tp"])
        if "--npus" in options:
            assert tuple(plan["npus"]) == parse_npus(options["--npus"])
        if "--max-model-len" in options:
            assert plan["max_model_len"] == int(options["--max-model-len"])
        if "--gpu-memory-utilization" in options:
            assert plan["gpu_memory_utilization"] == float(options["--gpu-memory-utilization"])
        if "--port" in options and not several:
            assert plan["port"] == int(options["--port"])
        if "--host" in options:
            assert flag_value(plan["serve_args"], "--host") == options["--host"]
        if "--image" in options:
            assert plan["image"] == expected_image(options["--image"])
        models_dir = options.get("--models-dir", "/models")
        assert f"{models_dir}:/models:ro" in service["volumes"]
    if several and "--port" in options:
        assert [plan["port"] for plan in plans] == list(
            range(int(options["--port"]), int(options["--port"]) + len(plans))
        )


@PROPERTY
@given(flags=plausible_flags())
@example(flags={"models": ["Qwen3-8B"], "--served-name": '$HOME "x"'})
@example(flags={"models": ["Qwen3-8B"], "--served-name": "a\ufeffb"})
@example(flags={"models": ["Qwen3-8B", "Qwen3-8B", "Qwen3-8B"], "--port": "65000"})
@example(flags={"models": ["Qwen3-8B"], "--tp": "1", "--max-model-len": "32768", "--gpu-memory-utilization": "0.8"})
def test_plausible_flags_plan_and_write_what_was_asked(flags: dict[str, Any]) -> None:
    with sandbox() as tmp:
        out = tmp / "out"
        result = plan_with(flags, out, "--json")
        assert result.exit_code == 0, result
        assert_flags_honoured(flags, out, result)
        table = plan_with(flags, tmp / "table", "--dry-run")  # the table view of the same plan renders too
        assert table.exit_code == 0, table


# One defect per example: (the flag, values of it that no plan takes). The refusal names the flag.
HOSTILE_FLAGS: dict[str, st.SearchStrategy[str]] = {
    "--tp": st.one_of(
        st.sampled_from(["0", "-1", "3", "5", "6", "7", "16", "1.5", "", "x"]),
        st.integers(9, 10**9).map(str),
        st.text(max_size=8).filter(not_a_number(int)),
    ),
    "--npus": st.one_of(
        st.sampled_from(["", " ", ",", "8", "0-8", "0-99999", "0--1", "-1", "0,0", "0-2", "x", "1-0"]),
        st.text(max_size=8).filter(lambda text: not re.fullmatch(r"[0-7](-[0-7])?(,[0-7](-[0-7])?)*", text.strip())),
    ),
    "--port": st.one_of(
        st.integers(max_value=0).map(str),
        st.integers(min_value=65536).map(str),
        st.text(max_size=8).filter(not_a_number(int)),
    ),
    "--max-model-len": st.one_of(
        st.integers(max_value=0).map(str),
        st.integers(min_value=10**6).map(str),  # above every small model's context
        st.text(max_size=8).filter(not_a_number(int)),
    ),
    "--gpu-memory-utilization": st.one_of(
        st.floats(max_value=0).map(str),
        st.floats(min_value=1, exclude_min=True).map(str),
        st.sampled_from(["nan", "inf", "-inf", "0", "1.0000001", ""]),
        st.text(max_size=8).filter(not_a_number(float)),
    ),
    "--served-name": st.one_of(
        unprintable_text,
        st.sampled_from(["", " ", "\u3000", " a", "a ", "-x", "--api-key"]),
        printable_text.map(lambda text: f"-{text}"),
    ),
    "--models-dir": st.one_of(
        st.sampled_from(["", "models", "./models", "../x", "~/models", "/a:b", "/m:/models:rw", "/a\nb"]),
        st.text(PRINTABLE, min_size=1, max_size=10).filter(lambda text: not text.startswith("/")),
        unprintable_text.map(lambda text: f"/{text}"),
    ),
    "--host": st.one_of(
        st.sampled_from(["", "a b", "$(id)", "`id`", "host;rm", "::1 --x", "h" * 256]),
        st.text(min_size=1, max_size=8).filter(lambda text: not re.fullmatch(r"[A-Za-z0-9.:_\-\[\]]+", text)),
    ),
    "--image": st.sampled_from(
        [
            "",
            "quay.io/x:$(id)",
            "quay.io/x:`id`",
            "x:v1 --privileged",
            "quay.io/Ascend/vllm-ascend:v1",
            "x:v1\n",
            "quay.io/x:" + "t" * 129,
            "quay.io//x:v1",
            "-quay.io/x:v1",
            "x:.v1",
        ]
    ),
}
UNKNOWN_MODELS = st.one_of(
    st.sampled_from(["no-such-model", "Qwen3-8", "Qwen3\n8B", "", " ", "Qwen/Qwen3-8B-x", "qwen3_8b"]),
    st.text(PRINTABLE, min_size=1, max_size=12).filter(
        lambda text: text.strip() and text.lower() not in {n.lower() for n in MODEL_NAMES} and not os.path.exists(text)
    ),
)


@st.composite
def hostile_flags(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """Plausible flags for one model with one of them (or the model) replaced by a value no plan takes."""
    flags = draw(plausible_flags(one_model=True))
    flag = draw(st.sampled_from([*HOSTILE_FLAGS, "model"]))
    if flag == "model":
        flags["models"] = [draw(UNKNOWN_MODELS)]
    else:
        flags[flag] = draw(HOSTILE_FLAGS[flag])
    return flags, flag


@PROPERTY
@given(case=hostile_flags())
@example(case=({"models": ["Qwen3-8B"], "--served-name": "a\x85b"}, "--served-name"))
@example(case=({"models": ["Qwen3-8B"], "--served-name": "a\u2028x: 1\u2028#"}, "--served-name"))
@example(case=({"models": ["Qwen3-8B"], "--image": "v0.9.2rc1\x01"}, "--image"))
@example(case=({"models": ["Qwen3-8B"], "--gpu-memory-utilization": "0"}, "--gpu-memory-utilization"))
@example(case=({"models": ["Qwen3\n8B"]}, "model"))
@example(case=({"models": ["Qwen3-8B"], "--tp": "2", "--npus": "0-2"}, "--npus"))
def test_hostile_flags_are_refused_in_one_line_that_names_the_flag(case: tuple[dict[str, Any], str]) -> None:
    flags, culprit = case
    with sandbox() as tmp:
        out = tmp / "out"
        result = plan_with(flags, out, "--json")
        assert result.exit_code == 2, result
        assert_refused(result, out)
        # the flag, or for a served name (checked alike wherever it comes from) what it is
        assert culprit in result.stderr or (culprit == "--served-name" and "served name" in result.stderr), result


@settings(max_examples=40, deadline=None)
@given(flags=plan_flags())
@example(flags={"models": ["Qwen3-8B", "qwen3-8b"]})
def test_any_flags_plan_as_asked_or_are_refused(flags: dict[str, Any]) -> None:
    """Anything at all: never a traceback; either written as asked, or refused in one line."""
    with sandbox() as tmp:
        out = tmp / "out"
        result = plan_with(flags, out, "--json")
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            return
        assert_flags_honoured(flags, out, result)


# ------------------------------------------------------------------------------------------ 2. catalogs

MODEL_FIELDS = [*BUILTIN_ENTRIES["Qwen3-8B"], "served_name", "serve_flags", "mla", "quantization", "vision"]
NEAR_MISSES = ["nmae", "hubid", "hub-id", "num_layer", "served_nam", "Name", "npu", "sourc", "extra"]
TRAVERSAL = ["../x", "../../etc", "a/../b", "Qwen/../../etc", "x/..", "../..", "/abs/path", "a/b/c", "a/", "/a",
             "Qwen/Qwen3-8B", "me/my-model", "a\\..\\b", "a/.", "a/.b", "a../b.."]  # fmt: skip
# hub ids no catalog takes: a step out, an absolute path, an empty or dot segment, a backslash
BAD_HUB_IDS = ["../x", "../../etc", "a/../b", "Qwen/../../etc", "x/..", "../..", "/abs/path", "a/", "/a", "a\\..\\b",
               "a/.", "a/.b", "", "a b/c", "a//b"]  # fmt: skip
hostile_value = st.one_of(
    st.none(),
    st.booleans(),
    edge_int,
    st.floats(),
    hostile_text,
    st.sampled_from(TRAVERSAL),
    st.lists(st.one_of(edge_int, hostile_text), max_size=3),
    st.dictionaries(st.sampled_from(["910B4", "kv_lora_rank", "x", "1"]), edge_int, max_size=2),
)
RAW_PIECES = [*SPECIAL_PIECES, "1", "-4", "1e400", ".nan", "!!python/name:os.system"]
raw_scalar = st.lists(st.sampled_from(RAW_PIECES), min_size=1, max_size=4).map("".join)
entry_name = usually(
    st.sampled_from(["Qwen3-8B", "qwen3-8b", "My-Model.v2"]), st.one_of(st.sampled_from(TRAVERSAL), hostile_text)
)
hub_part = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True)
# values each field could plausibly take, YAML and shell specials included
FIELD_VALUES = {
    "hub_id": st.one_of(st.sampled_from(TRAVERSAL), st.tuples(hub_part, hub_part).map("/".join)),
    "served_name": hostile_text,
    "source": hostile_text,
    "architecture": hostile_text,
    "min_image": st.sampled_from(["v0.9.1", "v0.11.0rc3", "v99.0.0", "latest", "v0.9.2rc1\n"]),
    "serve_flags": st.lists(st.one_of(hostile_text.map("--flag={}".format), hostile_text), max_size=3),
    "npus": st.dictionaries(st.sampled_from(["910B4", "910B3", "x"]), edge_int, max_size=2),
}
# values that every entry takes (the model still plans on one 910B4)
serve_flag = st.tuples(st.from_regex(r"--[a-z][a-z-]{0,12}", fullmatch=True), st.none() | printable_text).map(
    lambda flag: flag[0] if flag[1] is None else f"{flag[0]}={flag[1]}"
)
PLAUSIBLE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "hub_id": st.tuples(hub_part, hub_part).map("/".join),
    "served_name": printable_text,
    "source": printable_text,
    "architecture": printable_text,
    "min_image": st.sampled_from(["v0.9.1", "v0.11.0rc3"]),
    "serve_flags": st.lists(serve_flag, max_size=3),
    "npus": st.dictionaries(st.sampled_from(["910B4", "910B3"]), st.integers(1, 8), max_size=2),
}
new_entry_name = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)


def catalog_text(entries: list[dict[str, Any]]) -> str:
    return yaml.safe_dump({"models": entries}, allow_unicode=True, sort_keys=False, width=10**6)


@st.composite
def plausible_catalogs(draw: st.DrawFn) -> tuple[str, str]:
    """A user catalog that plans: a new entry (Qwen3-8B's numbers under another name) or an override of
    Qwen3-8B, with some fields set to values every entry takes. (text, the name to plan)"""
    if draw(st.booleans()):
        name = draw(new_entry_name.filter(lambda n: n.lower() not in {m.lower() for m in MODEL_NAMES}))
        entry = {**BUILTIN_ENTRIES["Qwen3-8B"], "name": name, "hub_id": f"me/{name}"}
    else:
        name = draw(st.sampled_from(["Qwen3-8B", "qwen3-8b"]))
        entry = {"name": name}
    for field in draw(st.lists(st.sampled_from(list(PLAUSIBLE_FIELDS)), unique=True, max_size=4)):
        entry[field] = draw(PLAUSIBLE_FIELDS[field])
    return catalog_text([entry]), name


@st.composite
def hostile_catalogs(draw: st.DrawFn) -> tuple[str, str]:
    """A user catalog whose one entry has one defect that no catalog takes. (text, the name to plan)"""
    text, name = draw(plausible_catalogs())
    (entry,) = yaml.load(text, LOADER)["models"]
    defect = draw(st.sampled_from(["unknown", "hub_id", "type", "negative", "duplicate", "flag", "kind", "raw"]))
    if defect == "unknown":
        entry[draw(st.sampled_from(NEAR_MISSES))] = draw(st.one_of(edge_int, printable_text))
    elif defect == "hub_id":
        entry["hub_id"] = draw(st.sampled_from(BAD_HUB_IDS))
    elif defect == "type":
        field = draw(st.sampled_from(["num_layers", "hidden_size", "num_attention_heads", "head_dim", "params_b"]))
        entry[field] = draw(st.sampled_from(["x", "", [1], {"a": 1}, None, "1e3x"]))
    elif defect == "negative":
        entry[draw(st.sampled_from(["num_layers", "hidden_size", "vocab_size", "max_position_embeddings"]))] = draw(
            st.integers(max_value=0)
        )
    elif defect == "duplicate":
        return catalog_text([entry, {**entry, "name": draw(st.sampled_from([name, name.upper(), name.lower()]))}]), name
    elif defect == "flag":
        entry["serve_flags"] = [draw(st.sampled_from(["enforce-eager", "-x", "--a b", "", "--x\ty=1"]))]
    elif defect == "kind":
        entry["kind"] = draw(st.sampled_from(["sparse", "", "MoE", 1]))
    else:  # YAML that does not parse, or a tag the safe loader refuses
        return catalog_text(
            [entry]
        ) + f"  source: {draw(st.sampled_from(['[unclosed', '{a: 1', '!!python/name:os.system', '&a *b']))}\n", name
    return catalog_text([entry]), name


def intended_model(text: str, name: str) -> dict[str, Any]:
    """The entry the catalog file means for `name`: the user's fields merged over the built-in entry."""
    data = yaml.load(text, LOADER)
    mine = next((e for e in data["models"] if str(e["name"]).lower() == name.lower()), {})
    base: dict[str, Any] = next((e for e in BUILTIN_ENTRIES.values() if e["name"].lower() == name.lower()), {})
    return {**base, **mine}


LINE = re.compile(r"^error: (?P<path>.*?)(?::(?P<line>\d+)|: line (?P<line2>\d+)):")
FIELD_ERROR = re.compile(r"^error: .*?:(?P<line>\d+): model '.*': (?P<field>[a-z_]+): (?P<message>.*)")


def assert_points_at_the_field(stderr: str, text: str) -> None:
    """An error about a field the file spells out once gives that field's line."""
    found = FIELD_ERROR.match(stderr)
    if not found or found["message"].startswith("required field is missing"):
        return
    lines = [n for n, line in enumerate(text.splitlines(), 1) if re.match(rf"\s*(- )?{found['field']}:", line)]
    if len(lines) == 1:
        assert int(found["line"]) == lines[0], (stderr, text)


def assert_catalog_blamed(stderr: str, path: Path, text: str) -> None:
    """The refusal names the catalog file and a line in it."""
    assert stderr.startswith(f"error: {path}"), stderr
    located = LINE.match(stderr)
    assert located, stderr
    line = int(located["line"] or located["line2"])
    assert 1 <= line <= len(text.splitlines()) + 1, stderr
    assert_points_at_the_field(stderr, text)


def assert_catalog_model_written(text: str, name: str, out: Path, result: Result) -> None:
    (plan,) = plans_of(result)
    (service,) = assert_reads_back(out, [plan])
    model = intended_model(text, name)
    model_path = f"/models/{model['hub_id']}"
    assert ".." not in PurePosixPath(model_path).parts
    assert service["command"][:2] == ["serve", model_path]
    served = model.get("served_name") or model["hub_id"]
    assert service["labels"]["io.ascendgen.served-model-name"] == served
    flags = [arg for flag in model.get("serve_flags", []) for arg in flag.split("=", 1)]
    assert service["command"][-len(flags) :] == flags if flags else True


def plan_with_catalog(tmp: Path, text: str, name: str) -> tuple[Path, Path, Result]:
    path, out = tmp / "mine.yaml", tmp / "out"
    path.write_text(text, encoding="utf-8")
    return path, out, ascendgen("plan", "--json", f"--catalog={path}", f"--out={out}", "--", name)


@PROPERTY
@given(catalog=plausible_catalogs())
@example(catalog=(catalog_text([{"name": "Qwen3-8B", "served_name": '$HOME "x"', "source": "a: b # c"}]), "Qwen3-8B"))
def test_plausible_catalog_entries_plan_and_read_back(catalog: tuple[str, str]) -> None:
    text, name = catalog
    with sandbox() as tmp:
        _, out, result = plan_with_catalog(tmp, text, name)
        assert result.exit_code == 0, result
        assert_catalog_model_written(text, name, out, result)


@PROPERTY
@given(catalog=hostile_catalogs())
@example(catalog=("models:\n  - name: Qwen3-8B\n    hub_id: x/..\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n    hub_id: ../../etc\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n  - name: qwen3-8b\n", "Qwen3-8B"))
def test_hostile_catalog_entries_are_refused_at_their_file_and_line(catalog: tuple[str, str]) -> None:
    text, name = catalog
    with sandbox() as tmp:
        path, out, result = plan_with_catalog(tmp, text, name)
        assert result.exit_code == 2, result
        assert_refused(result, out)
        assert_catalog_blamed(result.stderr, path, text)


@st.composite
def catalog_files(draw: st.DrawFn) -> tuple[str, str]:
    """A user catalog with one entry changed any which way: (the file's text, the name to plan)."""
    name = draw(entry_name)
    base = BUILTIN_ENTRIES["Qwen3-8B"]
    # a full entry of its own, or an override that gives only the fields it changes
    entry = {**base, "name": name, "hub_id": f"me/{name}"} if draw(st.booleans()) else {"name": name}
    mutation = draw(st.sampled_from(["set", "set", "delete", "raw", "duplicate", "none"]))
    field = draw(st.one_of(st.sampled_from(list(FIELD_VALUES)), st.sampled_from([*MODEL_FIELDS, *NEAR_MISSES])))
    if mutation == "set":
        entry[field] = draw(usually(FIELD_VALUES.get(field, hostile_value), hostile_value))
    elif mutation == "delete":
        entry.pop(field, None)
    entries: list[Any] = [entry]
    if mutation == "duplicate":
        entries.append({**entry, "name": draw(st.sampled_from([name, str(name).upper(), "Qwen3-8B"]))})
    text = catalog_text(entries)
    if mutation == "raw":  # a value written as is, unquoted: YAML specials and all
        text += f"  {field}: {draw(raw_scalar)}\n"
    return text, name if isinstance(name, str) else "Qwen3-8B"


@settings(max_examples=40, deadline=None)
@given(catalog=catalog_files())
@example(catalog=("models:\n  - name: Qwen3-8B\n    source: a\x01b\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n    num_layers: 1000000000000000000000000000000\n", "Qwen3-8B"))
def test_any_catalog_entry_reads_back_or_names_file_and_line(catalog: tuple[str, str]) -> None:
    text, name = catalog
    with sandbox() as tmp:
        path, out, result = plan_with_catalog(tmp, text, name)
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            if result.stderr.startswith(f"error: {path}"):  # the catalog is at fault: say where
                assert_catalog_blamed(result.stderr, path, text)
            return
        assert_catalog_model_written(text, name, out, result)


# ---------------------------------------------------------------------------------------- 3. deployments

INSTANCE_KEYS = ["model", "tp", "npus", "port", "max_model_len", "served_name", "gpu_memory_utilization"]
INSTANCE_TYPOS = ["prot", "npu", "served_nam", "modle", "max-model-len", "TP"]
PORTS = [8000, 8001, 8002, 8003, 9000, 65535]
ports = st.one_of(st.sampled_from([0, -1, 65536, 10**30, "8001", None]), edge_int, hostile_text)
npus_value = st.one_of(
    npus_text, npu_index, st.lists(npu_index, min_size=1, max_size=4), st.sampled_from([True, 1.5, [[0]], [], {}])
)


@st.composite
def plausible_deployments(draw: st.DrawFn, *, min_size: int = 1) -> dict[str, Any]:
    """1-4 small models that fit one server together: at most 2 NPUs each; fixed NPUs one each and distinct,
    asked ports distinct and below those ascendgen counts up to."""
    count = draw(st.integers(min_size, 4))
    fixed = iter(draw(st.lists(st.integers(0, 7), min_size=count, max_size=count, unique=True)))
    asked_ports = iter(draw(st.lists(st.integers(1, 7999), min_size=count, max_size=count, unique=True)))
    items = []
    for _ in range(count):
        item: dict[str, Any] = {"model": draw(st.sampled_from(SMALL_MODELS))}
        npu = next(fixed)
        if draw(st.booleans()):
            item["npus"] = draw(st.sampled_from([npu, str(npu), [npu]]))
            if draw(st.booleans()):
                item["tp"] = 1
        elif draw(st.booleans()):
            item["tp"] = draw(st.sampled_from(valid_tps(item["model"])[:2]))
        port = next(asked_ports)
        if draw(st.booleans()):
            item["port"] = port
        if draw(st.booleans()):
            item["served_name"] = draw(printable_text)
        items.append(item)
    data: dict[str, Any] = {"instances": items}
    if draw(st.booleans()):
        data["first_port"] = draw(st.sampled_from([8000, 9000, 30000]))
    return data


OUT_OF_RANGE = [("port", 0), ("port", 65536), ("tp", 0), ("tp", -2), ("npus", 8), ("npus", "0-99"),
                ("max_model_len", 0), ("gpu_memory_utilization", 1.5)]  # fmt: skip
TOP_LEVEL_DEFECTS = [("first_port", 0), ("first_port", 65536), ("first_port", "8000"), ("instance", []),
                     ("first_prot", 8000), ("api_key_env", "yes")]  # fmt: skip


@st.composite
def hostile_deployments(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible deployment with one defect no deployment file may have."""
    data = draw(plausible_deployments(min_size=2))
    first, second = data["instances"][0], data["instances"][1]
    defect = draw(st.sampled_from(["same port", "same npus", "typo", "type", "range", "top", "model", "empty"]))
    if defect == "same port":
        first["port"] = second["port"] = draw(st.integers(1, 65535))
    elif defect == "same npus":
        first["npus"], second["npus"] = 3, [3]
        first.pop("tp", None), second.pop("tp", None)
    elif defect == "typo":
        first[draw(st.sampled_from(INSTANCE_TYPOS))] = draw(st.one_of(edge_int, printable_text))
    elif defect == "type":
        key, value = draw(st.sampled_from([("port", "8001"), ("port", 80.5), ("tp", "1"), ("tp", 1.5), ("tp", True),
                                           ("npus", True), ("npus", 1.5), ("npus", [[0]]), ("npus", {}),
                                           ("served_name", 5), ("max_model_len", "4096")]))  # fmt: skip
        first.pop("tp", None)
        first[key] = value
    elif defect == "range":
        key, value = draw(st.sampled_from(OUT_OF_RANGE))
        first.pop("tp", None)
        first[key] = value
    elif defect == "top":
        key, value = draw(st.sampled_from(TOP_LEVEL_DEFECTS))
        data[key] = value
    elif defect == "model":
        first["model"] = draw(st.sampled_from(["no-such-model", "", " ", "Qwen3\n8B", 5, None]))
    else:
        data["instances"] = []
    return data


def plan_deployment_file(tmp: Path, deployment: dict[str, Any]) -> tuple[dict[str, Any], Path, Result]:
    path, out = tmp / "ascendgen.yaml", tmp / "out"
    text = yaml.safe_dump(deployment, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    # what the file says (PyYAML's emitter writes some line breaks raw that read back as spaces)
    meant = yaml.load(text, LOADER)
    return meant, out, ascendgen("plan", "--json", "-f", str(path), f"--out={out}")


def assert_deployment_written(deployment: dict[str, Any], out: Path, result: Result) -> None:
    plans = plans_of(result)
    services = assert_reads_back(out, plans)
    wanted = deployment["instances"]
    assert len(services) == len(wanted)
    npu_sets = [set(plan["npus"]) for plan in plans]
    for index, first in enumerate(npu_sets):
        assert all(first.isdisjoint(other) for other in npu_sets[index + 1 :]), npu_sets
    assert len({plan["port"] for plan in plans}) == len(plans)
    for item, plan in zip(wanted, plans, strict=True):
        assert 1 <= plan["port"] <= 65535
        if item.get("port") is not None:
            assert plan["port"] == item["port"] and type(item["port"]) is int  # '8001', yes: refused
        if item.get("npus") is not None:
            npus = item["npus"]
            text = ",".join(map(str, npus)) if isinstance(npus, list) else str(npus)
            assert tuple(plan["npus"]) == parse_npus(text)
        if item.get("tp") is not None:
            assert plan["tensor_parallel_size"] == item["tp"]
        if item.get("served_name") is not None:
            assert plan["served_model_name"] == item["served_name"]


@PROPERTY
@given(deployment=plausible_deployments())
@example(deployment={"instances": [{"model": "Qwen3-8B"}, {"model": "Qwen3-8B"}], "first_port": 9000})
def test_plausible_deployment_files_plan_apart(deployment: dict[str, Any]) -> None:
    with sandbox() as tmp:
        meant, out, result = plan_deployment_file(tmp, deployment)
        assert result.exit_code == 0, result
        assert_deployment_written(meant, out, result)


@PROPERTY
@given(deployment=hostile_deployments())
@example(deployment={"instances": [{"model": "Qwen3-8B", "port": 8001}, {"model": "Qwen3-4B", "port": 8001}]})
@example(deployment={"instances": [{"model": "Qwen3-8B", "npus": "0-1"}, {"model": "Qwen3-4B", "npus": [1, 2]}]})
@example(deployment={"instances": [{"model": "Qwen3-8B", "prot": 8001}]})
@example(deployment={"instances": [{"model": "Qwen3-8B"}, {"model": "Qwen3-8B"}], "first_port": 65535})
def test_hostile_deployment_files_are_refused_in_one_line(deployment: dict[str, Any]) -> None:
    with sandbox() as tmp:
        _, out, result = plan_deployment_file(tmp, deployment)
        assert result.exit_code == 2, result
        assert_refused(result, out)


@st.composite
def instances(draw: st.DrawFn) -> dict[str, Any]:
    # several instances multiply the odds of a refusal: keep each one's hostile values rarer
    item: dict[str, Any] = {"model": draw(weighted((9, st.sampled_from(SMALL_MODELS)), (1, model_name)))}
    for key, value in [
        ("npus", optional(st.sampled_from([*NPUS, [4, 5], 3]), npus_value, hostile_in_20=1)),
        ("port", optional(st.sampled_from(PORTS), ports, hostile_in_20=1)),
        ("tp", optional(st.sampled_from([1, 2]), st.one_of(edge_int, hostile_value), hostile_in_20=1)),
        ("served_name", optional(served_name, hostile_value, hostile_in_20=1)),
    ]:
        if (drawn := draw(value)) is not None:
            item[key] = drawn
    if draw(rarely):
        item[draw(st.sampled_from([*INSTANCE_TYPOS, *INSTANCE_KEYS]))] = draw(hostile_value)
    return item


@st.composite
def deployment_files(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {"instances": draw(st.lists(instances(), max_size=5))}
    if (first_port := draw(optional(st.sampled_from(PORTS), ports))) is not None:
        data["first_port"] = first_port
    if draw(rarely):
        data[draw(st.sampled_from(["instance", "first_prot", "host", "models_dir", "image", "api_key_env"]))] = draw(
            hostile_value
        )
    return data


@settings(max_examples=40, deadline=None)
@given(deployment=deployment_files())
def test_any_deployment_file_places_apart_or_is_refused(deployment: dict[str, Any]) -> None:
    with sandbox() as tmp:
        meant, out, result = plan_deployment_file(tmp, deployment)
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            return
        assert_deployment_written(meant, out, result)


# ---------------------------------------------------------------------------------------------- 4. --out

# a directory name anyone could give: printable, not `.` or `..`, short enough for any file system
plausible_segment = st.one_of(
    st.sampled_from(["a", "b", "my deploy", "部署", "-x", "$HOME", "a\\b", " ", "é" * 60, "x" * 255]),
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00", exclude_categories=("Cc", "Zl", "Zp", "Cs")),
            min_size=1, max_size=12),
).filter(lambda name: name not in (".", "..") and len(name.encode()) <= 255)  # fmt: skip
out_segment = st.one_of(
    st.sampled_from(["..", ".", "a", "b", "my deploy", "部署", "é" * 130, "file", "-x", "$HOME", "a\\b", " "]),
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12),
)


def plan_out(root: Path, out: Path) -> tuple[Result, list[Path]]:
    (root / "file").write_text("not a directory\n", encoding="utf-8")
    result = ascendgen("plan", "--json", "Qwen3-8B", f"--out={out}")
    assert "Traceback" not in result.stderr and not UNEXPECTED.search(result.stderr), result
    return result, sorted(root.rglob("compose.yml"))


@PROPERTY
@given(segments=st.lists(plausible_segment, min_size=1, max_size=4).filter(lambda s: s[0] != "file"))
@example(segments=["x" * 255])
@example(segments=["a", "file"])
def test_a_plausible_out_directory_gets_the_file(segments: list[str]) -> None:
    with sandbox() as tmp:
        root = tmp / "root"
        root.mkdir()
        out = root.joinpath(*segments)
        result, written = plan_out(root, out)
        assert result.exit_code == 0, result
        assert written == [out / "compose.yml"]
        assert_reads_back(out, plans_of(result))


@PROPERTY
@given(
    segments=st.lists(plausible_segment, max_size=2),
    defect=st.sampled_from(["through a file", "too long", "control"]),
    bad=st.text(NOT_PRINTABLE, min_size=1, max_size=3),
)
@example(segments=[], defect="through a file", bad="\n")
@example(segments=["a"], defect="too long", bad="\n")
def test_an_out_directory_that_cannot_be_made_is_refused(segments: list[str], defect: str, bad: str) -> None:
    with sandbox() as tmp:
        root = tmp / "root"
        root.mkdir()
        if defect == "through a file":
            out = root.joinpath("file", *segments)
        elif defect == "too long":
            out = root.joinpath(*segments, "é" * 128)  # 256 bytes: one more than a file name may have
        else:
            out = root.joinpath(*segments, f"a{bad}b")
        result, written = plan_out(root, out)
        assert result.exit_code == 2, result
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, result
        assert written == []


@settings(max_examples=40, deadline=None)
@given(segments=st.lists(out_segment, min_size=1, max_size=4))
@example(segments=["a", "..", "b"])
@example(segments=["file", "sub"])
def test_any_out_lands_at_the_resolved_path_or_is_refused(segments: list[str]) -> None:
    with sandbox() as tmp:
        root = tmp / "root"
        root.mkdir()
        relative = os.path.join(*segments)
        if os.path.normpath(relative).split(os.sep)[0] == "..":
            relative = os.path.join("a", "b", "c", "d", relative)  # stay inside root
        out = root / relative
        result, written = plan_out(root, out)
        if result.exit_code != 0:
            assert result.exit_code in (1, 2), result
            assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, result
            assert written == []
            return
        assert written == [out.resolve() / "compose.yml"]
        assert_reads_back(out, plans_of(result))


# ------------------------------------------------------------------------------- 5. paths in the recipe

file_name = st.one_of(
    st.sampled_from(["my catalog.yaml", "it's $HOME.yaml", "部署.yaml", "-x.yaml", "a\\b.yaml", "#.yaml", "~"]),
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00", exclude_categories=("Cc", "Zl", "Zp", "Cs")),
            min_size=1, max_size=12),
).filter(lambda name: name not in (".", ".."))  # fmt: skip


def plan_from_file(tmp: Path, name: str, deployment: bool) -> tuple[Path, Result]:
    path, out = tmp / "files" / name, tmp / "out"
    path.parent.mkdir()
    if deployment:
        path.write_text("instances:\n  - model: Qwen3-8B\n", encoding="utf-8")
        return out, ascendgen("plan", "--json", f"--file={path}", f"--out={out}")
    path.write_text("models: []\n", encoding="utf-8")
    return out, ascendgen("plan", "--json", f"--catalog={path}", f"--out={out}", "--", "Qwen3-8B")


@PROPERTY
@given(name=file_name, deployment=st.booleans())
@example(name="it's $HOME.yaml", deployment=True)
def test_recorded_file_paths_reproduce_the_file(name: str, deployment: bool) -> None:
    """The recipe in the header names --catalog and -f files relative to compose.yml; `check` reads it back."""
    with sandbox() as tmp:
        out, result = plan_from_file(tmp, name, deployment)
        assert result.exit_code == 0, result
        assert_reads_back(out, plans_of(result))


@settings(max_examples=30, deadline=None)
# NUL is left out: no POSIX file name can hold it, so there is no such file to plan from.
@given(name=st.tuples(file_name, NOT_PRINTABLE.filter(lambda c: c != "\x00")).map("".join), deployment=st.booleans())
@example(name="c\x01.yaml", deployment=False)
@example(name="c\nd.yaml", deployment=True)
def test_a_file_path_the_recipe_cannot_record_is_refused(name: str, deployment: bool) -> None:
    with sandbox() as tmp:
        out, result = plan_from_file(tmp, name, deployment)
        assert result.exit_code == 2, result
        assert_refused(result, out)
