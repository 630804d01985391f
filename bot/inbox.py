"""Operator actions on escalations, shared by `fancare inbox`, the shell's `#` commands and Slack."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import select

from bot.store import Contact, Conversation, Escalation, Store
from bot.store.models import utcnow
from dialogs.domain import Domain


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str


def list_open(store: Store, states: tuple[str, ...] = ("open", "claimed")) -> list[dict[str, Any]]:
    out = []
    with store.session() as s:
        for e in s.scalars(select(Escalation).where(Escalation.state.in_(states)).order_by(Escalation.id)):
            conv = s.get(Conversation, e.conversation_id)
            contact = s.get(Contact, conv.contact_id) if conv else None
            out.append({"id": e.id, "queue": e.queue, "priority": e.priority, "state": e.state,
                        "claimed_by": e.claimed_by, "fan": contact.display_name if contact else None,
                        "channel": conv.channel if conv else None, "reason": e.reason,
                        "created_at": e.created_at.isoformat(timespec="seconds"),
                        "last": (e.transcript or [{}])[-1].get("text", "")[:80]})
    return out


def show(store: Store, escalation_id: int) -> dict[str, Any] | None:
    with store.session() as s:
        e = s.get(Escalation, escalation_id)
        if e is None:
            return None
        return {"id": e.id, "queue": e.queue, "priority": e.priority, "state": e.state, "claimed_by": e.claimed_by,
                "reason": e.reason, "transcript": e.transcript, "csat": e.csat}


def claim(store: Store, escalation_id: int, operator: str) -> ActionResult:
    won, esc = store.claim_escalation(escalation_id, operator)
    if esc is None:
        return ActionResult(False, f"no escalation #{escalation_id}")
    if won:
        return ActionResult(True, f"you have claimed #{escalation_id}")
    if esc.state == "claimed":
        return ActionResult(False, f"#{escalation_id} is already claimed by {esc.claimed_by}")
    return ActionResult(False, f"#{escalation_id} is {esc.state}")


def reply(store: Store, escalation_id: int, operator: str, text: str) -> ActionResult:
    """Queue an operator's reply for the fan: the checks, the outbound message, the transcript and
    the audit row in one transaction, with the escalation row locked (PostgreSQL), so a concurrent
    close or a second reply can neither slip between the check and the send nor lose a transcript line."""
    text = text.strip()
    if not text:
        return ActionResult(False, "empty reply")
    with store.session() as s:
        e = s.scalar(select(Escalation).where(Escalation.id == escalation_id).with_for_update())
        if e is None:
            return ActionResult(False, f"no escalation #{escalation_id}")
        if e.state == "open":
            return ActionResult(False, f"#{escalation_id} is unclaimed: claim it before replying (not sent)")
        if e.state != "claimed":
            return ActionResult(False, f"#{escalation_id} is {e.state} (not sent)")
        if e.claimed_by != operator:
            return ActionResult(False, f"#{escalation_id} is claimed by {e.claimed_by} (not sent)")
        conv = s.get(Conversation, e.conversation_id)
        assert conv is not None
        if e.first_response_at is None:
            e.first_response_at = utcnow()
        m = store.add_outbound(s, conv, text, sender="operator", payload={"operator": operator})
        s.flush()
        e.transcript = [*list(e.transcript or []), {"from": "operator", "text": text, "by": operator}]
        store.audit(s, "escalation.reply", actor=operator, conversation_id=conv.id,
                    data={"escalation_id": e.id, "message_id": m.id})
    return ActionResult(True, f"reply queued for the fan on #{escalation_id}")


def close(store: Store, domain: Domain, escalation_id: int, operator: str, state: str) -> ActionResult:
    esc = store.close_escalation(escalation_id, operator, state)
    if esc is None:
        return ActionResult(False, f"#{escalation_id} does not exist or is already closed")
    with store.session() as s:
        conv = s.get(Conversation, esc.conversation_id)
        assert conv is not None
        name = "utter_ask_csat" if state == "resolved" else "utter_handed_back"
        # in the conversation's language (nlu/conversation_language.py), as the bot's own replies are
        language = (conv.state or {}).get("language")
        out = domain.render(name, {"ticket": escalation_id}, seed=str(escalation_id),
                            language=language if isinstance(language, str) else None)
        store.add_outbound(s, conv, out.text, payload=out.as_payload())
    word = "resolved" if state == "resolved" else "handed back to the bot"
    return ActionResult(True, f"#{escalation_id} {word}")


def note(store: Store, escalation_id: int, operator: str, text: str) -> ActionResult:
    """An internal note: kept in the ticket's transcript and audit log, never sent to the fan."""
    text = text.strip()
    if not text:
        return ActionResult(False, "empty note")
    with store.session() as s:
        e = s.get(Escalation, escalation_id)
        if e is None:
            return ActionResult(False, f"no escalation #{escalation_id}")
        e.transcript = [*list(e.transcript or []), {"from": "note", "text": text, "by": operator}]
        store.audit(s, "escalation.note", actor=operator, conversation_id=e.conversation_id,
                    data={"escalation_id": escalation_id})
    return ActionResult(True, f"note added to #{escalation_id} (not sent to the fan)")


def stats(store: Store, since: datetime) -> dict[str, Any]:
    """Volumes and times of escalations opened since `since` (response/resolution in seconds)."""
    with store.session() as s:
        rows = list(s.scalars(select(Escalation).where(Escalation.created_at >= since)))
        open_now = len(list(s.scalars(select(Escalation.id).where(Escalation.state.in_(("open", "claimed"))))))
    first = sorted((e.first_response_at - e.created_at).total_seconds() for e in rows if e.first_response_at)
    done = sorted((e.resolved_at - e.created_at).total_seconds() for e in rows
                  if e.resolved_at and e.state == "resolved")
    csat = [e.csat for e in rows if e.csat is not None]
    return {"opened": len(rows), "open_now": open_now,
            "resolved": sum(e.state == "resolved" for e in rows),
            "handed_back": sum(e.state == "handed_back" for e in rows),
            "median_first_response_s": median(first) if first else None,
            "median_resolution_s": median(done) if done else None,
            "csat_avg": round(sum(csat) / len(csat), 2) if csat else None, "csat_count": len(csat)}


def dead_letters(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Messages that could not be delivered after all retries: fan outbox and Slack outbox."""
    from bot.store import Message
    from bot.store.slack_models import SlackPost

    with store.session() as s:
        out = [{"where": m.channel, "id": m.id, "conversation_id": m.conversation_id, "error": m.error,
                "at": m.created_at.isoformat(timespec="seconds")}
               for m in s.scalars(select(Message).where(Message.direction == "out", Message.status == "dead")
                                  .order_by(Message.id.desc()).limit(limit))]
        out += [{"where": f"slack:{p.kind}", "id": p.id, "escalation_id": p.escalation_id, "error": p.error,
                 "at": p.created_at.isoformat(timespec="seconds")}
                for p in s.scalars(select(SlackPost).where(SlackPost.status == "dead")
                                   .order_by(SlackPost.id.desc()).limit(limit))]
    return out
