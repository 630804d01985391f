"""Branch conditions in flows: `slots.x == 'shipped' and slots.n > 2`, `slots.x is set`, `not (...)`.

A small recursive-descent parser instead of `eval`: flows are data a trainer edits, and a condition
must never run code. Parsed once at load (errors name the file and line), evaluated per turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>-?\d+(?:\.\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|>=|<=|>|<|\(|\))
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)

Slots = dict[str, Any]
Pred = Callable[[Slots], Any]


class ConditionError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    source: str
    fn: Pred
    slots: frozenset[str]

    def __call__(self, slots: Slots) -> bool:
        try:
            return bool(self.fn(slots))
        except TypeError:  # e.g. comparing None with a number: the branch does not apply
            return False


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(f"cannot read {text[pos:pos + 12]!r} in condition {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def parse_condition(text: str) -> Condition:
    """Parse a condition; raises ConditionError naming what could not be read."""
    toks = _tokens(str(text))
    used: set[str] = set()
    i = 0

    def peek() -> tuple[str, str] | None:
        return toks[i] if i < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(toks):
            raise ConditionError(f"condition {text!r} ends too early")
        i += 1
        return toks[i - 1]

    def word(w: str) -> bool:
        t = peek()
        return t is not None and t[0] == "name" and t[1].lower() == w

    def expr_or() -> Pred:
        left = expr_and()
        while word("or"):
            take()
            right = expr_and()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def expr_and() -> Pred:
        left = expr_not()
        while word("and"):
            take()
            right = expr_not()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def expr_not() -> Pred:
        if word("not"):
            take()
            inner = expr_not()
            return lambda s: not inner(s)
        return comparison()

    def comparison() -> Pred:
        left = operand()
        t = peek()
        if t is not None and t[0] == "op" and t[1] in ("==", "!=", ">", "<", ">=", "<="):
            op = take()[1]
            right = operand()
            ops: dict[str, Callable[[Any, Any], bool]] = {
                "==": lambda a, b: _norm(a) == _norm(b), "!=": lambda a, b: _norm(a) != _norm(b),
                ">": lambda a, b: _norm(a) > _norm(b), "<": lambda a, b: _norm(a) < _norm(b),
                ">=": lambda a, b: _norm(a) >= _norm(b), "<=": lambda a, b: _norm(a) <= _norm(b)}
            f = ops[op]
            return lambda s: f(left(s), right(s))
        if word("is"):
            take()
            negate = False
            if word("not"):
                take()
                negate = True
            if not word("set"):
                raise ConditionError(f"expected 'set' after 'is' in condition {text!r}")
            take()
            return (lambda s: left(s) in (None, "")) if negate else (lambda s: left(s) not in (None, ""))
        return left

    def operand() -> Pred:
        kind, val = take()
        if kind == "op" and val == "(":
            inner = expr_or()
            if take() != ("op", ")"):
                raise ConditionError(f"missing ')' in condition {text!r}")
            return inner
        if kind == "num":
            n = float(val) if "." in val else int(val)
            return lambda s: n
        if kind == "str":
            sval = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), val[1:-1])
            return lambda s: sval
        if kind == "name":
            low = val.lower()
            if low in ("true", "false"):
                b = low == "true"
                return lambda s: b
            if low in ("null", "none"):
                return lambda s: None
            if val.startswith("slots."):
                name = val[len("slots."):]
                used.add(name)
                return lambda s: _norm(s.get(name))  # "false" is false, "3" is 3: slots often arrive as text
            raise ConditionError(f"unknown name {val!r} in condition {text!r} (write slots.{val})")
        raise ConditionError(f"unexpected {val!r} in condition {text!r}")

    if not toks:
        raise ConditionError("empty condition")
    fn = expr_or()
    if i != len(toks):
        raise ConditionError(f"unexpected {toks[i][1]!r} in condition {text!r}")
    return Condition(str(text), fn, frozenset(used))


def _norm(v: Any) -> Any:
    """Slots arrive as strings from some sources: 'true' equals true, '3' equals 3."""
    if isinstance(v, str):
        low = v.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        try:
            return float(low) if "." in low else int(low)
        except ValueError:
            return v
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return float(v) if isinstance(v, float) else v
    return v
