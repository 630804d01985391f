"""The community report end to end: data made by the real pipeline (SQLite and PostgreSQL), SQL
aggregates checked against what the pipeline did, the HTML/JSON files and the CLI."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot import inbox
from bot.analytics import build_report, default_window, format_stats, write_report
from bot.cli import main
from bot.store import Escalation, Message, NLUResult
from bot.store.models import utcnow
from dialogs.giveaways import Giveaways
from dialogs.polls import Polls
from nlu.similar import default_embedder
from tests.fakes.recording_channel import RecordingChannel, fan_message

UNCLEAR = ["blorp fizzle wumbo", "Blorp fizzle wumbo!!", "blorp  fizzle wumbo?", "zzkq vrrp"]


async def _community(app) -> dict:
    """A small day of the demo brand: chit-chat, FAQ, unclear messages, two escalations, a rating."""
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    results = []
    for text, user in [("hello!", "u1"), ("how long does shipping to Germany take?", "u1"), ("thanks!", "u1"),
                       ("hi there", "u2"), ("where is my order VT-482913", "u2")]:
        results.append(await app.pipeline.handle(fan_message(text, user=user)))
    for i, text in enumerate(UNCLEAR):
        results.append(await app.pipeline.handle(fan_message(text, user=f"v{i}", chat="group-1")))
    results.append(await app.pipeline.handle(fan_message("I want to talk to a human please", user="u3")))
    results.append(await app.pipeline.handle(fan_message(
        "my Pulse 3 started smoking and burned my wrist!!", user="u4")))
    with app.store.session() as s:
        first = s.scalars(select(Escalation).order_by(Escalation.id)).first()
    assert inbox.claim(app.store, first.id, "op").ok
    assert inbox.reply(app.store, first.id, "op", "Hi, I'm here to help").ok
    assert inbox.close(app.store, app.domain, first.id, "op", "resolved").ok
    await app.pipeline.dispatch()
    results.append(await app.pipeline.handle(fan_message("5", user="u3")))
    polls = Polls(app.store)
    poll = polls.create(question="Which colour next?", options=["red", "blue"], channel="test", chats=["group-1"])
    polls.open_due()
    for user, choice in [("v0", 0), ("v1", 1), ("v2", 1)]:
        assert polls.vote(poll.id, "test", user, [choice]).status == "recorded"
    giveaways = Giveaways(app.store)
    ga = giveaways.create(prize="Buds Pro", winners=1, channel="test", closes_at=utcnow() + timedelta(days=2))
    giveaways.open_due()
    for user in ("u1", "u2"):
        assert giveaways.enter(ga.id, "test", user).status == "entered"
    return {"results": results, "first_escalation": first.id}


async def test_report_counts_what_the_pipeline_did(app):
    made = await _community(app)
    spanish = await app.pipeline.handle(fan_message("hola, ¿dónde está mi pedido? gracias", user="es1"))
    results = [*made["results"], spanish]
    esc_id = made["first_escalation"]
    # Known timings and a known weekday/hour, to check the dialect-specific SQL arithmetic.
    wednesday = datetime(2026, 11, 25, 14, 30)
    with app.store.session() as s:
        e = s.get(Escalation, esc_id)
        s.execute(update(Escalation).where(Escalation.id == esc_id).values(
            created_at=e.first_response_at - timedelta(minutes=90), resolved_at=e.first_response_at +
            timedelta(hours=2)))
        s.execute(update(Message).where(Message.id == results[0].message_id).values(created_at=wednesday))
    window = default_window(datetime(2026, 11, 1), None)
    report = build_report(app.store, window, embed=default_embedder(), brand="Voltora")
    s = report["summary"]
    assert s["messages_in"] == len(results)
    assert report["volume"]["by_channel"] == [{"channel": "test", "n": len(results)}]
    assert s["conversations"] == len({r.conversation_id for r in results})
    assert s["escalations"] == 2 and s["open_escalations"] == 1
    assert s["containment"] == round(1 - 2 / s["conversations"], 4)
    assert {q["queue"] for q in report["escalations"]["by_queue"]} == {"general", "crisis"}
    times = report["escalations"]["times_by_priority"]["normal"]
    assert times["first_response"] == {"n": 1, "median_s": 5400.0, "p90_s": 5400.0}
    assert abs(times["resolution"]["median_s"] - 5400 - 7200) < 2
    assert report["escalations"]["csat"]["average"] == 5 and s["csat_count"] == 1
    assert report["volume"]["by_weekday_hour"][2][14] >= 1  # Wednesday, 14:00 UTC
    chat = next(c for c in report["volume"]["top_chats"] if c["chat_id"] == "group-1")
    assert chat == {"channel": "test", "chat_id": "group-1", "n": len(UNCLEAR), "fans": len(UNCLEAR)}
    intents = {d["intent"]: d["n"] for d in report["intents"]["distribution"]}
    assert sum(intents.values()) == len(results)
    assert intents.get("faq", 0) >= 1 and intents.get("greet", 0) >= 2
    faq = {a["article"]: a for a in report["faq_articles"]}
    assert faq["shipping-times"]["answers"] == 1 and faq["shipping-times"]["helpful_share"] == 1.0
    # the three wordings of the same unclear message are one group, named after the first
    fell_back = [r for r in results if r.debug and r.debug["fallback"]]
    assert s["unanswered"] >= 3 and len(fell_back) >= 3
    blorps = [r for r, t in zip(results[5:9], UNCLEAR, strict=True) if t.lower().startswith("blorp")
              and r.debug["fallback"]]
    top = report["unanswered"][0]
    assert len(blorps) >= 2 and top["count"] == len(blorps) and top["text"].lower().startswith("blorp")
    assert [(p["question"], p["voters"]) for p in report["campaigns"]["polls"]] == [("Which colour next?", 3)]
    assert [(g["prize"], g["entries"]) for g in report["campaigns"]["giveaways"]] == [("Buds Pro", 2)]
    assert report["sentiment"]["by_day"] and report["engagement"]["poll_vote"] == {"messages": 0, "fans": 0}
    assert "containment" in format_stats(report) and "blorp" in format_stats(report).lower()
    # per language: the NLU's reading of each message the pipeline stored (the identifier's where the router said "und")
    with app.store.session() as s:
        read = Counter(n.language if n.language not in (None, "und") else (n.signals or {}).get("language") or "und"
                       for n in s.scalars(select(NLUResult)))
    assert {x["language"]: x["messages"] for x in report["languages"]} == dict(read)
    assert report["languages"][0]["language"] == "en"
    # answered in the fan's own language: the Spanish fan's replies record "es", and the report counts them
    with app.store.session() as s:
        said = [m.payload.get("language") for m in s.scalars(select(Message).where(
            Message.conversation_id == spanish.conversation_id, Message.direction == "out"))]
    assert said and set(said) == {"es"}
    es = next((x for x in report["languages"] if x["language"] == "es"), None)
    assert es, report["languages"]
    assert (es["replies"], es["replies_in_language"], es["replies_in_language_share"]) == (len(said), len(said), 1.0)


async def test_report_files_and_cli(app, config_path, tmp_path, capsys):
    await _community(app)
    out = tmp_path / "out" / "report.html"
    assert main(["report", "--config", str(config_path), "--since", "2026-01-01", "--out", str(out)]) == 0
    html = out.read_text()
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["summary"]["messages_in"] == 12
    assert html.count("data:image/png;base64,") >= 5
    assert "http://" not in html and "https://" not in html  # opens offline
    assert "<script" not in html
    assert "<h2>Languages</h2>" in html and data["languages"][0]["responses_total"] > 0  # coverage from the config
    assert main(["stats", "--config", str(config_path), "--days", "3"]) == 0
    text = capsys.readouterr().out
    assert "12 in" in text and "escalation rate" in text


async def test_fan_text_is_escaped_in_the_html(app, tmp_path):
    app.pipeline.add_channel(RecordingChannel())
    for i in range(2):
        await app.pipeline.handle(fan_message("<img src=x onerror=alert(1)> qqq zzz", user=f"x{i}"))
    report = build_report(app.store, default_window(None, None))
    html_path, _ = write_report(report, tmp_path / "r.html")
    html = html_path.read_text()
    if report["unanswered"]:
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html


async def test_an_article_the_fan_said_did_not_help_is_not_counted_helpful(app):
    """"still doesn't work" right after an article (dialogs/policy.py `faq.unhelpful`): sorry and a
    person for the fan; the article's row in the report says so and its helpful share drops."""
    app.pipeline.add_channel(RecordingChannel())
    first = await app.pipeline.handle(fan_message("how long does shipping to Germany take?", user="w1"))
    second = await app.pipeline.handle(fan_message("that didn't help", user="w1"))
    other = await app.pipeline.handle(fan_message("how long does shipping to Germany take?", user="w2"))
    article = first.debug["article"]
    assert article and other.debug["article"] == article and second.debug["action"] == "faq_unhelpful"
    report = build_report(app.store, default_window(datetime(2026, 11, 1), None), embed=default_embedder())
    row = next(a for a in report["faq_articles"] if a["article"] == article)
    assert row == {"article": article, "answers": 2, "escalated_after": 0, "said_unhelpful": 1, "helpful_share": 0.5}
