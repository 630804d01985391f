"""The review inbox: messages the NLU was unsure about, deduplicated by meaning, most frequent first.

Sources (each item says why it is here):
- `fallback`: the NLU fell back (confidence under the threshold);
- `low_margin`: the top two intents were within `margin` of each other;
- `handed_back`: a human handed the conversation back to the bot (the hand-off was a misroute);
- `moderator:<decision>`: a moderator restored, confirmed or banned on the message.

A trainer's decision is kept in `review_decisions` under a hash of the normalised text, so the same
wording does not come back; the label itself goes to the training data (`nlu.review.write_labels`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bot.store import Escalation, Message, NLUResult, Store
from bot.store.models import utcnow
from bot.store.moderation_models import ModerationItem
from bot.store.review_models import ReviewDecision
from nlu.similar import Embed, group_similar, normalise

DECISIONS = ("accept", "relabel", "new_intent", "out_of_scope", "skip")


def text_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()[:32]


@dataclass
class _Seen:
    text: str
    count: int = 0
    predicted: Counter[str] = field(default_factory=Counter)
    confidence: float = 1.0
    ranking: list[Any] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class ReviewItem:
    """One inbox entry: the most frequent wording of a group of similar unclear messages."""

    text: str
    count: int
    predicted: str
    confidence: float
    ranking: list[tuple[str, float]]
    reasons: dict[str, int]
    variants: list[str]

    @property
    def texts(self) -> list[str]:
        return [self.text, *self.variants]


def _margin(ranking: list[Any]) -> float:
    scores = sorted((float(r[1]) for r in ranking or [] if len(r) > 1), reverse=True)
    return scores[0] - scores[1] if len(scores) > 1 else 1.0


def _rows(store: Store, since: datetime | None, margin: float, scan_limit: int) -> list[tuple[str, str, float,
                                                                                          list[Any], str]]:
    """(text, predicted intent, confidence, ranking, reason) of every candidate message."""
    out: list[tuple[str, str, float, list[Any], str]] = []
    with store.session() as s:
        # top1 - top2 < margin implies top1 < (1 + margin) / 2 (scores sum to at most 1): narrow in SQL.
        q = (select(Message.text, NLUResult.intent, NLUResult.confidence, NLUResult.ranking, NLUResult.fallback)
             .join(Message, Message.id == NLUResult.message_id)
             .where(Message.text != "", (NLUResult.fallback.is_(True)) | (NLUResult.confidence < (1 + margin) / 2)))
        if since is not None:
            q = q.where(NLUResult.created_at >= since)
        for r in s.execute(q.order_by(NLUResult.id.desc()).limit(scan_limit)):
            if r.fallback:
                out.append((r.text, r.intent, r.confidence, r.ranking, "fallback"))
            elif _margin(r.ranking) < margin:
                out.append((r.text, r.intent, r.confidence, r.ranking, "low_margin"))
        hq = select(Escalation.conversation_id, Escalation.created_at).where(Escalation.state == "handed_back")
        if since is not None:
            hq = hq.where(Escalation.created_at >= since)
        for conv_id, at in s.execute(hq.limit(scan_limit)).all():
            trigger = s.scalar(select(func.max(Message.id)).where(
                Message.conversation_id == conv_id, Message.direction == "in", Message.created_at <= at))
            row = s.execute(select(Message.text, NLUResult.intent, NLUResult.confidence, NLUResult.ranking)
                            .join(NLUResult, NLUResult.message_id == Message.id)
                            .where(Message.id == trigger)).first() if trigger else None
            if row is not None and row.text:
                out.append((row.text, row.intent, row.confidence, row.ranking, "handed_back"))
        mq = (select(Message.text, NLUResult.intent, NLUResult.confidence, NLUResult.ranking, ModerationItem.status)
              .join(Message, Message.id == ModerationItem.message_id)
              .join(NLUResult, NLUResult.message_id == Message.id)
              .where(ModerationItem.status.in_(("restored", "confirmed", "banned")), Message.text != ""))
        if since is not None:
            mq = mq.where(ModerationItem.created_at >= since)
        for r in s.execute(mq.limit(scan_limit)):
            out.append((r.text, r.intent, r.confidence, r.ranking, f"moderator:{r.status}"))
    return out


def collect(store: Store, *, since: datetime | None = None, margin: float = 0.15, limit: int = 50,
            embed: Embed | None = None, scan_limit: int = 5000, max_variants: int = 4) -> list[ReviewItem]:
    """The inbox, most frequent first; wordings a trainer already decided on are left out."""
    seen: dict[str, _Seen] = {}
    for text, intent, conf, ranking, reason in _rows(store, since, margin, scan_limit):
        k = normalise(text)
        if not k:
            continue
        e = seen.setdefault(k, _Seen(text))
        e.count += 1
        e.predicted[intent] += 1
        e.reasons[reason] += 1
        if conf <= e.confidence:
            e.confidence, e.ranking = float(conf), list(ranking or [])
    with store.session() as s:
        keys = {text_key(e.text): k for k, e in seen.items()}
        decided: set[str] = set()
        key_list = list(keys)
        for i in range(0, len(key_list), 500):
            decided.update(s.scalars(select(ReviewDecision.text_key)
                                     .where(ReviewDecision.text_key.in_(key_list[i:i + 500]))))
    for tk in decided:
        seen.pop(keys[tk], None)
    by_text = {e.text: e for e in seen.values()}
    items: list[ReviewItem] = []
    for g in group_similar([(e.text, e.count) for e in seen.values()], embed):
        members = [by_text[t] for t, _ in g.members if t in by_text]
        head = members[0]
        reasons: Counter[str] = Counter()
        for m in members:
            reasons.update(m.reasons)
        items.append(ReviewItem(
            text=head.text, count=g.count, predicted=head.predicted.most_common(1)[0][0],
            confidence=round(head.confidence, 3),
            ranking=[(str(r[0]), round(float(r[1]), 3)) for r in head.ranking[:3]],
            reasons=dict(reasons), variants=[m.text for m in members[1:max_variants + 1]]))
        if len(items) >= limit:
            break
    return items


def record_decision(store: Store, texts: list[str], *, decision: str, label: str | None, predicted: str | None,
                    occurrences: int, operator: str) -> None:
    """Remember a decision for each wording (a later decision on the same wording replaces it)."""
    assert decision in DECISIONS
    with store.session() as s:
        for text in texts:
            k = text_key(text)
            row = s.scalar(select(ReviewDecision).where(ReviewDecision.text_key == k))
            if row is None:
                row = ReviewDecision(text_key=k)
                s.add(row)
            row.decision, row.label, row.predicted = decision, label, predicted
            row.occurrences, row.decided_by, row.decided_at = occurrences, operator, utcnow()
        store.audit(s, "review.decided", actor=operator,
                    data={"decision": decision, "label": label, "predicted": predicted, "texts": len(texts)})
