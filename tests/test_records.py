"""Records (ascendgen.records): `plain`, the reading without pydantic, answers only for values pydantic takes, and
gives what pydantic gives; `validate` words every refusal as pydantic does; planning the built-in data and a plain
request imports no pydantic."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascendgen import records
from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.diagnose import RuleFile, load_rules
from ascendgen.gpustack import ServerRequest, WorkerRequest
from ascendgen.hardware import NpuType, Platform, ServerProfile, load_hardware
from ascendgen.images import CannVersion, ImageSpec, load_cann_versions, load_images
from ascendgen.modeldir import ArchitectureSpec, QuantizationSpec, known_formats
from ascendgen.records import After, Before, Record, RecordError, Rule, defaults, dump, plain, record_fields, validate
from ascendgen.request import InstanceRequest, PlanRequest


def pydantic_reads(cls: type[Record], data: Any) -> Record | None:
    """What pydantic's validator of the record makes of `data` (None: refused)."""
    try:
        return records._adapter(cls).validate_python(data)  # type: ignore[no-any-return]
    except ValueError:  # pydantic's ValidationError is one
        return None


@pytest.fixture(autouse=True)
def fresh_validators(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test reads the records' fields and builds pydantic's validators anew: filled once (at collection, or by an
    earlier test), the caches would hide the code that fills them. mutmut runs every mutant in a process forked from
    one that ran the whole file first (tests/README.md, module-scoped fixtures)."""
    monkeypatch.setattr(records, "_ADAPTERS", {})
    monkeypatch.setattr(records, "_FIELDS", {})


def entries() -> Iterator[tuple[type[Record], Record]]:
    """Every built-in record, and requests of each shape, as validated."""
    hardware = load_hardware()
    yield from ((ModelSpec, m) for m in load_catalog().models)
    yield from ((NpuType, n) for n in hardware.npu_types)
    yield from ((Platform, p) for p in hardware.platforms)
    yield from ((ServerProfile, s) for s in hardware.servers)
    yield from ((ImageSpec, i) for i in load_images())
    yield from ((CannVersion, c) for c in load_cann_versions())
    formats = known_formats()
    yield from ((ArchitectureSpec, a) for a in formats.architectures.values())
    yield from ((QuantizationSpec, q) for q in formats.quantizations.values())
    yield RuleFile, RuleFile(rules=tuple(compiled.rule for compiled in load_rules()))
    yield PlanRequest, validate(PlanRequest, {"instances": [{"model": "Qwen3-8B", "npus": "4-7", "port": 8001}]})
    yield PlanRequest, validate(
        PlanRequest,
        {"instances": [{"model": "a"}, {"model": "b", "gpu_memory_utilization": 0.5}], "gateway": True,
         "api_key_env": True, "catalogs": ["x.yaml"]},
    )  # fmt: skip
    yield (
        PlanRequest,
        validate(PlanRequest, {"instances": [{"model": "m"}], "nodes": ["10.0.0.1:eth0", "10.0.0.2:eth0"]}),
    )
    yield ServerRequest, validate(ServerRequest, {"gpustack_version": "0.7", "npus": [0, 1]})
    yield WorkerRequest, validate(WorkerRequest, {"server_url": "http://10.0.0.1:8080/", "npus": "0-3"})


ENTRIES = list(entries())


def as_input(value: Any) -> Any:
    """A record as YAML gives it: mappings and lists (tuples become lists, as YAML has no tuples)."""
    if isinstance(value, Record):
        return {f.name: as_input(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [as_input(item) for item in value]
    if isinstance(value, dict):
        return {key: as_input(item) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("cls", "entry"), ENTRIES, ids=lambda x: getattr(x, "name", type(x).__name__))
def test_every_built_in_entry_is_read_plainly_as_pydantic_reads_it(cls: type[Record], entry: Record) -> None:
    """`plain` is no dead code: every real entry takes it, and gets the record pydantic makes of the same input."""
    data = as_input(entry)
    assert pydantic_reads(cls, data) == entry
    found = plain(cls, data)
    assert found == entry and repr(found) == repr(entry)


# Values a field may be given in place of its own: wrong types YAML produces, bounds, odd text, a mapping with a key
# of the wrong type, whole numbers past a float's exact range.
ODD_LIST: list[Any] = [
    None, True, False, 0, 1, -1, 2, 65535, 65536, 2**53, 2**60, 10**30, 0.0, -0.0, 0.5, 1.0, 1.5, -0.5, float("nan"),
    float("inf"), "", " ", "x", "8", "x\n", "a\tb", "bfloat16", "moe", "mla", "gqa", "w8a8", "v0.9.2", "v0.9.2\n",
    "/dev/x", "/a:b", "8.2.rc1", "https://x", [], {}, [1], ["x"], [[0, 1]], {"x": 1}, {"910B4": 2}, {"910B4": 0},
    {1: 2}, ("x",), (1,), {"kv_lora_rank": 512},
]  # fmt: skip
ODD_VALUES = st.one_of(st.sampled_from(ODD_LIST), st.text(max_size=6), st.integers(), st.floats())


def representatives() -> list[tuple[type[Record], Record]]:
    """One entry of each record class, the one with the most fields set, and the records found inside them (a plan
    request's instance, a model's MLA dimensions, a diagnosis rule)."""

    def fields_set(entry: Record) -> int:
        return sum(getattr(entry, f.name) not in (None, (), {}) for f in dataclasses.fields(entry))

    fullest: dict[type[Record], Record] = {}
    found = [entry for _, entry in ENTRIES]
    while found:
        entry = found.pop(0)
        known = fullest.get(type(entry))
        if known is None or fields_set(entry) > fields_set(known):
            fullest[type(entry)] = entry
        for f in dataclasses.fields(entry):
            value = getattr(entry, f.name)
            found.extend(item for item in (value if isinstance(value, tuple) else (value,)) if isinstance(item, Record))
    return [(type(entry), entry) for entry in fullest.values()]


REPRESENTATIVES = representatives()


@given(data=st.data())
def test_plain_never_takes_what_pydantic_refuses_nor_reads_it_otherwise(data: st.DataObject) -> None:
    """The soundness `validate` rests on: for a real entry with one field changed (or added, or dropped), `plain`
    either leaves the decision to pydantic or makes exactly the record pydantic makes."""
    cls, entry = data.draw(st.sampled_from(ENTRIES))
    raw = as_input(entry)
    names = [f.name for f in dataclasses.fields(cls)]
    change = data.draw(st.sampled_from(["set", "set", "set", "drop", "add"]))
    if change == "set":
        raw[data.draw(st.sampled_from(names))] = data.draw(ODD_VALUES)
    elif change == "drop":
        raw.pop(data.draw(st.sampled_from(names)))
    else:
        raw["unknown_field"] = data.draw(ODD_VALUES)
    found = plain(cls, raw)
    if found is not records._UNSURE:
        made = pydantic_reads(cls, raw)
        assert made == found and repr(made) == repr(found)  # repr: 1 and 1.0 are equal, but not the same


def test_the_representatives_cover_the_nested_records() -> None:
    names = {cls.__name__ for cls, _ in REPRESENTATIVES}
    assert {"ModelSpec", "MlaDims", "PlanRequest", "InstanceRequest", "RuleFile", "Rule", "ImageSpec"} <= names


@pytest.mark.parametrize(("cls", "entry"), REPRESENTATIVES, ids=[cls.__name__ for cls, _ in REPRESENTATIVES])
def test_plain_is_sound_for_each_odd_value_in_each_field_of_each_record(cls: type[Record], entry: Record) -> None:
    """The property above, exhaustively for one entry of each record (nested ones too): every field, every odd value.
    The random draws favour the catalog's many models; this reaches each float, dict and tuple field every run."""
    raw = as_input(entry)
    assert plain(cls, raw) == entry  # unchanged, it is read plainly: each change below is one step from there
    for name in (f.name for f in dataclasses.fields(cls)):
        for value in ODD_LIST:
            changed = {**raw, name: value}
            found = plain(cls, changed)
            if found is not records._UNSURE:
                made = pydantic_reads(cls, changed)
                assert made == found and repr(made) == repr(found), (name, value)


@dataclass(frozen=True, kw_only=True)
class Sample(Record):
    """Each marker once: a bounded number, a text pattern, a before and an after function, a cross-field rule."""

    count: Annotated[int, Rule(gt=0, le=8)]
    name: Annotated[str, Rule(min_length=1, pattern=r"^[a-z]+$")] = "a"
    words: Annotated[tuple[str, ...], Before(lambda v: tuple(v.split()) if isinstance(v, str) else v)] = ()
    upper: Annotated[str, After(str.upper)] | None = None
    share: Annotated[float, Rule(gt=0, le=1)] = 0.5

    def _check(self) -> None:
        if self.name == "bad":
            raise ValueError("name bad is refused")


@pytest.mark.parametrize(
    ("data", "made"),
    [
        ({"count": 3}, Sample(count=3)),
        ({"count": 8, "name": "xy", "words": "a b", "upper": "q", "share": 1.0},
         Sample(count=8, name="xy", words=("a", "b"), upper="Q", share=1.0)),
    ],
)  # fmt: skip
def test_plain_applies_every_marker(data: dict[str, Any], made: Sample) -> None:
    assert plain(Sample, data) == made == pydantic_reads(Sample, data)


@pytest.mark.parametrize(
    ("data", "kind", "where", "message"),
    [
        ({"count": 0}, "greater_than", ("count",), "Input should be greater than 0"),
        ({"count": 9}, "less_than_equal", ("count",), "Input should be less than or equal to 8"),
        ({"count": True}, "int_type", ("count",), "Input should be a valid integer"),
        ({"count": "3"}, "int_type", ("count",), "Input should be a valid integer"),
        ({"count": 1, "name": ""}, "string_too_short", ("name",), "String should have at least 1 character"),
        ({"count": 1, "name": "ab\n"}, "string_pattern_mismatch", ("name",), "String should match pattern"),
        ({"count": 1, "share": float("nan")}, "finite_number", ("share",), "Input should be a finite number"),
        ({"count": 1, "words": ["a", 1]}, "tuple_type", ("words",), "Input should be a valid tuple"),
        ({"count": 1, "name": "bad"}, "value_error", (), "Value error, name bad is refused"),
        ({"count": 1, "typo": 1}, "extra_forbidden", ("typo",), "Extra inputs are not permitted"),
        ({}, "missing", ("count",), "Field required"),
        ("count: 1", "dataclass_type", (), "Input should be a dictionary or an instance of Sample"),
    ],
)
def test_a_refusal_is_pydantics_own(data: Any, kind: str, where: tuple[str, ...], message: str) -> None:
    """Strict types (no bool for an int, no text for a number), constraints, the record's own rule and unknown
    fields, each reported as a model's error (what yamlfile and the flags' messages read)."""
    assert plain(Sample, data) is records._UNSURE
    with pytest.raises(RecordError) as refused:
        validate(Sample, data)
    error = refused.value.errors()[0]
    assert (error["type"], error["loc"]) == (kind, where)
    assert error["msg"].startswith(message)


def test_a_list_where_a_tuple_is_meant_is_left_to_pydantic_and_refused() -> None:
    assert plain(Sample, {"count": 1, "words": ["a"]}) is records._UNSURE  # only Items turn a list into a tuple


@dataclass(frozen=True)
class Point:
    """A dataclass that is no record (pydantic, strict, takes only an instance of it)."""

    x: int


@dataclass(frozen=True, kw_only=True)
class Shapes(Record):
    """Each shape `plain` reads that Sample lacks: a union without None, a float given whole numbers, records inside a
    record (alone and in a tuple), a mapping of tuples, a dataclass that is no record, a strict Rule, a constraint
    `plain` does not check, a Literal of mixed types."""

    either: int | str = 0
    big: float = 0.0
    inner: Sample | None = None
    many: tuple[Sample, ...] = ()
    table: dict[str, tuple[int, ...]] = field(default_factory=dict)
    point: Point | None = None
    strict: Annotated[int, Rule(strict=True, ge=1)] = 1
    even: Annotated[int, Rule(multiple_of=2)] = 0
    kind: Literal["a", 1] = "a"


@pytest.mark.parametrize(
    ("data", "made"),
    [
        ({"either": 1}, Shapes(either=1)),
        ({"either": "x"}, Shapes(either="x")),
        ({"big": 3}, Shapes(big=3.0)),
        ({"big": 1000}, Shapes(big=1000.0)),
        ({"big": -(2**53 - 1)}, Shapes(big=-9007199254740991.0)),
        ({"big": 0.25}, Shapes(big=0.25)),
        ({"inner": {"count": 2}}, Shapes(inner=Sample(count=2))),
        ({"inner": Sample(count=2)}, Shapes(inner=Sample(count=2))),
        ({"many": ({"count": 1, "words": "p q"}, Sample(count=2))},
         Shapes(many=(Sample(count=1, words=("p", "q")), Sample(count=2)))),
        ({"table": {"a": (1, 2), "b": ()}}, Shapes(table={"a": (1, 2), "b": ()})),
        ({"point": Point(x=1)}, Shapes(point=Point(x=1))),
        ({"strict": 2}, Shapes(strict=2)),
        ({"kind": 1}, Shapes(kind=1)),
    ],
)  # fmt: skip
def test_plain_reads_each_shape_it_knows(data: dict[str, Any], made: Shapes) -> None:
    """Plainly valid values of each shape are read without pydantic (no dead branches), as pydantic reads them; repr
    tells a float 3.0 from an int 3."""
    found = plain(Shapes, data)
    assert found == made and repr(found) == repr(made)
    assert repr(pydantic_reads(Shapes, data)) == repr(made)


@pytest.mark.parametrize(
    ("data", "made"),
    [
        ({"either": None}, None),
        ({"either": True}, None),
        ({"big": "1"}, None),
        ({"big": True}, None),
        ({"big": float("inf")}, None),
        ({"big": 10**400}, None),  # no float holds it
        ({"inner": {"count": 0}}, None),
        ({"many": ({"count": 1}, {"count": 9})}, None),
        ({"table": {1: (1,)}}, None),  # a key of the wrong type, the value right
        ({"table": {"a": (1,), "b": ("x",)}}, None),
        ({"table": [("a", (1,))]}, None),
        ({"point": {"x": 1}}, None),  # strict: a mapping does not make a dataclass that is no record
        ({"strict": 0}, None),  # the Rule after `strict` still applies
        ({"kind": "1"}, None),
        ({"even": 3}, None),
        ({"even": 4}, Shapes(even=4)),  # multiple_of: plain does not check it, pydantic does
    ],
)
def test_plain_leaves_to_pydantic_what_it_is_not_sure_of(data: dict[str, Any], made: Shapes | None) -> None:
    """`plain` gives no answer; `validate` then gives pydantic's (here worked out by hand: refused, or taken)."""
    assert plain(Shapes, data) is records._UNSURE
    assert pydantic_reads(Shapes, data) == made
    if made is None:
        with pytest.raises(RecordError):
            validate(Shapes, data)
    else:
        assert validate(Shapes, data) == made


def test_validate_answers_plainly_valid_input_without_pydantic(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pydantic(cls: type[Record]) -> Any:
        raise AssertionError(f"pydantic's validator built for {cls.__name__}")

    monkeypatch.setattr(records, "_adapter", no_pydantic)
    assert validate(Shapes, {"big": 3, "inner": {"count": 2}}) == Shapes(big=3.0, inner=Sample(count=2))
    with pytest.raises(AssertionError, match="built for Shapes"):
        validate(Shapes, {"even": 4})


def test_markers_made_at_run_time() -> None:
    """A record defined inside a test: its Rule, Before and After are made while the test runs (the records above
    were made on import), and pydantic's validator is built from them."""

    @dataclass(frozen=True, kw_only=True)
    class Late(Record):
        n: Annotated[int, Rule(gt=0, strict=True)]
        s: Annotated[str, Before(lambda v: v.strip() if isinstance(v, str) else v), After(str.upper)] = ""

    data = {"n": 2, "s": " ab "}
    assert plain(Late, data) == Late(n=2, s="AB") == pydantic_reads(Late, data)
    assert Rule(ge=1, strict=True).allows(1) and not Rule(strict=True, ge=1).allows(0)
    for refused in ({"n": 0}, {"n": 2, "s": 1}):
        assert plain(Late, refused) is records._UNSURE and pydantic_reads(Late, refused) is None


def test_a_refusal_reads_as_pydantics_text() -> None:
    with pytest.raises(RecordError) as refused:
        validate(Sample, {"count": 0})
    text = str(refused.value)
    assert "1 validation error" in text and "count\n  Input should be greater than 0" in text


def test_defaults_and_record_fields() -> None:
    assert defaults(Shapes) == {
        "either": 0, "big": 0.0, "inner": None, "many": (), "table": {}, "point": None, "strict": 1, "even": 0,
        "kind": "a",
    }  # fmt: skip
    assert defaults(Sample) == {"name": "a", "words": (), "upper": None, "share": 0.5}  # count is required
    found = record_fields(Sample)
    assert list(found) == ["count", "name", "words", "upper", "share"]
    assert get_args(found["share"])[0] is float and get_args(found["share"])[1].constraints == {"gt": 0, "le": 1}
    assert get_args(found["upper"]) == (get_args(found["upper"])[0], type(None))  # Annotated[str, After] | None


DUMP_OPTIONS = [
    {}, {"exclude_defaults": True}, {"exclude_none": True}, {"json": True},
    {"exclude_defaults": True, "exclude_none": True, "json": True},
]  # fmt: skip


@pytest.mark.parametrize("options", DUMP_OPTIONS, ids=lambda o: "+".join(o) or "plain")
def test_dump_is_pydantics_dump_for_every_built_in_entry(options: dict[str, bool]) -> None:
    """`dump` against pydantic's own dump of the same record (TypeAdapter.dump_python; json: mode "json")."""
    pydantic_options = {key: value for key, value in options.items() if key != "json"}
    mode = "json" if options.get("json") else "python"
    for cls, entry in [*ENTRIES, (Shapes, SHAPES)]:
        expected = records._adapter(cls).dump_python(entry, mode=mode, **pydantic_options)
        assert dump(entry, **options) == expected, (cls.__name__, getattr(entry, "name", ""))


SHAPES = Shapes(
    either="x", big=2.5, inner=Sample(count=1, upper="Q"), many=(Sample(count=2), Sample(count=1, share=1.0)),
    table={"a": (1, 2), "b": ()}, point=Point(x=3),
)  # fmt: skip


def test_dump_reaches_into_records_tuples_and_mappings() -> None:
    """Worked out by hand: the options apply inside nested records, tuples stay tuples unless json."""
    assert dump(SHAPES, exclude_defaults=True) == {
        "either": "x", "big": 2.5, "inner": {"count": 1, "upper": "Q"},
        "many": ({"count": 2}, {"count": 1, "share": 1.0}), "table": {"a": (1, 2), "b": ()}, "point": {"x": 3},
    }  # fmt: skip
    assert dump(SHAPES, exclude_none=True, json=True)["inner"] == {
        "count": 1, "name": "a", "words": [], "upper": "Q", "share": 0.5,
    }  # fmt: skip
    assert dump(SHAPES, json=True)["table"] == {"a": [1, 2], "b": []}
    nodes = validate(PlanRequest, {"instances": [{"model": "m"}], "nodes": ["10.0.0.1:eth0", "10.0.0.2:eth1"]})
    assert dump(nodes, json=True)["nodes"] == [
        {"address": "10.0.0.1", "interface": "eth0"}, {"address": "10.0.0.2", "interface": "eth1"}
    ]  # fmt: skip
    everything = dump(Shapes())
    assert list(everything) == [f.name for f in dataclasses.fields(Shapes)]
    assert everything["inner"] is None and everything["table"] == {} and everything["many"] == ()


def test_dump_is_pydantics_model_dump() -> None:
    spec = load_catalog().get("DeepSeek-V3")
    data = dump(spec)
    assert data["mla"] == {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128}
    assert validate(ModelSpec, data) == spec
    assert "vision" not in dump(spec, exclude_defaults=True) and "mla" in dump(spec, exclude_defaults=True)
    assert "served_name" not in dump(spec, exclude_none=True)
    assert dump(spec, json=True)["serve_flags"] == list(spec.serve_flags)
    assert isinstance(dump(spec)["serve_flags"], tuple)


_PLAN_IMPORTS = """
import json, sys
from ascendgen.plans import make_plans
from ascendgen.request import request_from_flags
from ascendgen.cli.tables import plan_table
request = request_from_flags(["Qwen3-30B-A3B"], {"npus": "4-7", "port": 8001, "gpu_memory_utilization": 0.9,
                                                 "max_model_len": 16384, "host": "127.0.0.1"})
plan_table(make_plans(request)[0])
print(json.dumps(sorted(sys.modules)))
"""


def test_planning_the_built_in_data_from_plain_flags_imports_no_pydantic() -> None:
    done = subprocess.run([sys.executable, "-c", _PLAN_IMPORTS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    modules = {name.split(".")[0] for name in json.loads(done.stdout)}
    assert "ascendgen" in modules and "pydantic" not in modules and "pydantic_core" not in modules


def test_a_refused_flag_is_worded_by_pydantic() -> None:
    from ascendgen.errors import InputError
    from ascendgen.request import request_from_flags

    with pytest.raises(InputError, match=r"^--port 70000: Input should be less than or equal to 65535$"):
        request_from_flags(["Qwen3-8B"], {"port": 70000})
    assert validate(InstanceRequest, {"model": "m", "npus": [6, 4]}).npus == (4, 6)
