"""The report's "Languages" section: per language fans write in, how well the NLU understood them,
how often their conversations went to a human, and how much of the brand's text exists in it.

A message's language is the NLU's reading of it (`nlu_results.language`, the fast router); where
the router could not tell ("und": "ok", emoji, a name), the identifier's reading stored with the
moderation signals (`signals.language`) is used, so short messages are not all "und".

Two statements over the window's NLU results (a range of `ix_nlu_created`, or on SQLite the whole
table in storage order when the window holds all of it: `Window.on_table`):
- one grouped per language, from a per-(language, conversation) subquery: messages, fallbacks,
  out of scope, conversations, distinct fans, and conversations with an escalation opened in the
  window (an indexed `EXISTS` on `ix_esc_conv_created`, once per conversation, not per message);
- one confidence histogram per language (rounded to 0.001, at most 1,001 rows per language), so
  the median is exact to three decimals on SQLite too, which has no percentile function.

Answered in the fan's own language: outbound messages record the language their response was
rendered in (`payload.language`, from `Outgoing.as_payload`). Per language, the bot's replies in the
window in the conversations with a fan message in that language are counted, and those rendered in
it; a conversation where the fan wrote two languages counts its replies under both, as it counts
under both for conversations and escalations. Replies without a recorded language (rows written
before it was recorded, plain texts not from the domain: operator replies, a moderation statement,
the language-switch confirmation) are not counted. "und" has no language to match: its share is
None. The replies come in a third grouped subquery of the first statement, per (reply language,
conversation), over the window's outbound rows (`ix_msg_dir_created`, or storage order as above),
joined to the per-(language, conversation) rows before those are summed, so the fan messages are
read once. Its cost, 1,000,000 messages (500,000 replies, each with a recorded language), on the
loaded 2-core machine: +0.2 s for a 30-day window on SQLite and PostgreSQL; +0.7 s on SQLite and
+0.9 s on PostgreSQL (JIT off; +1.5 s with it on) for a year, the JSON of every reply being read."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, distinct, exists, func, select
from sqlalchemy.orm import Session

from bot.store.models import Conversation, Escalation, Message, NLUResult
from nlu.model import OUT_OF_SCOPE

if TYPE_CHECKING:
    from bot.analytics.queries import Window
    from bot.config import FancareConfig
    from nlu.validate import Coverage

UNKNOWN = "und"
#: languages -> their translation coverage (`nlu.validate.translation_coverage` bound to the brand's texts)
CoverageOf = Callable[[list[str]], "Sequence[Coverage]"]


def message_language() -> Any:
    """The language of a fan message as the report counts it (see the module docstring)."""
    router = func.coalesce(NLUResult.language, UNKNOWN)
    identifier = func.coalesce(NLUResult.signals["language"].as_string(), UNKNOWN)
    return case((router == UNKNOWN, identifier), else_=NLUResult.language)


def reply_language() -> Any:
    """The language an outbound message was rendered in (`payload.language`; NULL where not recorded)."""
    return Message.payload["language"].as_string()


def median_of_histogram(counts: dict[float, int]) -> float | None:
    """The median of the values counted in `counts` (value -> how many times), as `statistics.median`
    would give for the expanded list: the mean of the two middle values when the count is even."""
    n = sum(counts.values())
    if n == 0:
        return None
    lo_rank, hi_rank = (n - 1) // 2, n // 2  # 0-based ranks of the middle value(s)
    seen = 0
    lo: float | None = None
    for value in sorted(counts):
        seen += counts[value]
        if lo is None and seen > lo_rank:
            lo = value
        if seen > hi_rank:
            assert lo is not None
            return (lo + value) / 2
    raise AssertionError("unreachable: the ranks are below the total")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def languages(s: Session, w: Window, coverage: CoverageOf | None = None) -> list[dict[str, Any]]:
    """One row per language read in the window's fan messages, most messages first."""
    when = w.on_table(s, NLUResult.created_at, NLUResult.id)
    lang = message_language().label("language")
    is_fallback = case((NLUResult.fallback.is_(True), 1), else_=0)
    is_oos = case((NLUResult.fallback.is_(False) & (NLUResult.intent == OUT_OF_SCOPE), 1), else_=0)
    fan_msgs = (select(lang, Message.conversation_id.label("conversation_id"), func.count().label("n"),
                       func.sum(is_fallback).label("fallbacks"), func.sum(is_oos).label("oos"))
                .join(Message, Message.id == NLUResult.message_id).where(when)
                .group_by(lang, Message.conversation_id).subquery())
    is_out = Message.direction == "out"
    said = reply_language().label("said")
    # grouped by language first: grouped by conversation first, SQLite reads a whole history through
    # `ix_msg_conv` (1.7 s for 500,000 replies) rather than in storage order (0.7 s)
    replies = (select(Message.conversation_id.label("conversation_id"), said, func.count().label("n"))
               .where(is_out, w.on_table(s, Message.created_at, Message.id, is_out), said.is_not(None))
               .group_by(said, Message.conversation_id).subquery())
    # per (language, conversation): its fan messages, and the conversation's replies (a row per reply language)
    per_conv = (select(fan_msgs.c.language, fan_msgs.c.conversation_id, func.max(fan_msgs.c.n).label("n"),
                       func.max(fan_msgs.c.fallbacks).label("fallbacks"), func.max(fan_msgs.c.oos).label("oos"),
                       func.coalesce(func.sum(replies.c.n), 0).label("replies"),
                       func.coalesce(func.sum(case((replies.c.said == fan_msgs.c.language, replies.c.n),
                                                   else_=0)), 0).label("in_language"))
                .outerjoin(replies, replies.c.conversation_id == fan_msgs.c.conversation_id)
                .group_by(fan_msgs.c.language, fan_msgs.c.conversation_id).subquery())
    escalated = exists().where(Escalation.conversation_id == per_conv.c.conversation_id, w.on(Escalation.created_at))
    rows = s.execute(
        select(per_conv.c.language, func.sum(per_conv.c.n).label("n"), func.sum(per_conv.c.fallbacks).label("fb"),
               func.sum(per_conv.c.oos).label("oos"), func.count().label("convs"),
               func.count(distinct(Conversation.contact_id)).label("fans"),
               func.sum(case((escalated, 1), else_=0)).label("esc"),
               func.sum(per_conv.c.replies).label("replies"), func.sum(per_conv.c.in_language).label("in_lang"))
        .join(Conversation, Conversation.id == per_conv.c.conversation_id)
        .group_by(per_conv.c.language)).all()
    bucket = func.round(NLUResult.confidence * 1000).label("bucket")
    lang2 = message_language().label("language")
    histograms: dict[str, dict[float, int]] = {}
    for r in s.execute(select(lang2, bucket, func.count().label("n")).where(when)
                       .group_by(lang2, bucket)):
        h = histograms.setdefault(r.language, {})
        h[float(r.bucket) / 1000] = h.get(float(r.bucket) / 1000, 0) + int(r.n)
    known = sorted(str(r.language) for r in rows if r.language != UNKNOWN)
    cov = {c.language: c for c in coverage(known)} if coverage and known else {}
    out = []
    for r in rows:
        n, fb, oos, convs, esc = int(r.n), int(r.fb or 0), int(r.oos or 0), int(r.convs), int(r.esc or 0)
        replied, in_lang = int(r.replies or 0), None if r.language == UNKNOWN else int(r.in_lang or 0)
        median = median_of_histogram(histograms.get(r.language, {}))
        c = cov.get(r.language)
        out.append({
            "language": r.language, "fans": int(r.fans), "messages": n, "conversations": convs,
            "understood": n - fb - oos, "understood_share": _share(n - fb - oos, n),
            "fallbacks": fb, "fallback_rate": _share(fb, n), "out_of_scope": oos, "out_of_scope_rate": _share(oos, n),
            "escalated_conversations": esc, "escalation_rate": _share(esc, convs),
            "median_confidence": None if median is None else round(median, 3),
            "replies": replied, "replies_in_language": in_lang,
            "replies_in_language_share": None if in_lang is None else _share(in_lang, replied),
            "responses_translated": c.responses if c else None, "responses_total": c.responses_total if c else None,
            "responses_coverage": _share(c.responses, c.responses_total) if c else None,
            "articles_translated": c.articles if c else None, "articles_total": c.articles_total if c else None,
        })
    out.sort(key=lambda x: (-x["messages"], x["language"]))
    return out


def coverage_from_config(cfg: FancareConfig) -> CoverageOf | None:
    """`nlu.validate.translation_coverage` over the brand's texts, loaded as `fancare data validate`
    loads them (domain with translations, the flows' own responses, the knowledge base). None, with a
    warning naming the file and line, when they do not load: the report of what happened still runs."""
    from functools import partial

    from bot.app import load_brand_texts
    from nlu.validate import translation_coverage
    from nlu.yamlfile import DataError

    if not cfg.resolve(cfg.dialogs.domain).exists():
        return None
    try:
        domain, articles, _ = load_brand_texts(cfg)
    except DataError as exc:
        print(f"warning: translation coverage left out of the report: {exc.describe()}", file=sys.stderr)
        return None
    return partial(translation_coverage, domain, articles)
