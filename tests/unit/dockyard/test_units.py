"""Sizes and durations as people write them in job files and flags."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.units import format_duration, format_memory, parse_duration, parse_memory


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64Mi", 64 * 1024**2),
        ("1Gi", 1024**3),
        ("1Ki", 1024),
        ("2Ti", 2 * 1024**4),
        ("512M", 512 * 10**6),
        ("1G", 10**9),
        ("3T", 3 * 10**12),
        ("100k", 100_000),
        ("100K", 100_000),
        ("1024", 1024),
        ("0", 0),
        (" 64Mi ", 64 * 1024**2),
        ("1.5Gi", 1536 * 1024**2),
        (1024, 1024),
        (0, 0),
        (2048.0, 2048),
    ],
)
def test_parse_memory_accepts_binary_decimal_and_plain_sizes(text: str | int, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["12Q", "", "Mi", "64 Mi B", "64MB", "64m", "1e3", "--1", "1.5", "0.1Ki", "abc"])
def test_parse_memory_rejects_garbage_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_memory(text)


def test_parse_memory_error_names_the_value_and_the_fix() -> None:
    with pytest.raises(ValueError) as info:
        parse_memory("12Q")
    assert str(info.value) == "invalid size '12Q': use a number with a unit like 64Mi, 1Gi, 512M"


@pytest.mark.parametrize("value", [True, None, [1], 1.5, math.inf, math.nan])
def test_parse_memory_rejects_non_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_memory(value)  # type: ignore[arg-type]


def test_parse_memory_keeps_the_sign_for_the_caller_to_judge() -> None:
    assert parse_memory("-64Mi") == -64 * 1024**2
    assert parse_memory(-1) == -1


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0"), (64 * 1024**2, "64Mi"), (1024**3, "1Gi"), (512 * 10**6, "512M"), (1000, "1k"), (1500, "1500")],
)
def test_format_memory_is_short_and_exact(size: int, text: str) -> None:
    assert format_memory(size) == text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("100ms", 0.1),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h0m5s", 3605.0),
        ("1.5s", 1.5),
        ("0s", 0.0),
        ("2.5", 2.5),
        ("90", 90.0),
        (5, 5.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "5 s s", "1s1m", "1m1m", "5d", "1e3s", "inf", "nan", "--5s"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, None, {}, math.inf, math.nan, "9" * 400])
def test_parse_duration_rejects_non_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.0, "0s"), (5.0, "5s"), (0.1, "100ms"), (90.0, "1m30s"), (3600.0, "1h"), (2.5, "2.5s")]
)
def test_format_duration_is_what_a_person_would_write(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# --- properties --------------------------------------------------------------------------------

sizes = st.integers(min_value=-(2**70), max_value=2**70)
durations = st.floats(allow_nan=False, allow_infinity=False)
garbage = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.+-eEkKMGTimshu ", max_size=12),
    st.none(),
    st.booleans(),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.binary(max_size=4),
)


@given(sizes)
def test_format_then_parse_memory_gives_the_size_back(size: int) -> None:
    assert parse_memory(format_memory(size)) == size


@given(durations)
def test_format_then_parse_duration_gives_the_seconds_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi", "k", "M", "G", ""]))
def test_parse_memory_scales_by_the_unit(number: int, unit: str) -> None:
    factor = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "k": 1000, "M": 10**6, "G": 10**9, "": 1}[unit]
    assert parse_memory(f"{number}{unit}") == number * factor


@given(garbage)
def test_parse_memory_raises_only_value_error(value: object) -> None:
    try:
        result = parse_memory(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert isinstance(result, int)


@given(garbage)
def test_parse_duration_raises_only_value_error(value: object) -> None:
    try:
        result = parse_duration(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert isinstance(result, float) and math.isfinite(result)
