"""The YAML quoting filter and the rendered file: every outside value reads back exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ascendgen.errors import AscendgenError
from ascendgen.render import check_round_trip, yaml_quote


def read_back(quoted: str) -> str:
    # docker compose turns `$$` back into `$` when it interpolates; do the same here
    value = yaml.safe_load(f"key: {quoted}\nafter: 1\n")
    assert value["after"] == 1, "the quoted value must not swallow the next key"
    return str(value["key"]).replace("$$", "$")


def test_yaml_special_strings_read_back() -> None:
    for text in [
        "Qwen/Qwen3-8B",
        "yes",
        "no",
        "null",
        "~",
        "0-3",
        "1e3",
        "0x1F",
        "key: value",
        "- item",
        "#comment",
        "a # b",
        "{a: 1}",
        "[1, 2]",
        "*alias",
        "&anchor",
        "!tag",
        "|",
        ">",
        '"quoted"',
        "'single'",
        "back\\slash",
        "new\nline",
        "tab\tchar",
        "${HOME}",
        "$$",
        "中文模型",
        "\u2028line sep",
        "\x00nul",
        "",
    ]:
        assert read_back(yaml_quote(text)) == text, text


@given(st.text())
def test_any_text_reads_back(text: str) -> None:
    assert read_back(yaml_quote(text)) == text


def test_dollar_is_doubled_for_compose() -> None:
    assert yaml_quote("a$b") == '"a$$b"'


# ---- the round-trip check every template's output passes (render.check_round_trip) ---------------------------


@dataclass(frozen=True)
class Planned:
    name: str
    values: dict[str, object]

    def planned(self) -> dict[str, object]:
        return self.values


WRITTEN = """\
services:
  api:
    image: "img:1"
    command: ["--price", "$$5"]
    environment:
      KEY: "${KEY:?set KEY in .env}"
"""


def test_what_was_meant_reads_back() -> None:
    meant = Planned("api", {"image": "img:1", "command": ["--price", "$5"], "devices": [], "labels": {},
                            "environment": {"KEY": "${KEY:?set KEY in .env}"}})  # fmt: skip
    parsed = check_round_trip(WRITTEN, [meant])
    assert parsed["services"]["api"]["image"] == "img:1"


@pytest.mark.parametrize(
    "values",
    [
        {"image": "img:2"},
        {"command": ["--price", "$$5"]},  # `$$` is one `$` once compose has read it
        {"devices": ["/dev/davinci0"]},  # left out of the file, but planned
        {"environment": {"KEY": "other"}},
    ],
)
def test_what_was_not_meant_is_an_internal_error(values: dict[str, object]) -> None:
    with pytest.raises(AscendgenError, match=r"internal error: rendered \w+ of api does not read back as planned"):
        check_round_trip(WRITTEN, [Planned("api", values)])
