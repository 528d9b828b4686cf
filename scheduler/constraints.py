"""Placement constraints: ``node.labels.zone == east`` and friends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class ConstraintError(ValueError):
    """A constraint or attribute that cannot be parsed; the message names the rule."""


class Op(StrEnum):
    EQ = "=="
    NE = "!="
    IN = "in"
    NOT_IN = "not in"
    EXISTS = "exists"
    NOT_EXISTS = "not exists"


# Label keys as Docker and Kubernetes allow them (dots, dashes, slashes).
_ATTRIBUTE = r"node\.(?:name|id|hostname|labels\.[A-Za-z0-9_][A-Za-z0-9_.\-/]*)"
_VALUE = r"""(?:"[^"]*"|'[^']*'|[^\s,()"']+)"""
_COMPARE = re.compile(rf"^\s*({_ATTRIBUTE})\s*(==|!=)\s*({_VALUE})\s*$")
_SET = re.compile(rf"^\s*({_ATTRIBUTE})\s+(not\s+in|in)\s*\((.*)\)\s*$")
_EXISTS = re.compile(rf"^\s*({_ATTRIBUTE})\s+(not\s+exists|exists)\s*$")
_ATTRIBUTE_ONLY = re.compile(rf"^\s*({_ATTRIBUTE})\s*$")
_SET_ITEM = re.compile(rf"^\s*({_VALUE})\s*$")

_RULES = (
    "expected one of: 'ATTR == VALUE', 'ATTR != VALUE', 'ATTR in (A, B)', "
    "'ATTR not in (A, B)', 'ATTR exists', 'ATTR not exists', where ATTR is "
    "node.name, node.id or node.labels.KEY"
)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _canonical_attribute(attribute: str) -> str:
    # node.hostname is the name Swarm users type; it is the node's name here.
    return "node.name" if attribute == "node.hostname" else attribute


@dataclass(frozen=True, slots=True)
class Constraint:
    """One parsed rule. ``text`` is the canonical form used in explanations."""

    attribute: str  # "node.name", "node.id" or "node.labels.KEY"
    op: Op
    values: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        if self.op in (Op.EXISTS, Op.NOT_EXISTS):
            return f"{self.attribute} {self.op}"
        if self.op in (Op.IN, Op.NOT_IN):
            return f"{self.attribute} {self.op} ({', '.join(self.values)})"
        return f"{self.attribute} {self.op} {self.values[0]}"

    def matches(self, node_id: str, name: str, labels: Mapping[str, str]) -> bool:
        """Scalar evaluation (the scheduler uses a vectorised equivalent).

        A node without the label satisfies ``!=`` and ``not in`` (it is not
        in the excluded set), as in Swarm and Kubernetes.
        """
        value = attribute_value(self.attribute, node_id, name, labels)
        if self.op is Op.EXISTS:
            return value is not None
        if self.op is Op.NOT_EXISTS:
            return value is None
        if self.op is Op.EQ:
            return value == self.values[0]
        if self.op is Op.NE:
            return value != self.values[0]
        if self.op is Op.IN:
            return value in self.values
        return value not in self.values


def attribute_value(attribute: str, node_id: str, name: str, labels: Mapping[str, str]) -> str | None:
    if attribute == "node.id":
        return node_id
    if attribute == "node.name":
        return name
    return labels.get(attribute[len("node.labels.") :])


def parse_attribute(text: str) -> str:
    """Validate a node attribute such as ``node.labels.zone`` (used by ``spread``)."""
    match = _ATTRIBUTE_ONLY.match(text)
    if match is None:
        raise ConstraintError(f"invalid node attribute {text!r}: expected node.name, node.id or node.labels.KEY")
    return _canonical_attribute(match.group(1))


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint; raise ConstraintError naming the rule on bad input."""
    match = _COMPARE.match(text)
    if match is not None:
        attribute, op, value = match.groups()
        return Constraint(_canonical_attribute(attribute), Op(op), (_unquote(value),))
    match = _SET.match(text)
    if match is not None:
        attribute, op, body = match.groups()
        items = body.split(",")
        values: list[str] = []
        for item in items:
            item_match = _SET_ITEM.match(item)
            if item_match is None:
                raise ConstraintError(
                    f"invalid constraint {text!r}: set members must be non-empty "
                    "values separated by commas, e.g. 'node.labels.zone in (east, west)'"
                )
            values.append(_unquote(item_match.group(1)))
        normalized_op = Op.NOT_IN if op.split()[0] == "not" else Op.IN
        return Constraint(_canonical_attribute(attribute), normalized_op, tuple(values))
    match = _EXISTS.match(text)
    if match is not None:
        attribute, op = match.groups()
        normalized = Op.NOT_EXISTS if op.split()[0] == "not" else Op.EXISTS
        return Constraint(_canonical_attribute(attribute), normalized)
    raise ConstraintError(f"invalid constraint {text!r}: {_RULES}")
