"""Waiting for a human: support hours and wait estimates (pure), and what a waiting fan is told and
answered through the whole pipeline, before and after an operator claims the ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import inbox
from bot.store import AuditEvent, Escalation
from dialogs.waiting import (
    SupportHours,
    WaitingRules,
    is_open,
    next_opening,
    opening_text,
    parse_ranges,
    wait_estimate,
    wait_reply,
)
from nlu.yamlfile import DataError
from tests.conftest import write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message

WEEK = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
        "fri": "09:00-18:00", "sat": "10:00-14:00"}
BERLIN = SupportHours.parse("Europe/Berlin", WEEK)


def berlin(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A wall-clock time in Berlin as UTC (December: UTC+1; July: UTC+2)."""
    from zoneinfo import ZoneInfo

    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


# -- pure functions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("when", "expected"), [
    (berlin(7, 8, 59), False),   # Monday, a minute before opening
    (berlin(7, 9, 0), True),     # opening minute
    (berlin(7, 17, 59), True),
    (berlin(7, 18, 0), False),   # the end is exclusive
    (berlin(8, 2, 0), False),    # overnight: closed
    (berlin(5, 13, 30), True),   # Saturday's short day
    (berlin(5, 14, 0), False),
    (berlin(6, 12, 0), False),   # Sunday: not listed, closed
])
def test_is_open_on_weekday_boundaries(when: datetime, expected: bool) -> None:
    assert is_open(BERLIN, when) is expected


def test_hours_are_read_in_their_timezone() -> None:
    # 08:30 UTC is 09:30 in Berlin in winter (open) but 10:30 in summer; 17:30 UTC is 18:30 in winter (closed)
    assert is_open(BERLIN, datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
    assert not is_open(BERLIN, datetime(2026, 12, 7, 17, 30, tzinfo=UTC))
    assert is_open(BERLIN, datetime(2026, 7, 6, 15, 30, tzinfo=UTC))  # 17:30 CEST
    assert not is_open(BERLIN, datetime(2026, 7, 6, 16, 30, tzinfo=UTC))  # 18:30 CEST
    assert is_open(BERLIN, datetime(2026, 12, 7, 8, 30))  # naive: read as UTC, like the store's timestamps
    ny = SupportHours.parse("America/New_York", {"mon": "09:00-17:00"})
    assert not is_open(ny, datetime(2026, 12, 7, 13, 0, tzinfo=UTC))  # 08:00 in New York
    assert is_open(ny, datetime(2026, 12, 7, 14, 0, tzinfo=UTC))
    assert ny.zone_label == "New York time" and BERLIN.zone_label == "Berlin time"
    assert SupportHours.parse("UTC", {"mon": "09:00-17:00"}).zone_label == "UTC"


def test_next_opening_skips_closed_days_and_nights() -> None:
    nxt = next_opening(BERLIN, berlin(5, 20, 0))  # Saturday evening -> Sunday closed -> Monday
    assert nxt is not None and (nxt.weekday(), nxt.hour, nxt.minute) == (0, 9, 0)
    assert nxt.astimezone(UTC) == berlin(7, 9, 0)
    assert opening_text(nxt, berlin(5, 20, 0)) == "Monday at 09:00"
    night = next_opening(BERLIN, berlin(8, 2, 0))  # Tuesday 02:00 -> today 09:00
    assert night is not None and opening_text(night, berlin(8, 2, 0)) == "today at 09:00"
    evening = next_opening(BERLIN, berlin(7, 18, 0))  # Monday closing time -> tomorrow
    assert evening is not None and opening_text(evening, berlin(7, 18, 0)) == "tomorrow at 09:00"
    friday = next_opening(BERLIN, berlin(4, 19, 0))
    assert friday is not None and opening_text(friday, berlin(4, 19, 0)) == "tomorrow at 10:00"
    assert next_opening(BERLIN, berlin(7, 10, 0)) == berlin(7, 10, 0)  # open now: now
    weekly = SupportHours.parse("UTC", {"wed": "10:00-11:00"})
    later = next_opening(weekly, datetime(2026, 12, 9, 12, 0, tzinfo=UTC))  # just missed it: next week
    assert later == datetime(2026, 12, 16, 10, 0, tzinfo=UTC)


def test_split_days_and_format_errors() -> None:
    assert parse_ranges("09:00-12:00, 13:00-17:30") == ((540, 720), (780, 1050))
    assert parse_ranges("closed") == () and parse_ranges("00:00-24:00") == ((0, 1440),)
    lunch = SupportHours.parse("UTC", {"Monday": "09:00-12:00, 13:00-17:00"})
    assert not is_open(lunch, datetime(2026, 12, 7, 12, 30, tzinfo=UTC))
    assert is_open(lunch, datetime(2026, 12, 7, 13, 0, tzinfo=UTC))
    for bad in ("9-18", "18:00-09:00", "09:00-25:00", "09:00-12:00, 11:00-13:00"):
        with pytest.raises(ValueError):
            parse_ranges(bad)
    with pytest.raises(ValueError, match="unknown day"):
        SupportHours.parse("UTC", {"funday": "09:00-10:00"})
    with pytest.raises(ValueError, match="unknown timezone"):
        SupportHours.parse("Mars/Base", {"mon": "09:00-10:00"})


def test_wait_estimates_and_reply_values() -> None:
    assert wait_estimate(1, 6) == "about 6 minutes"
    assert wait_estimate(2, 6) == "about 12 minutes"
    assert wait_estimate(4, 6) == "about 25 minutes"  # rounded to 5 minutes from a quarter of an hour
    assert wait_estimate(10, 6) == "about an hour"
    assert wait_estimate(30, 6) == "about 3 hours"
    assert wait_estimate(1, 1) == "a couple of minutes"
    name, values = wait_reply(WaitingRules(hours=BERLIN), 2, berlin(7, 10, 0))
    assert name == "utter_queue_position" and values["place"] == "number 2"
    name, values = wait_reply(WaitingRules(hours=BERLIN), 2, berlin(5, 20, 0))
    assert (name, values) == ("utter_out_of_hours", {"opening": "Monday at 09:00", "timezone": "Berlin time"})
    assert wait_reply(WaitingRules(), 1, berlin(6, 3, 0))[0] == "utter_queue_position"  # no hours: always staffed


def test_config_validates_support_hours_with_line_and_key(tmp_path: Path) -> None:
    from bot.config import load_config

    path = tmp_path / "config.yml"
    path.write_text("escalation:\n  support_hours:\n    timezone: Europe/Berlin\n    days:\n"
                    "      mon: 09:00-18:00\n      tue: 9-18\n")
    with pytest.raises(DataError) as err:
        load_config(path)
    text = str(err.value)
    assert "escalation.support_hours.days.tue" in text and ":6" in text and "HH:MM-HH:MM" in text
    path.write_text("escalation:\n  support_hours: {timezone: Berlin, days: {mon: '09:00-18:00'}}\n")
    with pytest.raises(DataError, match="unknown timezone"):
        load_config(path)
    path.write_text("escalation:\n  support_hours: {timezone: Europe/Berlin, days: {mon: '09:00-18:00'}}\n"
                    "  minutes_per_ticket: 4\n  answer_while_waiting: false\n")
    rules = load_config(path).escalation.waiting_rules()
    assert rules.hours is not None and rules.hours.days == {0: ((540, 1080),)}
    assert rules.minutes_per_ticket == 4 and not rules.answer_while_waiting


# -- through the pipeline ---------------------------------------------------------------------------
async def say(app: Any, ch: RecordingChannel, text: str, user: str = "u1") -> str:
    await app.pipeline.handle(fan_message(text, user=user))
    return ch.texts(f"chat-{user}")[-1] if ch.texts(f"chat-{user}") else ""


@pytest.fixture
def hours_app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any) -> Any:
    """The shell's App with Berlin support hours, its clock on a Saturday evening (closed)."""
    from bot.app import App
    from bot.config import load_config

    path = write_config(tmp_path, store_url, model_dir,
                        escalation={"support_hours": {"timezone": "Europe/Berlin", "days": WEEK}})
    a = App(load_config(path), model=nlu_model)
    a.pipeline.clock = lambda: berlin(5, 20, 0)
    yield a
    a.close()


async def test_second_fan_in_the_queue_is_told_position_two(app: Any) -> None:
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    first = await say(app, ch, "can I speak to an agent please", user="a")
    assert "ticket #1" in first and "You're first in the queue; a person usually replies in about 6 minutes." in first
    second = await say(app, ch, "I want to talk to a person", user="b")
    assert "ticket #2" in second
    assert "You're number 2 in the queue; a person usually replies in about 12 minutes." in second
    assert len(ch.texts("chat-b")) == 1  # part of the escalation reply, not a message of its own
    # once #1 is claimed, b's first message while waiting is acknowledged with the new place
    assert inbox.claim(app.store, 1, "dana").ok
    ack = await say(app, ch, "hello??", user="b")
    assert "ticket #2" in ack and "You're first in the queue" in ack
    n = len(ch.sent)
    await say(app, ch, "hello???", user="b")
    assert len(ch.sent) == n  # acknowledged once


async def test_out_of_hours_the_fan_is_told_when_the_team_is_back(hours_app: Any) -> None:
    app = hours_app
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    reply = await say(app, ch, "can I speak to an agent please")
    assert "Our team is back Monday at 09:00 (Berlin time); your ticket #1 is saved and they'll reply here." in reply
    assert "in the queue" not in reply
    app.pipeline.clock = lambda: berlin(7, 10, 0)  # Monday morning: the queue instead
    ack = await say(app, ch, "anyone there?")
    assert "ticket #1" in ack and "You're first in the queue" in ack and "back Monday" not in ack


async def test_crisis_tickets_get_no_wait_estimate(app: Any) -> None:
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    reply = await say(app, ch, "the charger just exploded and my kid got burned")
    assert "urgent" in reply and "queue" not in reply


async def test_faq_is_answered_while_waiting_but_not_once_claimed(app: Any) -> None:
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await say(app, ch, "can I speak to an agent please")
    n = len(ch.sent)
    ack = await say(app, ch, "is the buds pro waterproof?")
    assert len(ch.sent) == n + 2  # the answer, then the one acknowledgement
    assert "From our help article" in ch.texts()[-2] and "IPX" in ch.texts()[-2]
    assert "ticket #1" in ack and "You're first in the queue" in ack
    again = await say(app, ch, "is the buds pro waterproof?")
    assert "From our help article" in again and len(ch.sent) == n + 3
    with app.store.session() as s:
        esc = s.get(Escalation, 1)
        assert esc.state == "open"  # the ticket stays open
        assert [t["from"] for t in esc.transcript[-4:]] == ["fan", "bot", "fan", "bot"]
        answered = [e.data for e in s.scalars(select(AuditEvent).where(AuditEvent.kind == "faq.answered"))]
    assert len(answered) == 2 and answered[0]["escalation_id"] == 1
    assert inbox.claim(app.store, 1, "dana").ok
    n = len(ch.sent)
    await app.pipeline.handle(fan_message("is the buds pro waterproof?"))
    assert len(ch.sent) == n  # a person has it now: relay only
    with app.store.session() as s:
        assert s.get(Escalation, 1).transcript[-1]["from"] == "fan"  # relayed, not answered


async def test_answer_while_waiting_can_be_switched_off(app: Any) -> None:
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    app.pipeline.waiting = replace(app.pipeline.waiting, answer_while_waiting=False)
    await say(app, ch, "can I speak to an agent please")
    ack = await say(app, ch, "is the buds pro waterproof?")
    assert "ticket #1" in ack and not any("From our help article" in t for t in ch.texts())
