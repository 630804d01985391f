"""Readers and writers of training-data formats: Rasa NLU YAML (3.x) and CSV.

One function per format, like Rasa's `formats/` package. Every problem is a DataError that names the
file, the line and the key.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nlu.training_data import EntitySpan, Example, TrainingData
from nlu.yamlfile import DataError, LocatedYaml, load_located_file

# [text](entity) | [text](entity:value) | [text]{"entity": "e", "value": "v"}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<paren>[^)]+)\)|(?P<json>\{[^}]*\}))")
INTENT_LABEL_COLUMNS = ("intent", "label", "category")
NLU_KEYS = {"intent", "synonym", "regex", "lookup"}


def parse_annotated(text: str, file: str | None = None, line: int | None = None) -> tuple[str, list[EntitySpan]]:
    """Strip Rasa entity markup from `text`, returning the plain text and the spans."""
    out: list[str] = []
    spans: list[EntitySpan] = []
    pos = 0
    plain_len = 0
    for m in _ANNOTATION.finditer(text):
        before = text[pos:m.start()]
        out.append(before)
        plain_len += len(before)
        value_text = m.group("text")
        if m.group("paren"):
            entity, _, value = m.group("paren").partition(":")
            value = value or value_text
        else:
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError:
                raise DataError(f"invalid entity annotation {m.group(0)!r}", file, line, "examples") from None
            if not isinstance(spec, dict) or "entity" not in spec:
                raise DataError(f"entity annotation without 'entity': {m.group(0)!r}", file, line, "examples")
            entity, value = str(spec["entity"]), str(spec.get("value", value_text))
        entity = entity.strip()
        if not entity:
            raise DataError(f"empty entity name in {m.group(0)!r}", file, line, "examples")
        spans.append(EntitySpan(plain_len, plain_len + len(value_text), entity, value, value_text))
        out.append(value_text)
        plain_len += len(value_text)
        pos = m.end()
    out.append(text[pos:])
    return "".join(out), spans


def _example_lines(block: Any, located: LocatedYaml, path: tuple[Any, ...]) -> Iterable[tuple[str, int | None]]:
    """Yield (example, line) from a Rasa `examples: |` block (or a YAML list)."""
    base = located.line_of(path)
    if isinstance(block, list):
        for i, item in enumerate(block):
            if isinstance(item, dict) and "text" in item:
                item = item["text"]
            if not isinstance(item, str):
                raise DataError("each example must be a string", located.file, located.line_of((*path, i)), "examples")
            yield item, located.line_of((*path, i))
        return
    if not isinstance(block, str):
        raise DataError("'examples' must be a block of '- example' lines", located.file, base, "examples")
    for offset, raw in enumerate(block.splitlines()):
        stripped = raw.strip()
        if not stripped:
            continue
        line = base + 1 + offset if base is not None else None
        if not stripped.startswith("- "):
            if stripped == "-":
                continue
            raise DataError(f"example line must start with '- ': {stripped[:60]!r}", located.file, line, "examples")
        yield stripped[2:].strip(), line


def read_rasa_yaml(path: str | Path) -> TrainingData:
    located = load_located_file(path)
    file = located.file
    data = located.data
    td = TrainingData()
    if data is None:
        return td
    if not isinstance(data, dict):
        raise DataError("top level must be a mapping with an 'nlu' key", file, 1)
    items = data.get("nlu")
    if items is None:
        return td
    if not isinstance(items, list):
        raise DataError("'nlu' must be a list", file, located.line_of(("nlu",)), "nlu")
    for i, item in enumerate(items):
        ipath: tuple[Any, ...] = ("nlu", i)
        line = located.line_of(ipath)
        if not isinstance(item, dict):
            raise DataError("each nlu item must be a mapping", file, line, f"nlu[{i}]")
        kinds = NLU_KEYS & set(item)
        if len(kinds) != 1:
            raise DataError(f"item needs exactly one of {sorted(NLU_KEYS)}", file, line, f"nlu[{i}]")
        kind = kinds.pop()
        unknown = set(item) - {kind, "examples", "metadata"}
        if unknown:
            key = sorted(unknown)[0]
            raise DataError("unknown key", file, located.line_of((*ipath, key)), f"nlu[{i}].{key}")
        name = item[kind]
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"'{kind}' must be a non-empty name", file, line, f"nlu[{i}].{kind}")
        if "examples" not in item:
            raise DataError("missing 'examples'", file, line, f"nlu[{i}].examples")
        lines = list(_example_lines(item["examples"], located, (*ipath, "examples")))
        if kind == "intent":
            for text, ln in lines:
                plain, spans = parse_annotated(text, file, ln)
                td.examples.append(Example(plain, name, tuple(spans), file, ln))
                for s in spans:
                    if s.value != s.text:
                        td.synonyms[s.text.lower()] = s.value
        elif kind == "synonym":
            for text, _ in lines:
                td.synonyms[text.lower()] = name
        elif kind == "regex":
            for text, ln in lines:
                try:
                    re.compile(text)
                except re.error as exc:
                    raise DataError(f"invalid regular expression: {exc}", file, ln, f"regex {name}") from None
                td.regexes.setdefault(name, []).append(text)
        else:
            td.lookups.setdefault(name, []).extend(t for t, _ in lines)
    return td


def read_csv(path: str | Path) -> TrainingData:
    """CSV with a `text` column and an `intent`, `label` or `category` column."""
    p = Path(path)
    try:
        raw = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError("file is not valid UTF-8", p, exc.start and raw_line(p, exc.start)) from None
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "text" not in fields:
        raise DataError("CSV needs a 'text' column", p, 1, "text")
    label = next((c for c in INTENT_LABEL_COLUMNS if c in fields), None)
    if label is None:
        raise DataError("CSV needs an 'intent', 'label' or 'category' column", p, 1, "intent")
    reader.fieldnames = fields
    td = TrainingData()
    for row in reader:
        line = reader.line_num
        text, intent = (row.get("text") or "").strip(), (row.get(label) or "").strip()
        if not text:
            raise DataError("empty text", p, line, "text")
        if not intent:
            raise DataError(f"empty {label}", p, line, label)
        plain, spans = parse_annotated(text, str(p), line)
        td.examples.append(Example(plain, intent, tuple(spans), str(p), line))
    return td


def raw_line(p: Path, offset: int) -> int:
    return p.read_bytes()[:offset].count(b"\n") + 1


def read_file(path: str | Path) -> TrainingData:
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return read_csv(p)
    if p.suffix.lower() in (".yml", ".yaml"):
        return read_rasa_yaml(p)
    raise DataError("unsupported training-data format (use .yml, .yaml or .csv)", p)


def load_training_data(paths: Iterable[str | Path]) -> TrainingData:
    """Read files and directories (*.yml, *.yaml, *.csv directly inside; subdirectories such as
    `training_data/moderation/` hold other models' data) into one TrainingData."""
    td = TrainingData()
    for path in paths:
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.glob("*") if f.is_file() and f.suffix.lower() in (".yml", ".yaml", ".csv"))
        elif p.exists():
            files = [p]
        else:
            raise DataError("training data not found", p)
        for f in files:
            td.merge(read_file(f))
    return td


def _annotate(ex: Example) -> str:
    text = ex.text
    for s in sorted(ex.entities, key=lambda s: s.start, reverse=True):
        if s.value == s.text:
            mark = f"[{s.text}]({s.entity})"
        else:
            mark = "[" + s.text + "]" + json.dumps({"entity": s.entity, "value": s.value}, ensure_ascii=False)
        text = text[: s.start] + mark + text[s.end:]
    return text


def to_rasa_yaml(td: TrainingData) -> str:
    """Rasa 3.x NLU YAML in a stable, diff-friendly order (intents and examples sorted)."""
    out = ['version: "3.1"', "nlu:"]
    by_intent: dict[str, list[str]] = {}
    for ex in td.examples:
        line = _annotate(ex).replace("\n", " ")
        lst = by_intent.setdefault(ex.intent, [])
        if line not in lst:
            lst.append(line)
    for intent in sorted(by_intent):
        out.append(f"- intent: {_scalar(intent)}")
        out.append("  examples: |")
        out.extend(f"    - {t}" for t in sorted(by_intent[intent], key=str.casefold))
    canon: dict[str, list[str]] = {}
    for variant, value in td.synonyms.items():
        canon.setdefault(value, []).append(variant)
    for value in sorted(canon):
        out.append(f"- synonym: {_scalar(value)}")
        out.append("  examples: |")
        out.extend(f"    - {v}" for v in sorted(canon[value]))
    for name in sorted(td.regexes):
        out.append(f"- regex: {_scalar(name)}")
        out.append("  examples: |")
        out.extend(f"    - {v}" for v in td.regexes[name])
    for name in sorted(td.lookups):
        out.append(f"- lookup: {_scalar(name)}")
        out.append("  examples: |")
        out.extend(f"    - {v}" for v in sorted(set(td.lookups[name]), key=str.casefold))
    return "\n".join(out) + "\n"


def _scalar(s: str) -> str:
    return json.dumps(s, ensure_ascii=False) if re.search(r"[:#\[\]{}&*!|>'\"%@`,]|^\s|\s$", s) else s
