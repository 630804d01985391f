"""The self-contained HTML report: inline CSS, charts as data URIs, every value escaped.

Laid out to answer "how are we doing" at a glance: headline cards first, then one section per
question (volume and timing, what fans ask, the care team, what we could not answer, moderation)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from bot.analytics import charts
from bot.analytics.build import _pct, duration
from bot.analytics.queries import WEEKDAYS

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f3f4f6;color:#111827}
header{background:#1e3a8a;color:#fff;padding:20px 32px}header h1{margin:0;font-size:24px}
header p{margin:4px 0 0;opacity:.85}main{padding:20px 32px;max-width:1180px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:14px;box-shadow:0 1px 2px #0002}
.card .v{font-size:26px;font-weight:700;color:#1e3a8a}.card .k{font-size:13px;color:#4b5563}
section{background:#fff;border-radius:8px;padding:16px 20px;margin-top:16px;box-shadow:0 1px 2px #0002}
section h2{margin:0 0 10px;font-size:18px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
img{max-width:100%}table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e5e7eb}th{background:#f9fafb}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6b7280;font-size:13px}
"""


def _card(value: str, key: str) -> str:
    return f'<div class="card"><div class="v">{escape(value)}</div><div class="k">{escape(key)}</div></div>'


def _img(uri: str | None, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">' if uri else f'<p class="muted">No data for {escape(alt)}.</p>'


def _table(head: list[str], rows: list[list[Any]], empty: str = "Nothing in this period.") -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{escape(str(c))}</td>' if isinstance(c, int | float) else f"<td>{escape(str(c))}</td>"
        for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _of(n: int | None, total: int | None) -> str:
    """`41/60 (68%)`, or `n/a` where the brand's texts were not loaded (or the language is unknown)."""
    if n is None or total is None:
        return "n/a"
    return f"{n}/{total} ({100 * n / total:.0f}%)" if total else f"{n}/0"


def _languages(rows: list[dict[str, Any]]) -> str:
    """The Languages section: what a trainer reads to decide which language needs data or translations."""
    table = _table(
        ["language", "fans", "messages", "understood", "fallback", "out of scope", "escalation rate",
         "median confidence", "answered in it", "responses translated", "articles translated"],
        [[x["language"], x["fans"], x["messages"], _pct(x["understood_share"]), _pct(x["fallback_rate"]),
          _pct(x["out_of_scope_rate"]), _pct(x["escalation_rate"]),
          "n/a" if x["median_confidence"] is None else f"{x['median_confidence']:.3f}",
          _of(x["replies_in_language"], x["replies"]),
          _of(x["responses_translated"], x["responses_total"]), _of(x["articles_translated"], x["articles_total"])]
         for x in rows])
    return ("<section><h2>Languages</h2>" + table +
            '<p class="muted">Language: the NLU\'s reading of each fan message ("und": it could not tell). '
            "Understood: neither a fallback nor out of scope. Escalation rate: the share of the conversations "
            "with a message in that language handed to a human. Answered in it: of the bot's replies in those "
            "conversations, those rendered in that language (replies that do not record their language, such as "
            "operators' messages and replies stored before it was recorded, are not counted). Translated: "
            "responses and help articles of the brand that exist in that language (as "
            "<code>fancare data validate</code> counts them).</p></section>")


def render_html(r: dict[str, Any]) -> str:
    s, v, it, esc = r["summary"], r["volume"], r["intents"], r["escalations"]
    csat = "n/a" if s["csat_average"] is None else f"{s['csat_average']:.2f} / 5"
    cards = "".join([
        _card(f"{s['messages_in']:,}", "fan messages"), _card(f"{s['conversations']:,}", "conversations"),
        _card(f"{s['fans']:,}", f"fans ({s['new_fans']:,} new)"),
        _card(_pct(s["containment"]), "answered without a human"),
        _card(_pct(s["escalation_rate"]), f"escalation rate ({s['escalations']:,})"),
        _card(duration(s["first_response_median_s"]), "median first response"),
        _card(csat, f"CSAT ({s['csat_count']} ratings)"), _card(_pct(s["fallback_rate"]), "not understood"),
    ])
    busy = ", ".join(f"{b['weekday']} {b['hour']:02d}:00" for b in v["busiest_hours"][:3]) or "n/a"
    prio_rows = [[p, t["first_response"]["n"], duration(t["first_response"]["median_s"]),
                  duration(t["first_response"]["p90_s"]), t["resolution"]["n"], duration(t["resolution"]["median_s"]),
                  duration(t["resolution"]["p90_s"])] for p, t in esc["times_by_priority"].items()]
    sent = r["sentiment"]["by_day"]
    sentiment_chart = charts.lines([x["day"] for x in sent],
                                   {k: [x[k] for x in sent] for k in ("negative", "neutral", "positive")},
                                   "Sentiment of fan messages per day",
                                   {"negative": charts.RED, "neutral": charts.GREY, "positive": charts.GREEN})
    mod = r["moderation"]
    eng = r["engagement"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(r['brand'] or 'fancare')} community report</title><style>{CSS}</style></head><body>",
        f"<header><h1>{escape(r['brand'] or 'fancare')} community report</h1>",
        f"<p>{escape(r['window']['since'])} to {escape(r['window']['until'])} (UTC) &middot; generated "
        f"{escape(r['generated_at'])}</p></header><main>",
        f'<div class="cards">{cards}</div>',
        "<section><h2>Volume and timing</h2>",
        f'<p>Fans are most active on <b>{escape(busy)}</b> (UTC): good times to post.</p><div class="grid">',
        _img(charts.volume_by_day(v["by_day"]), "messages per day"),
        _img(charts.heatmap(v["by_weekday_hour"], WEEKDAYS), "activity by weekday and hour"),
        "</div>",
        _table(["channel", "messages"], [[c["channel"], c["n"]] for c in v["by_channel"]]),
        "<h3>Busiest chats</h3>",
        _table(["channel", "chat", "messages", "fans"], [[c["channel"], c["chat_id"], c["n"], c["fans"]]
                                                         for c in v["top_chats"]]),
        "</section><section><h2>What fans ask</h2><div class=\"grid\">",
        _img(charts.barh([(d["intent"], d["n"]) for d in it["distribution"]], "Intents"), "intents"),
        _img(charts.lines(it["trend"]["days"], it["trend"]["series"], "Top intents per day"), "intent trend"),
        "</div>", _img(sentiment_chart, "sentiment"),
        "<h3>Polls and giveaways</h3>",
        _table(["poll", "status", "voters", "vote changes"],
               [[p["question"], p["status"], p["voters"], p["changes"]] for p in r["campaigns"]["polls"]],
               "No poll ran in this period."),
        _table(["giveaway", "status", "entries", "bot entries left out"],
               [[g["prize"], g["status"], g["entries"], g["bot_entries"]] for g in r["campaigns"]["giveaways"]],
               "No giveaway ran in this period."),
        _table(["fan messages read as", "messages", "fans"], [[k.replace("_", " "), x["messages"], x["fans"]]
                                                              for k, x in eng.items()]),
        "</section>", _languages(r["languages"]), "<section><h2>The care team</h2><div class=\"grid\">",
        _img(charts.barh([(q["queue"], q["n"]) for q in esc["by_queue"]], "Escalations by queue", charts.ORANGE),
             "escalations by queue"),
        _img(charts.response_times(esc["times_by_priority"]), "response times"),
        "</div>",
        _table(["priority", "answered", "first response median", "p90", "resolved", "resolution median", "p90"],
               prio_rows, "No escalations in this period."),
        "<h3>Why fans were handed to a human</h3>",
        _table(["reason (intent)", "escalations"], [[x["reason"], x["n"]] for x in esc["by_reason"]]),
        _img(charts.csat(esc["csat"]["distribution"]), "CSAT ratings"),
        "</section><section><h2>What we could not answer</h2>",
        '<p class="muted">Messages the assistant did not understand, or FAQ questions without a good article, '
        "grouped by meaning. Add training examples (<code>fancare review</code>) or knowledge-base articles.</p>",
        _table(["times", "question", "also asked as"],
               [[g["count"], g["text"][:200], "; ".join(x[:80] for x in g["variants"])] for g in r["unanswered"]]),
        "<h3>Knowledge-base articles used</h3>",
        _table(["article", "answers", "handed to a human within 30 min", "fan said it did not help", "helpful share"],
               [[a["article"], a["answers"], a["escalated_after"], a["said_unhelpful"], _pct(a["helpful_share"])]
                for a in r["faq_articles"]]),
        "</section><section><h2>Moderation</h2>",
        _table(["action", "count"], [[k, n] for k, n in sorted(mod["by_action"].items())]),
        f'<p class="muted">Waiting for a moderator: {mod["pending_review"]}; restored by a moderator (false '
        f'positives): {mod["restored_false_positives"]}; dry-run: {mod["dry_run"]}.</p>',
        _table(["rule", "actions"], [[x["rule"], x["n"]] for x in mod["by_rule"]]),
        "</section></main></body></html>",
    ]
    return "\n".join(parts)


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write `out` (HTML) and its JSON twin next to it (same name, `.json`)."""
    html_path = Path(out)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = html_path.with_suffix(".json")
    html_path.write_text(render_html(report), encoding="utf-8")
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return html_path, json_path
