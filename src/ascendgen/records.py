"""Records: the frozen dataclasses ascendgen's data and requests are made of, validated by pydantic where they come
in (a YAML file, the command line).

A record is a plain frozen dataclass, so a run that plans with the built-in data (validated when the wheel was built,
ascendgen.prevalidated) and a request whose values are plainly valid never imports pydantic, which alone costs more
than all of ascendgen's own start-up (bench/README.md). What pydantic checks is written on the fields:
`Rule(...)` takes pydantic's Field constraints (gt, le, min_length, pattern, ...), `Before(f)` / `After(f)` its
functional validators, and a record's `_check()` holds the rules across fields (pydantic's model validators,
mode "after"). Every record is strict (a YAML `yes` or `"8"` is not an integer), refuses unknown fields, and takes
a mapping as its input.

`validate(cls, data)` gives the record or raises RecordError with pydantic's errors. It first tries `plain`, a
reading of the same annotations in plain Python for the few shapes ascendgen's records use; `plain` answers only
when it is sure the value is valid, and pydantic (imported then) decides everything else and words every refusal.
tests/test_records.py holds the two to the same answers."""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

R = TypeVar("R", bound="Record")

# pydantic's ConfigDict, as a plain mapping (a TypedDict is one): strict types, no unknown fields, no inf or nan.
_CONFIG = {"strict": True, "extra": "forbid", "allow_inf_nan": False}


class Rule:
    """pydantic Field constraints on a field (`Annotated[int, Rule(gt=0)]`), applied when pydantic builds the
    record's validator (pydantic is imported then, not when the record is defined)."""

    def __init__(self, **constraints: Any) -> None:
        self.constraints = constraints

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic import Field

        return handler(Annotated[source, Field(**self.constraints)])

    def allows(self, value: Any) -> bool:
        """Whether `value` (already of the field's type) meets every constraint; False also when unsure."""
        for name, limit in self.constraints.items():
            if name == "strict":
                continue  # every record is strict
            check = _CONSTRAINTS.get(name)
            if check is None or not check(value, limit):
                return False
        return True


_CONSTRAINTS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda value, limit: value > limit,
    "ge": lambda value, limit: value >= limit,
    "lt": lambda value, limit: value < limit,
    "le": lambda value, limit: value <= limit,
    "min_length": lambda value, limit: len(value) >= limit,
    "max_length": lambda value, limit: len(value) <= limit,
    # pydantic matches with Rust's regex engine, where `$` is the end of the text; Python's `$` also matches before a
    # final newline, so text with a newline is left to pydantic
    "pattern": lambda value, limit: "\n" not in value and re.search(limit, value) is not None,
    "allow_inf_nan": lambda value, allowed: allowed or math.isfinite(value),
}


PositiveInt = Annotated[int, Rule(gt=0)]
PositiveFloat = Annotated[float, Rule(gt=0)]
NonNegativeFloat = Annotated[float, Rule(ge=0)]


class Before:
    """A function that turns the input before the field's type is checked (pydantic's BeforeValidator); it raises
    ValueError to refuse."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.function, handler(source))


class After:
    """A function that checks (and may return a changed) value of the field's type (pydantic's AfterValidator); it
    raises ValueError to refuse."""

    def __init__(self, function: Callable[[Any], Any]) -> None:
        self.function = function

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.function, handler(source))


class Record:
    """Base of the records: subclasses are `@dataclass(frozen=True, kw_only=True)`."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _CONFIG
    if typing.TYPE_CHECKING:  # what makes a class a dataclass for mypy (each record is one)
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def _check(self) -> None:
        """Rules across fields: raise ValueError to refuse (pydantic words it as the record's error)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        schema = handler(source)
        dataclass_schema = schema
        while dataclass_schema.get("type") == "definitions":
            dataclass_schema = dataclass_schema["schema"]
        # strict, a dataclass takes only an instance of itself; a record takes a mapping of its fields (its fields
        # stay strict: the record's config applies to them)
        dataclass_schema["strict"] = False
        return core_schema.no_info_after_validator_function(_checked, schema)


def _checked(record: Record) -> Record:
    record._check()
    return record


class RecordError(ValueError):
    """A refusal by pydantic: `errors()` as pydantic's ValidationError gives them (loc, msg, type, input)."""

    def __init__(self, errors: list[dict[str, Any]], text: str) -> None:
        super().__init__(text)
        self._errors = errors

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


def validate(cls: type[R], data: Any) -> R:
    """`data` (a mapping of the fields, as YAML or the flags give them) as a `cls` record, or RecordError."""
    found = plain(cls, data)
    if found is not _UNSURE:
        return typing.cast(R, found)
    from pydantic import ValidationError

    try:
        return typing.cast(R, _adapter(cls).validate_python(data))
    except ValidationError as exc:
        errors = [_as_model_error(error) for error in exc.errors()]
        raise RecordError(errors, str(exc)) from None


def _as_model_error(error: Any) -> dict[str, Any]:
    """An unknown field of a dataclass, in the words pydantic uses for a model's (what ascendgen's messages read)."""
    if error["type"] == "unexpected_keyword_argument":
        return {**error, "type": "extra_forbidden", "msg": "Extra inputs are not permitted"}
    return dict(error)


_ADAPTERS: dict[type[Record], Any] = {}


def _adapter(cls: type[Record]) -> Any:
    """pydantic's validator for the record, built on first use."""
    if cls not in _ADAPTERS:
        from pydantic import TypeAdapter

        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def defaults(cls: type[Record]) -> dict[str, Any]:
    """Each field's default (a default factory's value); a required field is left out."""
    found = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            found[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            found[field.name] = field.default_factory()
    return found


def dump(
    record: Record, *, exclude_defaults: bool = False, exclude_none: bool = False, json: bool = False
) -> dict[str, Any]:
    """The record's fields as a dict, records and other dataclasses inside it (a plan request's nodes) as dicts too
    (pydantic's model_dump): without the fields at their default (`exclude_defaults`) or None (`exclude_none`); `json`:
    tuples as lists."""
    options = {"exclude_defaults": exclude_defaults, "exclude_none": exclude_none, "json": json}
    unset = defaults(type(record)) if exclude_defaults else {}
    data = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if (exclude_none and value is None) or (field.name in unset and value == unset[field.name]):
            continue
        data[field.name] = _dumped(value, options)
    return data


def _dumped(value: Any, options: dict[str, bool]) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a record, or a dataclass that is no record (a cluster's Node): a dict either way, as pydantic dumps both
        return dump(typing.cast(Record, value), **options)
    if isinstance(value, tuple | list):
        items = [_dumped(item, options) for item in value]
        return items if options["json"] or isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {key: _dumped(item, options) for key, item in value.items()}
    return value


# ---- plain: the same annotations read in plain Python, for values that are plainly valid ------------------------

_UNSURE: Any = object()


def plain(cls: type[Record], data: Any) -> Any:
    """The record `data` makes, built without pydantic, or _UNSURE when `data` is not plainly valid (a refusal, or a
    shape this reading does not know: pydantic then decides)."""
    if not isinstance(data, dict):
        return _UNSURE
    fields = _fields(cls)
    if not data.keys() <= fields.keys():
        return _UNSURE
    values = {}
    for name, (annotation, required) in fields.items():
        if name not in data:
            if required:
                return _UNSURE
            continue
        value = _value(annotation, data[name])
        if value is _UNSURE:
            return _UNSURE
        values[name] = value
    try:
        record = cls(**values)
        record._check()
    except (ValueError, TypeError):
        return _UNSURE
    return record


def record_fields(cls: type[Record]) -> dict[str, Any]:
    """Each field's type, its annotation read (Annotated kept)."""
    return {name: annotation for name, (annotation, _) in _fields(cls).items()}


_FIELDS: dict[type[Record], dict[str, tuple[Any, bool]]] = {}


def _fields(cls: type[Record]) -> dict[str, tuple[Any, bool]]:
    """Each field's (type, whether it is required), read once per record."""
    if cls not in _FIELDS:
        hints = typing.get_type_hints(cls, include_extras=True)
        _FIELDS[cls] = {
            field.name: (
                hints[field.name],
                field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
            )
            for field in dataclasses.fields(cls)
            if field.init
        }
    return _FIELDS[cls]


def _value(annotation: Any, value: Any) -> Any:
    """`value` as a field of type `annotation` takes it, or _UNSURE."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *metadata = get_args(annotation)
        for item in reversed(metadata):  # pydantic runs the last BeforeValidator first
            if isinstance(item, Before):
                try:
                    value = item.function(value)
                except ValueError:
                    return _UNSURE
        value = _value(inner, value)
        if value is _UNSURE:
            return _UNSURE
        for item in metadata:
            if isinstance(item, Rule) and not item.allows(value):
                return _UNSURE
            if isinstance(item, After):
                try:
                    value = item.function(value)
                except ValueError:
                    return _UNSURE
            if not isinstance(item, Rule | Before | After):
                return _UNSURE
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(annotation)
        if value is None:
            return None if type(None) in options else _UNSURE
        found = [_value(option, value) for option in options if option is not type(None)]
        sure = [item for item in found if item is not _UNSURE]
        return sure[0] if len(sure) == 1 else _UNSURE
    if origin is Literal:
        return (
            value
            if any(type(value) is type(choice) and value == choice for choice in get_args(annotation))
            else _UNSURE
        )
    if origin is tuple:
        item_type, *rest = get_args(annotation)
        if rest != [Ellipsis] or type(value) is not tuple:
            return _UNSURE
        items = tuple(_value(item_type, item) for item in value)
        return _UNSURE if any(item is _UNSURE for item in items) else items
    if origin is dict:
        key_type, value_type = get_args(annotation)
        if type(value) is not dict:
            return _UNSURE
        pairs = {_value(key_type, k): _value(value_type, v) for k, v in value.items()}
        return _UNSURE if _UNSURE in pairs or any(v is _UNSURE for v in pairs.values()) else pairs
    if annotation in (str, int, bool):
        return value if type(value) is annotation else _UNSURE
    if annotation is float:
        if type(value) is int and abs(value) < 2**53:  # pydantic takes a whole number for a float, as a float
            return float(value)
        return value if type(value) is float and math.isfinite(value) else _UNSURE
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return value if type(value) is annotation else plain(annotation, value)
    if dataclasses.is_dataclass(annotation) and type(value) is annotation:
        return value  # an instance of a dataclass that is no record: pydantic takes it as it is
    return _UNSURE
