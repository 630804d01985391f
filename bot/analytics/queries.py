"""The report's numbers, each one SQL aggregate over the store (SQLite and PostgreSQL alike).

Every function takes a session and a `Window` and returns JSON-ready data. Only grouped rows leave
the database, except the per-escalation durations (one float per escalation, to take exact
percentiles) and the top few hundred distinct unanswered texts (to group them by meaning)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, case, distinct, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from bot.analytics.sqlfuncs import Dialect
from bot.store.engagement_models import Giveaway, GiveawayEntry, Poll, PollVote
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

    def on_table(self, s: Session, col: Any, key: Any, *where: Any) -> Any:
        """`on(col)`, or, on SQLite, when the first and the last `col` of the table's rows (those matching
        `where`) both lie in the window (a report over its whole history), `key <= the largest key`:
        the same rows (not those written after this check) read in storage order rather than through
        the time index in time order, one random page read per row (the Languages join over 125,000
        NLU results: 0.71 s through `ix_nlu_created`, 0.08 s in storage order). SQLite's planner cannot
        tell that the range holds every row; PostgreSQL's statistics can, and it scans by itself.
        Three index lookups decide (`col` must be indexed, after the columns `where` fixes)."""
        if s.get_bind().dialect.name != "sqlite":
            return self.on(col)
        last = s.scalar(select(func.max(key)))
        first_at = s.scalar(select(func.min(col)).where(*where))
        last_at = s.scalar(select(func.max(col)).where(*where))
        if last is None or first_at is None or last_at is None or first_at < self.since or last_at >= self.until:
            return self.on(col)
        return key <= last


def _pct(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median_s": None, "p90_s": None}
    arr = np.asarray(values, dtype=np.float64)
    return {"n": len(values), "median_s": round(float(np.percentile(arr, 50)), 1),
            "p90_s": round(float(np.percentile(arr, 90)), 1)}


def volume(s: Session, w: Window, d: Dialect) -> dict[str, Any]:
    """Two scans of the window's inbound messages: by (day, hour, channel), and by conversation."""
    is_in = Message.direction == "in"
    inbound = and_(is_in, w.on_table(s, Message.created_at, Message.id, is_in))
    day, hr = d.day(Message.created_at).label("day"), d.hour(Message.created_at).label("hr")
    per_day: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    grid = [[0] * 24 for _ in range(7)]
    for r in s.execute(select(day, hr, Message.channel, func.count().label("n")).where(inbound)
                       .group_by(day, hr, Message.channel)):
        n = int(r.n)
        per_day[r.day] += n
        by_channel[r.channel] += n
        grid[date.fromisoformat(r.day).weekday()][int(r.hr)] += n  # weekday from the day: no third scan
    per_conv = (select(Message.conversation_id, func.count().label("n")).where(inbound)
                .group_by(Message.conversation_id).subquery())
    chats: dict[tuple[str, str], list[Any]] = {}
    fans: set[int] = set()
    conversations = 0
    for r in s.execute(select(Conversation.channel, Conversation.chat_id, Conversation.contact_id, per_conv.c.n)
                       .join(per_conv, per_conv.c.conversation_id == Conversation.id)):
        conversations += 1
        fans.add(r.contact_id)
        c = chats.setdefault((r.channel, r.chat_id), [0, set()])
        c[0] += int(r.n)
        c[1].add(r.contact_id)
    top_chats = [{"channel": k[0], "chat_id": k[1], "n": v[0], "fans": len(v[1])}
                 for k, v in sorted(chats.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]]
    out = s.scalar(select(func.count()).where(Message.direction == "out", w.on(Message.created_at))) or 0
    by_hour = [sum(grid[x][h] for x in range(7)) for h in range(24)]
    busiest = sorted(((grid[x][h], x, h) for x in range(7) for h in range(24) if grid[x][h]), reverse=True)[:5]
    return {"messages_in": sum(per_day.values()), "messages_out": int(out), "conversations": conversations,
            "fans": len(fans), "by_day": [{"day": k, "n": per_day[k]} for k in sorted(per_day)],
            "by_hour": by_hour, "by_weekday_hour": grid,
            "by_channel": [{"channel": k, "n": n} for k, n in by_channel.most_common()], "top_chats": top_chats,
            "busiest_hours": [{"weekday": WEEKDAYS[x], "hour": h, "n": n} for n, x, h in busiest]}


def intents_and_sentiment(s: Session, w: Window, d: Dialect, top: int = 8) -> tuple[dict[str, Any], dict[str, Any]]:
    """One scan of the window's NLU results: intents, their daily trend, fallbacks and sentiment."""
    day = d.day(NLUResult.created_at).label("day")
    mood = NLUResult.signals["sentiment"].as_string().label("sentiment")
    per_intent: Counter[str] = Counter()
    per_day_intent: dict[str, Counter[str]] = {}
    moods: dict[str, Counter[str]] = {}
    fallbacks = 0
    for r in s.execute(select(day, NLUResult.intent, NLUResult.fallback, mood, func.count().label("n"))
                       .where(w.on_table(s, NLUResult.created_at, NLUResult.id))
                       .group_by(day, NLUResult.intent, NLUResult.fallback, mood)):
        n = int(r.n)
        per_intent[r.intent] += n
        per_day_intent.setdefault(r.day, Counter())[r.intent] += n
        fallbacks += n if r.fallback else 0
        if r.sentiment:
            moods.setdefault(r.day, Counter())[str(r.sentiment)] += n
    dist = [{"intent": i, "n": n} for i, n in sorted(per_intent.items(), key=lambda kv: (-kv[1], kv[0]))]
    leaders = [str(r["intent"]) for r in dist[:top]]
    days = sorted(per_day_intent)
    total = sum(per_intent.values())
    intents = {"distribution": dist, "fallbacks": fallbacks, "fallback_rate": round(fallbacks / total, 4)
               if total else None,
               "trend": {"days": days, "series": {i: [per_day_intent[x][i] for x in days] for i in leaders}}}
    labels = ("negative", "neutral", "positive")
    by_day: list[dict[str, Any]] = [{"day": k, **{x: v[x] for x in labels}} for k, v in sorted(moods.items())]
    neg = sum(v["negative"] for v in moods.values())
    tot = sum(v[x] for v in moods.values() for x in labels)
    return intents, {"by_day": by_day, "negative_share": round(neg / tot, 4) if tot else None}


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
    """Answers per article, and how many did not settle it within 30 minutes in the same conversation:
    handed to a human, or the fan said the answer did not help ("still doesn't work": `faq.unhelpful`,
    dialogs/policy.py). Helpful share = the rest."""
    a = AuditEvent
    told = aliased(AuditEvent)
    article = a.data["article"].as_string().label("article")
    soon = d.plus_minutes(a.at, HELPFUL_WINDOW_MIN)
    followed = exists().where(Escalation.conversation_id == a.conversation_id, Escalation.created_at >= a.at,
                              Escalation.created_at < soon)
    unhelpful = exists().where(told.kind == "faq.unhelpful", told.conversation_id == a.conversation_id,
                               told.at >= a.at, told.at < soon,
                               told.data["article"].as_string() == a.data["article"].as_string())
    rows = s.execute(select(article, func.count().label("n"),
                            func.sum(case((followed, 1), else_=0)).label("esc"),
                            func.sum(case((unhelpful, 1), else_=0)).label("unhelpful"),
                            func.sum(case((or_(followed, unhelpful), 1), else_=0)).label("unsettled"))
                     .where(a.kind == "faq.answered", w.on(a.at)).group_by(article)
                     .order_by(func.count().desc(), article))
    return [{"article": r.article, "answers": int(r.n), "escalated_after": int(r.esc or 0),
             "said_unhelpful": int(r.unhelpful or 0),
             "helpful_share": round(1 - int(r.unsettled or 0) / int(r.n), 4) if r.n else None} for r in rows]


def unanswered(s: Session, w: Window, embed: Embed | None, top: int = 15, distinct_limit: int = 400
               ) -> tuple[list[dict[str, Any]], int]:
    """Fallback messages and FAQ questions the knowledge base could not answer, grouped by meaning."""
    counts: dict[str, int] = {}
    fallback = (select(Message.text, func.count().label("n")).join(NLUResult, NLUResult.message_id == Message.id)
                .where(NLUResult.fallback.is_(True), w.on_table(s, NLUResult.created_at, NLUResult.id),
                       Message.text != "")
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
    """Messages the NLU read as a poll vote or a giveaway entry, per intent, with distinct fans (the
    conversational side; `polls_and_giveaways` counts the recorded votes and entries)."""
    rows = s.execute(select(NLUResult.intent, func.count().label("n"),
                            func.count(distinct(Conversation.contact_id)).label("fans"))
                     .join(Message, Message.id == NLUResult.message_id)
                     .join(Conversation, Conversation.id == Message.conversation_id)
                     .where(w.on_table(s, NLUResult.created_at, NLUResult.id), NLUResult.intent.in_(ENGAGEMENT_INTENTS),
                            NLUResult.fallback.is_(False))
                     .group_by(NLUResult.intent))
    out = {i: {"messages": 0, "fans": 0} for i in ENGAGEMENT_INTENTS}
    for r in rows:
        out[r.intent] = {"messages": int(r.n), "fans": int(r.fans)}
    return out


def polls_and_giveaways(s: Session, w: Window, limit: int = 20) -> dict[str, Any]:
    """Polls and giveaways that ran in the window (opened before its end, not closed before its start),
    with voters and entries (bots apart)."""
    polls = [{"id": r.id, "question": r.question, "status": r.status, "voters": int(r.voters),
              "changes": int(r.changes or 0)} for r in s.execute(
        select(Poll.id, Poll.question, Poll.status, func.count(PollVote.id).label("voters"),
               func.sum(PollVote.changes).label("changes"))
        .outerjoin(PollVote, PollVote.poll_id == Poll.id)
        .where(Poll.opens_at < w.until, (Poll.closed_at.is_(None)) | (Poll.closed_at >= w.since))
        .group_by(Poll.id, Poll.question, Poll.status).order_by(Poll.id.desc()).limit(limit))]
    humans = func.sum(case((GiveawayEntry.is_bot.is_(False), 1), else_=0))
    giveaways = [{"id": r.id, "prize": r.prize, "status": r.status, "entries": int(r.entries or 0),
                  "bot_entries": int(r.n or 0) - int(r.entries or 0)} for r in s.execute(
        select(Giveaway.id, Giveaway.prize, Giveaway.status, humans.label("entries"),
               func.count(GiveawayEntry.id).label("n"))
        .outerjoin(GiveawayEntry, GiveawayEntry.giveaway_id == Giveaway.id)
        .where(Giveaway.opens_at < w.until, Giveaway.closes_at >= w.since)
        .group_by(Giveaway.id, Giveaway.prize, Giveaway.status).order_by(Giveaway.id.desc()).limit(limit))]
    return {"polls": polls, "giveaways": giveaways}


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
