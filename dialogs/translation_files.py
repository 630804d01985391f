"""Translation files: `<dir>/<lang>.yml` (responses, flow names, phrases) and `<dir>/phrases.yml`.

One file per language, written by translators against the English source (dialogs/domain.yml and
the flows' responses)::

    language: es
    responses:
      utter_greet:
        - text: "¡Hola {name}! ..."
    flow_names: {order: pedido}
    phrases: {}                 # optional here: phrase translations, see dialogs/phrases.py

and one file for the words fancare's code builds (`phrases.yml`, `<key>: {es: ..., de: ...}`), so
that a translator never has to know where in Python a phrase is used. Errors name file, line and key
(the loader refuses a broken file); consistency with the English source (same placeholders, same
buttons, known response names) is `fancare data validate`'s business, as warnings, because a
half-translated language must still load.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from dialogs.domain import Variation, parse_responses
from dialogs.phrases import COUNTED, PHRASES, form_key
from dialogs.plural import CATEGORIES
from nlu.yamlfile import DataError, LocatedYaml, load_located_file

PHRASES_FILE = "phrases.yml"
LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
FILE_KEYS = ("language", "responses", "flow_names", "phrases")


@dataclass
class LanguageFile:
    """One `<lang>.yml`, with the line of each response and flow name (for validate's warnings)."""

    language: str
    file: str
    responses: dict[str, list[Variation]] = field(default_factory=dict)
    response_lines: dict[str, int] = field(default_factory=dict)
    variation_lines: dict[str, list[int]] = field(default_factory=dict)  # response -> line of each variation
    flow_names: dict[str, str] = field(default_factory=dict)
    flow_name_lines: dict[str, int] = field(default_factory=dict)
    language_line: int = 1


@dataclass
class Translations:
    """Every translation of a brand: per language its file, and the phrase table key -> language -> text."""

    files: dict[str, LanguageFile] = field(default_factory=dict)
    phrases: dict[str, dict[str, str]] = field(default_factory=dict)
    directory: str = ""

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)


def placeholders(text: str) -> set[str]:
    """The `{slot}` names a text fills ("Order {order_number} is {order_status}" -> both names)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def load_translations(directory: str | Path) -> Translations:
    """All translation files under `directory`; a missing directory means no translations (English only)."""
    d = Path(directory)
    out = Translations(directory=str(d))
    if not d.is_dir():
        return out
    for f in sorted(d.glob("*.yml")):
        if f.name == PHRASES_FILE:
            continue
        lf, phrases = _load_language_file(f)
        out.files[lf.language] = lf
        for key, text in phrases.items():
            out.phrases.setdefault(key, {})[lf.language] = text
    if (d / PHRASES_FILE).exists():
        for key, by_lang in _load_phrases_file(d / PHRASES_FILE).items():
            for lang, text in by_lang.items():
                out.phrases.setdefault(key, {}).setdefault(lang, text)  # a <lang>.yml entry wins
    return out


def _load_language_file(path: Path) -> tuple[LanguageFile, dict[str, str]]:
    located = load_located_file(path)
    data = located.data
    file = located.file
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DataError("top level must be a mapping", file, 1)
    for key in data:
        if key not in FILE_KEYS:
            raise DataError(f"unknown key (expected one of {', '.join(FILE_KEYS)})", file,
                            located.line_of((str(key),)), str(key))
    lang = data.get("language")
    if lang is None:
        raise DataError(f"missing 'language: {path.stem}'", file, 1, "language")
    lang_line = located.line_of(("language",)) or 1
    if not isinstance(lang, str) or not LANGUAGE_CODE.match(lang):
        raise DataError("must be a two-letter ISO 639-1 code such as es", file, lang_line, "language")
    if lang != path.stem:
        raise DataError(f"says {lang!r} but the file is named {path.name} (name it {lang}.yml)", file, lang_line,
                        "language")
    responses = parse_responses(located)
    for name, variations in responses.items():
        for i, v in enumerate(variations):
            if v.language not in (None, lang):
                raise DataError(f"variation says language {v.language!r} in the {lang} file", file,
                                located.line_of(("responses", name, i, "language")), f"{name}[{i}].language")
        responses[name] = [Variation(v.text, v.buttons, lang) for v in variations]
    lf = LanguageFile(lang, file, responses, {n: located.line_of(("responses", n)) or 1 for n in responses},
                      language_line=lang_line)
    lf.variation_lines = {n: [located.line_of(("responses", n, i)) or 1 for i in range(len(v))]
                          for n, v in responses.items()}
    lf.flow_names, lf.flow_name_lines = _string_map(located, "flow_names")
    phrases, _ = _string_map(located, "phrases")
    for key in phrases:
        _check_phrase(located, ("phrases", key), key, phrases[key])
    return lf, phrases


def _string_map(located: LocatedYaml, section: str) -> tuple[dict[str, str], dict[str, int]]:
    raw = (located.data or {}).get(section) or {}
    if not isinstance(raw, dict):
        raise DataError("must be a mapping of name: text", located.file, located.line_of((section,)), section)
    out: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise DataError("must be a non-empty text", located.file, located.line_of((section, str(key))),
                            f"{section}.{key}")
        out[str(key)] = value.strip()
        lines[str(key)] = located.line_of((section, str(key))) or 1
    return out, lines


def _check_phrase(located: LocatedYaml, path: tuple[str | int, ...], key: str, text: str) -> None:
    """A phrase key the engine uses, with exactly the English phrase's placeholders (else it would
    show a blank or a raw `{name}` to the fan)."""
    line = located.line_of(path)
    if key not in PHRASES:
        raise DataError("unknown phrase (the keys are listed in dialogs/phrases.py)", located.file, line, key)
    try:
        have = placeholders(text)
    except ValueError as exc:
        raise DataError(f"bad {{placeholder}}: {exc}", located.file, line, key) from None
    want = placeholders(PHRASES[key])
    if have != want:
        shown = ", ".join("{" + p + "}" for p in sorted(want)) or "none"
        raise DataError(f"placeholders must be the English phrase's ({shown})", located.file, line, key)


def _load_phrases_file(path: Path) -> dict[str, dict[str, str]]:
    located = load_located_file(path)
    data = located.data or {}
    if not isinstance(data, dict):
        raise DataError("top level must be a mapping of phrase key: {language: text}", located.file, 1)
    out: dict[str, dict[str, str]] = {}
    for key, by_lang in data.items():
        key = str(key)
        if key not in PHRASES:
            raise DataError("unknown phrase (the keys are listed in dialogs/phrases.py)", located.file,
                            located.line_of((key,)), key)
        if not isinstance(by_lang, dict):
            raise DataError("must be a mapping of language: text", located.file, located.line_of((key,)), key)
        for lang, text in by_lang.items():
            where = f"{key}.{lang}"
            if not isinstance(lang, str) or not LANGUAGE_CODE.match(lang):
                raise DataError("language must be a two-letter ISO 639-1 code", located.file,
                                located.line_of((key, str(lang))), where)
            if isinstance(text, dict) and key in COUNTED:
                out.setdefault(key, {}).update(_plural_forms(located, key, lang, text))
                continue
            if not isinstance(text, str) or not text.strip():
                raise DataError("must be a non-empty text" + (" or plural forms {one: ..., other: ...}"
                                                              if key in COUNTED else ""),
                                located.file, located.line_of((key, lang)), where)
            _check_phrase(located, (key, lang), key, text)
            out.setdefault(key, {})[lang] = text.strip()
    return out


def _plural_forms(located: LocatedYaml, key: str, lang: str, forms: dict[object, object]) -> dict[str, str]:
    """A counted phrase's forms in one language (`{one: ..., few: ..., other: ...}`, dialogs/plural.py):
    `other` under the language, each other form under `form_key` (so one table holds them all)."""
    where = f"{key}.{lang}"
    if "other" not in forms:
        raise DataError("plural forms need 'other' (the form for every number not listed)", located.file,
                        located.line_of((key, lang)), where)
    out: dict[str, str] = {}
    for form, text in forms.items():
        if form not in CATEGORIES:
            raise DataError(f"unknown plural form (use {', '.join(CATEGORIES)})", located.file,
                            located.line_of((key, lang, str(form))), f"{where}.{form}")
        if not isinstance(text, str) or not text.strip():
            raise DataError("must be a non-empty text", located.file, located.line_of((key, lang, str(form))),
                            f"{where}.{form}")
        if form == "other":
            _check_phrase(located, (key, lang, str(form)), key, text)
        else:  # "دقيقتين" (two minutes) says the number in the word: the count may be left out
            want = placeholders(PHRASES[key])
            try:
                have = placeholders(text)
            except ValueError as exc:
                raise DataError(f"bad {{placeholder}}: {exc}", located.file, located.line_of((key, lang, str(form))),
                                key) from None
            if not have <= want or not want - {COUNTED[key]} <= have:
                shown = ", ".join("{" + p + "}" for p in sorted(want))
                raise DataError(f"placeholders must be the English phrase's ({shown}; {{{COUNTED[key]}}} may be "
                                "left out of a form other than 'other')", located.file,
                                located.line_of((key, lang, str(form))), key)
        out[lang if form == "other" else form_key(lang, str(form))] = text.strip()
    return out
