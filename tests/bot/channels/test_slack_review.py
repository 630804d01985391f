"""The review digest in Slack end to end: unclear fan messages through the real pipeline, `/fancare
digest` and the daily schedule posting through the real slack_sdk client to the fake Web API, and
signed button clicks through our HTTP endpoint into the real bolt app, down to the Rasa YAML."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from bot.channels.slack_review import (
    ACTION_ACCEPT,
    ACTION_NEW,
    ACTION_OOS,
    ACTION_PICK,
    DIGEST_KIND,
    NEW_INTENT_MODAL,
    ReviewDigest,
)
from bot.review import text_key
from bot.store import AuditEvent
from bot.store.review_models import ReviewDecision
from nlu.readers import load_training_data, read_rasa_yaml
from nlu.validate import validate
from tests.conftest import REPO
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE, block_action, signed_headers

UNCLEAR = ["blorp fizzle wumbo", "Blorp fizzle wumbo!!", "blorp  fizzle  wumbo", "zzkq vrrp",
           "snarf <grok> vrum +44 7700 900123"]


async def _unclear_traffic(slack: Any, tmp_path: Path) -> Path:
    for i, text in enumerate([*UNCLEAR, "hello!"]):
        await slack.app.pipeline.handle(fan_message(text, user=f"f{i}"))
    d = tmp_path / "training_data"
    d.mkdir()
    shutil.copy(REPO / "training_data" / "nlu.yml", d / "nlu.yml")
    slack.console.review.training_dir = d  # labels go to a copy, never the repository's data
    slack.console.review.training_paths = [d]
    return d


def _digest(slack: Any) -> dict[str, Any]:
    """The last digest as the fake Slack holds it now (with its ts; updated by chat.update)."""
    posts = [m for (ch, _), m in slack.fake.messages.items() if ch == CARE and "Review inbox" in str(m.get("text"))]
    assert posts, "no digest was posted"
    return posts[-1]


def _item(digest: dict[str, Any], starts: str) -> tuple[str, list[dict[str, Any]]]:
    """(text_key, button elements) of the digest item whose wording starts with `starts`."""
    blocks = digest["blocks"]
    for i, b in enumerate(blocks):
        if b["type"] == "section" and b["text"]["text"].lower().startswith("*" + starts):
            return b["block_id"].removeprefix("fancare_rv_"), blocks[i + 1]["elements"]
    raise AssertionError(f"no item starting with {starts!r} in {blocks}")


async def _click(slack: Any, element: dict[str, Any], user: str, *, option: str | None = None) -> None:
    """A signed block_actions payload as Slack sends it: with the message and its current blocks."""
    ts = _digest(slack)["ts"]
    msg = slack.fake.messages[(CARE, ts)]
    value = element.get("value") or next(o["value"] for o in element["options"]
                                         if o["value"].endswith("|" + str(option)))
    payload = block_action(element["action_id"], value, user=user, channel=CARE, message_ts=ts)
    payload["message"] = {"ts": ts, "type": "message", "text": msg["text"], "blocks": msg["blocks"]}
    if element["type"] == "static_select":
        act = payload["actions"][0]
        del act["value"]
        act.update(type="static_select", selected_option={"value": value, "text": {"type": "plain_text",
                                                                                    "text": option}})
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, _ = await slack.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
    assert status == 200


def _ephemerals(slack: Any) -> list[str]:
    return [str(c.get("text")) for c in slack.fake.called("chat.postEphemeral")]


async def test_digest_command_and_operator_labels_into_training_data(slack, tmp_path):
    d = await _unclear_traffic(slack, tmp_path)
    assert "only fancare operators" in await slack.command("digest", "UNOBODY")
    assert not [p for p in slack.fake.posts(channel=CARE) if "Review inbox" in str(p.get("text"))]

    reply = await slack.command("digest", "UOP1")
    assert "Posted the review digest" in reply and f"<#{CARE}>" in reply
    digest = _digest(slack)
    shown = json.dumps(digest["blocks"])
    assert "seen 3x" in shown and "hello" not in shown.lower()  # grouped, counted; confident ones left out
    assert "7700 900123" not in shown and "[phone number]" in shown  # masked
    assert "snarf &lt;grok&gt; vrum" in shown and "<grok>" not in shown  # fan text is never markup
    k, elements = _item(digest, "blorp")
    ids = [e["action_id"] for e in elements]
    assert ids[-3:] == [ACTION_OOS, ACTION_PICK, ACTION_NEW]
    if ids[0] == ACTION_ACCEPT:  # no "✓ out_of_scope" next to "Out of scope"
        assert elements[0]["text"]["text"].startswith("✓ ") and elements[0]["text"]["text"] != "✓ out_of_scope"
    by_id = {e["action_id"]: e for e in elements}

    # a non-operator's click is refused, recorded, and writes nothing
    await _click(slack, by_id[ACTION_OOS], "UNOBODY")
    assert "only fancare operators" in _ephemerals(slack)[-1]
    assert not (d / "reviewed.yml").exists()
    with slack.app.store.session() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.kind == "slack.unauthorized")).all()
        assert any(e.data.get("action") == "review_label" for e in refused)

    # an operator marks it out of scope: every wording lands in the training data, validated
    await _click(slack, by_id[ACTION_OOS], "UOP2")
    labels = {e.text: e.intent for e in read_rasa_yaml(d / "reviewed.yml").examples}
    assert labels["blorp fizzle wumbo"] == "out_of_scope"
    assert not [p for p in validate(load_training_data([d])) if p.level == "error"]
    updated = slack.fake.messages[(CARE, digest["ts"])]
    note = json.dumps(updated["blocks"])
    assert "<@UOP2> labelled this (3x) as `out_of_scope`" in note
    assert f"fancare_rv_act_{k}" not in note  # that item's buttons are gone, the others stay
    with slack.app.store.session() as s:
        dec = s.scalar(select(ReviewDecision).where(ReviewDecision.text_key == k))
        assert dec is not None and dec.decided_by == "slack:UOP2" and dec.decision == "out_of_scope"
        assert s.scalars(select(AuditEvent).where(AuditEvent.kind == "review.decided",
                                                  AuditEvent.actor == "slack:UOP2")).all()

    # idempotent: a second click (stale message, another operator) says so and writes nothing
    before = (d / "reviewed.yml").read_text()
    await _click(slack, by_id[ACTION_OOS], "UOP1")
    assert "Already labelled as `out_of_scope` by <@UOP2>" in _ephemerals(slack)[-1]
    assert (d / "reviewed.yml").read_text() == before

    # another item relabelled to an existing intent with the select menu
    k2, elements2 = _item(digest, "zzkq")
    forged = {"type": "button", "action_id": ACTION_PICK, "value": f"{k2}|made_up_intent"}
    await _click(slack, forged, "UOP1")  # only intents the buttons offer
    assert "Not written" in _ephemerals(slack)[-1] and "zzkq" not in (d / "reviewed.yml").read_text()
    await _click(slack, next(e for e in elements2 if e["action_id"] == ACTION_PICK), "UOP1", option="greet")
    labels = {e.text: e.intent for e in read_rasa_yaml(d / "reviewed.yml").examples}
    assert labels["zzkq vrrp"] == "greet"
    assert "as `greet`" in json.dumps(slack.fake.messages[(CARE, digest["ts"])]["blocks"])
    assert text_key("zzkq vrrp") == k2


async def _submit_new_intent(slack: Any, user: str, name: str, metadata: str) -> str:
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user, "team_id": "T0001"},
               "api_app_id": "A0001", "token": "legacy", "trigger_id": "trig-n",
               "view": {"id": "V2", "type": "modal", "callback_id": NEW_INTENT_MODAL, "private_metadata": metadata,
                        "state": {"values": {"intent": {"value": {"type": "plain_text_input", "value": name}}}}}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, out = await slack.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
    assert status == 200
    await slack.settle()
    return out


async def test_new_intent_from_the_digest_modal(slack, tmp_path):
    d = await _unclear_traffic(slack, tmp_path)
    await slack.command("digest", "UOP1")
    digest = _digest(slack)
    k, elements = _item(digest, "blorp")
    new = next(e for e in elements if e["action_id"] == ACTION_NEW)
    await _click(slack, new, "UNOBODY")  # not an operator: no form
    assert not slack.fake.called("views.open") and "only fancare operators" in _ephemerals(slack)[-1]
    await _click(slack, new, "UOP1")
    view = slack.fake.called("views.open")[-1]["view"]
    assert view["callback_id"] == NEW_INTENT_MODAL and view["private_metadata"] == f"{k}|{CARE}|{digest['ts']}"

    out = await _submit_new_intent(slack, "UOP1", "Warranty Claim!", view["private_metadata"])
    assert "errors" in out and "lower-case" in out  # Slack shows it under the field; nothing written
    assert not (d / "review" / "new_intents.yml").exists()
    assert "only fancare operators" in await _submit_new_intent(slack, "UNOBODY", "blorp", view["private_metadata"])

    await _submit_new_intent(slack, "UOP1", "blorp_talk", view["private_metadata"])
    waiting = {e.text: e.intent for e in read_rasa_yaml(d / "review" / "new_intents.yml").examples}
    assert waiting["blorp fizzle wumbo"] == "blorp_talk"  # waits there until it has enough examples
    assert any("as `blorp_talk`" in t for t in slack.fake.thread_texts(digest["ts"]))
    with slack.app.store.session() as s:
        dec = s.scalar(select(ReviewDecision).where(ReviewDecision.text_key == k))
        assert dec is not None and dec.decision == "new_intent" and dec.label == "blorp_talk"


async def test_daily_digest_posts_once_per_day_across_restarts(slack, tmp_path):
    await _unclear_traffic(slack, tmp_path)
    review = slack.console.review
    assert slack.console.cfg.digest_hour_utc == 9
    assert await review.daily_tick(datetime(2026, 3, 2, 8, 59)) is False  # not yet
    assert await review.daily_tick(datetime(2026, 3, 2, 9, 0)) is True
    assert await review.daily_tick(datetime(2026, 3, 2, 9, 0)) is False  # called twice
    restarted = ReviewDigest(slack.console, training_dir=review.training_dir, embed=review.embed)
    assert await restarted.daily_tick(datetime(2026, 3, 2, 17, 30)) is False  # another process / a restart
    digests = [p for p in slack.fake.posts(channel=CARE) if "Review inbox" in str(p.get("text"))]
    assert len(digests) == 1
    assert await restarted.daily_tick(datetime(2026, 3, 3, 9, 5)) is True  # the next day
    with slack.app.store.session() as s:
        dates = [e.data["date"] for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == DIGEST_KIND))]
    assert dates == ["2026-03-02", "2026-03-03"]


async def test_console_timer_posts_the_digest_to_the_review_channel(slack, tmp_path):
    await _unclear_traffic(slack, tmp_path)
    slack.console.cfg = slack.console.cfg.model_copy(update={"review_channel": "CREVIEW", "digest_hour_utc": 0,
                                                             "sla_check_s": 0.05})
    stop = asyncio.Event()
    timer = asyncio.create_task(slack.console.run_sla(stop))  # the SLA timer `fancare run` starts
    for _ in range(200):
        if slack.fake.posts(channel="CREVIEW"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # a few more ticks: still one digest today
    stop.set()
    await timer
    posts = slack.fake.posts(channel="CREVIEW")
    assert len(posts) == 1 and "blorp" in json.dumps(posts[0]["blocks"])
    assert not [p for p in slack.fake.posts(channel=CARE) if "Review inbox" in str(p.get("text"))]
