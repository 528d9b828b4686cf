"""What the trace readers share: opening (optionally gzipped) CSVs and errors."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

GiB = 1 << 30
MiB = 1 << 20


class TraceError(ValueError):
    """A trace file that does not have the schema its reader expects; the
    message names the file, the line and the column."""


def open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return path.open(newline="")


def rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every non-empty line."""
    with open_text(path) as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if row:
                yield number, row


def cell_float(row: list[str], column: int, name: str, where: str, default: float | None = None) -> float:
    """Column ``column`` as a float; an empty cell is ``default`` (or an error)."""
    try:
        text = row[column].strip()
    except IndexError:
        raise TraceError(f"{where}: missing column {column + 1} ({name})") from None
    if not text:
        if default is None:
            raise TraceError(f"{where}: column {column + 1} ({name}) is empty")
        return default
    try:
        return float(text)
    except ValueError:
        raise TraceError(f"{where}: column {column + 1} ({name}) is not a number: {text!r}") from None
