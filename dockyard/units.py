"""Human units for sizes and durations: "64Mi" <-> 67108864, "1m30s" <-> 90.0.

Parsers raise ValueError (and only ValueError) with a message that says what
was wrong and what to write instead. They accept a leading '-' so that range
rules ("must be >= 0") are checked, and reported, by the caller.
"""

# ruff: noqa: TRY004 - every bad input, a wrong type included, is a ValueError: callers
# (job-file validation, CLI flags) catch exactly that and show its message.
from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

__all__ = ["format_duration", "format_memory", "parse_duration", "parse_memory"]

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
_DECIMAL = {"k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SIZE_UNITS = {"": 1, **_BINARY, **_DECIMAL}
_SIZE = re.compile(r"^\s*([+-]?)(\d+(?:\.\d+)?|\.\d+)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T|)\s*$")
_SIZE_HINT = "use a number with a unit like 64Mi, 1Gi, 512M"

_DURATION_UNITS = {"h": Fraction(3600), "m": Fraction(60), "s": Fraction(1), "ms": Fraction(1, 1000)}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|h|m|s)")
_DURATION_HINT = "use a number of seconds or a duration like 100ms, 5s, 2m, 1h, 1m30s"
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(?:\.\d+)?|\.\d+)$")


def parse_memory(value: str | float) -> int:
    """A size in bytes from "64Mi", "1Gi" (binary), "512M", "1G", "100k" (decimal),
    "1024" or an int (bytes). Fractions are allowed if they come to whole bytes."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}: {_SIZE_HINT}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ValueError(f"invalid size {value!r}: not a whole number of bytes; {_SIZE_HINT}")
    if not isinstance(value, str):
        raise ValueError(f"invalid size {value!r}: {_SIZE_HINT}")
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"invalid size {value!r}: {_SIZE_HINT}")
    sign, number, unit = match.groups()
    # Fraction, not float or Decimal: exact for any number of digits.
    amount = Fraction(number) * _SIZE_UNITS[unit]
    if amount.denominator != 1:
        raise ValueError(f"invalid size {value!r}: not a whole number of bytes")
    result = int(amount)
    return -result if sign == "-" else result


def format_memory(size: int) -> str:
    """The shortest exact text for `size` bytes: "64Mi", "512M", "1500".

    On a tie a binary unit wins (memory is usually a power of two).
    """
    if size == 0:
        return "0"
    sign = "-" if size < 0 else ""
    magnitude = abs(size)
    candidates = []
    # Binary first so that min() keeps it on a tie; "K" is skipped for the SI "k".
    for unit, factor in [*_BINARY.items(), *((u, f) for u, f in _DECIMAL.items() if u != "K")]:
        if magnitude % factor == 0:
            candidates.append(f"{magnitude // factor}{unit}")
    candidates.append(str(magnitude))
    return sign + min(candidates, key=len)


def parse_duration(value: str | float) -> float:
    """Seconds from "100ms", "5s", "2m", "1h", "1m30s" or a number of seconds.

    Units in a compound duration go from the largest to the smallest, each at
    most once ("1h30m", not "30m1h").
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    if isinstance(value, int):
        return _finite(float(value), value)
    if isinstance(value, float):
        return _finite(value, value)
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    text = value.strip()
    if _PLAIN_NUMBER.match(text):
        return _finite(float(text), value)
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    total = Fraction(0)
    pos = 0
    last_factor: Fraction | None = None
    while pos < len(body):
        part = _DURATION_PART.match(body, pos)
        if part is None:
            raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
        factor = _DURATION_UNITS[part.group(2)]
        if last_factor is not None and factor >= last_factor:
            raise ValueError(f"invalid duration {value!r}: units must go from largest to smallest, e.g. 1h30m")
        last_factor = factor
        total += Fraction(part.group(1)) * factor
        pos = part.end()
    if last_factor is None:
        raise ValueError(f"invalid duration {value!r}: {_DURATION_HINT}")
    try:
        seconds = sign * float(total)
    except OverflowError:
        raise ValueError(f"invalid duration {value!r}: too large") from None
    return _finite(seconds, value)


def format_duration(seconds: float) -> str:
    """Short text for a duration that `parse_duration` turns back into exactly
    `seconds`: "0s", "100ms", "5s", "1m30s", "1h", "2.5s"."""
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {seconds!r}: not a finite number")
    sign = "-" if seconds < 0 else ""
    magnitude = abs(seconds)
    for candidate in _duration_candidates(magnitude):
        text = sign + candidate
        if parse_duration(text) == seconds:
            return text
    # Fallback: the shortest decimal that round-trips, never in exponent form.
    plain = format(Decimal(repr(float(magnitude))), "f")
    return f"{sign}{plain}s"


def _duration_candidates(magnitude: float) -> list[str]:
    candidates = []
    if magnitude.is_integer():
        whole = int(magnitude)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
        candidates.append("".join(parts) or "0s")
    elif magnitude < 1:
        millis = Decimal(repr(magnitude)) * 1000
        candidates.append(f"{format(millis.normalize(), 'f')}ms")
    return candidates


def _finite(seconds: float, original: object) -> float:
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {original!r}: not a finite number")
    return seconds
