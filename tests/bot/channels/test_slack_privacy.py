"""`/fancare privacy` end to end through the fake Slack Web API: admins only; erase edits the fan's
card and deletes the relayed messages in Slack, drops their `slack_posts` rows and their review
examples, through the durable outbox (so a Slack outage only delays it)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot import privacy
from bot.store import AuditEvent
from bot.store.slack_models import SlackPost
from nlu.review import REVIEWED, _read, _write
from nlu.training_data import Example, TrainingData
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE

ADMIN = "UADMIN"
SECRET_TEXT = "my blender HB-7 smells of smoke and I am scared"


@pytest.fixture
def slack_config(slack_config):
    return slack_config.model_copy(update={"admins": [ADMIN]})


@pytest.fixture
def training_dir(tmp_path, monkeypatch):
    d = tmp_path / "training"
    d.mkdir()
    monkeypatch.setattr(privacy, "training_dir_of", lambda cfg: d)
    return d


async def _fan_with_card_and_thread(slack):
    esc = await slack.escalate(user="u9")
    await slack.app.pipeline.handle(fan_message(SECRET_TEXT, user="u9"))
    await slack.settle()
    assert any("HB-7" in t for t in slack.thread(esc))
    return esc


async def test_privacy_is_refused_to_operators_and_others(slack):
    esc = await _fan_with_card_and_thread(slack)
    for user in ("UOP1", "UNOBODY"):  # an operator is not an admin
        answer = await slack.command("privacy erase test u9", user)
        assert "admins only" in answer
    assert slack.fake.called("chat.delete") == []
    with slack.app.store.session() as s:
        assert s.scalars(select(SlackPost).where(SlackPost.escalation_id == esc)).first() is not None
        refused = [e.data for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "slack.unauthorized"))]
        assert {"action": "command:privacy"} in refused
    assert "HB-7" in (await slack.command("privacy export test u9", ADMIN))


async def test_admin_erase_reaches_slack_outbox_rows_and_reviewed_examples(slack, training_dir):
    esc = await _fan_with_card_and_thread(slack)
    channel, card_ts = slack.card_location(esc)
    thread_ts = [ts for (ch, ts), m in slack.fake.messages.items() if m.get("thread_ts") == card_ts]
    _write(training_dir / REVIEWED, TrainingData(examples=[Example(SECRET_TEXT, "complaint"),
                                                           Example("where is my parcel", "order_status")]))
    slack.fake.fail("chat.delete", status=503, times=1)  # Slack hiccups: the outbox retries
    answer = await slack.command("privacy erase test u9", ADMIN)
    assert answer.startswith("`test:u9` erased;") and "1 training example(s)" in answer
    for _ in range(3):
        await slack.settle()
    card = slack.fake.messages[(channel, card_ts)]
    assert card["text"] == privacy.ERASED_TEXT and "HB-7" not in json.dumps(card)
    assert thread_ts and all((channel, ts) not in slack.fake.messages for ts in thread_ts)
    assert {d["ts"] for d in slack.fake.called("chat.delete")} == set(thread_ts)
    leftover = [m for m in slack.fake.messages.values() if "HB-7" in json.dumps(m)]
    assert leftover == []
    with slack.app.store.session() as s:
        rows = list(s.scalars(select(SlackPost).where(SlackPost.escalation_id == esc)))
        assert rows and {r.kind for r in rows} == {"erase"} and {r.status for r in rows} == {"sent"}
        assert all("HB-7" not in (r.text + json.dumps(r.blocks)) for r in rows)
    assert [e.text for e in _read(training_dir / REVIEWED).examples] == ["where is my parcel"]
    assert "No fan" in await slack.command("privacy export test u9", ADMIN)
    assert channel == CARE
