"""The Slack console end to end: a fan on the recording channel, the real bolt app behind our
verified HTTP endpoint, the real slack_sdk client against the fake Slack Web API."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.channels.slack_blocks import ACTION_CLAIM, ACTION_HANDBACK, ACTION_RESOLVE
from bot.store import AuditEvent, Escalation
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE, CRISIS, GROUP_OPERATOR

HANDOFF = "I want to talk to a real person please"  # the harness's default escalation
CRISIS_TEXT = "my Pulse 3 started smoking and burned my wrist!!"


def buttons(blocks):
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_escalation_card_claim_relay_resolve_csat(slack):
    esc = await slack.escalate()
    card = slack.fake.posts(channel=CARE)[0]
    assert card["unfurl_links"] in (False, "0", "false") and "thread_ts" not in card
    assert buttons(card["blocks"]) == [ACTION_CLAIM, ACTION_RESOLVE, ACTION_HANDBACK]
    shown = str(card["blocks"])
    assert f"Escalation #{esc}" in shown and "Sam" in shown and "intent `human_handoff`" in shown
    assert HANDOFF in shown  # the last messages of the conversation
    assert "sentiment " in shown

    assert await slack.click(ACTION_CLAIM, esc, "UOP1") == 200
    assert slack.fake.called("chat.update")[-1]["ts"] == slack.card_location(esc)[1]
    assert buttons(slack.fake.called("chat.update")[-1]["blocks"]) == [ACTION_RESOLVE, ACTION_HANDBACK]
    assert any("<@UOP1> claimed" in t for t in slack.thread(esc))

    # operator reply in the thread reaches the fan as plain text
    before = len(slack.fan.sent)
    await slack.reply_in_thread(esc, "UOP1", "Hi Sam &amp; sorry! See <https://voltora.example/help|our help page>")
    assert slack.fan.texts()[before:] == ["Hi Sam & sorry! See our help page (https://voltora.example/help)"]
    assert slack.fan.sent[-1].meta["operator"] == "slack:UOP1"

    # the fan's next message lands in the thread, escaped; the bot stays quiet
    n = len(slack.fan.sent)
    await slack.app.pipeline.handle(fan_message("thanks <!channel> it still <b>fails</b>", user="u1"))
    await slack.settle()
    assert len(slack.fan.sent) == n
    assert "*Fan:* thanks &lt;!channel&gt; it still &lt;b&gt;fails&lt;/b&gt;" in slack.thread(esc)

    await slack.click(ACTION_RESOLVE, esc, "UOP1")
    assert "rate" in slack.fan.texts()[-1] and len(slack.fan.sent[-1].message.buttons) == 5
    assert any("resolved" in t for t in slack.thread(esc))
    await slack.app.pipeline.handle(fan_message("5", user="u1"))
    with slack.app.store.session() as s:
        e = s.get(Escalation, esc)
        assert (e.state, e.csat, e.claimed_by) == ("resolved", 5, "slack:UOP1")
        assert e.first_response_at is not None and e.resolved_at is not None


async def test_claim_race_has_exactly_one_winner(slack):
    esc = await slack.escalate()
    statuses = await asyncio.gather(slack.click(ACTION_CLAIM, esc, "UOP1"),
                                    slack.click(ACTION_CLAIM, esc, "UOP2"))
    assert statuses == [200, 200]
    with slack.app.store.session() as s:
        winner = s.get(Escalation, esc).claimed_by
        claims = s.scalars(select(AuditEvent).where(AuditEvent.kind == "escalation.claimed")).all()
    assert winner in ("slack:UOP1", "slack:UOP2") and len(claims) == 1
    loser = "UOP2" if winner == "slack:UOP1" else "UOP1"
    told = [e for e in slack.fake.called("chat.postEphemeral") if e["user"] == loser]
    assert told and f"already claimed by <@{winner[6:]}>" in told[-1]["text"]


async def test_unclaimed_reply_and_notes_stay_internal(slack):
    esc = await slack.escalate()
    n = len(slack.fan.sent)
    await slack.reply_in_thread(esc, "UOP1", "let me check this one")
    assert len(slack.fan.sent) == n
    assert any("Not sent to the fan" in t and "unclaimed" in t for t in slack.thread(esc))
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    await slack.reply_in_thread(esc, "UOP1", "note: customer is a VIP, be nice")
    assert len(slack.fan.sent) == n
    assert any("Internal note" in t for t in slack.thread(esc))
    # another operator cannot speak on a ticket someone else owns
    await slack.reply_in_thread(esc, "UOP2", "hello from me")
    assert len(slack.fan.sent) == n
    assert any("claimed by <@UOP1>" in t for t in slack.thread(esc))
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc).transcript[-1] == {"from": "note", "text": "customer is a VIP, be nice",
                                                         "by": "slack:UOP1"}


async def test_crisis_routes_to_crisis_channel_and_mentions_oncall(slack):
    esc = await slack.escalate(CRISIS_TEXT)
    card = slack.fake.posts(channel=CRISIS)[0]
    assert "<!subteam^SONCALL>" in str(card["blocks"]) and card["text"].startswith("<!subteam^SONCALL> ")
    assert f"#{esc}" in card["text"]
    assert not slack.fake.posts(channel=CARE)


async def test_handback_returns_conversation_to_bot(slack):
    esc = await slack.escalate()
    await slack.click(ACTION_CLAIM, esc, GROUP_OPERATOR)  # operator by user-group membership
    await slack.click(ACTION_HANDBACK, esc, GROUP_OPERATOR)
    assert "back with the Voltora assistant" in slack.fan.texts()[-1]
    n = len(slack.fan.sent)
    await slack.app.pipeline.handle(fan_message("how long does shipping to Germany take?", user="u1"))
    assert len(slack.fan.sent) == n + 1  # the bot answers again
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc).state == "handed_back"


async def test_crisis_early_warning_is_posted_to_the_crisis_channel(slack):
    from moderation.crisis import Alert as CrisisAlert

    alert = CrisisAlert(key="brand", at_minute=600, window_minutes=10, observed=42, expected=6.5, z=7.2, ratio=6.5,
                        share_negative=0.61, top_phrases=[("battery fire", 9)],
                        examples=["my watch got hot, mail me at jo@x.example <!channel>"], sparkline="▁▁▂▇█")
    await slack.console.inbox.crisis_alert(alert)
    await slack.settle()
    post = slack.fake.posts(channel=CRISIS)[-1]
    assert post["text"].startswith("<!subteam^SONCALL> :rotating_light: Crisis warning [brand]: 42 negative")
    assert "battery fire" in post["text"] and "jo@x.example" not in post["text"]
    assert "<!channel>" not in post["text"] and "&lt;!channel&gt;" in post["text"]
