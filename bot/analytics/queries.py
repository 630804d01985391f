"""The report's numbers, each one SQL aggregate over the store (SQLite and PostgreSQL alike).

Every function takes a session and a `Window` and returns JSON-ready data. Only grouped rows leave
the database, except the per-escalation durations (one float per escalation, to take exact
percentiles) and the top few hundred distinct unanswered texts (to group them by meaning)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, case, distinct, exists, func, select
from sqlalchemy.orm import Session

from bot.analytics.sqlfuncs import Dialect
from bot.store.models import AuditEvent, Contact, Conversation, Escalation, Message, NLUResult
from bot.store.moderation_models import ModerationItem
from nlu.similar import Embed, group_similar

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ENGAGEMENT_INTENTS = ("poll_vote", "giveaway_enter")
HELPFUL_WINDOW_MIN = 30

@dataclass(frozen=True)
class Window:
    """Half-open time range [since, until) in naive UTC, as the store keeps timestamps."""

    since: datetime
    until: datetime

    def on(self, col: Any) -> Any:
        return and_(col >= self.since, col < self.until)

def _pct(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median_s": None, "p90_s": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"n": len(values), "median_s": round(float(np.percentile(arr, 50)), 1),
            "p90_s": round(float(np.percentile(arr, 90)), 1)}

def volume(s: Session, w: Window, d: Dialect) -> dict[str, Any]:
    inbound = and_(Message.direction == "in", w.on(Message.created_at))
    day = d.day(Message.created_at).label("day")
    by_day = [{"day": r.day, "n": r.n} for r in s.execute(
        select(day, func.count().label("n")).where(inbound).group_by(day).order_by(day))]
    wd, hr = d.weekday(Message.created_at).label("wd"), d.hour(Message.created_at).label("hr")
    grid = [[0] * 24 for _ in range(7)]
    for r in s.execute(select(wd, hr, func.count().label("n")).where(inbound).group_by(wd, hr)):
        grid[int(r.wd)][int(r.hr)] = int(r.n)
    by_channel = [{"channel": r.channel, "n": r.n} for r in s.execute(
        select(Message.channel, func.count().label("n")).where(inbound).group_by(Message.channel)
        .order_by(func.count().desc()))]
    n_msgs = func.count().label("n")
    top_chats = [{"channel": r.channel, "chat_id": r.chat_id, "n": r.n, "fans": r.fans} for r in s.execute(
        select(Conversation.channel, Conversation.chat_id, n_msgs,
               func.count(distinct(Conversation.contact_id)).label("fans"))
        .join(Message, Message.conversation_id == Conversation.id).where(inbound)
        .group_by(Conversation.channel, Conversation.chat_id).order_by(n_msgs.desc(), Conversation.chat_id)
        .limit(10))]
    totals = s.execute(select(func.count().label("n"), func.count(distinct(Message.conversation_id)).label("c"))
                       .where(inbound)).one()
    fans = s.scalar(select(func.count(distinct(Conversation.contact_id)))
                    .join(Message, Message.conversation_id == Conversation.id).where(inbound)) or 0
    out = s.scalar(select(func.count()).where(Message.direction == "out", w.on(Message.created_at))) or 0
    by_hour = [sum(grid[x][h] for x in range(7)) for h in range(24)]
    busiest = sorted(((grid[x][h], x, h) for x in range(7) for h in range(24) if grid[x][h]), reverse=True)[:5]
    return {"messages_in": int(totals.n), "messages_out": int(out), "conversations": int(totals.c),
            "fans": int(fans), "by_day": by_day, "by_hour": by_hour, "by_weekday_hour": grid,
            "by_channel": by_channel, "top_chats": top_chats,
            "busiest_hours": [{"weekday": WEEKDAYS[x], "hour": h, "n": n} for n, x, h in busiest]}

def intents(s: Session, w: Window, d: Dialect, top: int = 8) -> dict[str, Any]:
    when = w.on(NLUResult.created_at)
    dist = [{"intent": r.intent, "n": r.n} for r in s.execute(
        select(NLUResult.intent, func.count().label("n")).where(when).group_by(NLUResult.intent)
        .order_by(func.count().desc(), NLUResult.intent))]
    leaders = [r["intent"] for r in dist[:top]]
    day = d.day(NLUResult.created_at).label("day")
    series: dict[str, dict[str, int]] = {i: {} for i in leaders}
    days: set[str] = set()
    if leaders:
        for r in s.execute(select(day, NLUResult.intent, func.count().label("n"))
                           .where(when, NLUResult.intent.in_(leaders)).group_by(day, NLUResult.intent)):
            series[r.intent][r.day] = int(r.n)
            days.add(r.day)
    order = sorted(days)
    fallbacks = s.scalar(select(func.count()).where(when, NLUResult.fallback.is_(True))) or 0
    total = sum(r["n"] for r in dist)
    return {"distribution": dist, "fallbacks": int(fallbacks),
            "fallback_rate": round(fallbacks / total, 4) if total else None,
            "trend": {"days": order, "series": {i: [series[i].get(x, 0) for x in order] for i in leaders}}}

def sentiment(s: Session, w: Window, d: Dialect) -> dict[str, Any]:
    label = NLUResult.signals["sentiment"].as_string().label("sentiment")
    day = d.day(NLUResult.created_at).label("day")
    rows: dict[str, dict[str, int]] = {}
    for r in s.execute(select(day, label, func.count().label("n")).where(w.on(NLUResult.created_at))
                       .group_by(day, label)):
        if r.sentiment:
            rows.setdefault(r.day, {})[r.sentiment] = int(r.n)
    by_day = [{"day": k, **{x: v.get(x, 0) for x in ("negative", "neutral", "positive")}}
              for k, v in sorted(rows.items())]
    neg = sum(r["negative"] for r in by_day)
    tot = sum(r["negative"] + r["neutral"] + r["positive"] for r in by_day)
    return {"by_day": by_day, "negative_share": round(neg / tot, 4) if tot else None}

def escalations(s: Session, w: Window, d: Dialect, conversations: int) -> dict[str, Any]:
    when = w.on(Escalation.created_at)
    opened = s.scalar(select(func.count()).where(when)) or 0
    escalated_convs = s.scalar(select(func.count(distinct(Escalation.conversation_id))).where(when)) or 0
    by_queue = [{"queue": r.queue, "n": r.n} for r in s.execute(
        select(Escalation.queue, func.count().label("n")).where(when).group_by(Escalation.queue)
        .order_by(func.count().desc()))]
    reason = Escalation.reason["intent"].as_string().label("reason")
    by_reason = [{"reason": r.reason or "unknown", "n": r.n} for r in s.execute(
        select(reason, func.count().label("n")).where(when).group_by(reason).order_by(func.count().desc()))]
    by_state = {r.state: r.n for r in s.execute(
        select(Escalation.state, func.count().label("n")).where(when).group_by(Escalation.state))}
    open_now = s.scalar(select(func.count()).where(Escalation.state.in_(("open", "claimed")))) or 0
    times: dict[str, dict[str, Any]] = {}
    first: dict[str, list[float]] = {}
    done: dict[str, list[float]] = {}
    for r in s.execute(select(Escalation.priority, d.seconds(Escalation.created_at, Escalation.first_response_at))
                       .where(when, Escalation.first_response_at.is_not(None))):
        first.setdefault(r[0], []).append(float(r[1]))
    for r in s.execute(select(Escalation.priority, d.seconds(Escalation.created_at, Escalation.resolved_at))
                       .where(when, Escalation.state == "resolved", Escalation.resolved_at.is_not(None))):
        done.setdefault(r[0], []).append(float(r[1]))
    for p in sorted(set(first) | set(done) | {r.priority for r in s.execute(
            select(Escalation.priority).where(when).group_by(Escalation.priority))}):
        times[p] = {"first_response": _pct(first.get(p, [])), "resolution": _pct(done.get(p, []))}
    all_first = [x for v in first.values() for x in v]
    csat_rows = {int(r.csat): int(r.n) for r in s.execute(
        select(Escalation.csat, func.count().label("n")).where(when, Escalation.csat.is_not(None))
        .group_by(Escalation.csat))}
    n_csat = sum(csat_rows.values())
    return {
        "opened": int(opened), "open_now": int(open_now), "by_queue": by_queue, "by_reason": by_reason,
        "by_state": by_state, "rate": round(escalated_convs / conversations, 4) if conversations else None,
        "containment": round(1 - escalated_convs / conversations, 4) if conversations else None,
        "escalated_conversations": int(escalated_convs), "times_by_priority": times,
        "first_response_all": _pct(all_first),
        "csat": {"count": n_csat, "average": round(sum(k * v for k, v in csat_rows.items()) / n_csat, 2)
                 if n_csat else None, "distribution": {str(k): csat_rows.get(k, 0) for k in range(1, 6)},
                 "satisfied_share": round(sum(v for k, v in csat_rows.items() if k >= 4) / n_csat, 4)
                 if n_csat else None},
    }

def faq_articles(s: Session, w: Window, d: Dialect) -> list[dict[str, Any]]:
    """Answers per article, and how many were followed by a hand-off to a human within 30 minutes
    in the same conversation (the answer did not settle it): helpful share = the rest."""
    a = AuditEvent
    article = a.data["article"].as_string().label("article")
    followed = exists().where(Escalation.conversation_id == a.conversation_id, Escalation.created_at >= a.at,
                              Escalation.created_at < d.plus_minutes(a.at, HELPFUL_WINDOW_MIN))
    rows = s.execute(select(article, func.count().label("n"),
                            func.sum(case((followed, 1), else_=0)).label("esc"))
                     .where(a.kind == "faq.answered", w.on(a.at)).group_by(article)
                     .order_by(func.count().desc(), article))
    return [{"article": r.article, "answers": int(r.n), "escalated_after": int(r.esc or 0),
             "helpful_share": round(1 - int(r.esc or 0) / int(r.n), 4) if r.n else None} for r in rows]

def unanswered(s: Session, w: Window, embed: Embed | None, top: int = 15, distinct_limit: int = 400
               ) -> tuple[list[dict[str, Any]], int]:
    """Fallback messages and FAQ questions the knowledge base could not answer, grouped by meaning."""
    counts: dict[str, int] = {}
    fallback = (select(Message.text, func.count().label("n")).join(NLUResult, NLUResult.message_id == Message.id)
                .where(NLUResult.fallback.is_(True), w.on(NLUResult.created_at), Message.text != "")
                .group_by(Message.text).order_by(func.count().desc()).limit(distinct_limit))
    no_answer = (select(Message.text, func.count().label("n"))
                 .join(AuditEvent, Message.id == AuditEvent.data["message_id"].as_integer())
                 .where(AuditEvent.kind == "faq.unanswered", w.on(AuditEvent.at), Message.text != "")
                 .group_by(Message.text).order_by(func.count().desc()).limit(distinct_limit))
    for q in (fallback, no_answer):
        for r in s.execute(q):
            counts[r.text] = counts.get(r.text, 0) + int(r.n)
    total = sum(counts.values())
    groups = group_similar(sorted(counts.items(), key=lambda kv: -kv[1])[:distinct_limit], embed)
    return [g.as_dict(3) for g in groups[:top]], total

def engagement(s: Session, w: Window) -> dict[str, Any]:
    """Poll votes and giveaway entries fans asked for (fancare runs no polls or giveaways itself yet:
    these are the requests the NLU recognised, per intent, with distinct fans)."""
    rows = s.execute(select(NLUResult.intent, func.count().label("n"),
                            func.count(distinct(Conversation.contact_id)).label("fans"))
                     .join(Message, Message.id == NLUResult.message_id)
                     .join(Conversation, Conversation.id == Message.conversation_id)
                     .where(w.on(NLUResult.created_at), NLUResult.intent.in_(ENGAGEMENT_INTENTS),
                            NLUResult.fallback.is_(False))
                     .group_by(NLUResult.intent))
    out = {i: {"messages": 0, "fans": 0} for i in ENGAGEMENT_INTENTS}
    for r in rows:
        out[r.intent] = {"messages": int(r.n), "fans": int(r.fans)}
    return out

def moderation(s: Session, w: Window) -> dict[str, Any]:
    m = ModerationItem
    when = w.on(m.created_at)
    by_action = {r.action: int(r.n) for r in s.execute(
        select(m.action, func.count().label("n")).where(when).group_by(m.action))}
    by_rule = [{"rule": r.rule, "n": int(r.n)} for r in s.execute(
        select(m.rule, func.count().label("n")).where(when).group_by(m.rule).order_by(func.count().desc()).limit(10))]
    by_status = {r.status: int(r.n) for r in s.execute(
        select(m.status, func.count().label("n")).where(when).group_by(m.status))}
    audit = {r.kind: int(r.n) for r in s.execute(
        select(AuditEvent.kind, func.count().label("n"))
        .where(AuditEvent.kind.like("moderation.%"), w.on(AuditEvent.at)).group_by(AuditEvent.kind))}
    dry = s.scalar(select(func.count()).where(when, m.dry_run.is_(True))) or 0
    return {"by_action": by_action, "by_rule": by_rule, "by_status": by_status, "audit_events": audit,
            "dry_run": int(dry), "pending_review": by_status.get("pending", 0),
            "restored_false_positives": by_status.get("restored", 0)}

def new_fans(s: Session, w: Window) -> int:
    return int(s.scalar(select(func.count()).where(w.on(Contact.created_at))) or 0)
