"""Core dialog flows, spoken to the pipeline as a fan would, with a local operator acting on tickets."""

from __future__ import annotations

from sqlalchemy import select

from bot import inbox
from bot.store import AuditEvent, Escalation
from tests.fakes.recording_channel import RecordingChannel, fan_message


async def say(app, ch, text, user="u1", button=False):
    await app.pipeline.handle(fan_message(text, user=user, button=button))
    return ch.texts()[-1] if ch.sent else ""


async def test_greet_uses_the_fans_name_and_thanks_goodbye(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    assert "Sam" in await say(app, ch, "hey hey 👋")
    assert await say(app, ch, "thank you!!") in [v.text for v in app.domain.responses["utter_thanks"]]
    assert "Sam" in await say(app, ch, "bye, see you")


async def test_short_complaint_collects_details_then_escalates(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    assert "tell me a bit more" in await say(app, ch, "this is unacceptable")
    reply = await say(app, ch, "My Arc speaker stopped charging after a week and support never answered my emails")
    assert "ticket #" in reply
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert esc.queue == "complaints" and esc.reason["intent"]


async def test_form_can_be_cancelled_and_gives_up_after_attempts(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "where's my order??")
    assert "stopped that" in await say(app, ch, "cancel")
    await say(app, ch, "track my parcel please")
    assert "VT-12" in await say(app, ch, "my order number is VT-12")  # re-asks, showing the format
    await say(app, ch, "the order number is VT-99")
    assert "Talk to a human" in [b.title for b in ch.sent[-1].message.buttons]


async def test_refund_collects_order_and_escalates_with_order_details(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    assert "order number" in await say(app, ch, "I want a refund for my watch")
    asked = await say(app, ch, "VT-100200")
    assert "email address or postcode" in asked and "Pulse" not in asked  # orders.verify: the owner first
    reply = await say(app, ch, "SW1A 1AA")
    assert "refund request for order VT-100200 (Voltora Pulse 3)" in reply
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert esc.queue == "refunds" and esc.reason["order_number"] == "VT-100200"
        assert "SW1A" not in repr(esc.reason)  # the proof is checked, never passed on


async def test_two_misunderstandings_in_a_row_offer_a_human(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "flibber jabber wockity")
    assert not ch.sent[-1].message.buttons
    await say(app, ch, "zorp glab nnnk")
    assert [b.payload for b in ch.sent[-1].message.buttons][0] == "/human_handoff"
    # pressing the button escalates
    assert "ticket #" in await say(app, ch, "/human_handoff", button=True)


async def test_spam_gets_no_reply_and_is_recorded_for_moderation(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("🚀 Earn $500/day with crypto signals, DM me now! http://x.example/pump"))
    assert ch.sent == []
    with app.store.session() as s:
        kinds = list(s.scalars(select(AuditEvent.kind)))
    assert "moderation.flagged" in kinds


async def test_human_takeover_relay_resolve_and_csat(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    assert "ticket #1" in await say(app, ch, "can I speak to an agent please")
    assert inbox.claim(app.store, 1, "dana").ok
    assert not inbox.claim(app.store, 1, "lee").ok
    assert inbox.reply(app.store, 1, "dana", "Hi, Dana here!").ok
    await app.pipeline.dispatch()
    assert ch.texts()[-1] == "Hi, Dana here!" and ch.sent[-1].meta["operator"] == "dana"
    n = len(ch.sent)
    await app.pipeline.handle(fan_message("where is my order VT-482913"))
    assert len(ch.sent) == n  # the bot stays silent while a human owns the conversation
    assert inbox.close(app.store, app.domain, 1, "dana", "resolved").ok
    await app.pipeline.dispatch()
    assert "rate" in ch.texts()[-1] and len(ch.sent[-1].message.buttons) == 5
    await app.pipeline.handle(fan_message('/csat{"rating": "4"}', button=True))
    assert "Thanks for your rating" in ch.texts()[-1]
    with app.store.session() as s:
        esc = s.get(Escalation, 1)
        assert esc.csat == 4 and esc.first_response_at is not None and esc.resolved_at is not None
    assert "email address or postcode" in await say(app, ch, "where is my order VT-482913")  # the bot is back
    assert "Order VT-482913" in await say(app, ch, "maya.lopez@example.com")


async def test_handback_returns_the_conversation_to_the_bot(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "human please")
    inbox.claim(app.store, 1, "dana")
    inbox.close(app.store, app.domain, 1, "dana", "handed_back")
    await app.pipeline.dispatch()
    assert "back with the Voltora assistant" in ch.texts()[-1]
    assert "Hi" in await say(app, ch, "hello")


async def test_crisis_during_an_open_ticket_raises_its_priority(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "I want to talk to someone")
    reply = await say(app, ch, "the charger just exploded and my kid got burned")
    assert "urgent" in reply
    with app.store.session() as s:
        esc = s.get(Escalation, 1)
        assert (esc.queue, esc.priority) == ("crisis", "urgent")


async def test_conversations_are_separate_per_fan(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "where is my order", user="a")
    await say(app, ch, "VT-482913", user="b")  # b has no open form: not treated as an answer to a's question
    assert "VT-482913" in ch.texts("chat-b")[-1] or "order" in ch.texts("chat-b")[-1].lower()
    assert "email address or postcode" in await say(app, ch, "VT-482913", user="a")
    assert "Order VT-482913" in await say(app, ch, "10115", user="a")
