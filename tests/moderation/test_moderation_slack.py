"""Moderation through Slack, the way a moderator uses it: review posts with Restore / Confirm / Ban,
the crisis alert with its chart and playbook button, and `/fancare crisis on|off` changing what fans
get (pinned holding statement on the fake Telegram, complaints escalated, public FAQ paused)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.channels.base import Incoming
from bot.channels.slack import REFUSAL
from bot.channels.slack_moderation import ACTION_BAN, ACTION_CONFIRM, ACTION_CRISIS_ON, ACTION_RESTORE
from bot.store import Escalation
from bot.store.moderation_models import ModerationItem, ModerationStrike
from moderation.actions import LogActions
from moderation.crisis import Alert
from moderation.telegram_actions import TelegramActions
from tests.fakes.slack_fixtures import CARE, CRISIS, block_action, signed_headers
from tests.fakes.telegram_server import TOKEN
from tests.moderation.conftest import make_app

_ids = itertools.count(5000)
RULES = [{"name": "rival-mention", "pattern": r"\brivalcorp\b", "action": "flag"},
         {"name": "mute-word", "pattern": r"\bmutebait\b", "action": "mute", "mute_minutes": 5}]


@pytest.fixture
def app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any, mod_heads: Any) -> Iterator[Any]:
    a = make_app(tmp_path, store_url, model_dir, nlu_model, mod_heads, rules=RULES)
    yield a
    a.close()


def group_msg(text: str, user: str = "fan-1", chat: str = "-100555", chat_type: str = "supergroup") -> Incoming:
    n = next(_ids)
    return Incoming(channel="test", external_id=f"m{n}", chat_id=chat, user_id=user, text=text,
                    display_name="Sam", meta={"message_id": n, "chat_type": chat_type, "chat_id": chat})


def review_posts(slack: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(ch, ts, m) for (ch, ts), m in slack.fake.messages.items() if str(m.get("text")).startswith("Moderation:")]


async def click(slack: Any, action_id: str, value: str, user: str, channel: str, ts: str) -> None:
    payload = block_action(action_id, value, user=user, channel=channel, message_ts=ts)
    payload["message"].update(blocks=slack.fake.messages[(channel, ts)]["blocks"],
                              text=slack.fake.messages[(channel, ts)]["text"])
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = await slack.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
    assert status == 200
    await slack.settle()


def item_of(slack: Any) -> ModerationItem:
    with slack.app.store.session() as s:
        item = s.scalars(select(ModerationItem).order_by(ModerationItem.id.desc())).first()
        assert item is not None
        s.expunge(item)
        return item


async def test_flag_is_posted_for_review_and_confirm_removes_the_message(slack):
    port = LogActions()
    slack.app.moderator.actions["test"] = port
    await slack.app.pipeline.handle(group_msg("rivalcorp earbuds are better, mail me at sam@example.org"))
    await slack.settle()
    posts = review_posts(slack)
    assert len(posts) == 1
    channel, ts, post = posts[0]
    assert channel == CARE  # no moderation channel configured: the default channel
    shown = json.dumps(post["blocks"])
    assert "rival-mention" in shown and "sam@example.org" not in shown  # personal data masked
    buttons = [e["action_id"] for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [ACTION_RESTORE, ACTION_CONFIRM, ACTION_BAN]
    item = item_of(slack)
    assert item.status == "pending" and port.calls == []  # a flag does nothing until a moderator decides

    await click(slack, ACTION_BAN, str(item.id), "UEVIL", channel, ts)  # not an operator
    assert item_of(slack).status == "pending" and port.calls == []
    assert any(p.get("text") == REFUSAL for p in slack.fake.called("chat.postEphemeral"))

    await click(slack, ACTION_CONFIRM, str(item.id), "UOP1", channel, ts)
    item = item_of(slack)
    assert item.status == "confirmed" and item.decided_by == "slack:UOP1"
    assert [c[0] for c in port.calls] == ["delete"] and port.calls[0][1].message_id is not None
    with slack.app.store.session() as s:
        assert s.scalars(select(ModerationStrike).where(ModerationStrike.item_id == item.id)).all()
    updated = json.dumps(slack.fake.messages[(channel, ts)]["blocks"])
    assert "Confirmed by <@UOP1>" in updated and ACTION_BAN not in updated  # the buttons are gone
    assert any("Confirmed by <@UOP1>" in t for t in slack.fake.thread_texts(ts))

    await click(slack, ACTION_BAN, str(item.id), "UOP2", channel, ts)  # a late second click
    assert item_of(slack).status == "confirmed" and [c[0] for c in port.calls] == ["delete"]
    assert any("Already confirmed by <@UOP1>" in str(p.get("text")) for p in slack.fake.called("chat.postEphemeral"))

    await slack.console.inbox.moderation_item()  # the timer's pass: nothing is posted twice
    await slack.settle()
    assert len(review_posts(slack)) == 1


async def test_restore_lifts_the_mute_and_withdraws_the_strike(slack):
    port = LogActions()
    slack.app.moderator.actions["test"] = port
    await slack.app.pipeline.handle(group_msg("mutebait lol", user="fan-9"))
    await slack.settle()
    item = item_of(slack)
    assert item.action == "mute" and [c[0] for c in port.calls] == ["delete", "restrict"]
    channel, ts, _ = review_posts(slack)[0]
    await click(slack, ACTION_RESTORE, str(item.id), "UOP2", channel, ts)
    item = item_of(slack)
    assert item.status == "restored"
    assert port.calls[-1][0] == "lift" and port.calls[-1][2] == "mute"
    with slack.app.store.session() as s:
        assert not s.scalars(select(ModerationStrike).where(ModerationStrike.item_id == item.id)).all()
    assert "Restored by <@UOP2>" in json.dumps(slack.fake.messages[(channel, ts)]["blocks"])


async def test_crisis_playbook_from_slack(slack, telegram_server):
    fan = slack.fan  # the RecordingChannel "test"
    port = TelegramActions(Bot(TOKEN, base_url=telegram_server.base_url))
    slack.app.moderator.actions["telegram"] = port
    slack.app.playbook.pin_chats = ["-100777"]
    faq = "how long does shipping to Germany take?"
    try:
        res = await slack.app.pipeline.handle(group_msg(faq, user="fan-2"))
        assert res.replies == 1  # before the crisis: the group gets the FAQ answer

        assert await slack.command("crisis on", "UEVIL") == REFUSAL
        out = await slack.command("crisis on Our payment service is down. We're on it and will update here.", "UOP1")
        assert "Crisis playbook ON" in out and "pinned in 1 group" in out
        sent = [c.params for c in telegram_server.calls if c.method == "sendMessage"]
        assert sent and "payment service is down" in sent[-1]["text"]
        assert telegram_server.pinned[-100777]
        assert "already on" in await slack.command("crisis on", "UOP2")
        assert "ON since" in await slack.command("crisis", "UOP2")

        res = await slack.app.pipeline.handle(group_msg(faq, user="fan-3"))
        assert res.replies == 0 and res.debug["action"] == "crisis:faq_paused"
        n = len(fan.sent)
        res = await slack.app.pipeline.handle(group_msg("my buds pro stopped working after a week, this is unacceptable",
                                                        user="fan-4", chat="chat-fan-4", chat_type="private"))
        await slack.settle()
        assert res.debug["action"] == "escalate:complaints"
        texts = fan.texts()[n:]
        assert "payment service is down" in texts[0] and "ticket #" in texts[1]
        with slack.app.store.session() as s:
            esc = s.scalars(select(Escalation).order_by(Escalation.id.desc())).first()
            assert esc.queue == "complaints" and esc.reason.get("crisis_playbook") is True

        out = await slack.command("crisis off", "UOP1")
        assert "OFF" in out and "1 pinned" in out and not telegram_server.pinned[-100777]
        res = await slack.app.pipeline.handle(group_msg(faq, user="fan-5"))
        assert res.replies == 1  # answers resume
    finally:
        await port.close()


async def test_crisis_alert_has_a_chart_and_a_playbook_button(slack):
    alert = Alert(key="brand", at_minute=6000, window_minutes=10, observed=42, expected=6.5, z=7.2, ratio=6.5,
                  share_negative=0.61, top_phrases=[("battery fire", 9)], examples=["my watch got hot"])
    history = [(m, 20, 3 + (25 if m > 5990 else 0)) for m in range(5640, 6000)]
    await slack.console.inbox.crisis_alert(alert, history)
    await slack.console.inbox.crisis_alert(alert, history)  # another process's watch raised it too
    await slack.settle()
    assert len(slack.fake.posts(channel=CRISIS)) == 1
    files = list(slack.fake.files.values())
    assert len(files) == 1 and files[0]["content"].startswith(b"\x89PNG\r\n\x1a\n")
    assert files[0]["channel"] == CRISIS and files[0]["shared"]
    (channel, ts), post = next(((k, m) for k, m in slack.fake.messages.items() if k[0] == CRISIS))
    assert ACTION_CRISIS_ON in json.dumps(post["blocks"])
    assert f"Open escalations: 0 (<#{CARE}>" in post["text"]
    await click(slack, ACTION_CRISIS_ON, "brand", "UOP1", channel, ts)
    assert slack.app.playbook.state(fresh=True).on
    assert any("Crisis playbook ON" in t for t in slack.fake.thread_texts(ts))
