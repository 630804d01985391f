"""Train the moderation heads (`fancare train` calls `train_and_save` after the NLU model).

Training data, all with a clear licence: the hand-written CC0 files in `training_data/moderation/`
(every `sentiment*.csv`: text,label; every `toxicity*.csv`: text,offensive,hate; about 1,500 fan,
sport, music and customer messages in the demo's 12 languages, written so that the shipped heads see
community talk and not only brand support) plus the decisions of this
brand's moderators from the review queue (restored -> "no", confirmed / banned -> "yes" for the
signal that fired). One head set per encoder the NLU routes to, so that the heads read the very
embedding the NLU computed for the message.
"""

from __future__ import annotations

import csv
import io
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from moderation.heads import SignalHead
from moderation.normalize import normalize
from moderation.signals import HEADS_FILE, OWN_ENCODER, OWN_ENCODER_DIR, ModerationHeads
from nlu.encoders import Encoder, get_encoder
from nlu.model import clean_text

log = logging.getLogger("fancare.moderation")
Examples = dict[str, list[tuple[str, str]]]  # head -> [(text, label)]
# Share of the TF-IDF model in each head's blend (BENCHMARKS.md): word n-grams help offensive and
# sentiment, but over-fit hate's targets, so the hate head leans on the embedding.
TEXT_WEIGHTS = {"offensive": 0.5, "sentiment": 0.5, "hate": 0.25}
LABELS = {"sentiment": ("negative", "neutral", "positive"), "offensive": ("no", "yes"), "hate": ("no", "yes")}


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number in the file, row) for each data row; `#` lines are comments."""
    kept = [(n, ln) for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ln.strip() and not ln.startswith("#")]
    if not kept:
        return []
    rows = csv.DictReader(io.StringIO("\n".join(ln for _, ln in kept)))
    # a quoted field never spans lines in these files, so the row's number is its line's number
    return [(kept[i + 1][0], r) for i, r in enumerate(rows)]


def _label(path: Path, line: int, row: dict[str, str], key: str) -> str:
    value = (row.get(key) or "").strip()
    allowed = LABELS["sentiment" if key == "label" else "offensive"]
    if value not in allowed:
        raise ValueError(f"{path}:{line}: column {key!r} is {value!r}; use one of {', '.join(allowed)}")
    if not (row.get("text") or "").strip():
        raise ValueError(f"{path}:{line}: column 'text' is empty")
    return value


def load_examples(data_dir: Path) -> Examples:
    """Examples per head from every `sentiment*.csv` (text,label) and `toxicity*.csv`
    (text,offensive,hate) in `data_dir`, in file-name order (none there: no examples). A text given
    twice with different labels is an error naming both places; an exact repeat counts once."""
    ex: Examples = {"sentiment": [], "offensive": [], "hate": []}
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (head, text) -> (label, where)

    def add(head: str, text: str, label: str, at: str) -> None:
        key = (head, " ".join(text.lower().split()))
        if key in seen:
            if seen[key][0] != label:
                raise ValueError(f"{at}: {text!r} is {head} {label!r} here but {seen[key][0]!r} at {seen[key][1]}")
            return
        seen[key] = (label, at)
        ex[head].append((text, label))

    for path in sorted(data_dir.glob("sentiment*.csv")):
        for line, r in _rows(path):
            add("sentiment", r["text"], _label(path, line, r, "label"), f"{path}:{line}")
    for path in sorted(data_dir.glob("toxicity*.csv")):
        for line, r in _rows(path):
            off, hate = _label(path, line, r, "offensive"), _label(path, line, r, "hate")
            if hate == "yes" and off != "yes":
                raise ValueError(f"{path}:{line}: hate 'yes' needs offensive 'yes' (hate is a kind of offence)")
            add("offensive", r["text"], off, f"{path}:{line}")
            add("hate", r["text"], hate, f"{path}:{line}")
    # sentiment examples are clean by construction: more negatives for the toxicity heads
    for text, _ in list(ex["sentiment"]):
        for head in ("offensive", "hate"):
            if (head, " ".join(text.lower().split())) not in seen:
                add(head, text, "no", "sentiment")
    return ex


def add_moderator_labels(ex: Examples, labelled: list[tuple[str, str, str]]) -> int:
    """Fold in (text, signal, yes/no) decisions for the heads that exist; returns how many."""
    n = 0
    for text, signal, label in labelled:
        if signal in ("offensive", "hate"):
            ex[signal].append((text, label))
            if signal == "hate" and label == "yes":
                ex["offensive"].append((text, "yes"))
            n += 1
    return n


def train_heads(ex: Examples, encoders: dict[str, Encoder], seed: int = 0) -> ModerationHeads:
    heads = ModerationHeads(meta={"examples": {k: len(v) for k, v in ex.items()}, "encoders": sorted(encoders)})
    for enc_name, enc in encoders.items():
        heads.by_encoder[enc_name] = {}
        for name, rows in ex.items():
            if len({lab for _, lab in rows}) < 2:
                continue
            texts = [t for t, _ in rows]
            X = enc.encode_queries([clean_text(t) for t in texts])
            metric = "macro_recall" if name == "sentiment" else "macro_f1"
            head = SignalHead(name, metric=metric, C_emb=4.0, C_text=8.0, text_weight=TEXT_WEIGHTS.get(name, 0.5))
            heads.by_encoder[enc_name][name] = head.fit([normalize(t) for t in texts], X, [lab for _, lab in rows],
                                                        seed=seed)
    return heads


def train_heads_from_dir(data_dir: Path, encoder: Encoder) -> ModerationHeads:
    return train_heads(load_examples(data_dir), {encoder.name: encoder})


def train_finetuned(ex: Examples, heads: ModerationHeads, out_dir: Path, *, epochs: int = 2, seed: int = 0) -> None:
    """Opt-in (`moderation.finetune: true`): fine-tune MiniLM on the examples (`moderation.finetune`,
    the recipe measured on TweetEval in BENCHMARKS.md section 6) and add heads that read its own
    embedding under the encoder name `OWN_ENCODER`. Costs one more MiniLM pass per message."""
    from moderation.finetune import Tasks, finetune_multitask
    from moderation.heads import LinearSoftmax

    tasks: Tasks = {name: ([clean_text(t) for t, _ in rows], [lab for _, lab in rows]) for name, rows in ex.items()
             if len({lab for _, lab in rows}) >= 2}
    path, stats = finetune_multitask(tasks, epochs=epochs, batch_size=16, seed=seed, out_dir=out_dir)
    enc = get_encoder("minilm", str(path))
    heads.by_encoder[OWN_ENCODER] = {}
    for name, (texts, labels) in tasks.items():
        h = stats["heads"][name]
        texts, labels = list(texts), list(labels)
        metric = "macro_recall" if name == "sentiment" else "macro_f1"
        head = SignalHead(name, metric=metric, C_text=8.0, text_weight=TEXT_WEIGHTS.get(name, 0.5))
        heads.by_encoder[OWN_ENCODER][name] = head.fit(
            [normalize(t) for t, _ in ex[name]], enc.encode_queries(texts), labels, seed=seed,
            emb_head=LinearSoftmax(np.asarray(h["weight"]), np.asarray(h["bias"])))
    heads.meta.update(own_encoder=out_dir.name, finetune={k: stats[k] for k in ("steps", "seconds", "epochs")})


def train_and_save(data_dir: Path, model_dir: Path, encoder_names: list[str],
                   encoder_paths: dict[str, str] | None = None,
                   labelled: list[tuple[str, str, str]] | None = None, *, finetune: bool = False,
                   finetune_epochs: int = 2) -> tuple[Path, ModerationHeads]:
    t0 = time.perf_counter()
    ex = load_examples(data_dir)
    n = add_moderator_labels(ex, labelled or [])
    encoders = {e: get_encoder(e, (encoder_paths or {}).get(e)) for e in encoder_names}
    heads = train_heads(ex, encoders)
    if finetune:  # a new directory each time: a running process keeps the encoder it loaded
        out = model_dir / f"{OWN_ENCODER_DIR}-{time.strftime('%Y%m%d%H%M%S')}"
        train_finetuned(ex, heads, out, epochs=finetune_epochs)
        for old in sorted(model_dir.glob(f"{OWN_ENCODER_DIR}-*"))[:-2]:  # keep this one and the one before
            shutil.rmtree(old, ignore_errors=True)
    heads.meta.update(moderator_labels=n, train_seconds=round(time.perf_counter() - t0, 2))
    return heads.save(model_dir / HEADS_FILE), heads
