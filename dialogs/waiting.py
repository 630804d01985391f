"""Waiting for a human: support hours, the queue position and the wait estimate a fan is told.

Pure functions (no store, no clock of their own): the pipeline counts the queue and passes the time.

    hours = SupportHours.parse("Europe/Berlin", {"mon": "09:00-18:00", "sat": "10:00-14:00"})
    is_open(hours, now)                -> bool
    next_opening(hours, now)           -> the next time a person is there (now, when open)
    wait_estimate(2, 6)                -> "about 12 minutes"
    wait_reply(rules, position, now)   -> ("utter_queue_position" | "utter_out_of_hours", {slot values})

Every word a fan reads comes through `phrase(key, **values)` (dialogs/phrases.py keys; English by
default, `Domain.phrase` in the fan's language from the pipeline).

A day's hours are "HH:MM-HH:MM", several ranges separated by commas ("09:00-12:00, 13:00-17:30"),
"24:00" as the end of the day, or "closed"; a day left out is closed. A range may not cross
midnight: write the night as the end of one day and the start of the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialogs.phrases import DAY_KEYS, PHRASES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
PUBLIC_CHAT_TYPES = frozenset({"group", "supergroup", "channel"})  # Telegram's; other chats are private
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Ranges = tuple[tuple[int, int], ...]  # (start, end) in minutes after local midnight, end exclusive
Phrase = Callable[..., str]  # (key, **values) -> the phrase in the fan's language


def english(key: str, **values: Any) -> str:
    """The English phrase: what the functions here say when no language is given."""
    return PHRASES[key].format(**values)


def parse_timezone(name: str) -> ZoneInfo:
    """An IANA zone ("Europe/Berlin"); ValueError naming the problem otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None


def parse_ranges(text: str) -> Ranges:
    """ "09:00-12:00, 13:00-18:00" -> ((540, 720), (780, 1080)); "closed" -> (). ValueError when malformed."""
    if text.strip().lower() in ("closed", ""):
        return ()
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(f"bad hours {part.strip()!r}: write HH:MM-HH:MM, e.g. 09:00-18:00 (or 'closed')")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"bad hours {part.strip()!r}: not a time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(f"bad hours {part.strip()!r}: the end must be after the start "
                             "(hours past midnight belong to the next day)")
        out.append((start, end))
    out.sort()
    for (_, end), (start, _) in zip(out, out[1:], strict=False):
        if start < end:
            raise ValueError(f"overlapping hours in {text.strip()!r}")
    return tuple(out)


@dataclass(frozen=True)
class SupportHours:
    """When a person is there: per weekday (0 = Monday) the open ranges, in `tz` local time."""

    tz: ZoneInfo
    days: dict[int, Ranges] = field(default_factory=dict)

    @classmethod
    def parse(cls, timezone: str, days: dict[str, str]) -> SupportHours:
        """From config (`{mon: "09:00-18:00", ...}`); ValueError naming the day otherwise."""
        tz = parse_timezone(timezone)
        out: dict[int, Ranges] = {}
        seen: set[int] = set()
        for day, text in days.items():
            name = str(day).strip().lower()
            names = [d.lower() for d in DAY_NAMES]
            if name not in DAYS and name not in names:
                raise ValueError(f"unknown day {day!r} (use {', '.join(DAYS)})")
            index = DAYS.index(name) if name in DAYS else names.index(name)
            if index in seen:
                raise ValueError(f"{DAYS[index]} is given twice")
            seen.add(index)
            try:
                ranges = parse_ranges(str(text))
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from None
            if ranges:
                out[index] = ranges
        return cls(tz, out)

    @property
    def zone_label(self) -> str:
        """ "Europe/Berlin" -> "Berlin time"; "UTC" -> "UTC"."""
        return self.zone_text()

    def zone_text(self, phrase: Phrase = english) -> str:
        """The zone as a fan reads it, in the language of `phrase`."""
        key = str(self.tz.key)
        if key.upper() in ("UTC", "ETC/UTC", "GMT", "ETC/GMT", "ZULU"):
            return "UTC"
        return phrase("timezone.city", city=key.rsplit("/", 1)[-1].replace("_", " "))


def _local(hours: SupportHours, now: datetime) -> datetime:
    if now.tzinfo is None:  # the store's naive timestamps are UTC
        now = now.replace(tzinfo=UTC)
    return now.astimezone(hours.tz)


def is_open(hours: SupportHours, now: datetime) -> bool:
    """Whether `now` (aware; naive is read as UTC) falls inside the support hours."""
    local = _local(hours, now)
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in hours.days.get(local.weekday(), ()))


def next_opening(hours: SupportHours, now: datetime) -> datetime | None:
    """The next time (in the hours' timezone) a person is there: `now` itself while open; None when
    no day has hours at all."""
    local = _local(hours, now)
    if is_open(hours, local):
        return local
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    for ahead in range(8):  # today through the same weekday next week
        day = (midnight + timedelta(days=ahead)).date()
        for start, _ in hours.days.get(day.weekday(), ()):
            # wall-clock time in the zone (an opening in a DST gap resolves to the shifted hour)
            at = datetime(day.year, day.month, day.day, tzinfo=hours.tz) + timedelta(minutes=start)
            if at > local:
                return at
    return None


def opening_text(opening: datetime, now: datetime, phrase: Phrase = english) -> str:
    """ "today at 09:00", "tomorrow at 09:00" or "Monday at 09:00" (in the opening's timezone)."""
    local_now = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(opening.tzinfo)
    days = (opening.date() - local_now.date()).days
    time = f"{opening:%H:%M}"
    if days == 0:
        return phrase("opening.today", time=time)
    if days == 1:
        return phrase("opening.tomorrow", time=time)
    return phrase("opening.weekday", day=phrase(DAY_KEYS[opening.weekday()]), time=time)


def wait_estimate(position: int, minutes_per_ticket: float, phrase: Phrase = english) -> str:
    """A rough wait for the `position`-th ticket in the queue, in words: "about 12 minutes"."""
    minutes = max(1.0, position * minutes_per_ticket)
    if minutes <= 2:
        return phrase("wait.couple_of_minutes")
    if minutes < 15:
        return phrase("wait.minutes", minutes=round(minutes))
    if minutes < 55:
        return phrase("wait.minutes", minutes=int(5 * round(minutes / 5)))
    half_hours = max(2, round(minutes / 30))
    if half_hours == 2:
        return phrase("wait.an_hour")
    # a number, not text: the phrase writes a fraction the language's way ("1.5" / "1,5")
    hours: float = half_hours / 2 if half_hours % 2 else half_hours // 2
    return phrase("wait.hours", hours=hours)


def place_text(position: int, phrase: Phrase = english) -> str:
    """1 -> "first", 2 -> "number 2" (as in "You're ... in the queue")."""
    return phrase("queue.first") if position <= 1 else phrase("queue.number", position=position)


@dataclass(frozen=True)
class WaitingRules:
    """`escalation:` settings the pipeline applies while a ticket waits for a person."""

    hours: SupportHours | None = None  # None: a person is always there
    answer_while_waiting: bool = True
    minutes_per_ticket: float = 6.0


def wait_reply(rules: WaitingRules, position: int, now: datetime,
               phrase: Phrase = english) -> tuple[str, dict[str, Any]]:
    """The response to tell a waiting fan and its slot values: the queue position and estimate
    within support hours, else when the team is back (worded by `phrase`)."""
    if rules.hours is not None and not is_open(rules.hours, now):
        opening = next_opening(rules.hours, now)
        return "utter_out_of_hours", {"opening": opening_text(opening, now, phrase) if opening
                                      else phrase("opening.asap"), "timezone": rules.hours.zone_text(phrase)}
    return "utter_queue_position", {"position": position, "place": place_text(position, phrase),
                                    "estimate": wait_estimate(position, rules.minutes_per_ticket, phrase)}
