"""Words the brand's own translated texts use, per language: evidence for short first messages.

The chat-word lexicon in `nlu.language` is small and was written by the person who wrote the
hand-written short-message benchmark, so it knows "hola" but not "wel" ("dank je wel") or "ottimo".
The demo brand already holds a few thousand words of real text in each language: the help
articles translated into each language (`knowledge_base/articles/<lang>/*.md`, body, title and
the fan-style `questions`), the reply translations (`dialogs/translations/<lang>.yml`) and the
domain's responses (`dialogs/domain.yml`), plus the training examples whose language is clear
(`label_examples`: fan-style words such as "funciona" or "roto" that the articles lack). A word
that only one, two or three of the configured Latin-script languages use there says which of them
a message is in ("wel": Dutch; "reembolso": Spanish or Portuguese, not Italian).

`fancare train` writes the table of the brand's own texts next to the model it trains
(`<model>/language_corpus.yml`, `MODEL_TABLE`), and the assistant serving that model reads it, so a
brand's articles, translations and examples are evidence without any extra step.
`python -m nlu.language_corpus` writes the demo brand's table to `nlu/language_corpus.yml` (shipped
with the package, read once per process by `corpus_words`): what a model trained before the table
existed falls back to. English articles are read without their `questions`, which mix languages.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

#: the table this module writes and `corpus_words` reads
CORPUS_FILE = Path(__file__).with_name("language_corpus.yml")
#: a word more languages than this share says too little to keep ("no": es, pt, it, en)
MAX_OWNERS = 3
#: a training example joins the texts when it has this many words and the identifier reads it at
#: this confidence (chosen on the short-message benchmark with the lexicon held out and a dev set:
#: 2-4 words and 0.5-0.9 all gave the same accuracy within one message)
LABEL_MIN_WORDS = 3
LABEL_MIN_CONFIDENCE = 0.8
#: the language whose training examples are left out: English has ten times the examples of any
#: other, so its table would claim the chat words every language borrows ("ok", "wow", "lol") just
#: because the others' few examples never happen to use them
UNLABELLED = "en"
#: the key of the words every language's texts use: the brand's, its products' and partners' names
#: ("voltora", "buds", "pulse", "paypal", "dhl"), which say nothing about a message's language
EVERYWHERE = "*"
#: languages told apart by script (nlu.language), so their words are left out
_NON_LATIN = frozenset({"ru", "ar", "hi", "he", "el", "th", "ja", "ko", "zh"})
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
#: placeholders, inline code, e-mail addresses and links: not words of the language around them
_NOT_PROSE = re.compile(r"\{[^}]*\}|`[^`]*`|\S+@\S+|https?://\S+")
#: keys of the response files whose values are not text in the file's language
_SKIP_KEYS = frozenset({"payload", "language", "id", "translation_of", "tags", "image", "url"})


def _strings(node: Any, out: list[str]) -> None:
    """Every text value under `node` (responses, buttons' titles), not payloads or ids."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in _SKIP_KEYS:
                _strings(value, out)
    elif isinstance(node, list):
        for value in node:
            _strings(value, out)
    elif isinstance(node, str):
        out.append(node)


def _article(path: Path) -> tuple[str, list[str]]:
    """(language, texts) of one help article; errors name the file."""
    text = path.read_text(encoding="utf-8")
    parts = text.split("---", 2)
    if len(parts) != 3 or parts[0].strip():
        raise ValueError(f"{path}: expected front matter between '---' lines")
    meta = yaml.safe_load(parts[1]) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the front matter must be a mapping")
    lang = str(meta.get("language", "en"))
    texts = [parts[2]]
    _strings({k: meta.get(k) for k in (("title", "questions") if lang != "en" else ("title",))}, texts)
    return lang, texts


def texts_by_language(articles: Path, translations: Path, domain: Path | None = None) -> dict[str, list[str]]:
    """The brand's texts per language: help articles (by their `language:`), reply translations
    (by file name, `<lang>.yml`; `phrases.yml` holds every language and is left out) and the
    domain's responses (by each variation's `language:`, English without one)."""
    out: dict[str, list[str]] = {}
    if domain is not None:
        responses = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("responses", {})
        if not isinstance(responses, dict):
            raise ValueError(f"{domain}: 'responses' must be a mapping")
        for variations in responses.values():
            for variation in variations if isinstance(variations, list) else []:
                if isinstance(variation, dict) and isinstance(variation.get("text"), str):
                    out.setdefault(str(variation.get("language", "en")), []).append(variation["text"])
    for path in sorted(articles.rglob("*.md")):
        lang, article = _article(path)
        out.setdefault(lang, []).extend(article)
    for path in sorted(translations.glob("*.yml")):
        if path.stem == "phrases":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not isinstance(data.get("responses", {}), dict):
            raise ValueError(f"{path}: expected a mapping with a 'responses' mapping")
        replies: list[str] = []
        _strings(data.get("responses", {}), replies)
        out.setdefault(path.stem, []).extend(replies)
    return out


def label_examples(examples: Iterable[str], languages: Iterable[str]) -> dict[str, list[str]]:
    """The training examples whose language is clear, per language: fan-style text ("el reloj no
    funciona") that the help articles do not hold. The training data has no language labels, so
    each example of at least `LABEL_MIN_WORDS` words is read by `nlu.language`'s identifier in
    lingua's high-accuracy mode without this table (no circle), kept at confidence `LABEL_MIN_CONFIDENCE`."""
    from nlu.language import _WORD as WORD
    from nlu.language import LanguageIdentifier

    reader = LanguageIdentifier(languages, high_accuracy=True, corpus={})
    out: dict[str, list[str]] = {}
    for text in examples:
        if len(WORD.findall(text)) < LABEL_MIN_WORDS:
            continue
        code, confidence = reader.detect(text)
        if code != "und" and confidence >= LABEL_MIN_CONFIDENCE:
            out.setdefault(code, []).append(text)
    return out


def build(texts: dict[str, list[str]], max_owners: int = MAX_OWNERS,
          borrowed: set[str] | frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """{"es pt": ["reembolso", ...], "nl": ["wel", ...], "*": ["paypal", ...]}: each word under the
    sorted, space-joined Latin-script languages that use it, kept when at most `max_owners` do;
    under `EVERYWHERE` the words every one of them uses (names: "voltora", "buds", "paypal")."""
    owners: dict[str, set[str]] = {}
    for lang, chunks in texts.items():
        if lang in _NON_LATIN:
            continue
        for chunk in chunks:
            for word in _WORD.findall(_NOT_PROSE.sub(" ", chunk)):
                owners.setdefault(word.casefold(), set()).add(lang)
    every = {lang for lang in texts if lang not in _NON_LATIN}
    table: dict[str, list[str]] = {}
    for word, langs in owners.items():
        if word in borrowed and "en" not in langs:  # English fans write it too ("ok", "lol"): a loanword
            continue
        if len(langs) <= max_owners:
            table.setdefault(" ".join(sorted(langs)), []).append(word)
        elif langs == every:
            table.setdefault(EVERYWHERE, []).append(word)
    return {key: sorted(words) for key, words in sorted(table.items())}


def load(path: Path = CORPUS_FILE) -> dict[str, tuple[str, ...]]:
    """word -> the languages that use it, from a table `build` wrote; errors name the file and key."""
    # libyaml's loader when there is one: about 0.1 s instead of 0.45 s at start
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of 'lang lang' -> list of words")
    words: dict[str, tuple[str, ...]] = {}
    for key, listed in data.items():
        langs = tuple(str(key).split())
        if not langs or not isinstance(listed, list) or not all(isinstance(w, str) for w in listed):
            raise ValueError(f"{path}: key {key!r} must name languages and hold a list of words")
        for word in listed:
            words[word] = langs
    return words


@functools.lru_cache(maxsize=1)
def corpus_words() -> dict[str, tuple[str, ...]]:
    """The shipped table, read once per process (about 9,000 words, a few MB)."""
    return load()


def build_from(articles: Path, translations: Path, domain: Path | None,
               training: Iterable[Path], languages: Iterable[str] | None = None) -> dict[str, list[str]]:
    """The table for a brand's files: what `main` writes, what `fancare train` writes next to the
    model (`write_table`) and what the drift test compares with the shipped one. `languages`: those
    the training examples are read among (default: the demo's twelve)."""
    from nlu.language import DEFAULT_LANGUAGES
    from nlu.readers import load_training_data

    texts = texts_by_language(articles, translations, domain)
    examples = [ex.text for ex in load_training_data(training).examples]
    borrowed: set[str] = set()
    for lang, labelled in label_examples(examples, tuple(languages or DEFAULT_LANGUAGES)).items():
        if lang != UNLABELLED:
            texts.setdefault(lang, []).extend(labelled)
        else:  # what English-speaking fans write too ("ok", "wow", "lol") says nothing about the others
            borrowed.update(w.casefold() for chunk in labelled for w in _WORD.findall(_NOT_PROSE.sub(" ", chunk)))
    return build(texts, borrowed=borrowed)


#: the file name of the table inside a trained model's directory (`fancare train`)
MODEL_TABLE = "language_corpus.yml"
_HEADER = ("# Generated from the brand's translated help articles, reply translations and training examples\n"
           "# (`fancare train`, or `python -m nlu.language_corpus` for the one shipped with fancare); do not edit.\n"
           f"# Word -> the Latin-script languages using it (at most {MAX_OWNERS}).\n")


def write_table(table: dict[str, list[str]], path: Path) -> None:
    """Write a table `build` made, in the format `load` reads."""
    path.write_text(_HEADER + yaml.safe_dump(table, allow_unicode=True, width=120, sort_keys=True), encoding="utf-8")


def main(argv: Iterable[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=Path, default=root / "knowledge_base" / "articles")
    ap.add_argument("--translations", type=Path, default=root / "dialogs" / "translations")
    ap.add_argument("--domain", type=Path, default=root / "dialogs" / "domain.yml")
    ap.add_argument("--training", type=Path, nargs="*", default=[root / "training_data"])
    ap.add_argument("--out", type=Path, default=CORPUS_FILE)
    args = ap.parse_args(list(argv) if argv is not None else None)
    table = build_from(args.articles, args.translations, args.domain, args.training)
    write_table(table, args.out)
    print(f"wrote {args.out}: {sum(len(v) for v in table.values())} words under {len(table)} language sets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
