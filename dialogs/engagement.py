"""Polls and giveaways in the conversation, and the timer that opens, closes and draws them.

`Engagement.decide` is the pipeline's hook, asked before the dialog policy: it answers a button
press (`/poll_vote{...}`, `/giveaway_enter{...}`), a giveaway keyword, the `giveaway_enter` and
`poll_vote` intents, a comment under a giveaway's channel post and the answer to a giveaway's
question; for anything else, or when nothing is
open, it returns None and the policy answers as before (e.g. "there's no poll open").

`EngagementTimer.tick` is idempotent and runs at start and every few seconds, in every process:
the conditional status updates make exactly one process open, close or draw each item, and since
the times live in the store a restart (or a process that was down at close time) catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bot.store import Store
from bot.store.engagement_models import Poll
from dialogs.domain import Button, Domain, Outgoing
from dialogs.engagement_text import Wording
from dialogs.giveaways import Giveaways, MemberCheck
from dialogs.phrases import PHRASES
from dialogs.policy import Decision, Turn
from dialogs.polls import Polls, match_option, vote_payload
from nlu.model import ParseResult

log = logging.getLogger("fancare.engagement")


class NativePolls(Protocol):
    """A channel that can post native polls (Telegram)."""

    async def post(self, poll: Poll, chat_id: str) -> tuple[str, str]: ...  # (native poll id, message id)

    async def stop(self, chat_id: str, message_id: str) -> None: ...


def _entity(parse: ParseResult, name: str) -> int | None:
    for e in parse.entities:
        if e.get("entity") == name and str(e.get("value")).isdigit():
            return int(str(e.get("value")))
    return None


class Engagement:
    def __init__(self, store: Store, domain: Domain | None = None) -> None:
        """`domain`: where the replies' phrases (dialogs/phrases.py, `poll.*`, `giveaway.*`) are
        translated, in the turn's language; without one they are English."""
        self.store = store
        self.domain = domain
        wording = Wording(domain)  # posts to groups: the brand's default language; a winner's notice: theirs
        self.polls = Polls(store, wording)
        self.giveaways = Giveaways(store, wording)

    def _say(self, key: str, turn: Turn, **values: Any) -> str:
        """A reply in the fan's language (the domain's fallback order), else the English phrase."""
        if self.domain is not None:
            return self.domain.phrase(key, turn.language, **values)
        return PHRASES[key].format(**values)

    def decide(self, parse: ParseResult, state: dict[str, Any], turn: Turn, who: dict[str, str],
               meta: dict[str, Any] | None = None) -> Decision | None:
        st = dict(state or {})
        channel, chat = who["channel"], who["chat_id"]
        pending = st.pop("giveaway_question", None)
        if pending is not None and not parse.text.startswith("/"):
            return self._enter(int(pending), st, turn, who, answer=turn.text.strip())
        is_payload = parse.encoder is None and parse.confidence == 1.0 and parse.text.startswith("/")
        sure = is_payload or not parse.fallback
        if parse.intent == "giveaway_enter" and sure:
            gid = _entity(parse, "giveaway")
            if gid is None:
                open_now = self.giveaways.open_for(channel)
                if not open_now:
                    return None
                gid = open_now[0].id
            return self._enter(gid, st, turn, who)
        keyword = self.giveaways.by_keyword(channel, turn.text)
        if keyword is not None:
            return self._enter(keyword.id, st, turn, who)
        post = (meta or {}).get("channel_post") or {}
        if post.get("chat_id") is not None and post.get("message_id") is not None:
            under = self.giveaways.by_post(channel, f"{post['chat_id']}:{post['message_id']}")
            if under is not None:  # any comment under the giveaway's post is an entry
                return self._enter(under.id, st, turn, who)
        if parse.intent == "poll_vote" and sure:
            pid, opt = _entity(parse, "poll"), _entity(parse, "option")
            if pid is not None and opt is not None:  # a pressed vote button counts only where the poll runs
                if not self.polls.runs_in(pid, channel, chat):
                    d = Decision(state=st, action="poll:elsewhere")
                    d.replies.append(Outgoing(text=self._say("poll.elsewhere", turn)))
                    return d
                return self._vote(pid, [opt - 1], st, turn, who, mode="toggle")
            poll = self.polls.open_in(channel, chat)
            if poll is None:
                return None
            m = match_option(turn.text, list(poll.options))
            if m.index is not None:
                return self._vote(poll.id, [m.index], st, turn, who, mode="add")
            d = Decision(state=st, action="poll:ambiguous")
            options = [poll.options[i] for i in m.candidates]
            joiner = f" {self._say('poll.or', turn)} "
            text = (self._say("poll.which_option", turn, options=joiner.join(options))
                    if len(options) < len(poll.options) else self._say("poll.unclear", turn, question=poll.question))
            d.replies.append(Outgoing(text=text, buttons=tuple(Button(poll.options[i], vote_payload(poll.id, i))
                                                               for i in m.candidates)))
            return d
        return None

    def _enter(self, gid: int, st: dict[str, Any], turn: Turn, who: dict[str, str],
               answer: str | None = None) -> Decision:
        d = Decision(state=st, action="giveaway:enter")
        g = self.giveaways.get(gid)
        if g is not None and g.question and answer is None and g.status == "open":
            if not self.giveaways.has_entry(gid, who["channel"], who["user_id"]):
                st["giveaway_question"] = gid
                d.replies.append(Outgoing(text=self._say("giveaway.question", turn, prize=g.prize, question=g.question)))
                return d
            return self._enter(gid, st, turn, who, answer="")
        res = self.giveaways.enter(gid, who["channel"], who["user_id"], display_name=turn.display_name,
                                   answer=answer)
        d.action = f"giveaway:{res.status}"
        known = res.status in ("entered", "already", "closed", "not_open")
        prize = res.prize or (g.prize if g is not None else "")  # never "the  giveaway"
        text = self._say(f"giveaway.{res.status}" if known else "giveaway.none", turn, prize=prize)
        d.replies.append(Outgoing(text=text))
        d.events.append(("giveaway.entry", {"giveaway_id": gid, "status": res.status}))
        return d

    def _vote(self, pid: int, options: list[int], st: dict[str, Any], turn: Turn, who: dict[str, str], *,
              mode: str) -> Decision:
        res = self.polls.vote(pid, who["channel"], who["user_id"], options, mode=mode)
        d = Decision(state=st, action=f"poll:{res.status}")
        p = res.poll
        chosen = ", ".join(p.options[i] for i in res.options) if p is not None else ""
        key = {
            "recorded": "poll.recorded",
            "changed": "poll.changed" if chosen else "poll.withdrawn",
            "unchanged": "poll.unchanged" if chosen else "poll.nothing_to_change",
            "locked": "poll.locked",
        }.get(res.status, "poll.closed")
        text = self._say(key, turn, chosen=chosen)
        d.replies.append(Outgoing(text=text))
        d.events.append(("poll.vote", {"poll_id": pid, "status": res.status}))
        return d


class EngagementTimer:
    """Opens, closes and draws on time. `native` posts native polls; `member` checks membership."""

    def __init__(self, engagement: Engagement, dispatch: Callable[[], Awaitable[Any]], *,
                 native: NativePolls | None = None, member: MemberCheck | None = None) -> None:
        self.e = engagement
        self.dispatch = dispatch
        self.native = native
        self.member = member

    async def tick(self) -> None:
        g, p = self.e.giveaways, self.e.polls
        work = bool(g.open_due())
        _, convs = p.open_due()
        work = work or bool(convs)
        if self.native is not None:
            for poll, chat in p.unposted_native():
                if not p.claim_post(poll.id, chat):
                    continue  # another process is posting it
                try:
                    native_id, message_id = await self.native.post(poll, chat)
                except Exception as exc:  # noqa: BLE001 - retried on the next tick
                    log.warning("posting poll %s to %s failed: %s", poll.id, chat, type(exc).__name__)
                    p.record_post(poll.id, chat, None, None)
                    continue
                p.record_post(poll.id, chat, native_id, message_id)
        closed = p.close_due()
        work = work or bool(closed)
        for _pid, posts in closed:
            for post in posts:
                if self.native is not None and post.message_id:
                    with contextlib.suppress(Exception):
                        await self.native.stop(post.chat_id, post.message_id)
        g.close_due()
        for gid in g.undrawn():
            try:
                work = bool(await g.draw(gid, self.member)) or work
            except Exception as exc:  # noqa: BLE001 - e.g. membership unknown: retried next tick
                log.warning("draw of giveaway %s postponed: %s", gid, exc)
        if work:  # announcements, results, winner notices: sent now (else the outbox poller does)
            await self.dispatch()

    async def run(self, stop: asyncio.Event, interval_s: float = 5.0) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - a failing round never stops the timer
                log.exception("engagement tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
