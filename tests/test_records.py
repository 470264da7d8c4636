"""Records (ascendgen.records): `plain`, the reading without pydantic, answers only for values pydantic takes, and
gives what pydantic gives; `validate` words every refusal as pydantic does; planning the built-in data and a plain
request imports no pydantic."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

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
from ascendgen.records import After, Before, Record, RecordError, Rule, dump, plain, validate
from ascendgen.request import InstanceRequest, PlanRequest


def pydantic_reads(cls: type[Record], data: Any) -> Record | None:
    """What pydantic's validator of the record makes of `data` (None: refused)."""
    try:
        return records._adapter(cls).validate_python(data)  # type: ignore[no-any-return]
    except ValueError:  # pydantic's ValidationError is one
        return None


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


# Values a field may be given in place of its own: wrong types YAML produces, bounds, odd text.
ODD_VALUES = st.one_of(
    st.sampled_from(
        [None, True, False, 0, 1, -1, 2, 65535, 65536, 10**30, 0.0, 0.5, 1.0, 1.5, -0.5, float("nan"), float("inf"),
         "", " ", "x", "8", "x\n", "a\tb", "bfloat16", "moe", "mla", "gqa", "w8a8", "v0.9.2", "v0.9.2\n", "/dev/x",
         "/a:b", "8.2.rc1", "https://x", [], {}, [1], ["x"], [[0, 1]], {"x": 1}, {"910B4": 2}, {"910B4": 0},
         ("x",), {"kv_lora_rank": 512}]
    ),
    st.text(max_size=6),
    st.integers(),
    st.floats(),
)  # fmt: skip


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
