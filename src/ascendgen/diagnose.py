"""Read a failed vLLM container's log and say what went wrong in words a user can act on.

The rules are data (diagnoses.yaml: patterns, kind, message template, priority, source), validated here.
Pure: log text in, Diagnosis out.

Which cause wins when a log holds several: real logs repeat an error once per worker and print generic
follow-on errors after the cause ("EngineCore failed to start", another rank's HCCL timeout). So the rule
with the highest priority wins, and among equal priorities the earliest match: the first error is the cause,
what follows are its echoes."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Literal

from ascendgen import records
from ascendgen.planner import tp_sizes_for_heads
from ascendgen.yamlfile import Items

RULES_FILE = "diagnoses.yaml"
TP_LIMIT = 32  # the largest TP a hint suggests: four A2 servers
LAST_ERRORS = 10  # error lines shown when no rule matches


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    message: str
    evidence: str  # the log line that matched
    values: Mapping[str, str] = field(default_factory=dict)  # what the pattern captured (e.g. kv_cache: len, fit)


def _tp_sizes(groups: Mapping[str, str], facts: Mapping[str, int]) -> dict[str, str]:
    """The TP sizes vLLM accepts for the heads in the log (and the model's KV heads, when known)."""
    heads, tp = int(groups["heads"]), int(groups["tp"])
    valid = tp_sizes_for_heads(heads, facts.get("num_key_value_heads"), TP_LIMIT)
    below = [t for t in valid if t < tp]
    return {
        "valid_tp": ", ".join(map(str, valid)),
        "tp_suggestion": f": ascendgen plan MODEL --tp {below[-1]}" if below else "",
    }


Hint = Callable[[Mapping[str, str], Mapping[str, int]], dict[str, str]]
HINTS: dict[str, Hint] = {"tp_sizes": _tp_sizes}
HINT_FIELDS = {"tp_sizes": {"valid_tp", "tp_suggestion"}}


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None


def _compiles(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        _compile(pattern)
    return patterns


def _one_compiles(pattern: str) -> str:
    _compile(pattern)
    return pattern


@dataclass(frozen=True, kw_only=True)
class Rule(records.Record):
    kind: Annotated[str, records.Rule(pattern=r"^[a-z][a-z0-9_]*$")]
    patterns: Annotated[Items[str], records.Rule(min_length=1), records.After(_compiles)]
    message: Annotated[str, records.Rule(min_length=1)]
    hint: Literal["tp_sizes"] | None = None
    source: Annotated[str, records.Rule(pattern=r"^https://")]
    priority: Annotated[int, records.Rule(ge=-2, le=2)] = 0
    # must match earlier in the log for the rule to apply
    after: Annotated[str, records.After(_one_compiles)] | None = None

    def _check(self) -> None:
        wanted = {name for _, name, _, _ in string.Formatter().parse(self.message) if name}
        hinted = HINT_FIELDS.get(self.hint or "", set())
        for pattern in self.patterns:
            missing = wanted - set(re.compile(pattern).groupindex) - hinted
            if missing:
                raise ValueError(
                    f"message uses {', '.join(sorted(missing))}, which pattern {pattern!r} does not capture"
                )

    @property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.patterns)


@dataclass(frozen=True, kw_only=True)
class RuleFile(records.Record):
    rules: Annotated[Items[Rule], records.Rule(min_length=1)]


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    patterns: tuple[re.Pattern[str], ...]
    after: re.Pattern[str] | None

    def first_match(self, log: str) -> re.Match[str] | None:
        """The earliest match of any of the rule's patterns (after its `after` pattern, when it has one)."""
        start = 0
        if self.after is not None:
            found = self.after.search(log)
            if found is None:
                return None
            start = found.end()
        best: re.Match[str] | None = None
        for pattern in self.patterns:
            match = _first_outside_source(pattern, log, start)
            if match is not None and (best is None or match.start() < best.start()):
                best = match
        return best


def _first_outside_source(pattern: re.Pattern[str], log: str, start: int) -> re.Match[str] | None:
    """The first match that is not on a traceback's source line (`raise ValueError("No available memory
    ...")` quotes the message before the exception line prints it); such a line when it is all there is."""
    first = None
    for match in pattern.finditer(log, start):
        if not _message_part(_line_of(log, match)).startswith("raise "):
            return match
        first = first or match
    return first


@cache
def load_rules() -> tuple[CompiledRule, ...]:
    from ascendgen.datafiles import data_file
    from ascendgen.yamlfile import read_yaml, validate_entry

    path = data_file(RULES_FILE)
    data, located = read_yaml(path)
    rules = validate_entry(RuleFile, data, path=path, located=located, loc_prefix=[], what="diagnosis rules").rules
    return tuple(
        CompiledRule(rule, rule.compiled, re.compile(rule.after) if rule.after is not None else None) for rule in rules
    )


def diagnose(log: str, facts: Mapping[str, int] | None = None) -> Diagnosis | None:
    """The cause the log shows: the matching rule of highest priority, the earliest match among equals.
    `facts`: what is known of the model (e.g. num_key_value_heads), for hints."""
    best: tuple[int, int, CompiledRule, re.Match[str]] | None = None
    for compiled in load_rules():
        match = compiled.first_match(log)
        if match is None:
            continue
        rank = (-compiled.rule.priority, match.start())
        if best is None or rank < best[:2]:
            best = (*rank, compiled, match)
    if best is None:
        return None
    rule, match = best[2].rule, best[3]
    values = {name: value.strip() for name, value in match.groupdict(default="").items()}
    if rule.hint is not None:
        values.update(HINTS[rule.hint](values, facts or {}))
    return Diagnosis(rule.kind, rule.message.format(**values), _line_of(log, match), values)


def _line_of(log: str, match: re.Match[str]) -> str:
    start = log.rfind("\n", 0, match.start()) + 1
    end = log.find("\n", match.end())
    return log[start : end if end != -1 else len(log)].strip()


# An error line in any of the stacks: a Python exception (`ValueError: ...`), a log level, CANN's error
# codes (`EL0003:`, `EI0006:`), `[ERROR]` and `[Error]:` prefixes, a failed call.
_ERROR_LINE = re.compile(r"(?:Error|Exception)\b|\bERROR\b|\bE[A-Z]\d{4}\b|\b[Ff]ailed\b|\bFATAL\b")
_NOT_ERROR = re.compile(r"(?:\([\w .=-]+\)\s*)*(?:INFO|WARNING|DEBUG)\b")  # a log line of a lower level
_SCAN_LINES = 5000  # how far back from the end to look for them
_NOISE = re.compile(r"^\s*(?:Traceback \(most recent call last\)|File \"|\^+$|During handling of|The above exception)")


def last_error_lines(log: str, limit: int = LAST_ERRORS) -> list[str]:
    """The last `limit` distinct lines that look like errors (traceback frames left out), oldest first: what
    to show when no rule knows the failure."""
    found: list[str] = []
    seen: set[str] = set()
    for line in reversed(log[_tail_start(log, _SCAN_LINES) :].splitlines()):
        text = line.strip()
        if not _ERROR_LINE.search(text) or _NOT_ERROR.match(text) or _NOISE.search(_message_part(text)):
            continue
        key = _message_part(text)
        if key in seen:
            continue
        seen.add(key)
        found.append(text)
        if len(found) == limit:
            break
    return found[::-1]


# `(EngineCore_DP0 pid=415) ERROR 10-28 21:14:49 [core.py:708] ` and the like: the same message from several
# processes or at several times is one error.
_PREFIX = re.compile(r"^(?:\([\w .=-]+\)\s*)*(?:(?:ERROR|WARNING|INFO|DEBUG)\s+[\d-]+\s+[\d:.]+\s+\[[^\]]*\]\s*)?")


def _tail_start(log: str, lines: int) -> int:
    """Where the last `lines` lines of the log begin."""
    end = len(log)
    while end and log[end - 1] == "\n":
        end -= 1
    for _ in range(lines):
        end = log.rfind("\n", 0, end)
        if end == -1:
            return 0
    return end + 1


def _message_part(line: str) -> str:
    return _PREFIX.sub("", line, count=1).strip()
