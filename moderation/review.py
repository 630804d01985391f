"""The review queue and the moderation record, on the store.

Every verdict other than allow becomes a `ModerationItem`; flags wait as `pending` for a moderator.
A moderator's decision is stored on the item: restore (a false positive: the strike is withdrawn),
confirm, or ban. Decided items are labelled examples for `fancare train` (`labelled_examples`), and
restored items are the false positives of `report`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.store import Message, Store
from bot.store.models import utcnow
from bot.store.moderation_models import ModerationItem, ModerationStrike
from moderation.actions import ModerationActions, Target
from moderation.rules import Verdict

log = logging.getLogger("fancare.moderation.review")

DECISIONS = {"restore": "restored", "confirm": "confirmed", "ban": "banned"}


def active_strikes(s: Session, channel: str, chat_id: str, user_id: str, decay_days: float) -> float:
    since = utcnow() - timedelta(days=decay_days)
    total = s.scalar(select(func.coalesce(func.sum(ModerationStrike.weight), 0.0)).where(
        ModerationStrike.channel == channel, ModerationStrike.chat_id == chat_id,
        ModerationStrike.user_id == user_id, ModerationStrike.at >= since))
    return float(total or 0.0)


def record_verdict(s: Session, verdict: Verdict, *, message_id: int, conversation_id: int, channel: str,
                   chat_id: str, user_id: str) -> ModerationItem:
    """The item (and its strike unless dry-run) in the caller's transaction."""
    item = ModerationItem(message_id=message_id, conversation_id=conversation_id, channel=channel, chat_id=chat_id,
                          user_id=user_id, action=verdict.action, rule=verdict.rule or "", signal=verdict.signal,
                          score=verdict.score, dry_run=verdict.dry_run,
                          status="pending" if verdict.action == "flag" else "acted", details=dict(verdict.details))
    s.add(item)
    s.flush()
    weight = float(verdict.details.get("strike") or 0.0)
    if weight > 0 and not verdict.dry_run:
        s.add(ModerationStrike(channel=channel, chat_id=chat_id, user_id=user_id, rule=item.rule, weight=weight,
                               item_id=item.id))
    return item


@dataclass(frozen=True)
class ReviewRow:
    id: int
    status: str
    action: str
    rule: str
    signal: str | None
    score: float | None
    dry_run: bool
    channel: str
    chat_id: str
    user_id: str
    message_id: int | None
    text: str
    created_at: str


def list_items(store: Store, statuses: tuple[str, ...] = ("pending",), limit: int = 50) -> list[ReviewRow]:
    with store.session() as s:
        rows = s.execute(select(ModerationItem, Message.text).outerjoin(Message, Message.id == ModerationItem.message_id)
                         .where(ModerationItem.status.in_(statuses)).order_by(ModerationItem.id).limit(limit)).all()
        return [ReviewRow(i.id, i.status, i.action, i.rule, i.signal, i.score, i.dry_run, i.channel, i.chat_id,
                          i.user_id, i.message_id, text or "", i.created_at.isoformat(timespec="seconds"))
                for i, text in rows]


def decide(store: Store, item_id: int, decision: str, moderator: str) -> ModerationItem | None:
    """restore | confirm | ban, once: the item's status changes only from pending / acted, so two
    moderators (or two processes) clicking at once record one decision. Restoring withdraws the
    item's strike. Returns the item (check `decided_by` to see whether this call decided it)."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}; use one of {sorted(DECISIONS)}")
    with store.session() as s:
        res = s.execute(update(ModerationItem).where(ModerationItem.id == item_id,
                                                     ModerationItem.status.in_(("pending", "acted")))
                        .values(status=DECISIONS[decision], decided_by=moderator, decided_at=utcnow()))
        item = s.get(ModerationItem, item_id)
        if item is None:
            return None
        if not getattr(res, "rowcount", 0):
            s.expunge(item)
            return item  # decided before: by item.decided_by
        if decision == "restore":
            s.execute(delete(ModerationStrike).where(ModerationStrike.item_id == item.id))
        elif decision in ("confirm", "ban") and item.action == "flag":
            s.add(ModerationStrike(channel=item.channel, chat_id=item.chat_id, user_id=item.user_id,
                                   rule=item.rule, weight=1.0, item_id=item.id))
        Store.audit(s, f"moderation.review.{item.status}", actor=moderator, conversation_id=item.conversation_id,
                    data={"item_id": item.id, "rule": item.rule, "signal": item.signal})
        s.flush()
        s.expunge(item)
        return item


@dataclass(frozen=True)
class Outcome:
    """What a moderator's decision did: `decided` is False when someone had decided already."""

    item: ModerationItem | None
    decided: bool
    platform: list[str]
    message: str


def platform_words(item: ModerationItem, steps: list[str]) -> list[str]:
    """What the platform steps of a decision did, in words (the CLI's and Slack's answers)."""
    words = {"lift": f"{'mute' if item.action == 'mute' else 'ban'} lifted", "delete": "message removed",
             "ban": "fan banned"}
    return [words[step] for step in steps]


async def carry_out(store: Store, item_id: int, decision: str, moderator: str,
                    ports: Mapping[str, ModerationActions], default: ModerationActions | None = None) -> Outcome:
    """Record the decision (`decide`) and make it true on the platform, for the CLI and Slack alike.

    - restore: the strike is withdrawn and a mute or ban lifted (a deleted Telegram message cannot
      come back: the fan's strike and the label are what restoring can give back);
    - confirm: a flagged message is removed now (enforced items already were); a strike counts;
    - ban: the message is removed and the fan banned from the chat.
    Dry-run items never acted, so only a ban (an explicit moderator choice) reaches the platform."""
    item = decide(store, item_id, decision, moderator)
    if item is None:
        return Outcome(None, False, [], f"no moderation item #{item_id}")
    if item.decided_by != moderator or item.status != DECISIONS[decision]:
        return Outcome(item, False, [], f"#{item.id} was already {item.status} by {item.decided_by}")
    port = ports.get(item.channel) or default
    external = None
    if item.message_id is not None:
        with store.session() as s:
            msg = s.get(Message, item.message_id)
            payload = dict(msg.payload or {}) if msg else {}
            external = payload.get("message_id")
    target = Target(item.channel, item.chat_id, item.user_id, str(external) if external is not None else None)
    steps: list[tuple[str, Any]] = []
    if decision == "restore" and not item.dry_run and item.action in ("mute", "ban"):
        steps.append(("lift", item.action))
    if decision in ("confirm", "ban") and (item.action == "flag" or item.dry_run) and target.message_id:
        steps.append(("delete", None))
    if decision == "ban":
        steps.append(("ban", None))
    done: list[str] = []
    for name, arg in steps if port is not None else []:
        try:
            if name == "lift":
                ok = await port.lift(target, str(arg))  # type: ignore[union-attr]
            elif name == "delete":
                ok = await port.delete_message(target)  # type: ignore[union-attr]
            else:
                ok = await port.ban(target)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - the decision is stored; the platform may refuse
            log.warning("moderation review: %s failed on %s: %s", name, item.channel, type(exc).__name__)
            continue
        if ok:
            done.append(name)
    did = "; ".join(platform_words(item, done))
    missed = [n for n, _ in steps if n not in done]
    extra = f" ({did})" if did else ""
    if missed:
        extra += f" (could not: {', '.join(missed)})"
    return Outcome(item, True, done, f"#{item.id} {item.status} by {moderator}{extra}")


def labelled_examples(store: Store) -> list[tuple[str, str, str]]:
    """(text, signal, "yes"/"no") from moderators' decisions: restored -> "no", confirmed/banned -> "yes"."""
    with store.session() as s:
        rows = s.execute(select(ModerationItem.signal, ModerationItem.status, Message.text)
                         .join(Message, Message.id == ModerationItem.message_id)
                         .where(ModerationItem.status.in_(tuple(DECISIONS.values())))).all()
    out = []
    for signal, status, text in rows:
        if signal and text:
            out.append((text, signal.split(".")[0], "no" if status == "restored" else "yes"))
    return out


def report(store: Store) -> list[dict[str, Any]]:
    """Per rule: actions, enforced vs dry-run, reviewed, restored, false-positive rate among reviewed."""
    with store.session() as s:
        rows = s.execute(select(ModerationItem.rule, ModerationItem.action, ModerationItem.status,
                                ModerationItem.dry_run)).all()
    by: dict[str, dict[str, Any]] = {}
    for rule, action, status, dry in rows:
        r = by.setdefault(rule, {"rule": rule, "actions": 0, "dry_run": 0, "pending": 0, "reviewed": 0,
                                 "restored": 0, "by_action": {}})
        r["actions"] += 1
        r["dry_run"] += int(bool(dry))
        r["by_action"][action] = r["by_action"].get(action, 0) + 1
        if status == "pending":
            r["pending"] += 1
        if status in DECISIONS.values():
            r["reviewed"] += 1
            r["restored"] += int(status == "restored")
    for r in by.values():
        r["false_positive_rate"] = round(r["restored"] / r["reviewed"], 3) if r["reviewed"] else None
    return sorted(by.values(), key=lambda r: -r["actions"])


def last_action(store: Store, *, channel: str, chat_id: str, user_id: str) -> dict[str, Any] | None:
    """The fan's most recent moderation item (what an appeal is about), without message text."""
    with store.session() as s:
        item = s.scalars(select(ModerationItem).where(
            ModerationItem.channel == channel, ModerationItem.chat_id == chat_id, ModerationItem.user_id == user_id)
            .order_by(ModerationItem.id.desc()).limit(1)).first()
        if item is None:
            return None
        return {"item_id": item.id, "action": item.action, "rule": item.rule, "signal": item.signal,
                "score": item.score, "dry_run": item.dry_run, "status": item.status,
                "at": item.created_at.isoformat(timespec="seconds")}
