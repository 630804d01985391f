"""The domain file: `utter_*` responses with variations, `{slot}` interpolation and buttons.

Responses are answered in the fan's language when one exists, else in a stated fallback order
(`fallback_chain`: the fan's language, the brand's default, English, then whatever there is), from
variations marked `language:` in the domain or from translation files (dialogs/translation_files.py).
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogs.numbers import localised
from dialogs.phrases import PHRASES
from dialogs.phrases import choose as choose_phrase
from dialogs.phrases import language_of as phrase_language
from nlu.yamlfile import DataError, LocatedYaml, load_located_file

if TYPE_CHECKING:
    from dialogs.translation_files import Translations

SOURCE_LANGUAGE = "en"  # the language of variations without `language:` (the domain's own text)


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
    language: str | None = None  # the language the response was answered in (None: not from the domain)

    def as_payload(self) -> dict[str, Any]:
        return {"buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
                "response": self.response, "language": self.language}


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
    default_language: str = SOURCE_LANGUAGE  # the brand's (`brand.default_language`), second in the fallback
    #: language -> response -> variations, from the translation files
    translated: dict[str, dict[str, list[Variation]]] = field(default_factory=dict)
    #: language -> a flow's English `name` (or id) -> how it reads in that language inside "{flow}"
    flow_names: dict[str, dict[str, str]] = field(default_factory=dict)
    #: phrase key -> language -> text (dialogs/phrases.py holds the English)
    phrases: dict[str, dict[str, str]] = field(default_factory=dict)

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

    def use_translations(self, translations: Translations) -> None:
        """Answer in the languages of `translations` (loaded by dialogs/translation_files.py)."""
        self.translated = {lang: dict(f.responses) for lang, f in translations.files.items()}
        self.flow_names = {lang: dict(f.flow_names) for lang, f in translations.files.items()}
        self.phrases = {k: dict(v) for k, v in translations.phrases.items()}

    def fallback_chain(self, language: str | None) -> list[str]:
        """The fan's language, the brand's default, then English: the order a reply's language is chosen in."""
        out: list[str] = []
        for lang in (language, self.default_language, SOURCE_LANGUAGE):
            if lang and lang != "und" and lang not in out:
                out.append(lang)
        return out

    def variations_in(self, name: str, language: str) -> list[Variation]:
        """The variations of `name` written in `language` (a translation file's win over inline ones)."""
        translated = self.translated.get(language, {}).get(name)
        if translated:
            return translated
        own = self.responses.get(name) or []
        return [v for v in own if v.language == language
                or (v.language is None and language == SOURCE_LANGUAGE)]

    def answered_in(self, name: str, language: str | None) -> str | None:
        """The language `name` is answered in for a fan writing `language` (None: no such response)."""
        for lang in self.fallback_chain(language):
            if self.variations_in(name, lang):
                return lang
        variations = self.responses.get(name)
        if not variations:
            return None
        return variations[0].language or SOURCE_LANGUAGE

    def language_note(self, name: str, language: str | None) -> str | None:
        """Why `name` is not in the fan's language ("utter_x: no pl translation, answered in en"), or None."""
        if not language or language == "und" or name not in self.responses:
            return None
        got = self.answered_in(name, language)
        return None if got == language else f"{name}: no {language} translation, answered in {got}"

    def phrase(self, key: str, language: str | None, **values: Any) -> str:
        """A phrase of fancare's code (dialogs/phrases.py) in `language`, by the fallback order, filled;
        a counted phrase ("about {minutes} minutes") in the plural form its number takes there."""
        table, chain = self.phrases.get(key, {}), self.fallback_chain(language)
        text = choose_phrase(key, table, chain, values)
        # a fraction in the text's own language ("etwa 1,5 Stunden"), which a missing translation may make English
        return string.Formatter().vformat(text, (), _Blank(localised(values, phrase_language(table, chain))))

    def flow_name(self, flow_id: str, english: str, language: str | None) -> str:
        """How a flow's `name` reads in `language` inside "{flow}": `flow_names` are keyed by the English
        name (the flows file's `name:`; the flow's id works too), the English name is the fallback."""
        for lang in self.fallback_chain(language):
            names = self.flow_names.get(lang, {})
            for key in (english, flow_id):
                if key in names:
                    return names[key]
            if lang == SOURCE_LANGUAGE:
                break
        return english

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
    """Pick a variation (stable per `seed`) in the first language of the fallback chain that has one,
    and fill `{slots}`; a slot value with a phrase `<slot>.<value>` is filled in that language."""
    variations = self.responses.get(name)
    if not variations:
        return Outgoing(text=name, response=name)
    used = self.answered_in(name, language) or SOURCE_LANGUAGE
    pool = self.variations_in(name, used) or variations
    h = int(hashlib.sha256(f"{name}:{seed}".encode()).hexdigest(), 16)
    v = pool[h % len(pool)]
    vals = _Blank()
    for k, val in (values or {}).items():
        if isinstance(val, str) and f"{k}.{val}" in PHRASES:
            val = self.phrase(f"{k}.{val}", used)
        vals[k] = "" if val is None else val
    text = string.Formatter().vformat(v.text, (), vals)
    text = text.strip()
    return Outgoing(text=text, buttons=v.buttons, response=name, language=used)
