"""The YAML quoting filter and the rendered file: every outside value reads back exactly."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from ascendgen.render import yaml_quote


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
