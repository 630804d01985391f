"""The durable operator outbox: every Slack write is a `SlackPost` row first, then delivered.

Delivery keeps each escalation's posts in id order (the card before the messages in its thread),
waits as long as Slack's 429 `Retry-After` says without counting it as a failure, backs off on
5xx and network errors, and dead-letters a post after `max_attempts` failures (logged at WARNING
without its text, audited, listed by `fancare inbox`). A post that crashed mid-send is retried
when its lease expires, so the guarantee is at-least-once with duplicates only in that window.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.ops.rate_limits import Limit, SharedRateLimiter
from bot.store import Store
from bot.store.models import utcnow
from bot.store.slack_models import SlackPost, SlackTicket

log = logging.getLogger("fancare.slack.outbox")


def rowcount(result: Any) -> int:
    """Rows an UPDATE matched: the atomic "did I win" answer (typed loosely by SQLAlchemy)."""
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class _Claimed:
    id: int
    escalation_id: int
    kind: str
    channel: str
    text: str
    blocks: list[Any]
    in_thread: bool
    attempts: int


#: Slack's chat.postMessage allows about one message per second per channel, short bursts tolerated
SLACK_CHANNEL_LIMIT = Limit(1.0, burst=3)


class SlackOutbox:
    """Delivers posts in order. On PostgreSQL (several processes may deliver) each post first takes
    its channel's next send slot in the shared `rate_slots` (bot/ops/rate_limits.py), so all workers
    together keep Slack's per-channel pace; one process alone relies on Slack's 429 `Retry-After`."""

    def __init__(self, store: Store, client: AsyncWebClient, *, max_attempts: int = 8,
                 backoff_s: float = 1.0, max_backoff_s: float = 300.0, lease_s: float = 30.0,
                 shared_pace: bool | None = None) -> None:
        self.store = store
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.lease_s = lease_s
        self._lock = asyncio.Lock()
        on_server = store.engine.dialect.name == "postgresql"
        self.pace = SharedRateLimiter(store) if (on_server if shared_pace is None else shared_pace) else None

    @staticmethod
    def enqueue(s: Session, escalation_id: int, kind: str, channel: str, text: str, *,
                blocks: list[Any] | None = None, in_thread: bool = True) -> SlackPost:
        """Add a post inside the caller's transaction, so it commits with the state it reports."""
        post = SlackPost(escalation_id=escalation_id, kind=kind, channel=channel, text=text,
                         blocks=blocks or [], in_thread=in_thread, status="pending", attempts=0)
        s.add(post)
        return post

    async def deliver(self) -> int:
        """Send every due post; stop at the first retryable failure (Slack is down or throttling,
        the rest would fail the same way). Returns how many were delivered. Never raises."""
        sent = 0
        async with self._lock:
            while True:
                post = self._claim_next()
                if post is None:
                    return sent
                try:
                    ts = await self._send(post)
                except SlackApiError as exc:
                    if not self._failed(post, exc):
                        return sent
                    continue
                except Exception as exc:  # noqa: BLE001 - network errors: back off and retry later
                    self._retry_later(post, type(exc).__name__, None)
                    return sent
                self._mark_sent(post, ts)
                sent += 1

    # -- claiming ------------------------------------------------------------------------------
    def _claim_next(self) -> _Claimed | None:
        now = utcnow()
        prev = aliased(SlackPost)
        with self.store.session() as s:
            # heads of their escalations' queues only: posts behind a retrying head never fill the page
            q = (select(SlackPost)
                 .where(or_(SlackPost.status == "pending",
                            and_(SlackPost.status == "sending", SlackPost.lease_until < now)),
                        or_(SlackPost.next_attempt_at.is_(None), SlackPost.next_attempt_at <= now),
                        ~select(prev.id).where(prev.escalation_id == SlackPost.escalation_id, prev.id < SlackPost.id,
                                               prev.status.in_(("pending", "sending"))).exists())
                 .order_by(SlackPost.id).limit(50))
            for p in s.scalars(q):
                older = s.scalar(select(SlackPost.id).where(
                    SlackPost.escalation_id == p.escalation_id, SlackPost.id < p.id,
                    SlackPost.status.in_(("pending", "sending"))).limit(1))
                if older is not None:
                    continue
                res = s.execute(update(SlackPost).where(SlackPost.id == p.id, SlackPost.status == p.status)
                                .values(status="sending", lease_until=now + timedelta(seconds=self.lease_s),
                                        attempts=SlackPost.attempts + 1))
                if rowcount(res):
                    return _Claimed(p.id, p.escalation_id, p.kind, p.channel, p.text, list(p.blocks or []),
                                    p.in_thread, p.attempts + 1)
        return None

    # -- sending -------------------------------------------------------------------------------
    async def _send(self, post: _Claimed) -> str | None:
        if self.pace is not None:  # one round trip; the post's lease (30 s) outlasts the wait
            await self.pace.wait([(f"slack:channel:{post.channel}", SLACK_CHANNEL_LIMIT)])
        if post.kind == "erase":  # privacy erasure (bot/privacy.py): edit the card, delete the rest
            return await self._erase(post)
        with self.store.session() as s:
            ticket = s.get(SlackTicket, post.escalation_id)
            channel = ticket.channel if ticket is not None and ticket.ts else post.channel
            thread_ts = ticket.ts if ticket is not None else None
        if post.kind == "update":
            if not thread_ts:
                return None  # the card never made it (dead-lettered): nothing to update
            await self.client.chat_update(channel=channel, ts=thread_ts, text=post.text,
                                          blocks=post.blocks or None)
            return thread_ts
        if post.kind == "file":  # a PNG (the crisis chart): files.getUploadURLExternal + upload + complete
            spec = dict(post.blocks[0]) if post.blocks else {}
            resp = await self.client.files_upload_v2(
                channel=channel, content=base64.b64decode(spec.get("file_png_b64", "")),
                filename=str(spec.get("filename") or "chart.png"), title=str(spec.get("title") or ""),
                initial_comment=post.text)
            files = resp.get("files") or [{}]
            return str((files[0] or {}).get("id") or "") or None
        kwargs: dict[str, Any] = {"channel": channel, "text": post.text, "unfurl_links": False,
                                  "unfurl_media": False}
        if post.blocks:
            kwargs["blocks"] = post.blocks
        if post.in_thread and thread_ts and post.kind != "card":
            kwargs["thread_ts"] = thread_ts
        resp = await self.client.chat_postMessage(**kwargs)
        ts = str(resp.get("ts")) if resp.get("ts") else None
        if post.kind == "card":
            with self.store.session() as s:
                ticket = s.get(SlackTicket, post.escalation_id)
                if ticket is not None:
                    ticket.ts = ts
                    ticket.channel = str(resp.get("channel") or channel)
        return ts

    async def _erase(self, post: _Claimed) -> str | None:
        spec = dict(post.blocks[0]) if post.blocks else {}
        ts = str(spec.get("ts") or "")
        if not ts:
            return None
        try:
            if spec.get("action") == "update":
                await self.client.chat_update(channel=post.channel, ts=ts, text=post.text, blocks=[])
            else:
                await self.client.chat_delete(channel=post.channel, ts=ts)
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            if data.get("error") != "message_not_found":  # already gone (deleted in Slack): done
                raise
        return ts

    def _failed(self, post: _Claimed, exc: SlackApiError) -> bool:
        """Handle an API error; True when delivery may go on with the next post."""
        status = getattr(exc.response, "status_code", None)
        code = str((exc.response.data or {}).get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429:
            headers = exc.response.headers or {}
            try:
                retry_after = float(headers.get("Retry-After", headers.get("retry-after", 1)))
            except (TypeError, ValueError):
                retry_after = 1.0
            self._retry_later(post, "ratelimited", retry_after, counts=False)
            return False
        if status is not None and (status >= 500 or code in ("internal_error", "fatal_error",
                                                              "service_unavailable", "request_timeout")):
            self._retry_later(post, code or f"http_{status}", None)
            return False
        self._dead(post, code or f"http_{status}")  # a refusal (channel_not_found, invalid_blocks): final
        return True

    def _retry_later(self, post: _Claimed, error: str, retry_after: float | None, counts: bool = True) -> None:
        if counts and post.attempts >= self.max_attempts:
            self._dead(post, error)
            return
        delay = retry_after if retry_after is not None else min(self.backoff_s * 2 ** (post.attempts - 1),
                                                                 self.max_backoff_s)
        with self.store.session() as s:
            s.execute(update(SlackPost).where(SlackPost.id == post.id).values(
                status="pending", lease_until=None, error=error[:250],
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                attempts=SlackPost.attempts if counts else SlackPost.attempts - 1))
        log.info("slack post %s (%s, escalation #%s) will be retried in %.1fs: %s", post.id, post.kind,
                 post.escalation_id, delay, error)

    def _dead(self, post: _Claimed, error: str) -> None:
        with self.store.session() as s:
            s.execute(update(SlackPost).where(SlackPost.id == post.id).values(
                status="dead", lease_until=None, error=error[:250]))
            self.store.audit(s, "slack.dead_letter", data={"post_id": post.id, "kind": post.kind,
                                                           "escalation_id": post.escalation_id, "error": error[:200]})
        log.warning("slack post %s (%s, escalation #%s) dead-lettered after %s attempts: %s", post.id, post.kind,
                    post.escalation_id, post.attempts, error)

    def _mark_sent(self, post: _Claimed, ts: str | None) -> None:
        with self.store.session() as s:
            s.execute(update(SlackPost).where(SlackPost.id == post.id).values(
                status="sent", lease_until=None, ts=ts, sent_at=utcnow(), error=None))

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Poll for due posts (retries, posts queued by other processes) until `stop` is set."""
        while not stop.is_set():
            await self.deliver()
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
