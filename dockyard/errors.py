"""Dockyard's one exception hierarchy and its mapping to gRPC status codes.

Every error a user can see is one of these. Servicers turn them into a gRPC
status with `status_code(err)` and `str(err)` as the details; the client turns
a gRPC error back into the same exception with `from_status(code, details)`.
This module is the only place that knows which exception is which code.

`grpc` is imported lazily so the pure core (scheduler, state machines) can
raise these errors without pulling in gRPC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import grpc

__all__ = [
    "Conflict",
    "DockyardError",
    "FailedPrecondition",
    "FieldError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unavailable",
    "from_status",
    "status_code",
]


class DockyardError(Exception):
    """Base of every Dockyard error. `code` names a `grpc.StatusCode` member."""

    code: ClassVar[str] = "UNKNOWN"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken rule: `path` is the dotted field path (`task.ports[1].published`),
    `rule` says what is wrong in words a person can act on."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}"


# A details line that carries a FieldError: a path without spaces, ": ", the rule.
_FIELD_LINE = re.compile(r"^(\S+): (.*)$")


class InvalidArgument(DockyardError):
    """A request (usually a job spec) broke one or more rules.

    With field errors, the message is exactly one "<path>: <rule>" line per
    error; that text is also the gRPC details, and `from_status` parses it back.
    Without field errors it carries a free-text message.
    """

    code = "INVALID_ARGUMENT"

    def __init__(self, errors: Iterable[FieldError] | str = (), message: str | None = None) -> None:
        if isinstance(errors, str):
            message, errors = errors, ()
        field_errors = [FieldError(e.path, _one_line(e.rule)) for e in errors]
        if field_errors:
            message = "\n".join(str(e) for e in field_errors)
        super().__init__(message or "invalid argument")
        self.errors: list[FieldError] = field_errors


class NotFound(DockyardError):
    code = "NOT_FOUND"


class FailedPrecondition(DockyardError):
    code = "FAILED_PRECONDITION"


class ResourceExhausted(DockyardError):
    code = "RESOURCE_EXHAUSTED"


class Unavailable(DockyardError):
    code = "UNAVAILABLE"


class PermissionDenied(DockyardError):
    code = "PERMISSION_DENIED"


class Conflict(DockyardError):
    """A compare-and-set lost: the object changed since it was read. Retry."""

    code = "ABORTED"


_BY_CODE: dict[str, type[DockyardError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        FailedPrecondition,
        ResourceExhausted,
        Unavailable,
        PermissionDenied,
        Conflict,
    )
}


def status_code(err: BaseException) -> grpc.StatusCode:
    """The gRPC status code a servicer should answer with for `err`.

    Anything that is not a DockyardError is a bug on our side: INTERNAL.
    """
    import grpc

    if isinstance(err, DockyardError):
        return grpc.StatusCode[err.code]
    return grpc.StatusCode.INTERNAL


def from_status(code: grpc.StatusCode | str, details: str | None) -> DockyardError:
    """Turn a gRPC status (code + details) back into the exception that made it.

    `code` may be a `grpc.StatusCode` or its name. Codes without a dedicated
    class give a plain DockyardError whose `code` is that name.
    """
    name = code if isinstance(code, str) else code.name
    details = details or ""
    cls = _BY_CODE.get(name)
    if cls is InvalidArgument:
        return InvalidArgument(*_parse_field_errors(details))
    if cls is not None:
        return cls(details)
    err = DockyardError(details)
    err.code = name  # type: ignore[misc]  # instance override for codes without a class
    return err


def _parse_field_errors(details: str) -> tuple[list[FieldError], str | None]:
    lines = [line for line in details.splitlines() if line.strip()]
    matches = [_FIELD_LINE.match(line) for line in lines]
    if lines and all(matches):
        return [FieldError(m.group(1), m.group(2)) for m in matches if m], None
    return [], details


def _one_line(text: str) -> str:
    # A rule must stay on one line or the details text could not be parsed back.
    return " ".join(text.split())
