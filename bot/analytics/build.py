"""Assemble the report's JSON from the queries, and the short form `fancare stats` prints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.analytics import queries as q
from bot.analytics.languages import CoverageOf, languages
from bot.analytics.sqlfuncs import Dialect
from bot.store import Store
from nlu.similar import Embed

FORMAT = 1


def default_window(since: datetime | None, until: datetime | None, days: int = 30) -> q.Window:
    """`until` defaults to now, `since` to `days` before `until` (naive UTC, like the store)."""
    end = until or datetime.now(UTC).replace(tzinfo=None)
    return q.Window(since or end - timedelta(days=days), end)


def build_report(store: Store, window: q.Window, *, embed: Embed | None = None, brand: str = "",
                 coverage: CoverageOf | None = None) -> dict[str, Any]:
    """Every number of the report; one short read-only transaction per section. `coverage`: the
    brand's translation coverage per language (`languages.coverage_from_config`), for the
    Languages section; without it that section has no translation columns."""
    d = Dialect(store.engine.dialect.name)
    with store.session() as s:
        volume = q.volume(s, window, d)
    with store.session() as s:
        intents, sentiment = q.intents_and_sentiment(s, window, d)
    with store.session() as s:
        esc = q.escalations(s, window, d, volume["conversations"])
        faq = q.faq_articles(s, window, d)
    with store.session() as s:
        unanswered, n_unanswered = q.unanswered(s, window, embed)
        engagement = q.engagement(s, window)
        campaigns = q.polls_and_giveaways(s, window)
        moderation = q.moderation(s, window)
        new_fans = q.new_fans(s, window)
    with store.session() as s:
        per_language = languages(s, window, coverage)
    return {
        "format": FORMAT, "brand": brand,
        "generated_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "window": {"since": window.since.isoformat(timespec="seconds"),
                   "until": window.until.isoformat(timespec="seconds")},
        "summary": {
            "messages_in": volume["messages_in"], "messages_out": volume["messages_out"],
            "conversations": volume["conversations"], "fans": volume["fans"], "new_fans": new_fans,
            "containment": esc["containment"], "escalation_rate": esc["rate"], "escalations": esc["opened"],
            "open_escalations": esc["open_now"], "first_response_median_s": esc["first_response_all"]["median_s"],
            "first_response_p90_s": esc["first_response_all"]["p90_s"], "csat_average": esc["csat"]["average"],
            "csat_count": esc["csat"]["count"], "fallback_rate": intents["fallback_rate"],
            "unanswered": n_unanswered, "negative_share": sentiment["negative_share"],
        },
        "volume": volume, "intents": intents, "sentiment": sentiment, "escalations": esc,
        "faq_articles": faq, "unanswered": unanswered, "engagement": engagement, "campaigns": campaigns,
        "moderation": moderation, "languages": per_language,
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _answered(lang: dict[str, Any]) -> str:
    """`, 92.0% answered in es`, or nothing where no reply in those conversations recorded its language."""
    share = lang["replies_in_language_share"]
    return "" if share is None else f", {_pct(share)} answered in {lang['language']}"


def duration(seconds: float | None) -> str:
    """Seconds as `45s`, `12m`, `3.5h` or `2.1d`: what a person reads at a glance."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def format_stats(report: dict[str, Any]) -> str:
    """The short form: a dozen lines for a terminal or a Slack message."""
    s = report["summary"]
    w = report["window"]
    top = ", ".join(f"{r['intent']} {r['n']}" for r in report["intents"]["distribution"][:3]) or "none"
    busiest = report["volume"]["busiest_hours"]
    busy = ", ".join(f"{b['weekday']} {b['hour']:02d}:00" for b in busiest[:3]) or "n/a"
    lines = [
        f"fancare stats {w['since'][:10]} .. {w['until'][:10]}",
        f"messages: {s['messages_in']} in, {s['messages_out']} out; {s['conversations']} conversations, "
        f"{s['fans']} fans ({s['new_fans']} new)",
        f"containment: {_pct(s['containment'])} answered without a human; "
        f"escalation rate {_pct(s['escalation_rate'])} ({s['escalations']} opened, {s['open_escalations']} open now)",
        f"first response: median {duration(s['first_response_median_s'])}, p90 {duration(s['first_response_p90_s'])}",
        "CSAT: " + (f"{s['csat_average']:.2f}/5 from {s['csat_count']} ratings" if s["csat_average"] else "no ratings"),
        f"top intents: {top}; fallback rate {_pct(s['fallback_rate'])}",
        f"busiest hours (UTC): {busy}",
    ]
    langs = report["languages"]
    if langs:
        lines.append("languages: " + "; ".join(f"{x['language']} {x['messages']} ({_pct(x['understood_share'])} "
                                               "understood" + _answered(x) + ")" for x in langs[:4])
                     + (f"; {len(langs) - 4} more" if len(langs) > 4 else ""))
    for g in report["unanswered"][:3]:
        lines.append(f"unanswered x{g['count']}: {g['text'][:80]}")
    return "\n".join(lines)
