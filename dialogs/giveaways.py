"""Giveaways: create, enter (one entry per fan, enforced by a unique constraint), close on time,
draw verifiably (`dialogs.draw`), re-draw, notify, export.

    create --(opens_at)--> open: commitment SHA-256(seed) published and logged
    enter: only while open and before closes_at (the store's clock rule, so a restart cannot extend it)
    closes_at --> closed: SHA-256 of the sorted entrant ids published and logged
    draw: walk the HMAC ranking, skipping ineligible entrants (reason published) --> drawn, seed revealed
    redraw: one more exclusion, the same walk

Every state change is a conditional UPDATE (status = expected), so with several processes exactly
one closes and one draws; each is written to the hash-chained engagement log in the same
transaction.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.engagement_models import Giveaway, GiveawayEntry
from bot.store.models import utcnow
from bot.store.moderation_models import ModerationItem
from dialogs import draw as drawing
from dialogs.domain import Button
from dialogs.engagement_log import append_in
from dialogs.engagement_outbox import queue_message
from dialogs.engagement_text import Wording, fan_language

#: `await member(chat_id, user_id)` -> True / False, or None when the platform cannot tell.
MemberCheck = Callable[[str, str], Awaitable[bool | None]]


def subject(giveaway_id: int) -> str:
    return f"giveaway:{giveaway_id}"


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split()).strip(" .!?")


@dataclass(frozen=True)
class EntryResult:
    """status: entered | already | closed | not_open | no_such."""

    status: str
    giveaway_id: int | None = None
    prize: str = ""


class Giveaways:
    def __init__(self, store: Store, wording: Wording | None = None) -> None:
        """`wording`: the language of posts (the brand's default in groups, the winner's own in a
        winner's notice; English without one)."""
        self.store = store
        self.wording = wording or Wording()

    # -- operator side ------------------------------------------------------------------------
    def create(self, *, prize: str, winners: int, closes_at: datetime, opens_at: datetime | None = None,
               channel: str = "telegram", keyword: str | None = None, question: str | None = None,
               answer: str | None = None, member_of: str | None = None, announce: list[str] | None = None,
               entry_post: str | None = None, actor: str = "cli") -> Giveaway:
        if winners < 1:
            raise ValueError("a giveaway needs at least one winner")
        prize = (prize or "").strip()
        if not prize:  # every reply names it: "You're in the {prize} giveaway!"
            raise ValueError("a giveaway needs a prize (its name, as fans read it in every reply)")
        opens = opens_at or utcnow()
        if closes_at <= opens:
            raise ValueError("the close time must be after the open time")
        seed = secrets.token_hex(32)
        with self.store.session() as s:
            g = Giveaway(prize=prize, winners=winners, channel=channel, keyword=keyword, question=question,
                         answer=answer, member_of=member_of, announce=list(announce or []), seed=seed,
                         entry_post=entry_post,
                         commitment=drawing.commitment(seed), opens_at=opens, closes_at=closes_at,
                         created_by=actor, status="scheduled", result={})
            s.add(g)
            s.flush()
            append_in(s, subject(g.id), "giveaway.created", {
                "prize": prize, "winners": winners, "channel": channel, "keyword": keyword, "question": question,
                "member_of": member_of, "entry_post": entry_post, "opens_at": opens.isoformat(), "closes_at": closes_at.isoformat(),
                "commitment": g.commitment}, actor)
            return g

    def get(self, giveaway_id: int) -> Giveaway | None:
        with self.store.session() as s:
            return s.get(Giveaway, giveaway_id)

    def recent(self) -> list[Giveaway]:
        with self.store.session() as s:
            return list(s.scalars(select(Giveaway).order_by(Giveaway.id.desc()).limit(50)))

    def undrawn(self) -> list[int]:
        """Closed giveaways waiting for their draw (e.g. membership could not be checked yet)."""
        with self.store.session() as s:
            return list(s.scalars(select(Giveaway.id).where(Giveaway.status == "closed").order_by(Giveaway.id)))

    def open_due(self, now: datetime | None = None) -> list[int]:
        """Open scheduled giveaways whose time came; announce the commitment. Returns conversation ids."""
        now = now or utcnow()
        convs: list[int] = []
        with self.store.session() as s:
            due = list(s.scalars(select(Giveaway.id).where(Giveaway.status == "scheduled",
                                                           Giveaway.opens_at <= now)))
        for gid in due:
            with self.store.session() as s:
                if _move(s, gid, "scheduled", "open") == 0:
                    continue
                g = s.get(Giveaway, gid)
                assert g is not None
                append_in(s, subject(gid), "giveaway.opened", {"commitment": g.commitment})
                w = self.wording
                how = w.group("giveaway.how_keyword", keyword=g.keyword) if g.keyword else w.group("giveaway.how_button")
                text = w.group("giveaway.announce", prize=g.prize, winners=w.group("giveaway.winners", winners=g.winners),
                               how=how, closes=f"{g.closes_at:%Y-%m-%d %H:%M}", commitment=g.commitment)
                enter = Button(w.group("giveaway.enter_button"), f'/giveaway_enter{{"giveaway":{gid}}}')
                for chat in g.announce:
                    convs.append(queue_message(self.store, s, g.channel, str(chat), text, (enter,)))
        return convs

    def close_due(self, now: datetime | None = None) -> list[int]:
        """Close open giveaways past their close time (and scheduled ones that never opened)."""
        now = now or utcnow()
        with self.store.session() as s:
            due = list(s.scalars(select(Giveaway.id).where(Giveaway.status.in_(("open", "scheduled")),
                                                           Giveaway.closes_at <= now)))
        closed = []
        for gid in due:
            with self.store.session() as s:
                if _move(s, gid, ("open", "scheduled"), "closed") == 0:
                    continue
                g = s.get(Giveaway, gid)
                assert g is not None
                ids = _entrants(s, g)
                g.entries_hash = drawing.entries_hash(ids)
                append_in(s, subject(gid), "giveaway.closed", {"entries": len(ids), "entries_hash": g.entries_hash})
                closed.append(gid)
        return closed

    def close_now(self, giveaway_id: int, actor: str = "cli") -> bool:
        """Bring the close time forward to now (the draw follows on the next tick or `draw`)."""
        now = utcnow()
        with self.store.session() as s:
            res = s.execute(update(Giveaway).where(Giveaway.id == giveaway_id,
                                                   Giveaway.status.in_(("open", "scheduled")))
                            .values(closes_at=now))
            if not getattr(res, "rowcount", 0):
                return False
            append_in(s, subject(giveaway_id), "giveaway.closed_early", {"closes_at": now.isoformat()}, actor)
        return bool(self.close_due(now + timedelta(microseconds=1)))

    # -- fans --------------------------------------------------------------------------------------
    def open_for(self, channel: str, now: datetime | None = None) -> list[Giveaway]:
        now = now or utcnow()
        with self.store.session() as s:
            return list(s.scalars(select(Giveaway).where(Giveaway.channel == channel, Giveaway.status == "open",
                                                         Giveaway.closes_at > now).order_by(Giveaway.id.desc())))

    def by_keyword(self, channel: str, text: str) -> Giveaway | None:
        t = _norm(text)
        return next((g for g in self.open_for(channel) if g.keyword and _norm(g.keyword) == t), None)

    def by_post(self, channel: str, post: str) -> Giveaway | None:
        """The open giveaway entered by commenting under this channel post ("channel id:post id")."""
        return next((g for g in self.open_for(channel) if g.entry_post == post), None)

    def enter(self, giveaway_id: int, channel: str, user_id: str, *, display_name: str | None = None,
              is_bot: bool = False, answer: str | None = None, now: datetime | None = None) -> EntryResult:
        now = now or utcnow()
        entrant = f"{channel}:{user_id}"
        try:
            with self.store.session() as s:
                g = s.get(Giveaway, giveaway_id)
                if g is None or g.channel != channel:
                    return EntryResult("no_such")
                if g.status == "scheduled" and g.opens_at > now:
                    return EntryResult("not_open", g.id, g.prize)
                if g.status not in ("open", "scheduled") or now >= g.closes_at:
                    return EntryResult("closed", g.id, g.prize)
                if s.scalar(select(GiveawayEntry.id).where(GiveawayEntry.giveaway_id == g.id,
                                                           GiveawayEntry.entrant == entrant)) is not None:
                    return EntryResult("already", g.id, g.prize)
                s.add(GiveawayEntry(giveaway_id=g.id, entrant=entrant, display_name=display_name, is_bot=is_bot,
                                    answer=answer, created_at=now))
                prize = g.prize
        except IntegrityError:  # the same fan, twice at the same moment: the unique constraint decides
            row = self.get(giveaway_id)  # the reply names the prize ("the  giveaway" otherwise)
            return EntryResult("already", giveaway_id, row.prize if row is not None else "")
        return EntryResult("entered", giveaway_id, prize)

    def has_entry(self, giveaway_id: int, channel: str, user_id: str) -> bool:
        with self.store.session() as s:
            return s.scalar(select(GiveawayEntry.id).where(GiveawayEntry.giveaway_id == giveaway_id,
                                                           GiveawayEntry.entrant == f"{channel}:{user_id}")) is not None

    def entry_count(self, giveaway_id: int) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).where(GiveawayEntry.giveaway_id == giveaway_id)) or 0)

    # -- the draw ------------------------------------------------------------------------------------
    async def draw(self, giveaway_id: int, member: MemberCheck | None, actor: str = "fancare") -> list[int]:
        """Draw a closed giveaway: rank, skip the ineligible, publish, notify. Returns conversations to
        dispatch (empty when it was not closed or another process drew it)."""
        with self.store.session() as s:
            g = s.get(Giveaway, giveaway_id)
            if g is None or g.status != "closed":
                return []
            ids = _entrants(s, g)
        excluded: dict[str, str] = {}
        chosen = await self._walk(g, ids, excluded, set(), member)
        with self.store.session() as s:
            if _move(s, giveaway_id, "closed", "drawn") == 0:
                return []
            row = s.get(Giveaway, giveaway_id)
            assert row is not None
            row.result = {"winners": chosen, "excluded": excluded}
            append_in(s, subject(giveaway_id), "giveaway.drawn", {
                "winners": chosen, "excluded": excluded, "seed": g.seed, "entries_hash": g.entries_hash,
                "rule": "first n of HMAC-SHA256(seed, entrant) ascending, skipping excluded"}, actor)
            return self._announce(s, row, chosen, new=chosen)

    async def redraw(self, giveaway_id: int, entrant: str, reason: str, member: MemberCheck | None,
                     actor: str = "cli") -> tuple[list[str], list[int]]:
        """Disqualify a winner and fill the place by the same rule. Returns (new winners, conversations)."""
        with self.store.session() as s:
            g = s.get(Giveaway, giveaway_id)
            if g is None or g.status != "drawn":
                raise ValueError("only a drawn giveaway can be re-drawn")
            before = list(g.result.get("winners") or [])
            if entrant not in before:
                raise ValueError(f"{entrant} is not a winner of giveaway #{giveaway_id}")
            excluded = dict(g.result.get("excluded") or {})
            ids = _entrants(s, g)
        excluded[entrant] = f"disqualified: {reason}"[:120]
        chosen = await self._walk(g, ids, excluded, {w for w in before if w != entrant}, member)
        new = [w for w in chosen if w not in before]
        with self.store.session() as s:
            row = s.get(Giveaway, giveaway_id)
            assert row is not None
            row.result = {"winners": chosen, "excluded": excluded}
            append_in(s, subject(giveaway_id), "giveaway.redrawn", {
                "disqualified": entrant, "reason": excluded[entrant], "winners": chosen, "excluded": excluded}, actor)
            return chosen, self._announce(s, row, chosen, new=new)

    async def _walk(self, g: Giveaway, ids: list[str], excluded: dict[str, str], confirmed: set[str],
                    member: MemberCheck | None) -> list[str]:
        """The documented rule with eligibility checked lazily, in ranking order, only as far as needed."""
        with self.store.session() as s:
            entries = {e.entrant: e for e in s.scalars(select(GiveawayEntry).where(
                GiveawayEntry.giveaway_id == g.id))}
        while True:
            chosen = drawing.winners(g.seed, ids, g.winners, excluded)
            fresh = [c for c in chosen if c not in confirmed]
            if not fresh:
                return chosen
            for c in fresh:
                reason = await self._ineligible(g, entries[c], member)
                if reason:
                    excluded[c] = reason
                else:
                    confirmed.add(c)

    async def _ineligible(self, g: Giveaway, e: GiveawayEntry, member: MemberCheck | None) -> str | None:
        channel, _, user = e.entrant.partition(":")
        if e.is_bot:
            return "bot"
        if g.answer and _norm(e.answer) != _norm(g.answer):
            return "wrong answer"
        with self.store.session() as s:
            banned = s.scalar(select(ModerationItem.id).where(
                ModerationItem.channel == channel, ModerationItem.user_id == user,
                or_(ModerationItem.action == "ban", ModerationItem.status == "banned")).limit(1))
        if banned is not None:
            return "banned"
        if g.member_of:
            if member is None:
                raise RuntimeError("this giveaway requires membership, but no channel can check it")
            ok = await member(g.member_of, user)
            if ok is None:
                raise RuntimeError("membership could not be checked; the draw will be retried")
            if not ok:
                return "not a member at draw time"
        return None

    def _announce(self, s: Any, g: Giveaway, winners: list[str], *, new: list[str]) -> list[int]:
        convs = []
        for w in new:
            channel, _, user = w.partition(":")
            won = self.wording.say("giveaway.won", fan_language(s, channel, user), prize=g.prize, giveaway=g.id,
                                   seed=g.seed)
            convs.append(queue_message(self.store, s, channel, user, won, to_user=user))
        names = {e.entrant: e.display_name for e in s.scalars(select(GiveawayEntry).where(
            GiveawayEntry.giveaway_id == g.id, GiveawayEntry.entrant.in_(winners)))}
        shown = ", ".join(names.get(w) or w for w in winners) or self.wording.group("giveaway.nobody")
        text = self.wording.group("giveaway.results", prize=g.prize, winners=shown, seed=g.seed,
                                  commitment=g.commitment, entries_hash=g.entries_hash)
        for chat in g.announce:
            convs.append(queue_message(self.store, s, g.channel, str(chat), text))
        return convs

    # -- publishing ------------------------------------------------------------------------------------
    def published(self, giveaway_id: int) -> dict[str, Any]:
        """Everything anyone needs to recompute the draw (no names: entrant ids only)."""
        with self.store.session() as s:
            g = s.get(Giveaway, giveaway_id)
            if g is None:
                raise ValueError(f"no giveaway #{giveaway_id}")
            ids = sorted(_entrants(s, g))
            out: dict[str, Any] = {"giveaway": g.id, "prize": g.prize, "commitment": g.commitment,
                                   "entries_hash": g.entries_hash, "winners_wanted": g.winners, "entrants": ids,
                                   "status": g.status}
            if g.status == "drawn":
                out.update(seed=g.seed, winners=list(g.result.get("winners") or []),
                           excluded=dict(g.result.get("excluded") or {}))
            return out

    def export_csv(self, giveaway_id: int, *, names: bool = False) -> str:
        """The entrant list for the brand; display names only when asked (personal data)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["entrant", "entered_at", "answer", "bot", *(["display_name"] if names else [])])
        with self.store.session() as s:
            for e in s.scalars(select(GiveawayEntry).where(GiveawayEntry.giveaway_id == giveaway_id)
                               .order_by(GiveawayEntry.id)):
                w.writerow([e.entrant, e.created_at.isoformat(timespec="seconds"), e.answer or "",
                            "yes" if e.is_bot else "", *([e.display_name or ""] if names else [])])
        return buf.getvalue()


def _move(s: Any, giveaway_id: int, frm: str | tuple[str, ...], to: str) -> int:
    states = (frm,) if isinstance(frm, str) else frm
    res = s.execute(update(Giveaway).where(Giveaway.id == giveaway_id, Giveaway.status.in_(states))
                    .values(status=to))
    return int(res.rowcount or 0)


def _entrants(s: Any, g: Giveaway) -> list[str]:
    """Entries made before the close time: the set the entries hash covers and the draw ranks."""
    return list(s.scalars(select(GiveawayEntry.entrant).where(GiveawayEntry.giveaway_id == g.id,
                                                              GiveawayEntry.created_at < g.closes_at)))
