"""Branch conditions (`dialogs/conditions.py`): a small parser, never `eval`."""

from __future__ import annotations

import pytest

from dialogs.conditions import ConditionError, parse_condition


def check(source: str, slots: dict) -> bool:
    return parse_condition(source)(slots)


@pytest.mark.parametrize(("source", "slots", "expected"), [
    ("slots.status == 'shipped'", {"status": "shipped"}, True),
    ("slots.status == 'shipped'", {"status": "delivered"}, False),
    ("slots.status != 'shipped'", {"status": "delivered"}, True),
    ("slots.status != 'shipped'", {}, True),
    ("slots.n > 2", {"n": 3}, True),
    ("slots.n > 2", {"n": 2}, False),
    ("slots.n < 2", {"n": 1}, True),
    ("slots.n < 2", {"n": 2}, False),
    ("slots.n >= 2.5", {"n": 2.5}, True),
    ("slots.n <= 2.5", {"n": 2.6}, False),
    ("slots.n == -1", {"n": -1}, True),
    ("slots.n == 3", {"n": 3.0}, True),
])
def test_comparisons(source: str, slots: dict, expected: bool) -> None:
    assert check(source, slots) is expected


@pytest.mark.parametrize(("source", "slots", "expected"), [
    ("slots.x is set", {"x": "a"}, True),
    ("slots.x is set", {"x": False}, True),  # a false value is still a value
    ("slots.x is set", {"x": 0}, True),
    ("slots.x is set", {"x": None}, False),
    ("slots.x is set", {"x": ""}, False),
    ("slots.x is set", {}, False),
    ("slots.x is not set", {}, True),
    ("slots.x is not set", {"x": ""}, True),
    ("slots.x is not set", {"x": 0}, False),
    ("slots.x IS NOT SET", {"x": "a"}, False),
    ("not slots.x is set", {}, True),
])
def test_is_set_and_is_not_set(source: str, slots: dict, expected: bool) -> None:
    assert check(source, slots) is expected


def test_and_binds_tighter_than_or() -> None:
    # a or (b and c)
    src = "slots.a == 1 or slots.b == 1 and slots.c == 1"
    assert check(src, {"a": 1, "b": 0, "c": 0}) is True
    assert check(src, {"a": 0, "b": 1, "c": 0}) is False
    assert check(src, {"a": 0, "b": 1, "c": 1}) is True


def test_not_binds_tighter_than_and() -> None:
    # (not a) and b
    src = "not slots.a == 1 and slots.b == 1"
    assert check(src, {"a": 2, "b": 1}) is True
    assert check(src, {"a": 1, "b": 1}) is False
    assert check(src, {"a": 2, "b": 2}) is False


def test_parentheses_override_precedence() -> None:
    src = "(slots.a == 1 or slots.b == 1) and slots.c == 1"
    assert check(src, {"a": 1, "b": 0, "c": 0}) is False
    assert check(src, {"a": 1, "b": 0, "c": 1}) is True
    assert check("slots.a == 1 and (slots.b == 2 or slots.c == 3)", {"a": 1, "c": 3}) is True
    assert check("not (slots.a == 1 or slots.b == 1)", {"a": 0, "b": 0}) is True
    assert check("not (slots.a == 1 or slots.b == 1)", {"a": 0, "b": 1}) is False
    assert check("((slots.a == 1))", {"a": 1}) is True


def test_strings_in_either_quote_with_spaces_and_escapes() -> None:
    assert check("slots.x == 'a b'", {"x": "a b"}) is True
    assert check('slots.x == "a b"', {"x": "a b"}) is True
    assert check('slots.x == "it\'s"', {"x": "it's"}) is True
    assert check(r"slots.x == 'it\'s'", {"x": "it's"}) is True
    assert check("slots.x == 'café'", {"x": "café"}) is True
    assert check("slots.x == 'Shipped'", {"x": "shipped"}) is False  # strings compare exactly


def test_escaped_string_with_non_ascii_characters() -> None:
    assert check(r"slots.x == 'it\'s café'", {"x": "it's café"}) is True


def test_literals_true_false_null() -> None:
    assert check("slots.x == true", {"x": True}) is True
    assert check("slots.x == false", {"x": False}) is True
    assert check("slots.x == TRUE", {"x": True}) is True
    assert check("slots.x == null", {}) is True
    assert check("slots.x == null", {"x": None}) is True
    assert check("slots.x == none", {"x": None}) is True
    assert check("slots.x == null", {"x": "a"}) is False
    assert check("slots.x != null", {"x": "a"}) is True


def test_bare_slot_is_its_truth_value() -> None:
    assert check("slots.found", {"found": True}) is True
    assert check("slots.found", {"found": False}) is False
    assert check("slots.found", {}) is False
    assert check("not slots.found", {}) is True


def test_string_slots_equal_their_typed_values() -> None:
    """Slots arrive as strings from some sources (a Rasa action server, a regex collect)."""
    assert check("slots.x == true", {"x": "true"}) is True
    assert check("slots.x == true", {"x": "True"}) is True
    assert check("slots.x == false", {"x": "false"}) is True
    assert check("slots.x == true", {"x": "false"}) is False
    assert check("slots.n == 3", {"n": "3"}) is True
    assert check("slots.n == 2.5", {"n": "2.5"}) is True
    assert check("slots.n == 3", {"n": "three"}) is False


def test_bare_slot_with_string_false_is_false() -> None:
    assert check("slots.x == true", {"x": "false"}) is False
    assert check("slots.x", {"x": "false"}) is False


def test_ordering_of_a_numeric_string_slot() -> None:
    assert check("slots.rating <= 2", {"rating": "1"}) is True
    assert check("slots.n > 2", {"n": "3"}) is True


@pytest.mark.parametrize("source", ["slots.n > 2", "slots.n < 2", "slots.n >= 0", "slots.n <= 0"])
def test_comparing_none_with_a_number_is_false_not_an_error(source: str) -> None:
    assert check(source, {"n": None}) is False
    assert check(source, {}) is False


def test_comparing_a_word_with_a_number_is_false_not_an_error() -> None:
    assert check("slots.n > 2", {"n": "many"}) is False


def test_the_condition_records_the_slots_it_reads() -> None:
    c = parse_condition("slots.a == 1 and (slots.b is set or not slots.c)")
    assert c.slots == frozenset({"a", "b", "c"})
    assert c.source == "slots.a == 1 and (slots.b is set or not slots.c)"
    assert parse_condition("true").slots == frozenset()


@pytest.mark.parametrize(("source", "message"), [
    ("import os", "unknown name 'import'"),
    ("__import__('os').system('true')", "cannot read"),
    ("__import__ == 1", "unknown name '__import__'"),
    ("slots.x ==", "ends too early"),
    ("foo == 1", "unknown name 'foo'"),
    ("x == 1", "write slots.x"),
    ("slots.x = 1", "cannot read"),
    ("slots.x == 1 )", "unexpected ')'"),
    ("(slots.x == 1", "ends too early"),
    ("(slots.x == 1 slots.y", "missing ')'"),
    ("slots.x is", "expected 'set'"),
    ("slots.x is maybe", "expected 'set'"),
    ("slots.x == 1 slots.y == 2", "unexpected 'slots.y'"),
    ("slots.x == 1 and", "ends too early"),
    ("", "empty condition"),
    ("   ", "empty condition"),
    ("slots.x == 'open", "cannot read"),
    ("slots.x; import os", "cannot read"),
])
def test_errors(source: str, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(source)
    assert message in str(info.value)


def test_condition_error_is_a_value_error() -> None:
    assert issubclass(ConditionError, ValueError)
