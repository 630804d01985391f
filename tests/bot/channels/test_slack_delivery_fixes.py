"""Issue 12 item 6 on the Slack side, against the fake Slack API: an escalation whose card was lost
in a crash is posted by the sweeper; a retrying post does not starve the Slack outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.store import Escalation
from bot.store.models import utcnow
from bot.store.slack_models import SlackPost, SlackTicket
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE


async def test_an_escalation_whose_card_was_lost_is_posted_by_the_sweeper(slack, monkeypatch):
    async def lost(*_a, **_k):  # the process "dies" between the escalation's commit and the Slack post
        return None

    monkeypatch.setattr(slack.app.pipeline.operators, "escalation_opened", lost)
    await slack.app.pipeline.handle(fan_message("I want to talk to a real person please", user="fan-lost"))
    await slack.settle()
    assert slack.fake.posts() == []
    with slack.app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        assert s.get(SlackTicket, esc.id) is None
    inbox = slack.console.inbox
    assert inbox.sweep_unposted() == 0  # too young: escalation_opened may still be on its way
    assert inbox.sweep_unposted(older_than_s=0) == 1
    await slack.settle()
    cards = [p for p in slack.fake.posts(channel=CARE) if "thread_ts" not in p]
    assert len(cards) == 1 and f"#{esc.id}" in cards[0]["text"]
    assert inbox.sweep_unposted(older_than_s=0) == 0  # posted once
    await slack.settle()
    assert len(slack.fake.posts(channel=CARE)) == 1


async def test_a_retrying_post_does_not_starve_the_slack_outbox(slack):
    outbox = slack.console.outbox
    with slack.app.store.session() as s:
        head = outbox.enqueue(s, 7, "alert", CARE, "blocked head", in_thread=False)
        head.next_attempt_at = utcnow() + timedelta(hours=1)
        for i in range(60):
            outbox.enqueue(s, 7, "alert", CARE, f"behind {i}", in_thread=False)
        outbox.enqueue(s, 8, "alert", CARE, "another escalation", in_thread=False)
    assert await outbox.deliver() == 1
    assert [p["text"] for p in slack.fake.posts(channel=CARE)] == ["another escalation"]
    with slack.app.store.session() as s:
        assert s.scalar(select(SlackPost.status).where(SlackPost.text == "behind 0")) == "pending"


async def test_fan_text_and_names_in_slack_are_inert(slack):
    from bot.store import Contact

    await slack.app.pipeline.handle(fan_message("I want to talk to a real person please", user="fan-md"))
    await slack.app.pipeline.handle(fan_message("*urgent* _now_ `rm -rf` ~gone~ <!channel> https://evil.example",
                                                user="fan-md"))
    await slack.settle()
    posts = slack.fake.posts(channel=CARE)
    relay = next(p for p in posts if p["text"].startswith("*Fan:*"))
    body = relay["text"][len("*Fan:* "):]
    for mark in "*_`~":
        assert mark in body and f"{mark}\u200d" in body and f"\u200d{mark}" in body
        assert body.count(mark) == body.count(f"\u200d{mark}\u200d")  # every one neutralised
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert all(p.get("unfurl_links") in (False, "false", "False") and p.get("unfurl_media") in (False, "false", "False")
               for p in posts if "text" in p)
    # a card shows the name without controls or markup (here an older row, stored uncleaned)
    from bot.channels.slack_blocks import card_blocks
    from bot.channels.slack_inbox import load_card

    with slack.app.store.session() as s:
        s.scalars(select(Contact)).one().display_name = "*Boss*\u202e _x_"
    with slack.app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
        blocks = card_blocks(load_card(s, esc.id), mask=False, messages=5)  # type: ignore[arg-type]
    fan_field = blocks[1]["fields"][0]["text"]
    assert "\u202e" not in fan_field and "\u200d*\u200dBoss\u200d*\u200d" in fan_field
