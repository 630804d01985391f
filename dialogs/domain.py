"""The domain file: `utter_*` responses with variations, `{slot}` interpolation and buttons."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlu.yamlfile import DataError, LocatedYaml, load_located_file


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Outgoing:
    """One message fancare sends: plain text (channels escape it) plus optional choice buttons."""

    text: str
    buttons: tuple[Button, ...] = ()
    response: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return {"buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
                "response": self.response}


@dataclass(frozen=True)
class Variation:
    text: str
    buttons: tuple[Button, ...] = ()
    language: str | None = None


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class Domain:
    responses: dict[str, list[Variation]] = field(default_factory=dict)
    entities: list[str] = field(default_factory=list)
    file: str = ""

    @classmethod
    def load(cls, source: str | Path) -> Domain:
        located = load_located_file(source)
        data = located.data or {}
        file = located.file
        if not isinstance(data, dict):
            raise DataError("top level must be a mapping", file, 1)
        for key in data:
            if key not in ("version", "responses", "entities", "intents", "slots"):
                raise DataError("unknown key", file, located.line_of((str(key),)), str(key))
        responses = parse_responses(located)
        entities = [str(e) for e in (data.get("entities") or [])]
        return cls(responses, entities, file)

    def merge_responses(self, more: dict[str, list[Variation]]) -> None:
        """Responses that came with a flows file; a name the domain already has is an error upstream."""
        self.responses.update(more)

    def render(self, name: str, values: dict[str, Any] | None = None, *, language: str | None = None,
               seed: str = "") -> Outgoing:
        return _render(self, name, values, language=language, seed=seed)


def parse_responses(located: LocatedYaml) -> dict[str, list[Variation]]:
    """The `responses:` section of a domain (or flows) file; errors name file, line and response."""
    data = located.data or {}
    file = located.file
    responses: dict[str, list[Variation]] = {}
    raw = data.get("responses") or {}
    if not isinstance(raw, dict):
        raise DataError("'responses' must be a mapping", file, located.line_of(("responses",)), "responses")
    for name, variations in raw.items():
        path: tuple[str | int, ...] = ("responses", str(name))
        if not isinstance(variations, list) or not variations:
            raise DataError("a response needs a list of variations", file, located.line_of(path), str(name))
        out = []
        for i, v in enumerate(variations):
            vp = (*path, i)
            if isinstance(v, str):
                v = {"text": v}
            if not isinstance(v, dict) or not isinstance(v.get("text"), str):
                raise DataError("each variation needs a 'text'", file, located.line_of(vp), f"{name}[{i}]")
            extra = set(v) - {"text", "buttons", "language"}
            if extra:
                k = sorted(extra)[0]
                raise DataError("unknown key", file, located.line_of((*vp, k)), f"{name}[{i}].{k}")
            try:
                list(string.Formatter().parse(v["text"]))
            except ValueError as exc:
                raise DataError(f"bad {{slot}} placeholder: {exc}", file, located.line_of(vp), f"{name}[{i}]") from None
            buttons = []
            for j, b in enumerate(v.get("buttons") or []):
                if not isinstance(b, dict) or "title" not in b or "payload" not in b:
                    raise DataError("a button needs 'title' and 'payload'", file,
                                    located.line_of((*vp, "buttons", j)), f"{name}[{i}].buttons[{j}]")
                buttons.append(Button(str(b["title"]), str(b["payload"])))
            out.append(Variation(v["text"], tuple(buttons), v.get("language")))
        responses[str(name)] = out
    return responses


def _render(self: Domain, name: str, values: dict[str, Any] | None = None, *, language: str | None = None,
            seed: str = "") -> Outgoing:
    """Pick a variation (stable per `seed`, preferring the fan's language) and fill `{slots}`."""
    variations = self.responses.get(name)
    if not variations:
        return Outgoing(text=name, response=name)
    own = [v for v in variations if language and v.language == language]
    pool = own or [v for v in variations if v.language is None] or variations
    h = int(hashlib.sha256(f"{name}:{seed}".encode()).hexdigest(), 16)
    v = pool[h % len(pool)]
    vals = _Blank({k: ("" if val is None else val) for k, val in (values or {}).items()})
    text = string.Formatter().vformat(v.text, (), vals)
    text = text.strip()
    return Outgoing(text=text, buttons=v.buttons, response=name)
