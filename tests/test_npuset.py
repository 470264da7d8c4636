import pytest

from ascendgen.errors import InputError
from ascendgen.npuset import format_npus, parse_npus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", (0,)),
        ("0-3", (0, 1, 2, 3)),
        ("4,5,6,7", (4, 5, 6, 7)),
        ("6-7,0-1", (0, 1, 6, 7)),
        (" 2, 3 ", (2, 3)),
    ],
)
def test_parse_npus(text: str, expected: tuple[int, ...]) -> None:
    assert parse_npus(text) == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "0,0", "1-", "-1", "0;1", "0-99999"])
def test_parse_npus_refuses(text: str) -> None:
    with pytest.raises(InputError, match="--npus"):
        parse_npus(text)


@pytest.mark.parametrize(
    ("indices", "text"),
    [((0,), "0"), ((0, 1, 2, 3), "0-3"), ((4, 5, 6, 7), "4-7"), ((0, 2), "0,2"), ((0, 1, 6, 7), "0-1,6-7")],
)
def test_format_npus(indices: tuple[int, ...], text: str) -> None:
    assert format_npus(indices) == text
    assert parse_npus(text) == indices


def test_only_ascii_digits() -> None:
    with pytest.raises(InputError):
        parse_npus("٣")  # an Arabic-Indic three
