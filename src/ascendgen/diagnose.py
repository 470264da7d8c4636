"""Read a failed vLLM container's log and say what went wrong in words a user can act on.

The rules are data (diagnoses.yaml: patterns, kind, message template, source), validated here. Pure: log
text in, Diagnosis out."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ascendgen.planner import tp_sizes_for_heads

RULES_FILE = "diagnoses.yaml"
TP_LIMIT = 32  # the largest TP a hint suggests: four A2 servers


@dataclass(frozen=True)
class Diagnosis:
    kind: str
    message: str
    evidence: str  # the log line that matched


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


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    patterns: tuple[str, ...] = Field(min_length=1)
    message: str = Field(min_length=1)
    hint: Literal["tp_sizes"] | None = None
    source: str = Field(pattern=r"^https://")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _placeholders_are_filled(self) -> Rule:
        wanted = {name for _, name, _, _ in string.Formatter().parse(self.message) if name}
        hinted = HINT_FIELDS.get(self.hint or "", set())
        for pattern in self.patterns:
            missing = wanted - set(re.compile(pattern).groupindex) - hinted
            if missing:
                raise ValueError(
                    f"message uses {', '.join(sorted(missing))}, which pattern {pattern!r} does not capture"
                )
        return self

    @property
    def compiled(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.patterns)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: tuple[Rule, ...] = Field(min_length=1)


@cache
def load_rules() -> tuple[tuple[Rule, tuple[re.Pattern[str], ...]], ...]:
    from ascendgen.resources import data_file
    from ascendgen.yamlfile import read_yaml, validate_entry

    path = data_file(RULES_FILE)
    data, located = read_yaml(path)
    rules = validate_entry(RuleFile, data, path=path, located=located, loc_prefix=[], what="diagnosis rules").rules
    return tuple((rule, rule.compiled) for rule in rules)


def diagnose(log: str, facts: Mapping[str, int] | None = None) -> Diagnosis | None:
    """The known failure found last in the log (the last error is the cause). `facts`: what is known of the
    model (e.g. num_key_value_heads), for hints."""
    best: tuple[int, Rule, re.Match[str]] | None = None
    for rule, patterns in load_rules():
        for pattern in patterns:
            for match in pattern.finditer(log):
                if best is None or match.start() > best[0]:
                    best = (match.start(), rule, match)
    if best is None:
        return None
    _, rule, match = best
    values = {name: value.strip() for name, value in match.groupdict(default="").items()}
    if rule.hint is not None:
        values.update(HINTS[rule.hint](values, facts or {}))
    return Diagnosis(rule.kind, rule.message.format(**values), _line_of(log, match))


def _line_of(log: str, match: re.Match[str]) -> str:
    start = log.rfind("\n", 0, match.start()) + 1
    end = log.find("\n", match.end())
    return log[start : end if end != -1 else len(log)].strip()
