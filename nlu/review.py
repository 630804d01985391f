"""Write a trainer's labels back into `training_data/` as Rasa YAML, safely.

Guarantees, checked on every write:
- stable, diff-friendly output: labels go to one file, `training_data/reviewed.yml`, rewritten with
  `to_rasa_yaml` (intents and examples sorted), so a review session is a small, readable diff;
- no duplicates: an example already present under the same intent anywhere is not added again;
- no example under two intents: a text filed under another intent in a hand-written file is a
  conflict and is not written (the trainer edits that file); in `reviewed.yml` the newer label wins;
- a new intent waits in `training_data/review/new_intents.yml` (a subdirectory, which training does
  not read) until it has `min_examples` examples, then moves into `reviewed.yml`;
- `validate` runs on the result; on a new error the files are restored and the error is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nlu.readers import load_training_data, read_rasa_yaml, to_rasa_yaml
from nlu.training_data import Example, TrainingData
from nlu.validate import Problem, validate

REVIEWED = "reviewed.yml"
PENDING = Path("review") / "new_intents.yml"


@dataclass
class WriteResult:
    added: list[tuple[str, str]] = field(default_factory=list)
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # text, old intent, new intent
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # text, wanted, where it is
    waiting: dict[str, int] = field(default_factory=dict)  # new intent -> examples so far
    promoted: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.level == "error" for p in self.problems)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _read(path: Path) -> TrainingData:
    return read_rasa_yaml(path) if path.exists() else TrainingData()


def _write(path: Path, td: TrainingData) -> None:
    if not td.examples:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(to_rasa_yaml(TrainingData(examples=td.examples)), encoding="utf-8")
    tmp.replace(path)


def write_labels(training_dir: str | Path, labels: list[tuple[str, str]], *, min_examples: int = 5,
                 known_entities: set[str] | None = None) -> WriteResult:
    """Merge (text, intent) labels into the training data under `training_dir`."""
    root = Path(training_dir)
    reviewed_path, pending_path = root / REVIEWED, root / PENDING
    before = {p: p.read_text(encoding="utf-8") if p.exists() else None for p in (reviewed_path, pending_path)}
    others = [f for f in sorted(root.glob("*")) if f.is_file() and f.suffix.lower() in (".yml", ".yaml", ".csv")
              and f.name != REVIEWED]
    base = load_training_data(others) if others else TrainingData()
    fixed: dict[str, tuple[str, str]] = {}
    for ex in base.examples:
        fixed.setdefault(_key(ex.text), (ex.intent, f"{Path(ex.file or '?').name}:{ex.line}"))
    reviewed, pending = _read(reviewed_path), _read(pending_path)
    earlier = TrainingData(examples=list(base.examples))
    earlier.merge(reviewed)
    baseline = {p.message for p in validate(earlier, min_examples=min_examples, known_entities=known_entities)}
    rev = {_key(e.text): e for e in reviewed.examples}
    pen = {_key(e.text): e for e in pending.examples}
    known = set(base.intents)
    res = WriteResult()
    for text, intent in labels:
        text = " ".join(text.split())
        k = _key(text)
        if not k:
            continue
        if k in fixed:
            if fixed[k][0] == intent:
                res.duplicates.append((text, intent))
            else:
                res.conflicts.append((text, intent, f"{fixed[k][0]} in {fixed[k][1]}"))
            continue
        old = rev.pop(k, None) or pen.pop(k, None)
        if old is not None and old.intent == intent:
            res.duplicates.append((text, intent))
        elif old is not None:
            res.moved.append((text, old.intent, intent))
        else:
            res.added.append((text, intent))
        (rev if intent in known or intent in {e.intent for e in rev.values()} else pen)[k] = Example(text, intent)
    for intent in sorted({e.intent for e in pen.values()}):
        members = [k for k, e in pen.items() if e.intent == intent]
        if len(members) >= min_examples:
            res.promoted.append(intent)
            for k in members:
                rev[k] = pen.pop(k)
        else:
            res.waiting[intent] = len(members)
    _write(reviewed_path, TrainingData(examples=list(rev.values())))
    _write(pending_path, TrainingData(examples=list(pen.values())))
    merged = TrainingData(examples=list(base.examples))
    merged.merge(_read(reviewed_path))
    # Only problems this write introduced count: a flaw already in hand-written files is not ours.
    res.problems = [p for p in validate(merged, min_examples=min_examples, known_entities=known_entities)
                    if p.message not in baseline]
    if not res.ok:
        for p, content in before.items():
            if content is None:
                p.unlink(missing_ok=True)
            else:
                p.write_text(content, encoding="utf-8")
    return res
