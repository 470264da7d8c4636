"""Secrets live in the deployment directory's `.env` (mode 0600, git-ignored), never in compose.yml:
docker compose reads `.env` beside the compose file and interpolates `${NAME}` references from it.

Compose reads `.env` with its own dotenv dialect (compose-spec/compose-go, dotenv/parser.go and
template/template.go), not the shell's: an unquoted value ends at ` #` and loses trailing blanks, `'...'` is
literal but for `\\'`, `"..."` takes backslash escapes, and both unquoted and double-quoted values expand
`$NAME`, `${NAME:-default}` and `$$`. This module writes values so that Compose reads back exactly what was
given (`quote`), and reads a file back the way Compose does (`read_env_file`). Read from compose-go at
e70e961 and checked against Compose v2.40.3 by tests/test_envfile.py."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ascendgen.errors import AscendgenError, InputError

ENV_FILE = ".env"
GITIGNORE = ".gitignore"
_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class EnvRef:
    """A value compose takes from `.env` at run time: rendered as `${NAME:?...}`, so compose refuses to
    start when it is missing instead of passing an empty secret."""

    name: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InputError(f"'{self.name}' is not an environment variable name")

    def __str__(self) -> str:
        return f"${{{self.name}:?set {self.name} in {ENV_FILE}}}"


def generate_secret() -> str:
    import secrets  # here: what it imports (hashlib, random, hmac) is of no use to a plan that writes no key

    return secrets.token_urlsafe(32)


# ---- writing a value ----------------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")  # nothing compose's unquoted reading changes


def quote(value: str) -> str:
    """`value` as a .env value compose reads back unchanged: bare when nothing in it is special, in single
    quotes (literal) when it holds no `'` or `\\`, else in double quotes with `\\`, `"` and `$` escaped
    (`\\$` reads as `$$`, which interpolation turns into one `$`)."""
    check_value("the value", value)
    if _BARE.fullmatch(value):
        return value
    if "'" not in value and "\\" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def check_value(name: str, value: str) -> None:
    """A .env value is one line of printable text: compose would keep a tab or an invisible character as
    given, but a reader cannot see it, and a line break would end the value in every other .env reader."""
    if not value.isprintable():
        raise InputError(
            f"{name} has a line break, tab or other invisible character: a .env value must be one line of "
            "printable text"
        )


# ---- reading: compose's dotenv dialect ----------------------------------------------------------------------

# Go's unicode.IsSpace (what compose trims around statements and unquoted values) ...
_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
# ... and parser.go's isSpace, the blanks that do not end a line.
_BLANK = frozenset("\t\v\f\r \x85\xa0")
_EXPORT = re.compile(r"export[\t\n\f\r ]+")  # parser.go exportRegex; RE2's \s is ASCII only
_KEY_PUNCTUATION = frozenset("_.-[]")
# parser.go escapeSeqRegex: the escapes a double-quoted value takes
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
# what Go's strconv.UnquoteChar makes of each; `\c` is no Go escape, so compose keeps it as written
_ESCAPED_CHAR = {"a": "\a", "b": "\b", "c": "\\c", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED_CHAR |= {'"': '"', "\\": "\\"}
# template.go's pattern: `$$`, `$name`, `${name...}`, or an invalid `${`
_TEMPLATE = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))"
)
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


@dataclass(frozen=True)
class _Statement:
    """One `NAME=value` of a .env file: where its value is written, and the value before escapes and
    interpolation. `quote` is "'", '"', "" (unquoted) or None (a bare `NAME` line: taken from the shell)."""

    name: str
    quote: str | None
    body: str
    start: int  # the written value: text[start:end]
    end: int


def _statements(text: str) -> list[_Statement]:
    """The statements of a .env text, as compose-go's dotenv parser splits them. Raises InputError with
    the line number where compose would refuse the file."""
    import unicodedata  # here: only a .env being read needs it

    found: list[_Statement] = []
    pos = 1 if text.startswith("\ufeff") else 0  # compose skips a UTF-8 byte order mark
    size = len(text)

    def fail(at: int, problem: str) -> InputError:
        return InputError(f"line {text.count(chr(10), 0, at) + 1}: {problem}")

    while True:
        while pos < size and text[pos] in _SPACE:
            pos += 1
        if pos >= size:
            return found
        if text[pos] == "#":  # a comment line
            newline = text.find("\n", pos)
            if newline < 0:
                return found
            pos = newline
            continue
        export = _EXPORT.match(text, pos)
        if export:
            pos += len("export")
            while pos < size and text[pos] in _BLANK:
                pos += 1
        start, end, separator = pos, pos, ""
        while end < size:
            char = text[end]
            if char in "=:\n":
                separator = char
                break
            if not (char in _BLANK or char in _KEY_PUNCTUATION or unicodedata.category(char)[0] in "LN"):
                line = text[start:].split("\n", 1)[0]
                raise fail(end, f"unexpected character {char!r} in variable name {line!r}")
            end += 1
        if separator:
            name = text[start:end].rstrip("".join(_SPACE))
            if " " in name:
                raise fail(end, "key cannot contain a space")
            pos = end + 1
            while pos < size and text[pos] in _BLANK:
                pos += 1
        else:  # the last line, without `=` or a line break: compose reads it as a value with an empty name
            name, pos = "", start
        if separator == "\n":
            found.append(_Statement(name, None, "", end, end))
            continue
        if pos < size and text[pos] in "'\"":
            statement, pos = _quoted(text, pos, name, fail)
        else:
            line_end = text.find("\n", pos)
            line_end = size if line_end < 0 else line_end
            body = text[pos:line_end].split(" #", 1)[0].rstrip("".join(_SPACE))
            statement = _Statement(name, "", body, pos, pos + len(body))
            pos = line_end
        found.append(statement)


def _quoted(text: str, pos: int, name: str, fail: Callable[[int, str], InputError]) -> tuple[_Statement, int]:
    """A quoted value from `pos` (its opening quote) on. Inside, a backslash escapes the closing quote and
    is otherwise kept with the character after it; a double-quoted value's escapes are expanded later."""
    mark = text[pos]
    chars: list[str] = []
    escaped = False
    for index in range(pos + 1, len(text)):
        char = text[index]
        if char != mark:
            if char == "\\" and not escaped:
                escaped = True
                continue
            chars.append("\\" + char if escaped else char)
            escaped = False
        elif escaped:
            chars.append(char)
            escaped = False
        else:
            return _Statement(name, mark, "".join(chars), pos, index + 1), index + 1
    raise fail(pos, f"unterminated quoted value {text[pos:].split(chr(10), 1)[0]}")


def _expand_escapes(body: str) -> str:
    """parser.go expandEscapes: `\\n` and friends, `\\0NNN` (octal), and `\\$` as `$$` (a literal `$`)."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(0)
        if escape == "\\$":
            return "$$"
        if escape.startswith("\\0"):  # `\0NNN` is Go's `\NNN`; compose drops the 0 even when NNN is no octal byte
            digits = escape[2:]
            if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) <= 0o377:
                return chr(int(digits, 8))
            return "\\" + digits
        return _ESCAPED_CHAR[escape[1]]

    return _ESCAPE.sub(one, body)


Lookup = Callable[[str], "str | None"]


def _substitute(template: str, lookup: Lookup) -> str:
    """template.go Substitute: `$$` -> `$`, `$NAME` and `${NAME}` -> the value (empty when unset), and
    `${NAME:-default}`, `-`, `:+`, `+`, `:?` and `?` as in the shell."""

    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        # the operator is the first one in the whole match (template.go getSubstitutionFunctionForTemplate)
        positions = [(found.find(op), op) for op in _OPERATORS if op in found]
        operator = min(positions)[1] if positions else None
        rest = ""
        closing = _first_closing_brace(found)
        if closing >= 0:
            found, rest = found[: closing + 1], found[closing + 1 :]
        groups = _TEMPLATE.match(found)
        if groups is None or groups.group("invalid") is not None:
            raise InputError(f"invalid interpolation format in {template!r}")
        if groups.group("escaped"):
            return "$"
        if groups.group("named"):
            return lookup(groups.group("named")) or ""
        braced = groups.group("braced")
        if operator is not None and operator in braced:
            return _apply(braced, operator, lookup) + _substitute(rest, lookup)
        return lookup(braced) or ""

    return _TEMPLATE.sub(one, template)


def _first_closing_brace(text: str) -> int:
    """template.go getFirstBraceClosingIndex, brace counting as compose does it."""
    depth, index = 0, 0
    while index < len(text):
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        if text[index] == "{":
            depth += 1
            index += 1
        index += 1
    return -1


def _apply(braced: str, operator: str, lookup: Lookup) -> str:
    name, argument = braced.split(operator, 1)
    value = lookup(name)
    if operator in (":?", "?"):
        if value is None or (operator == ":?" and value == ""):
            reason = _substitute(argument, lookup)
            raise InputError(f"required variable {name} is missing a value: {reason}")
        return value
    if operator in (":-", "-"):
        return _substitute(argument, lookup) if value is None or (operator == ":-" and value == "") else value
    if value is not None and (operator == "+" or value != ""):  # ":+" / "+"
        return _substitute(argument, lookup)
    return value or ""


def parse_env(text: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a .env text defines, as compose reads them: `environ` (the shell's environment) is
    looked up first, then the values defined above (compose-go dotenv/env.go GetEnvFromFile)."""
    values: dict[str, str] = {}

    def lookup(name: str) -> str | None:
        return environ[name] if name in environ else values.get(name)

    for statement in _statements(text):
        value = _value(statement, lookup)
        if value is not None:
            values[statement.name] = value
    return values


def _value(statement: _Statement, lookup: Lookup) -> str | None:
    if statement.quote is None:
        return lookup(statement.name)
    if statement.quote == "'":
        return statement.body
    if statement.quote == '"':
        return _substitute(_expand_escapes(statement.body), lookup)
    return _substitute(statement.body, lookup)


def read_env_file(directory: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """DIR/.env as compose reads it ({} when there is none); a file compose would refuse is refused."""
    path = directory / ENV_FILE
    if not path.is_file():
        return {}
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    try:
        return parse_env(text, os.environ if environ is None else environ)
    except InputError as exc:
        raise InputError(f"{path}, {exc}") from None


# ---- updating a .env text ------------------------------------------------------------------------------------


def updated_env_text(existing: str, values: Mapping[str, str]) -> str:
    """`existing` with `values` set: each statement of a name gets the new value in place (comments, order
    and every other line kept as they are), new names are appended. Raises InputError (with a line number)
    when compose could not read `existing`."""
    statements = _statements(existing)
    edits: list[tuple[int, int, str]] = []
    appended = []
    for name, value in values.items():
        EnvRef(name)
        check_value(f"the value of {name}", value)
        written = quote(value)
        mine = [s for s in statements if s.name == name]
        edits += [(s.start, s.end, written if s.quote is not None else "=" + written) for s in mine]
        if not mine:
            appended.append(f"{name}={written}")
    text = existing
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    if appended:
        text += ("\n" if text and not text.endswith("\n") else "") + "\n".join(appended) + "\n"
    # what compose will read: the last statement of each name wins, and a quoted value looks nothing up
    last = {s.name: s for s in _statements(text)}
    if any(_value(last[name], lambda _: None) != value for name, value in values.items()):
        raise AscendgenError("internal error: the new .env does not read back as the values given")
    return text


def ignore_env_in_git(existing: str | None) -> str | None:
    """.gitignore text that lists .env, or None when `existing` lists it already."""
    lines = existing.splitlines() if existing is not None else []
    if ENV_FILE in (line.strip() for line in lines) or f"/{ENV_FILE}" in (line.strip() for line in lines):
        return None
    return "\n".join([*lines, "# secrets for docker compose (ascendgen)", ENV_FILE]) + "\n"
