""".env as docker compose reads it: every value ascendgen writes resolves, in Compose v2 itself, to exactly
the value given; read_env_file reads any .env as Compose does (same values, same refusals); updating a .env
keeps what else it holds."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ascendgen.envfile import ignore_env_in_git, parse_env, quote, read_env_file, updated_env_text
from ascendgen.errors import InputError

UNSET = "UNSET-SENTINEL"  # what the probe compose file shows for a name .env leaves unset
SHELL = {"SHELL_VAR": "from-shell", "EMPTY_VAR": ""}  # the environment compose and read_env_file both see


pytestmark = pytest.mark.usefixtures("compose_v2")  # every test here asks Compose v2 itself


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with TemporaryDirectory(prefix="ascendgen-envfile-") as name:
        yield Path(name)


def compose_reads(directory: Path, env_text: str, names: list[str]) -> dict[str, str] | str:
    """What Compose v2 makes of `env_text` as the project's .env: the value of each of `names` (those it
    leaves unset left out), or the last line of its error."""
    (directory / ".env").write_text(env_text, encoding="utf-8", newline="")
    probes = "".join(f'      {name}: "${{{name}-{UNSET}}}"\n' for name in names)
    (directory / "compose.yml").write_text(f"services:\n  probe:\n    image: busybox\n    environment:\n{probes}")
    environ = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **SHELL}
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=directory, capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1]
    found = json.loads(done.stdout)["services"]["probe"].get("environment") or {}
    # `config` prints a literal `$` as `$$` (it stays a valid compose file); the container sees one `$`
    return {name: value.replace("$$", "$") for name, value in found.items() if value != UNSET}


def ours(env_text: str, names: list[str]) -> dict[str, str] | str:
    try:
        values = {**parse_env(env_text, SHELL), **SHELL}  # for compose.yml, the shell wins over .env
    except InputError as exc:
        return str(exc)
    return {name: value for name, value in values.items() if name in names}


# ---- writing: what is written is what compose reads ---------------------------------------------------------

NASTY = [
    "sk-a$b c", "a#b", "a #b", "#", "'", '"', "\\", "\\\\", "a\\", "\\'", "\\\"", "'\"", "$", "$$", "$A", "${A}",
    "${SHELL_VAR}", "$SHELL_VAR", "${A:-x}", "\\$", "\\n", "\\0101", "\\c", " lead", "trail ", "  ", "a b  c",
    "export X", "x=y", "x: y", "`id`", "$(id)", "%s", "{}", "é ü 漢字", "😀", "'single'", '"double"', "#!x",
]  # fmt: skip
printable = st.text(st.characters(codec="utf-8"), max_size=24).filter(str.isprintable)
special = st.text(st.sampled_from(list("ab $#'\"\\{}:-+?=`!\\n0")), max_size=24)


@pytest.mark.parametrize("value", NASTY)
def test_quote_reads_back_in_our_reader(value: str) -> None:
    assert parse_env(f"K={quote(value)}\n", SHELL) == {"K": value}


def test_plain_values_stay_unquoted_and_others_are_quoted_as_compose_needs() -> None:
    assert quote("sk-test-123") == "sk-test-123"
    assert quote("a b") == "'a b'"  # single quotes: literal
    assert quote("sk-a$b c") == "'sk-a$b c'"
    assert quote("it's") == '"it\'s"'  # double quotes: \\ \" \$ escaped
    assert quote('a\\b"c$d') == '"a\\\\b\\"c\\$d"'
    with pytest.raises(InputError, match="one line of printable text"):
        quote("a\nb")


def test_every_nasty_value_reads_back_exactly_in_compose(scratch: Path) -> None:
    values = {f"K{index}": value for index, value in enumerate(NASTY)}
    text = updated_env_text("", values)
    assert compose_reads(scratch, text, list(values)) == values


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.one_of(printable, special), min_size=1, max_size=25))
@example(values=NASTY)
def test_any_printable_value_reads_back_exactly_in_compose(scratch: Path, values: list[str]) -> None:
    wanted = {f"K{index}": value for index, value in enumerate(values)}
    text = updated_env_text("", wanted)
    assert compose_reads(scratch, text, list(wanted)) == wanted
    assert parse_env(text, SHELL) == wanted


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\there", "nul\0", "\u2028", "\ufeffbom", "nbsp\xa0"])
def test_a_value_that_is_not_one_printable_line_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="line break, tab or other invisible character"):
        updated_env_text("", {"K": value})


# ---- reading: as compose reads ------------------------------------------------------------------------------

READ_CASES = [
    "A=x # comment\nB=y#not-a-comment\nC=  spaced out  \n",
    "A='lit\\'eral $B \\n'\nB=\"q\\\"r\\\\s\\$t $A ${A} $$ \\n\\t\\c\\0101\\0400\\08\"\n",
    "export A = 1\nB: yaml style\n  C=indented\n",
    "A=${SHELL_VAR:-d}\nB=${NOPE:-d${SHELL_VAR}}\nC=${SHELL_VAR:+alt}x${EMPTY_VAR:-e}${EMPTY_VAR-f}\n",
    "A=${NOPE-x}${SHELL_VAR?}${NOPE+y}${EMPTY_VAR:+z}\n",
    "A=1\nB=$A-${A}\nA=2\nC=$A\n",  # later values see earlier ones; the last one wins
    'A="multi\nline" # c\nB=after\n',
    'A="x"B=3\n',  # compose reads on after a closing quote
    "\ufeffA=bom\n",
    "A=a\tb # c\t#d\n",
    "A=${SHELL_VAR:-x}${SHELL_VAR}}\n",
    "SHELL_VAR\nA=$SHELL_VAR\nNOPE\n",  # a bare name takes the shell's value
    "  # comment\n\n\tA=x\r\nB='y'\r\n",
    "A=1\nB",  # a last line without `=` or newline
    "A=\nB=''\nC=\"\"\n",
    "A=${NOPE}${NOPE:-}$NOPE\n",
    "A=$1 $ $-x\n",
    # what compose refuses, we refuse
    "A='unterminated\n",
    'A="unterminated\n',
    "A B=1\n",
    "A=${NOPE:?needed}\n",
    "A=${EMPTY_VAR:?needed}\n",
    "A=${\n",
    "A=${}\n",
    "A/B=1\n",
    "A$=1\n",
]


@pytest.mark.parametrize("text", READ_CASES)
def test_read_like_compose(scratch: Path, text: str) -> None:
    names = ["A", "B", "C", "SHELL_VAR", "NOPE"]
    theirs = compose_reads(scratch, text, names)
    mine = ours(text, names)
    if isinstance(theirs, str):
        assert isinstance(mine, str), f"compose refuses ({theirs}), we read {mine}"
    else:
        assert mine == theirs


statement = st.builds(
    lambda lead, export, name, sep, value, end: f"{lead}{export}{name}{sep}{value}{end}",
    st.sampled_from(["", " ", "\t", "# c\n"]),
    st.sampled_from(["", "export "]),
    st.sampled_from(["A", "B", "C", "SHELL_VAR", "NOPE", "A B", "A.b"]),
    st.sampled_from(["=", " = ", ":", "", "=\n"]),
    st.text(st.sampled_from(list("ab $#'\"\\{}:-+?=\t\nAB_")), max_size=14),
    st.sampled_from(["\n", "", " # c\n", "\r\n"]),
)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(statement, max_size=5))
def test_any_env_text_reads_like_compose(scratch: Path, lines: list[str]) -> None:
    text = "".join(lines)
    names = ["A", "B", "C", "SHELL_VAR", "NOPE"]
    theirs = compose_reads(scratch, text, names)
    mine = ours(text, names)
    if isinstance(theirs, str):
        assert isinstance(mine, str), f"compose refuses ({theirs}), we read {mine}"
    else:
        assert mine == theirs


def test_read_env_file(tmp_path: Path) -> None:
    assert read_env_file(tmp_path) == {}
    (tmp_path / ".env").write_text("A='x # y'\nB=${A}z\nexport C=\"\\$q\"\n")
    assert read_env_file(tmp_path, {}) == {"A": "x # y", "B": "x # yz", "C": "$q"}
    (tmp_path / ".env").write_text("A=1\nB='open\n")
    with pytest.raises(InputError, match=r"\.env, line 2: unterminated quoted value"):
        read_env_file(tmp_path)


# ---- updating an existing .env -------------------------------------------------------------------------------


def test_update_keeps_everything_else_and_replaces_every_statement_of_the_name(scratch: Path) -> None:
    existing = (
        "# my settings\n"
        "OTHER='kept as is' # with a comment\n"
        "VLLM_API_KEY=old # rotated monthly\n"
        'export VLLM_API_KEY="older\n'
        'over two lines"\n'
        "VLLM_API_KEY\n"
        "LAST=1"
    )
    text = updated_env_text(existing, {"VLLM_API_KEY": "new $ key", "ADDED": "x"})
    assert text == (
        "# my settings\n"
        "OTHER='kept as is' # with a comment\n"
        "VLLM_API_KEY='new $ key' # rotated monthly\n"
        "export VLLM_API_KEY='new $ key'\n"
        "VLLM_API_KEY='new $ key'\n"
        "LAST=1\n"
        "ADDED=x\n"
    )
    assert compose_reads(scratch, text, ["VLLM_API_KEY", "OTHER", "LAST", "ADDED"]) == {
        "VLLM_API_KEY": "new $ key", "OTHER": "kept as is", "LAST": "1", "ADDED": "x",
    }  # fmt: skip


def test_update_refuses_a_file_compose_cannot_read() -> None:
    with pytest.raises(InputError, match="line 2: unterminated quoted value"):
        updated_env_text("A=1\nB='open\n", {"VLLM_API_KEY": "k"})


def test_gitignore_lists_env_once() -> None:
    assert ignore_env_in_git(None) == "# secrets for docker compose (ascendgen)\n.env\n"
    assert ignore_env_in_git("node_modules") == "node_modules\n# secrets for docker compose (ascendgen)\n.env\n"
    assert ignore_env_in_git("/.env\n") is None
    assert ignore_env_in_git("x\n .env \n") is None
