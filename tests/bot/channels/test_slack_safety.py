"""Request verification, replays and retries, authorization, escaping and personal data."""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import func, select

from bot.channels.slack_blocks import ACTION_CLAIM, ACTION_RESOLVE
from bot.store import AuditEvent, Escalation
from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import message_event, signed_headers

SECRET_TEXT = "top-secret-body-marker"


async def test_forged_stale_and_malformed_requests_get_4xx_and_are_not_logged(slack, caplog):
    caplog.set_level(logging.DEBUG)
    body = json.dumps(message_event("CCARE", "UOP1", SECRET_TEXT, thread_ts="1.1")).encode()
    good = signed_headers(body)
    cases = {
        "forged": (body, {**good, "X-Slack-Signature": "v0=" + "0" * 64}),
        "wrong secret": (body, signed_headers(body, secret="not-the-secret")),
        "tampered": (body.replace(b"UOP1", b"UOP2"), good),
        "stale": (body, signed_headers(body, ts=int(time.time()) - 301)),
        "future": (body, signed_headers(body, ts=int(time.time()) + 400)),  # clear of the 300 s edge
        "non-numeric timestamp": (body, {**good, "X-Slack-Request-Timestamp": "12ab"}),
        "no headers": (body, {"Content-Type": "application/json"}),
        "non-ascii signature": (body, {**good, "X-Slack-Signature": "v0=é"}),
    }
    for name, (b, h) in cases.items():
        status, _ = await slack.post(b, h)
        assert 400 <= status < 500, name
    bad_utf8 = b'{"type": "event_callback", "x": "\xff\xfe' + SECRET_TEXT.encode() + b'"}'
    status, _ = await slack.post(bad_utf8, signed_headers(bad_utf8))
    assert status == 400
    huge = b"{" + b" " * 1_100_000 + b"}"
    status, _ = await slack.post(huge, signed_headers(huge))
    assert status == 413
    assert SECRET_TEXT not in caplog.text
    assert not slack.fake.calls  # nothing reached the listeners


async def test_url_verification_challenge_is_answered(slack):
    body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"}).encode()
    status, text = await slack.post(body, signed_headers(body))
    assert status == 200 and "abc123" in text


async def test_retried_and_replayed_events_have_their_effect_once(slack):
    esc = await slack.escalate()
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    channel, ts = slack.card_location(esc)
    n = len(slack.fan.sent)
    event = message_event(channel, "UOP1", "We are on it", thread_ts=ts, event_id="EvSAME")
    assert await slack.event(event) == 200
    assert await slack.event(event, retry_num=1) == 200  # Slack's retry
    assert await slack.event(event) == 200  # a replay of the same signed request
    # same message under another event id (Slack re-delivers after a reconnect)
    assert await slack.event({**event, "event_id": "EvOTHER"}) == 200
    # an edit and a deletion of that message are not relayed
    edited = message_event(channel, "UOP1", "", thread_ts=None, subtype="message_changed",
                           message={"text": "We are on it!", "ts": event["event"]["ts"], "thread_ts": ts,
                                    "user": "UOP1"})
    deleted = message_event(channel, "UOP1", "", thread_ts=None, subtype="message_deleted",
                            deleted_ts=event["event"]["ts"])
    assert await slack.event(edited) == 200 and await slack.event(deleted) == 200
    assert slack.fan.texts()[n:] == ["We are on it"]


async def test_unauthorized_user_is_refused_and_audited(slack):
    esc = await slack.escalate()
    assert await slack.click(ACTION_CLAIM, esc, "USTRANGER") == 200
    refusal = slack.fake.called("chat.postEphemeral")[-1]
    assert refusal["user"] == "USTRANGER" and "only fancare operators" in refusal["text"]
    out = await slack.command(f"resolve {esc}", "USTRANGER")
    assert "only fancare operators" in out
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    n = len(slack.fan.sent)
    await slack.reply_in_thread(esc, "USTRANGER", "hi, I am not staff")
    assert len(slack.fan.sent) == n
    assert any("<@USTRANGER> is not a fancare operator" in t for t in slack.thread(esc))
    with slack.app.store.session() as s:
        e = s.get(Escalation, esc)
        assert (e.state, e.claimed_by) == ("claimed", "slack:UOP1")
        refused = s.scalars(select(AuditEvent).where(AuditEvent.kind == "slack.unauthorized")).all()
    assert {(a.actor, a.data["action"]) for a in refused} == {
        ("slack:USTRANGER", "claim"), ("slack:USTRANGER", "command:resolve"), ("slack:USTRANGER", "reply")}


async def test_operator_group_unreachable_means_refusal(slack):
    slack.console.access.allow.clear()
    slack.fake.usergroups.clear()  # Slack answers no_such_subteam
    esc = await slack.escalate()
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    with slack.app.store.session() as s:
        assert s.get(Escalation, esc).state == "open"


async def test_fan_text_is_escaped_masked_and_never_logged(slack, caplog):
    caplog.set_level(logging.INFO)
    esc = await slack.escalate()
    text = ("<!channel> <https://evil.example|your bank> \u202eevil\u202c mail me at sam@example.com, "
            "call +44 20 7946 0958, card 4111 1111 1111 1111, order VT-482913")
    await slack.app.pipeline.handle(fan_message(text, user="u1"))
    await slack.settle()
    relayed = slack.thread(esc)[-1]
    assert "<!channel>" not in relayed and "<https://" not in relayed
    assert "&lt;!channel&gt;" in relayed and "&lt;https://evil.example|your bank&gt;" in relayed
    assert "\u202e" not in relayed and "\u202c" not in relayed
    for secret in ("sam@example.com", "7946", "4111"):
        assert secret not in relayed and secret not in caplog.text
    assert "[email]" in relayed and "[phone number]" in relayed and "[card number]" in relayed
    assert "VT-482913" in relayed
    assert all(p.get("unfurl_links") in (False, "0", "false") for p in slack.fake.posts())


async def test_masking_can_be_turned_off(slack):
    slack.console.cfg.mask_personal_data = False
    esc = await slack.escalate()
    await slack.app.pipeline.handle(fan_message("it's sam@example.com", user="u1"))
    await slack.settle()
    assert "sam@example.com" in slack.thread(esc)[-1]


async def test_resolve_by_button_twice_closes_once(slack):
    esc = await slack.escalate()
    await slack.click(ACTION_CLAIM, esc, "UOP1")
    await slack.click(ACTION_RESOLVE, esc, "UOP1")
    n = len(slack.fan.sent)
    channel, ts = slack.card_location(esc)
    await slack.click(ACTION_RESOLVE, esc, "UOP2")
    assert len(slack.fan.sent) == n  # no second CSAT question
    assert "already closed" in slack.fake.called("chat.postEphemeral")[-1]["text"]
    with slack.app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.kind == "escalation.resolved")) == 1
