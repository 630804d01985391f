"""The durable operator outbox against a failing Slack: outages, 429 storms, dead letters; SLA
re-posts; the /fancare command."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot import cli, inbox
from bot.channels.slack_blocks import ACTION_CLAIM
from bot.store import Escalation
from bot.store.models import utcnow
from bot.store.slack_models import SlackPost
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE


def post_states(slack):
    with slack.app.store.session() as s:
        return [(p.kind, p.status) for p in s.scalars(select(SlackPost).order_by(SlackPost.id))]


async def test_slack_down_then_up_delivers_once_in_order(slack):
    slack.console.outbox.max_attempts = 100  # tests retry with zero backoff: do not dead-letter here
    for mode in ("http", "drop"):
        slack.fake.down = mode
        await slack.app.pipeline.handle(fan_message("I want to talk to a real person please", user=f"fan-{mode}"))
        await slack.app.pipeline.handle(fan_message("hello? it is urgent", user=f"fan-{mode}"))
        await slack.app.pipeline.handle(fan_message("still waiting", user=f"fan-{mode}"))
        await slack.settle()
        # the fan was told once that a human will answer, then the bot stays quiet
        texts = slack.fan.texts(f"chat-fan-{mode}")
        assert len(texts) == 2 and "ticket #" in texts[0] and "will reply here" in texts[1]
    assert slack.fake.refused and not slack.fake.posts()
    assert {st for _, st in post_states(slack)} == {"pending"}
    slack.fake.down = None
    fast_forward(slack)
    await slack.settle()
    posts = slack.fake.posts(channel=CARE)
    assert len(posts) == 6
    cards = [p for p in posts if "thread_ts" not in p]
    assert len(cards) == 2
    for card in cards:
        ts = next(ts for (ch, ts), m in slack.fake.messages.items() if m["text"] == card["text"])
        assert [p["text"] for p in posts if p.get("thread_ts") == ts] == [
            "*Fan:* hello? it is urgent", "*Fan:* still waiting"]
    assert {st for _, st in post_states(slack)} == {"sent"}
    await slack.settle()
    assert len(slack.fake.posts()) == 6  # nothing is sent twice


def fast_forward(slack):
    """Pretend the waits have passed (instead of sleeping through Retry-After in a test)."""
    with slack.app.store.session() as s:
        for p in s.scalars(select(SlackPost).where(SlackPost.status == "pending")):
            p.next_attempt_at = None


async def test_429_storm_waits_for_retry_after_and_keeps_order(slack):
    slack.fake.fail("chat.postMessage", status=429, times=3, retry_after=30)
    await slack.app.pipeline.handle(fan_message("I want to talk to a real person please", user="u9"))
    await slack.app.pipeline.handle(fan_message("first", user="u9"))
    await slack.app.pipeline.handle(fan_message("second", user="u9"))
    await slack.settle()
    assert not slack.fake.posts()
    with slack.app.store.session() as s:
        card = s.scalars(select(SlackPost).order_by(SlackPost.id)).first()
        assert card.error == "ratelimited" and card.attempts == 0  # a 429 is not a failure
        wait = (card.next_attempt_at - utcnow()).total_seconds()
        assert 25 < wait <= 30  # Retry-After is respected
    await slack.settle()
    assert not slack.fake.posts()
    for _ in range(3):
        fast_forward(slack)
        await slack.settle()
    assert [p["text"] for p in slack.fake.posts()] == [
        "Escalation #1 [normal] in general", "*Fan:* first", "*Fan:* second"]
    assert len(slack.fake.refused) == 3
    assert {st for _, st in post_states(slack)} == {"sent"}


async def test_dead_letter_after_k_failures_is_listed_and_logged(slack, caplog, capsys, config_path):
    caplog.set_level(logging.INFO)
    slack.fake.fail("chat.postMessage", status=500, times=100, error="internal_error")
    await slack.app.pipeline.handle(fan_message("I want to talk to a real person please sam@example.com",
                                                user="u7"))
    for _ in range(slack.console.cfg.max_attempts + 2):
        await slack.settle()
    assert post_states(slack) == [("card", "dead")]
    dead = inbox.dead_letters(slack.app.store)
    assert dead[0]["where"] == "slack:card" and dead[0]["error"] == "internal_error"
    assert "dead-lettered after 4 attempts" in caplog.text and "sam@example.com" not in caplog.text
    capsys.readouterr()
    assert cli.main(["inbox", "--config", str(config_path)]) == 0
    assert "dead letter: slack:card message 1 (escalation #1" in capsys.readouterr().out
    # later posts of that escalation still go out (top level, since there is no thread to join)
    slack.fake.faults.clear()
    await slack.app.pipeline.handle(fan_message("anyone?", user="u7"))
    await slack.settle()
    assert [p["text"] for p in slack.fake.posts()] == ["*Fan:* anyone?"]


async def test_sla_reposts_unclaimed_escalation_once_per_period(slack):
    esc = await slack.escalate()
    with slack.app.store.session() as s:
        created = s.get(Escalation, esc).created_at
    assert await slack.console.sla_tick(created + timedelta(minutes=59)) == 0
    assert await slack.console.sla_tick(created + timedelta(minutes=61)) == 1
    assert await slack.console.sla_tick(created + timedelta(minutes=62)) == 0
    await slack.settle()
    repost = slack.fake.posts()[-1]
    assert "thread_ts" not in repost and "<!here> SLA: escalation" in repost["text"]
    assert "waited 61 min" in repost["text"]
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    assert await slack.console.sla_tick(created + timedelta(minutes=200)) == 0


async def test_sla_for_crisis_mentions_oncall(slack):
    esc = await slack.escalate("my Pulse 3 started smoking and burned my wrist!!")
    with slack.app.store.session() as s:
        created = s.get(Escalation, esc).created_at
    assert await slack.console.sla_tick(created + timedelta(minutes=6)) == 1
    await slack.settle()
    assert slack.fake.posts()[-1]["text"].startswith("<!subteam^SONCALL> SLA")


async def test_fancare_command(slack):
    first = await slack.escalate()
    second = await slack.escalate("I want to talk to a real person please", user="u2")
    queue = await slack.command("queue", "UOP1")
    assert f"#{first} [normal]" in queue and f"#{second} [normal]" in queue
    assert "claimed" in await slack.command(f"claim {first}", "UOP1")
    assert "already claimed by <@UOP1>" in await slack.command(f"claim {first}", "UOP2")
    assert "not sent to the fan" in await slack.command(f"note {first} called the shop", "UOP1")
    assert any("Note by <@UOP1>: called the shop" in t for t in slack.thread(first))
    await slack.reply_in_thread(first, "UOP1", "Fixed, your replacement ships today")
    assert "resolved" in await slack.command(f"resolve {first}", "UOP1")
    assert "handed back" in await slack.command(f"handback #{second}", "UOP2")
    assert "already closed" in await slack.command(f"resolve {first}", "UOP1")
    await slack.app.pipeline.handle(fan_message("4", user="u1"))
    stats = await slack.command("stats", "UOP1")
    assert "2 escalations opened, 1 resolved, 1 handed back; 0 open now" in stats
    assert "CSAT:* 4.0 (1 ratings)" in stats and "Median first response:* " in stats
    assert "*Last 7 days*" in stats and "containment" in stats.lower()  # the report's short form
    assert "usage" in await slack.command("frobnicate", "UOP1")
    assert "No open escalations" in await slack.command("queue", "UOP1")


async def test_post_left_sending_by_a_crashed_worker_is_resent_after_its_lease(slack):
    slack.fake.down = "http"
    await slack.app.pipeline.handle(fan_message("I want to talk to a real person please", user="u5"))
    await slack.settle()
    with slack.app.store.session() as s:  # as if a worker claimed it and died mid-send
        post = s.scalars(select(SlackPost)).one()
        post.status, post.lease_until, post.next_attempt_at = "sending", utcnow() + timedelta(seconds=30), None
    slack.fake.down = None
    await slack.settle()
    assert not slack.fake.posts()  # the lease is still held
    with slack.app.store.session() as s:
        s.scalars(select(SlackPost)).one().lease_until = utcnow() - timedelta(seconds=1)
    await slack.settle()
    assert len(slack.fake.posts()) == 1 and post_states(slack) == [("card", "sent")]


async def test_dedup_keys_are_pruned(slack):
    assert slack.console.first_time(["event:Ev1"]) and not slack.console.first_time(["event:Ev1"])
    assert slack.console.prune_seen(timedelta(seconds=-1)) == 1
    assert slack.console.first_time(["event:Ev1"])
