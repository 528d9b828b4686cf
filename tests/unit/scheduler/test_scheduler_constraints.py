from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler import Constraint, ConstraintError, Op, parse_attribute, parse_constraint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("node.labels.zone == east", Constraint("node.labels.zone", Op.EQ, ("east",))),
        ("node.labels.zone==east", Constraint("node.labels.zone", Op.EQ, ("east",))),
        ("node.name != n1", Constraint("node.name", Op.NE, ("n1",))),
        ("node.hostname == h1", Constraint("node.name", Op.EQ, ("h1",))),
        ("node.id == abc", Constraint("node.id", Op.EQ, ("abc",))),
        ("node.labels.gpu exists", Constraint("node.labels.gpu", Op.EXISTS)),
        ("node.labels.gpu not exists", Constraint("node.labels.gpu", Op.NOT_EXISTS)),
        ("node.labels.zone in (east, west)", Constraint("node.labels.zone", Op.IN, ("east", "west"))),
        ("node.labels.zone not in (a,b)", Constraint("node.labels.zone", Op.NOT_IN, ("a", "b"))),
        ('node.labels.team == "data eng"', Constraint("node.labels.team", Op.EQ, ("data eng",))),
        ("node.labels.k8s.io/arch == arm64", Constraint("node.labels.k8s.io/arch", Op.EQ, ("arm64",))),
    ],
)
def test_parses_every_form(text: str, expected: Constraint) -> None:
    assert parse_constraint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "zone == east",  # missing node. prefix
        "node.labels.zone = east",  # single =
        "node.labels.zone == ",  # no value
        "node.labels. == x",
        "node.cpu == 4",  # unknown attribute
        "node.labels.zone in (east, )",
        "node.labels.zone in east",
        "node.labels.zone exists now",
    ],
)
def test_rejects_bad_rules_with_a_message_naming_the_rule(text: str) -> None:
    with pytest.raises(ConstraintError) as info:
        parse_constraint(text)
    assert repr(text) in str(info.value)
    assert isinstance(info.value, ValueError)  # the manager maps ValueError to INVALID_ARGUMENT


def test_matches_semantics_for_absent_labels() -> None:
    labels = {"zone": "east"}
    assert parse_constraint("node.labels.zone == east").matches("id", "n", labels)
    assert not parse_constraint("node.labels.rack == r1").matches("id", "n", labels)
    # A node without the label is not in the excluded set.
    assert parse_constraint("node.labels.rack != r1").matches("id", "n", labels)
    assert parse_constraint("node.labels.rack not in (r1)").matches("id", "n", labels)
    assert not parse_constraint("node.labels.rack in (r1)").matches("id", "n", labels)
    assert parse_constraint("node.labels.rack not exists").matches("id", "n", labels)


def test_parse_attribute() -> None:
    assert parse_attribute("node.labels.zone") == "node.labels.zone"
    assert parse_attribute("node.hostname") == "node.name"
    with pytest.raises(ConstraintError, match="node.labels.KEY"):
        parse_attribute("labels.zone")


_words = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,8}", fullmatch=True)


@given(
    key=_words,
    op=st.sampled_from(list(Op)),
    values=st.lists(_words, min_size=1, max_size=4),
)
def test_text_round_trips(key: str, op: Op, values: list[str]) -> None:
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        constraint = Constraint(f"node.labels.{key}", op)
    elif op in (Op.EQ, Op.NE):
        constraint = Constraint(f"node.labels.{key}", op, (values[0],))
    else:
        constraint = Constraint(f"node.labels.{key}", op, tuple(values))
    assert parse_constraint(constraint.text) == constraint


@given(st.text(max_size=40))
def test_parser_raises_only_constraint_error(text: str) -> None:
    try:
        parse_constraint(text)
    except ConstraintError:
        pass
