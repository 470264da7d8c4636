"""Properties over hostile input (hypothesis): flags, catalog entries, deployment files, --out paths and the
file paths a recipe records.

No input yields a traceback: `plan` either writes a compose.yml that reads back as exactly the intended values
(compose un-doubles `$$`) and that `check` finds up to date, or refuses with one `error:` line, exit 2 and
nothing written. Each example runs the CLI in-process in a fresh temporary directory."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
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


# --------------------------------------------------------------------------------------------- 1. flags


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


@PROPERTY
@given(flags=plan_flags())
@example(flags={"models": ["Qwen3-8B"], "--gpu-memory-utilization": "0"})
@example(flags={"models": ["Qwen3\n8B"]})
@example(flags={"models": ["Qwen3-8B"], "--served-name": "a\x01"})
@example(flags={"models": ["Qwen3-8B"], "--served-name": "a\x85b"})
@example(flags={"models": ["Qwen3-8B"], "--served-name": "a\u2028x: 1\u2028#"})
@example(flags={"models": ["Qwen3-8B", "qwen3-8b"]})
@example(flags={"models": ["Qwen3-8B"], "--image": "v0.9.2rc1\x01"})
def test_plan_flags_write_what_was_asked_or_refuse(flags: dict[str, Any]) -> None:
    options = {flag: value for flag, value in flags.items() if flag != "models" and value is not None}
    with sandbox() as tmp:
        out = tmp / "out"
        # `--flag=value` and `--` keep every value a value, whatever it starts with
        given_flags = [f"--out={out}", *(f"{flag}={value}" for flag, value in options.items())]
        result = ascendgen("plan", "--json", *given_flags, "--", *flags["models"])
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            return
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
        # the table view of the same plan renders too
        table = ascendgen("plan", "--dry-run", *given_flags, "--", *flags["models"])
        assert table.exit_code == 0, table


# ------------------------------------------------------------------------------------------ 2. catalogs

MODEL_FIELDS = [*BUILTIN_ENTRIES["Qwen3-8B"], "served_name", "serve_flags", "mla", "quantization", "vision"]
NEAR_MISSES = ["nmae", "hubid", "hub-id", "num_layer", "served_nam", "Name", "npu", "sourc", "extra"]
TRAVERSAL = ["../x", "../../etc", "a/../b", "Qwen/../../etc", "x/..", "../..", "/abs/path", "a/b/c", "a/", "/a",
             "Qwen/Qwen3-8B", "me/my-model", "a\\..\\b", "a/.", "a/.b", "a../b.."]  # fmt: skip
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


@st.composite
def catalog_files(draw: st.DrawFn) -> tuple[str, str]:
    """A user catalog with one hostile entry: (the file's text, the name to plan)."""
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
    text = yaml.safe_dump({"models": entries}, allow_unicode=True, sort_keys=False, width=10**6)
    if mutation == "raw":  # a value written as is, unquoted: YAML specials and all
        text += f"  {field}: {draw(raw_scalar)}\n"
    return text, name if isinstance(name, str) else "Qwen3-8B"


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


@PROPERTY
@given(catalog=catalog_files())
@example(catalog=("models:\n  - name: Qwen3-8B\n    hub_id: x/..\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n    hub_id: ../../etc\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n  - name: qwen3-8b\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n    num_layers: 1000000000000000000000000000000\n", "Qwen3-8B"))
@example(catalog=("models:\n  - name: Qwen3-8B\n    source: a\x01b\n", "Qwen3-8B"))
def test_catalog_entries_read_back_or_name_file_and_line(catalog: tuple[str, str]) -> None:
    text, name = catalog
    with sandbox() as tmp:
        path, out = tmp / "mine.yaml", tmp / "out"
        path.write_text(text, encoding="utf-8")
        result = ascendgen("plan", "--json", f"--catalog={path}", f"--out={out}", "--", name)
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            if result.stderr.startswith(f"error: {path}"):  # the catalog is at fault: say where
                located = LINE.match(result.stderr)
                assert located, result.stderr
                line = int(located["line"] or located["line2"])
                assert 1 <= line <= len(text.splitlines()) + 1, result.stderr
                assert_points_at_the_field(result.stderr, text)
            return
        (plan,) = plans_of(result)
        (service,) = assert_reads_back(out, [plan])
        model = intended_model(text, name)
        model_path = f"/models/{model['hub_id']}"
        assert ".." not in PurePosixPath(model_path).parts
        assert service["command"][:2] == ["serve", model_path]
        served = model.get("served_name") or model["hub_id"]
        assert service["labels"]["io.ascendgen.served-model-name"] == served


# ---------------------------------------------------------------------------------------- 3. deployments

INSTANCE_KEYS = ["model", "tp", "npus", "port", "max_model_len", "served_name", "gpu_memory_utilization"]
INSTANCE_TYPOS = ["prot", "npu", "served_nam", "modle", "max-model-len", "TP"]
PORTS = [8000, 8001, 8002, 8003, 9000, 65535]
ports = st.one_of(st.sampled_from([0, -1, 65536, 10**30, "8001", None]), edge_int, hostile_text)
npus_value = st.one_of(
    npus_text, npu_index, st.lists(npu_index, min_size=1, max_size=4), st.sampled_from([True, 1.5, [[0]], [], {}])
)


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


@PROPERTY
@given(deployment=deployment_files())
@example(deployment={"instances": [{"model": "Qwen3-8B", "port": 8001}, {"model": "Qwen3-4B", "port": 8001}]})
@example(deployment={"instances": [{"model": "Qwen3-8B", "npus": "0-1"}, {"model": "Qwen3-4B", "npus": [1, 2]}]})
@example(deployment={"instances": [{"model": "Qwen3-8B", "prot": 8001}]})
@example(deployment={"instances": [{"model": "Qwen3-8B"}, {"model": "Qwen3-8B"}], "first_port": 65535})
def test_deployment_files_place_apart_or_refuse(deployment: dict[str, Any]) -> None:
    with sandbox() as tmp:
        path, out = tmp / "ascendgen.yaml", tmp / "out"
        text = yaml.safe_dump(deployment, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        # what the file says (PyYAML's emitter writes some line breaks raw that read back as spaces)
        deployment = yaml.load(text, LOADER)
        result = ascendgen("plan", "--json", "-f", str(path), f"--out={out}")
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            return
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
            if item.get("served_name") is not None:
                assert plan["served_model_name"] == item["served_name"]


# ---------------------------------------------------------------------------------------------- 4. --out

out_segment = st.one_of(
    st.sampled_from(["..", ".", "a", "b", "my deploy", "部署", "é" * 130, "file", "-x", "$HOME", "a\\b", " "]),
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12),
)


@PROPERTY
@given(segments=st.lists(out_segment, min_size=1, max_size=4))
@example(segments=["a", "..", "b"])
@example(segments=["file"])
@example(segments=["file", "sub"])
@example(segments=["é" * 130])
def test_out_lands_at_the_resolved_path_or_refuses(segments: list[str]) -> None:
    with sandbox() as tmp:
        root = tmp / "root"
        root.mkdir()
        (root / "file").write_text("not a directory\n", encoding="utf-8")
        relative = os.path.join(*segments)
        if os.path.normpath(relative).split(os.sep)[0] == "..":
            relative = os.path.join("a", "b", "c", "d", relative)  # stay inside root
        out = root / relative
        result = ascendgen("plan", "--json", "Qwen3-8B", f"--out={out}")
        assert "Traceback" not in result.stderr and not UNEXPECTED.search(result.stderr), result
        written = sorted(root.rglob("compose.yml"))
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
    st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12),
).filter(lambda name: name not in (".", ".."))


@PROPERTY
@given(name=file_name, deployment=st.booleans())
@example(name="c\x01.yaml", deployment=False)
@example(name="c\nd.yaml", deployment=True)
def test_recorded_file_paths_reproduce_the_file(name: str, deployment: bool) -> None:
    """The recipe in the header names --catalog and -f files relative to compose.yml; `check` reads it back."""
    with sandbox() as tmp:
        path, out = tmp / "files" / name, tmp / "out"
        path.parent.mkdir()
        if deployment:
            path.write_text("instances:\n  - model: Qwen3-8B\n", encoding="utf-8")
            result = ascendgen("plan", "--json", f"--file={path}", f"--out={out}")
        else:
            path.write_text("models: []\n", encoding="utf-8")
            result = ascendgen("plan", "--json", f"--catalog={path}", f"--out={out}", "--", "Qwen3-8B")
        assert_no_crash(result)
        if result.exit_code == 2:
            assert_refused(result, out)
            return
        assert_reads_back(out, plans_of(result))
