"""Polls: create, post (Telegram native poll, or inline buttons where native polls do not fit),
vote (one row per fan per poll, unique in the store), understand text votes, close on time, results.

Text votes ("option 2", "B", "the second one", "the blue one") are matched to options by
`match_option`: explicit numbers, letters and ordinals first, then word overlap with the option
texts. One clear best match is recorded (and confirmed in the reply); a tie is never guessed: the fan
gets the tied options as buttons to confirm.

Anonymous polls store only a keyed hash of the voter (still one vote per fan), and are posted as
buttons on Telegram, because a native poll that reports who voted shows the voters to everyone.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.engagement_models import Poll, PollPost, PollVote
from bot.store.models import utcnow
from dialogs.domain import Button
from dialogs.engagement_log import append_in
from dialogs.engagement_outbox import queue_message
from dialogs.engagement_text import Wording

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
STOP = {"i", "im", "i'm", "my", "the", "a", "an", "one", "vote", "votes", "voting", "for", "option", "pick", "go",
        "with", "choose", "is", "it", "gets", "goes", "to", "team", "please", "definitely", "sure", "all", "way",
        "id", "i'd", "number", "obviously", "of", "course", "want", "like", "prefer", "me", "that", "this"}
_WORD = re.compile(r"[\w']+", re.UNICODE)


def subject(poll_id: int) -> str:
    return f"poll:{poll_id}"


def vote_payload(poll_id: int, index: int) -> str:
    """Button payload (under Telegram's 64-byte callback limit for any realistic ids)."""
    return f'/poll_vote{{"poll":{poll_id},"option":{index + 1}}}'


@dataclass(frozen=True)
class Match:
    """`index` when one option is clearly meant; else `candidates` (tied options, or all)."""

    index: int | None
    candidates: tuple[int, ...] = ()


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOP]


def match_option(text: str, options: list[str]) -> Match:
    n = len(options)
    words = _WORD.findall(text.lower())
    for i, opt in enumerate(options):  # the exact option text wins over everything
        if text.strip().lower().strip("!. ") == opt.lower():
            return Match(i)
    explicit: set[int] = set()
    for k, w in enumerate(words):
        if w.isdigit() and 1 <= int(w) <= n:
            explicit.add(int(w) - 1)
        elif w in ORDINALS and ORDINALS[w] <= n:
            explicit.add(ORDINALS[w] - 1)
        elif w == "last":
            explicit.add(n - 1)
        elif len(w) == 1 and "a" <= w <= "z" and ord(w) - 97 < n and (
                w != "a" or len(words) == 1 or (k > 0 and words[k - 1] in ("option", "pick", "choose"))):
            explicit.add(ord(w) - 97)
    if len(explicit) == 1:
        return Match(explicit.pop())
    said = set(_words(text))
    scores = []
    for i, opt in enumerate(options):
        ow = set(_words(opt)) or set(opt.lower().split())
        scores.append((len(said & ow) / len(ow) if ow else 0.0, i))
    best = max((sc for sc, _ in scores), default=0.0)
    if best <= 0:
        return Match(None, tuple(sorted(explicit)) or tuple(range(n)))
    top = tuple(i for sc, i in scores if sc == best)
    return Match(top[0]) if len(top) == 1 else Match(None, top)


@dataclass(frozen=True)
class VoteResult:
    """status: recorded | changed | unchanged | locked (already voted, changes not allowed) | closed."""

    status: str
    options: tuple[int, ...] = ()
    poll: Poll | None = None


@dataclass
class Results:
    poll_id: int
    question: str
    options: list[str]
    counts: list[int]
    voters: int
    status: str
    by_voter: dict[str, list[int]] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"📊 Poll #{self.poll_id} ({self.status}): {self.question}"]
        for opt, c in zip(self.options, self.counts, strict=True):
            pct = 100 * c / self.voters if self.voters else 0
            lines.append(f"  {opt}: {c} ({pct:.0f}%)")
        lines.append(f"  {self.voters} voter(s)")
        return "\n".join(lines)


class Polls:
    def __init__(self, store: Store, wording: Wording | None = None) -> None:
        """`wording`: the language of what is posted in groups (the brand's default; English without one)."""
        self.store = store
        self.wording = wording or Wording()

    def create(self, *, question: str, options: list[str], multiple: bool = False, anonymous: bool = False,
               changeable: bool = True, channel: str = "telegram", chats: list[str] | None = None,
               opens_at: datetime | None = None, closes_at: datetime | None = None, style: str | None = None,
               actor: str = "cli") -> Poll:
        options = [o.strip() for o in options if o.strip()]
        if not question.strip() or not 2 <= len(options) <= 10:
            raise ValueError("a poll needs a question and 2 to 10 options")
        opens = opens_at or utcnow()
        if closes_at is not None and closes_at <= opens:
            raise ValueError("the close time must be after the open time")
        chosen = style or ("native" if channel == "telegram" and not anonymous else "buttons")
        with self.store.session() as s:
            p = Poll(question=question.strip(), options=options, multiple=multiple, anonymous=anonymous,
                     changeable=changeable, style=chosen, channel=channel, chats=[str(c) for c in chats or []],
                     salt=secrets.token_hex(16), status="scheduled", opens_at=opens, closes_at=closes_at,
                     created_by=actor)
            s.add(p)
            s.flush()
            append_in(s, subject(p.id), "poll.created", {
                "question": p.question, "options": options, "multiple": multiple, "anonymous": anonymous,
                "changeable": changeable, "style": chosen, "chats": p.chats,
                "closes_at": closes_at.isoformat() if closes_at else None}, actor)
            return p

    def get(self, poll_id: int) -> Poll | None:
        with self.store.session() as s:
            return s.get(Poll, poll_id)

    def recent(self) -> list[Poll]:
        with self.store.session() as s:
            return list(s.scalars(select(Poll).order_by(Poll.id.desc()).limit(50)))

    def open_due(self, now: datetime | None = None) -> tuple[list[Poll], list[int]]:
        """Open scheduled polls whose time came. Button polls are queued here (conversation ids
        returned); native polls are returned for the channel to post."""
        now = now or utcnow()
        native: list[Poll] = []
        convs: list[int] = []
        with self.store.session() as s:
            due = list(s.scalars(select(Poll.id).where(Poll.status == "scheduled", Poll.opens_at <= now)))
        for pid in due:
            with self.store.session() as s:
                if _rows(s.execute(update(Poll).where(Poll.id == pid, Poll.status == "scheduled")
                                   .values(status="open"))) == 0:
                    continue
                p = s.get(Poll, pid)
                assert p is not None
                append_in(s, subject(pid), "poll.opened", {})
                if p.style == "native":
                    native.append(p)
                    continue
                buttons = tuple(Button(o, vote_payload(pid, i)) for i, o in enumerate(p.options))
                how = self.wording.group("poll.choose_many" if p.multiple else "poll.choose_one")
                text = self.wording.group("poll.announce", question=p.question, how=how)
                for chat in p.chats:
                    convs.append(queue_message(self.store, s, p.channel, chat, text, buttons))
                    s.add(PollPost(poll_id=pid, chat_id=chat))
        return native, convs

    def unposted_native(self) -> list[tuple[Poll, str]]:
        """Open native polls not yet posted in a target chat (a failed post is retried)."""
        out: list[tuple[Poll, str]] = []
        with self.store.session() as s:
            for p in s.scalars(select(Poll).where(Poll.status == "open", Poll.style == "native")):
                posted = set(s.scalars(select(PollPost.chat_id).where(PollPost.poll_id == p.id)))
                out.extend((p, c) for c in p.chats if c not in posted)
        return out

    def claim_post(self, poll_id: int, chat_id: str) -> bool:
        """Reserve posting `poll_id` in `chat_id` (one process posts it, once)."""
        try:
            with self.store.session() as s:
                s.add(PollPost(poll_id=poll_id, chat_id=chat_id))
        except IntegrityError:
            return False
        return True

    def record_post(self, poll_id: int, chat_id: str, native_id: str | None, message_id: str | None) -> None:
        """The post went out (ids filled in), or failed (`native_id` None: the claim is dropped, retried)."""
        with self.store.session() as s:
            post = s.scalar(select(PollPost).where(PollPost.poll_id == poll_id, PollPost.chat_id == chat_id))
            if post is None:
                return
            if native_id is None:
                s.delete(post)
            else:
                post.native_id, post.message_id = native_id, message_id

    def open_in(self, channel: str, chat_id: str, now: datetime | None = None) -> Poll | None:
        """The newest open poll a fan in this chat can vote in (in a private chat: any on the channel)."""
        now = now or utcnow()
        with self.store.session() as s:
            for p in s.scalars(select(Poll).where(Poll.channel == channel, Poll.status == "open")
                               .order_by(Poll.id.desc())):
                if p.closes_at is not None and p.closes_at <= now:
                    continue
                if chat_id in p.chats or not p.chats or not chat_id.startswith("-"):
                    return p
        return None

    def runs_in(self, poll_id: int, channel: str, chat_id: str) -> bool:
        """Whether a fan in this chat may vote in `poll_id`: the poll's channel, and one of its chats
        (in a private chat, or a poll with no chats: any; the same rule as `open_in`)."""
        with self.store.session() as s:
            p = s.get(Poll, poll_id)
            return p is not None and p.channel == channel and (chat_id in p.chats or not p.chats
                                                               or not chat_id.startswith("-"))

    def by_native(self, native_id: str) -> int | None:
        with self.store.session() as s:
            return s.scalar(select(PollPost.poll_id).where(PollPost.native_id == native_id))

    def voter_key(self, p: Poll, channel: str, user_id: str) -> str:
        who = f"{channel}:{user_id}"
        return "anon:" + hashlib.sha256(f"{p.salt}:{who}".encode()).hexdigest()[:40] if p.anonymous else who

    def vote(self, poll_id: int, channel: str, user_id: str, options: list[int], *, mode: str = "set",
             now: datetime | None = None) -> VoteResult:
        """Record a vote. mode: set (replace), add (multiple choice: one more), toggle (a button press).
        Retracting (an empty `set`, Telegram's "retract vote") removes the vote when changes are allowed."""
        now = now or utcnow()
        for _ in range(3):
            try:
                with self.store.session() as s:
                    p = s.get(Poll, poll_id)
                    if p is None or p.status != "open" or (p.closes_at is not None and now >= p.closes_at):
                        return VoteResult("closed", poll=p)
                    opts = sorted({o for o in options if 0 <= o < len(p.options)})
                    key = self.voter_key(p, channel, user_id)
                    v = s.scalar(select(PollVote).where(PollVote.poll_id == poll_id, PollVote.voter == key))
                    if v is None:
                        if not opts:
                            return VoteResult("unchanged", (), p)
                        s.add(PollVote(poll_id=poll_id, voter=key, options=opts[:1] if not p.multiple else opts,
                                       updated_at=now))
                        return VoteResult("recorded", tuple(opts[:1] if not p.multiple else opts), p)
                    old = list(v.options)
                    new = self._combine(p, old, opts, mode)
                    if new == old:
                        return VoteResult("unchanged", tuple(old), p)
                    if not p.changeable:
                        return VoteResult("locked", tuple(old), p)
                    if not new:
                        s.delete(v)
                    else:
                        v.options, v.changes, v.updated_at = new, v.changes + 1, now
                    return VoteResult("changed", tuple(new), p)
            except IntegrityError:  # two votes of one fan at once: retry against the winner's row
                continue
        return VoteResult("unchanged")

    @staticmethod
    def _combine(p: Poll, old: list[int], opts: list[int], mode: str) -> list[int]:
        if not p.multiple:
            return opts[:1] if opts or mode == "set" else old
        if mode == "add":
            return sorted(set(old) | set(opts))
        if mode == "toggle":
            return sorted(set(old) ^ set(opts))
        return opts

    def results(self, poll_id: int, *, voters: bool = False) -> Results:
        with self.store.session() as s:
            p = s.get(Poll, poll_id)
            if p is None:
                raise ValueError(f"no poll #{poll_id}")
            counts = [0] * len(p.options)
            by: dict[str, list[int]] = {}
            n = 0
            for v in s.scalars(select(PollVote).where(PollVote.poll_id == poll_id)):
                n += 1
                for o in v.options:
                    counts[o] += 1
                if voters and not p.anonymous:
                    by[v.voter] = list(v.options)
            return Results(p.id, p.question, list(p.options), counts, n, p.status, by)

    def close_due(self, now: datetime | None = None) -> list[tuple[int, list[PollPost]]]:
        """Close open polls past their close time; post results. Returns (poll, native posts to stop)."""
        now = now or utcnow()
        with self.store.session() as s:
            due = list(s.scalars(select(Poll.id).where(Poll.status.in_(("open", "scheduled")),
                                                       Poll.closes_at.is_not(None), Poll.closes_at <= now)))
        return [c for pid in due if (c := self._close(pid, now)) is not None] + self._posted_after_close()

    def _posted_after_close(self) -> list[tuple[int, list[PollPost]]]:
        """Native posts recorded after their poll closed (the post was in flight while another
        process closed the poll): handed to the caller to stop, each once (a conditional UPDATE)."""
        out: list[tuple[int, list[PollPost]]] = []
        with self.store.session() as s:
            late = list(s.scalars(select(PollPost).join(Poll, Poll.id == PollPost.poll_id).where(
                Poll.status == "closed", PollPost.native_id.is_not(None), PollPost.stopped.is_(False))))
            for post in late:
                if _rows(s.execute(update(PollPost).where(PollPost.id == post.id, PollPost.stopped.is_(False))
                                   .values(stopped=True).execution_options(synchronize_session=False))):
                    out.append((post.poll_id, [post]))
        return out

    def close_now(self, poll_id: int, actor: str = "cli") -> tuple[int, list[PollPost]] | None:
        return self._close(poll_id, utcnow(), actor)

    def _close(self, poll_id: int, now: datetime, actor: str = "fancare") -> tuple[int, list[PollPost]] | None:
        with self.store.session() as s:
            if _rows(s.execute(update(Poll).where(Poll.id == poll_id, Poll.status.in_(("open", "scheduled")))
                               .values(status="closed", closed_at=now))) == 0:
                return None
        res = self.results(poll_id)
        with self.store.session() as s:
            p = s.get(Poll, poll_id)
            assert p is not None
            append_in(s, subject(poll_id), "poll.closed", {"counts": res.counts, "voters": res.voters}, actor)
            posts = list(s.scalars(select(PollPost).where(PollPost.poll_id == poll_id)))
            for chat in p.chats:
                queue_message(self.store, s, p.channel, chat, self.results_post(res))
            # each native post is stopped by one process only: `_posted_after_close` in another process may
            # see this poll closed before this transaction commits, so both claim with a conditional UPDATE
            native = [x for x in posts if x.native_id and not x.stopped
                      and _rows(s.execute(update(PollPost).where(PollPost.id == x.id, PollPost.stopped.is_(False))
                                          .values(stopped=True).execution_options(synchronize_session=False)))]
        return poll_id, native

    def results_post(self, res: Results) -> str:
        """The results as posted where the poll ran, in the group's language (`Results.text` is the
        operator's English view with the poll's number and status)."""
        lines = [self.wording.group("poll.results", poll=res.poll_id, question=res.question)]
        for opt, c in zip(res.options, res.counts, strict=True):
            lines.append(f"  {opt}: {c} ({100 * c / res.voters if res.voters else 0:.0f}%)")
        lines.append("  " + self.wording.group("poll.voters", voters=res.voters))
        return "\n".join(lines)

    def describe(self, p: Poll) -> dict[str, Any]:
        return {"id": p.id, "question": p.question, "options": p.options, "status": p.status, "style": p.style,
                "multiple": p.multiple, "anonymous": p.anonymous, "changeable": p.changeable, "chats": p.chats,
                "closes_at": p.closes_at.isoformat() if p.closes_at else None}


def _rows(result: Any) -> int:
    """Rows a conditional UPDATE changed (0: another process got there first)."""
    return int(getattr(result, "rowcount", 0) or 0)
