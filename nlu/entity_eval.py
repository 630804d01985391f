"""Entity scores for `fancare test nlu`: precision, recall and F1 per entity type, like Rasa's entity
report, on Rasa YAML test data with annotations (`[VT-123456](order_number)`,
`[budz pro](product:Voltora Buds Pro)`, `[last tuesday](date:2026-06-16)`, `[€49.99](amount:49.99 EUR)`).

Two ways of counting, both per message and entity type:
- `strict`: a prediction is right when type, span (start and end) and value all match (values
  compared case-insensitively), the measure a dialog that highlights or redacts spans needs;
- `value`: type and value match anywhere in the message (span ignored), what a flow that fills a
  slot needs ("on the [3rd]" read as "the 3rd" still fills the right date).

Relative dates need the message's date: an intent item may carry `metadata: {reference_date:
2026-06-17}` (valid Rasa YAML); its examples' dates are resolved relative to it, others to today.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from nlu.entities import EntityExtractor
from nlu.training_data import EntitySpan, Example, TrainingData
from nlu.yamlfile import DataError, load_located_file

Key = tuple[str, int, int, str]  # entity, start, end, value


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": tp + fn,
            "predicted": tp + fp}


def score_entities(true: Sequence[Sequence[EntitySpan]], pred: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Per-type and micro/macro precision, recall and F1, strict and value-only, over parallel lists
    of annotated spans and predicted entity dicts (`entity`, `value`, `start`, `end`)."""
    report: dict[str, Any] = {}
    for mode in ("strict", "value"):
        tp: Counter[str] = Counter()
        fp: Counter[str] = Counter()
        fn: Counter[str] = Counter()
        for spans, ents in zip(true, pred, strict=True):
            t = [_key(s.entity, s.start, s.end, s.value, mode) for s in spans]
            p = [_key(str(e["entity"]), int(e.get("start", -1)), int(e.get("end", -1)), str(e["value"]), mode)
                 for e in ents]
            tc, pc = Counter(t), Counter(p)
            both = tc & pc
            for k, n in tc.items():
                fn[k[0]] += n - both[k]
                tp[k[0]] += both[k]
            for k, n in pc.items():
                fp[k[0]] += n - both[k]
        types = sorted(set(tp) | set(fp) | set(fn))
        per = {name: _prf(tp[name], fp[name], fn[name]) for name in types}
        scored = [name for name in types if tp[name] + fn[name] > 0]
        report[mode] = {
            "per_entity": per,
            "micro": _prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
            "macro_f1": round(sum(per[n]["f1"] for n in scored) / len(scored), 4) if scored else 0.0,
        }
    return report


def _key(entity: str, start: int, end: int, value: str, mode: str) -> tuple[Any, ...]:
    v = value.strip().casefold()
    return (entity, start, end, v) if mode == "strict" else (entity, v)


def reference_dates(files: Iterable[str]) -> dict[tuple[str, int], date]:
    """(file, line) of each example -> the `metadata.reference_date` of its intent item."""
    out: dict[tuple[str, int], date] = {}
    for file in sorted(set(files)):
        if not file.endswith((".yml", ".yaml")) or not Path(file).exists():
            continue
        located = load_located_file(file)
        items = (located.data or {}).get("nlu") if isinstance(located.data, dict) else None
        if not isinstance(items, list):
            continue
        n_lines = Path(file).read_text(encoding="utf-8").count("\n") + 2
        starts = [located.line_of(("nlu", i)) or 0 for i in range(len(items))] + [n_lines]
        for i, item in enumerate(items):
            meta = item.get("metadata") if isinstance(item, dict) else None
            if not isinstance(meta, dict) or "reference_date" not in meta:
                continue
            raw = meta["reference_date"]
            try:
                ref = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
            except ValueError:
                raise DataError(f"reference_date must be an ISO date (YYYY-MM-DD), got {raw!r}", file,
                                located.line_of(("nlu", i, "metadata", "reference_date")),
                                f"nlu[{i}].metadata.reference_date") from None
            for line in range(starts[i], starts[i + 1]):
                out[(file, line)] = ref
    return out


def extract_for(extractor: EntityExtractor, examples: Sequence[Example],
                languages: Sequence[str | None]) -> list[list[dict[str, Any]]]:
    """The extractor's entities for each example's raw text (test spans are offsets into it), with
    its language (French "hier") and its reference date."""
    refs = reference_dates(ex.file for ex in examples if ex.file)
    today = datetime.now(UTC).date()
    return [[e.as_dict() for e in extractor.extract(ex.text, lang, refs.get((ex.file or "", ex.line or 0), today))]
            for ex, lang in zip(examples, languages, strict=True)]


def evaluate_entities(extractor: EntityExtractor, td: TrainingData,
                      languages: Sequence[str | None] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, errors): scores over `td`'s annotated entities and each message the extractor got
    wrong (strict), with what it missed and what it found that is not annotated."""
    langs = list(languages) if languages is not None else [None] * len(td.examples)
    pred = extract_for(extractor, td.examples, langs)
    true = [list(ex.entities) for ex in td.examples]
    report = score_entities(true, pred)
    errors = []
    for ex, spans, ents in zip(td.examples, true, pred, strict=True):
        t = {(s.entity, s.start, s.end, s.value.casefold()): s for s in spans}
        p = {(str(e["entity"]), e["start"], e["end"], str(e["value"]).casefold()): e for e in ents}
        missed = [f"{s.entity}: {s.text!r} = {s.value!r}" for k, s in t.items() if k not in p]
        spurious = [f"{e['entity']}: {e['text']!r} = {e['value']!r}" for k, e in p.items() if k not in t]
        if missed or spurious:
            errors.append({"text": ex.text, "file": ex.file, "line": ex.line, "missed": missed, "spurious": spurious})
    report["n_messages"] = len(td.examples)
    report["n_annotated"] = sum(len(s) for s in true)
    return report, errors


def format_entity_table(report: dict[str, Any]) -> str:
    """Rasa-style table: one row per entity type, strict and value-only F1 side by side."""
    strict, value = report["strict"], report["value"]
    lines = [f"{'entity':<16} {'prec':>6} {'recall':>6} {'f1':>6} {'value-f1':>8} {'n':>5}"]
    for name, v in sorted(strict["per_entity"].items()):
        vf = value["per_entity"].get(name, {}).get("f1", 0.0)
        lines.append(f"{name:<16} {v['precision']:6.3f} {v['recall']:6.3f} {v['f1']:6.3f} {vf:8.3f} {v['support']:5d}")
    m, vm = strict["micro"], value["micro"]
    lines.append(f"{'micro avg':<16} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {vm['f1']:8.3f} "
                 f"{m['support']:5d}")
    lines.append(f"entities: strict = type+span+value, value-f1 = type+value; macro-F1 {strict['macro_f1']:.4f} "
                 f"(value {value['macro_f1']:.4f}); {report['n_annotated']} annotated in {report['n_messages']} messages")
    return "\n".join(lines)
