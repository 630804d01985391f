"""The Telegram channel: python-telegram-bot as the transport, fancare's store as the inbox.

    getUpdates / webhook POST -> classify (telegram_updates) -> store.record_inbound (durable)
    -> confirm to Telegram (next getUpdates offset / HTTP 200) -> pipeline.process -> outbox
    -> TelegramChannel.send (split, buttons, rate limits; 429/5xx become retries in the outbox)

We call `Bot.get_updates` ourselves instead of PTB's `Updater`, because the Updater confirms an
update (advances the offset) as soon as it is fetched; we confirm only after our own commit, so a
process killed at any point loses nothing, and the `update_id` dedup in the store makes every
redelivery harmless. PTB's per-chat dicts are not used: dialog state lives in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters, Update, User
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot.app import App
from bot.channels.base import Incoming, PermanentSendError, RetryableSendError
from bot.channels.telegram_edits import apply_edit
from bot.channels.telegram_engagement import record_poll_answer, run_engagement
from bot.channels.telegram_text import split_message
from bot.channels.telegram_updates import ALLOWED_UPDATES, CHANNEL, GROUP_TYPES, Edit, PollAnswer, classify
from bot.config import TelegramConfig, secret
from bot.ops.leader import Leadership
from bot.ops.rate_limits import SharedRateLimiter, SharedTelegramLimits, shared_limits_wanted, telegram_limits
from bot.pipeline import Pipeline, storable
from bot.store import Message, Store
from dialogs.domain import Button, Outgoing
from dialogs.policy import Decision
from nlu.model import ParseResult

__all__ = ["TelegramChannel", "TelegramService", "build_bot", "serve"]

log = logging.getLogger("fancare.telegram")
# httpx logs every request URL at INFO, and a Bot API URL contains the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
CALLBACK_DATA_MAX_BYTES = 64
#: replies may repeat a fan's words (an operator's relay, an echoed order number): never preview links
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
RECOVER_EVERY_S = 10.0
#: the `leases` row naming the one process that polls getUpdates (bot/ops/leader.py)
LEADER_LEASE = "telegram:polling"


def build_bot(cfg: TelegramConfig, store: Store | None = None) -> ExtBot[Any]:
    """A PTB bot with Telegram's flood limits (overall, per group) and separate connection pools for
    the long poll and for sends, so a long poll never blocks a reply. With `store` and
    `rate_limits.shared` on (auto: a PostgreSQL store) the limits are kept in the store for every
    process together (bot/ops/rate_limits.py); otherwise in this process (PTB's AIORateLimiter)."""
    token = secret(cfg.token) or ""
    rl = cfg.rate_limits
    limiter: AIORateLimiter | SharedTelegramLimits
    if store is not None and shared_limits_wanted(rl.shared, store):
        overall, group, chat = telegram_limits(rl.overall_per_s, rl.group_per_min, rl.chat_per_s)
        limiter = SharedTelegramLimits(SharedRateLimiter(store), token.partition(":")[0] or "bot",
                                       overall, group, chat)
    else:
        limiter = AIORateLimiter(overall_max_rate=rl.overall_per_s, overall_time_period=1,
                                 group_max_rate=rl.group_per_min, group_time_period=60, max_retries=0)
    return ExtBot(token, base_url=cfg.base_url or DEFAULT_BASE_URL,
                  request=HTTPXRequest(connection_pool_size=max(8, cfg.max_concurrency), read_timeout=15.0),
                  get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=cfg.poll_timeout_s + 15.0),
                  rate_limiter=limiter)


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Inline buttons whose callback data is the response's payload (Telegram caps it at 64 bytes)."""
    rows = [[InlineKeyboardButton(b.title, callback_data=b.payload)] for b in buttons
            if len(b.payload.encode()) <= CALLBACK_DATA_MAX_BYTES]
    return InlineKeyboardMarkup(rows) if rows else None


class TelegramChannel:
    """The outbound half (the pipeline's `Channel` port) plus the group gate.

    Replies are plain text (no parse mode), so nothing a fan or an article says can break markup.
    Errors map onto the outbox's retry rules: 429 -> retry after Telegram's `retry_after`; 5xx and
    network errors -> retry with backoff; "blocked by the user", "chat not found" -> dead.
    """

    name = CHANNEL

    def __init__(self, bot: ExtBot[Any], cfg: TelegramConfig, me: User | None = None) -> None:
        self.bot = bot
        self.cfg = cfg
        self.me = me
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _limiter(self, chat_id: int) -> contextlib.AbstractAsyncContextManager[Any]:
        if chat_id < 0 or isinstance(self.bot.rate_limiter, SharedTelegramLimits):
            return contextlib.nullcontext()  # groups: the bot's rate limiter applies it; shared: all of them
        lim = self._chat_limiters.get(chat_id)
        if lim is None:
            if len(self._chat_limiters) > 10_000:
                self._chat_limiters.clear()
            rate = self.cfg.rate_limits.chat_per_s
            lim = self._chat_limiters[chat_id] = AsyncLimiter(max_rate=3 * rate, time_period=3)
        return lim

    async def send(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                   meta: dict[str, Any] | None = None) -> str | None:
        return await self.send_parts(chat_id, message, reply_to=reply_to, meta=meta)

    async def send_parts(self, chat_id: str, message: Outgoing, *, reply_to: str | None = None,
                         meta: dict[str, Any] | None = None, start: int = 0,
                         on_part: Callable[[int], None] | None = None) -> str | None:
        """Send a message in parts of at most 4096 UTF-16 units, from part `start`. `on_part(n)` is
        told after each part of a long message, so the pipeline can store the progress: a retry,
        even in a new process after a crash, goes on from the first part not sent."""
        parts = split_message(message.text)
        cid = int(chat_id)
        last_id: int | None = None
        for i in range(start, len(parts)):
            reply = (ReplyParameters(int(reply_to), allow_sending_without_reply=True)
                     if reply_to and i == 0 else None)
            markup = _keyboard(message.buttons) if i == len(parts) - 1 else None
            async with self._limiter(cid):
                sent = await self._call(self.bot.send_message(cid, parts[i], reply_parameters=reply,
                                                              reply_markup=markup, link_preview_options=NO_PREVIEW))
            last_id = sent.message_id
            if on_part is not None and i + 1 < len(parts):
                on_part(i + 1)
        # Telegram message ids are unique per chat only; the store's external ids are per channel
        return f"{chat_id}:{last_id}" if last_id is not None else None

    @staticmethod
    async def _call(coro: Any) -> Any:
        try:
            return await coro
        except RetryAfter as exc:
            raise RetryableSendError("telegram: flood control (429)", retry_after=_seconds(exc.retry_after)) from exc
        except ChatMigrated as exc:
            raise PermanentSendError(f"telegram: chat migrated to {exc.new_chat_id}") from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentSendError(f"telegram: {type(exc).__name__}: {exc.message}") from exc
        except (NetworkError, TelegramError) as exc:  # 5xx, timeouts, connection errors
            raise RetryableSendError(f"telegram: {type(exc).__name__}") from exc

    def gate(self, meta: dict[str, Any], parse: ParseResult, state: dict[str, Any],
             decision: Decision) -> Decision:
        """Group etiquette, applied by the pipeline after the policy decided.

        In a group the bot answers when addressed, or unasked for `public_intents` (e.g. FAQ).
        Sensitive matters (`private_intents`) move to a private chat with a deep link; the group
        gets no details. A silenced message keeps the conversation's state unchanged."""
        if meta.get("chat_type") not in GROUP_TYPES:
            return decision
        intent = None if parse.fallback else parse.intent
        if not meta.get("addressed") and intent not in self.cfg.public_intents:
            return Decision(state=state, action="telegram:not_addressed")
        if intent in self.cfg.private_intents and self.me is not None and self.me.username:
            link = f"https://t.me/{self.me.username}?start=g{abs(int(meta.get('chat_id', 0)))}"
            text = (f"Let's sort this out in a private chat, so your details stay private: {link}")
            return Decision(state=state, action="telegram:moved_private", replies=[Outgoing(text=text)],
                            events=[("telegram.moved_private", {"intent": intent})])
        return decision


class TelegramService:
    """Receives updates (polling or webhook), records them, processes them from the store."""

    def __init__(self, app: App, cfg: TelegramConfig, bot: ExtBot[Any] | None = None, role: str = "all") -> None:
        self.app = app
        self.cfg = cfg
        #: "all": receive and process (one process); "receiver": record updates only, workers process
        #: them (bot/workers.py); "worker": receive nothing, only the outbound half and the timers
        self.role = role
        self.pipeline: Pipeline = app.pipeline
        self.bot = bot or build_bot(cfg, app.store)
        self.channel = TelegramChannel(self.bot, cfg)
        self._sem = asyncio.Semaphore(cfg.max_concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.offset: int | None = None
        self.metrics = self.pipeline.metrics
        self.webhook_port: int | None = None
        self.ready = asyncio.Event()  # set once updates are being received
        self.leadership: Leadership | None = None  # polling mode: the lease that says who polls

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the messages in flight (drain) and return."""
        async with self.bot:
            me = await self.bot.get_me()
            self.channel.me = me
            self.pipeline.add_channel(self.channel)
            if self.role == "all":  # receivers never process; workers take leftovers from the work queue
                self._spawn(self.pipeline.recover())  # what a previous process left unfinished
            log.info("telegram: connected as bot id %s in %s mode (%s)", me.id, self.cfg.mode, self.role)
            janitor = asyncio.create_task(self._recover_loop(stop), name="telegram-recover")
            timer = asyncio.create_task(self._timers(stop), name="engagement")
            try:
                if self.role == "worker":  # sends and timers only: the receivers take the updates
                    self.ready.set()
                    await stop.wait()
                elif self.cfg.mode == "webhook":
                    from bot.channels.telegram_webhook import run_webhook

                    await run_webhook(self, stop)
                else:
                    await self.bot.delete_webhook(drop_pending_updates=False)
                    self.ready.set()
                    await self.poll_as_leader(stop)
            finally:
                janitor.cancel()
                if not stop.is_set():
                    timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer  # a round in progress finishes its sends (never cut mid-send)
                await self.drain()

    async def drain(self) -> None:
        """Wait for every recorded update being processed; then send what is left in the outbox."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pipeline.dispatch()
        log.info("telegram: drained")

    async def _recover_loop(self, stop: asyncio.Event) -> None:
        """Messages left `processing` by a killed process are re-run when their lease expires."""
        if self.role != "all":  # a worker's queue takes expired leases; a receiver processes nothing
            return
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RECOVER_EVERY_S)
            if stop.is_set():
                return
            try:
                await self.pipeline.recover()
            except Exception:  # noqa: BLE001 - try again next round
                log.exception("telegram: recovery round failed")

    async def _timers(self, stop: asyncio.Event) -> None:
        """Engagement rounds (polls, giveaways) run where messages are processed, not in a receiver."""
        if self.role != "receiver":
            await run_engagement(self.app, self.bot, stop)

    # -- polling --------------------------------------------------------------------------------
    async def poll_as_leader(self, stop: asyncio.Event) -> None:
        """Poll only while this process holds the polling lease: Telegram serves one getUpdates client
        at a time, and several `fancare run` processes may share the store. A follower keeps
        processing and sending, and takes over when the holder releases the lease (a graceful stop)
        or stops renewing it (it died). Polling stops the moment leadership is lost, before the lease
        can expire for the others; the lease is released only after polling has stopped."""
        leadership = Leadership(self.pipeline.store, LEADER_LEASE, ttl_s=self.cfg.leader_ttl_s)
        self.leadership = leadership
        self.app.metrics.polling_leader = lambda: leadership.is_leader
        polled = asyncio.Event()  # ends the election after the last poll: the release comes last
        keeper = asyncio.create_task(leadership.run(polled), name="telegram-leader")
        try:
            while not stop.is_set():
                await _first_of(stop, leadership.leading)
                if stop.is_set():
                    return
                term = asyncio.Event()  # this term's end: a stop, or leadership lost
                watcher = asyncio.create_task(_set_on_first(term, stop, leadership.following))
                try:
                    await self.poll(term, leadership.check)
                finally:
                    watcher.cancel()
                await _first_of(stop, leadership.following)  # the election notices a lapsed term too
        finally:
            polled.set()
            with contextlib.suppress(Exception):
                await keeper

    async def poll(self, stop: asyncio.Event, may_poll: Callable[[], bool] | None = None) -> None:
        """Long-poll getUpdates. The offset (Telegram's confirmation) advances only past updates that
        `ingest` has committed; a failure before that makes Telegram deliver them again. `may_poll`
        is asked before each request (leadership that ran out while the loop was busy ends polling
        even before the `stop` event's waiter runs)."""
        backoff = 1.0
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                if may_poll is not None and not may_poll():
                    return
                fetch = asyncio.create_task(self.bot.get_updates(
                    offset=self.offset, timeout=self.cfg.poll_timeout_s, allowed_updates=ALLOWED_UPDATES))
                await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    with contextlib.suppress(BaseException):
                        await fetch
                    return
                try:
                    updates = fetch.result()
                except RetryAfter as exc:
                    await self._sleep(stop, _seconds(exc.retry_after))
                    continue
                except (InvalidToken, Conflict) as exc:
                    log.error("telegram: getUpdates refused (%s); retrying in 30s", type(exc).__name__)
                    await self._sleep(stop, 30.0)
                    continue
                except (NetworkError, TelegramError) as exc:
                    log.warning("telegram: getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
                    await self._sleep(stop, backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                backoff = 1.0
                if not updates:
                    continue
                try:
                    await self.ingest(updates)
                except Exception:  # noqa: BLE001 - e.g. the database is down: do not confirm
                    log.exception("telegram: could not record %d updates; they will be fetched again", len(updates))
                    await self._sleep(stop, 2.0)
                    continue
                self.offset = updates[-1].update_id + 1
        finally:
            stopper.cancel()

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    # -- the durable inbox ------------------------------------------------------------------------
    async def ingest(self, updates: Sequence[Update]) -> None:
        """Commit every update to the store, in order, then schedule its processing. Returns once the
        updates are durable: that is the moment the caller may confirm them to Telegram."""
        me = self.channel.me
        assert me is not None
        for update in updates:
            try:
                item = classify(update, me, self.cfg)
                if isinstance(item, Edit):
                    await self._edit(item)
                elif isinstance(item, Incoming):
                    self._record(item)
                elif isinstance(item, PollAnswer):
                    record_poll_answer(self.app, item)
                else:
                    self.metrics["telegram_ignored"] += 1
            except (OperationalError, InterfaceError):
                raise  # the database is unreachable: nothing is confirmed, the batch comes again
            except Exception as exc:  # noqa: BLE001 - one bad update must not stop everyone
                self._quarantine(update, exc)

    def _quarantine(self, update: Update, exc: Exception) -> None:
        """Keep an update that cannot be recorded for inspection (its raw JSON, ASCII-escaped, in the
        audit log as `telegram.quarantined`), count it, log it once and tell the operators, so the
        poll loop moves on. When even that write fails (the database is down), the error goes up and
        the batch is fetched again, as before."""
        try:
            raw = json.dumps(update.to_dict(), ensure_ascii=True, default=str)
        except Exception:  # noqa: BLE001
            raw = json.dumps(repr(update), ensure_ascii=True)
        with self.pipeline.store.session() as s:
            self.pipeline.store.audit(s, "telegram.quarantined", data={
                "update_id": update.update_id, "error": type(exc).__name__, "raw": raw[:100_000]})
        self.metrics["telegram_quarantined"] += 1
        log.error("telegram: update %s could not be recorded (%s); quarantined in the audit log",
                  update.update_id, type(exc).__name__, exc_info=exc)
        note = getattr(self.pipeline.operators, "note", None)
        if note is not None:
            self._spawn(self._note(note, f"Telegram update {update.update_id} could not be recorded "
                                         f"({type(exc).__name__}) and was quarantined (audit log)."))

    @staticmethod
    async def _note(note: Any, text: str) -> None:
        with contextlib.suppress(Exception):
            await note(text)

    def _record(self, item: Incoming) -> None:
        rec = self.pipeline.store.record_inbound(
            channel=item.channel, external_id=item.external_id, chat_id=item.chat_id, user_id=item.user_id,
            text=storable(item.text), display_name=item.display_name, language=item.language,
            payload=dict(item.meta))
        cq_id = item.meta.get("callback_query_id")
        if cq_id:
            self._spawn(self._answer_callback(cq_id))
        if not rec.created:
            self.metrics["duplicates"] += 1
            if rec.status == "handled":
                return
        else:
            self.metrics["received"] += 1
        typing = self.cfg.typing_indicator and item.meta.get("chat_type") == "private"
        if self.role == "receiver":  # a worker takes it from the store (bot/workers.py)
            if typing:
                self._spawn(self._typing(int(item.chat_id), message_id=rec.message_id))
            return
        self._spawn(self._work(rec.message_id, rec.conversation_id, int(item.chat_id) if typing else None))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, message_id: int, conversation_id: int, typing_chat: int | None) -> None:
        """One recorded update through the pipeline. A failure never stops the loop: the message
        stays unfinished in the store and the recovery round runs it again."""
        typing = asyncio.create_task(self._typing(typing_chat)) if typing_chat is not None else None
        try:
            async with self._sem:
                await self.pipeline.process(message_id, conversation_id)
                await self.pipeline.dispatch(conversation_id)
        except Exception:  # noqa: BLE001
            log.exception("telegram: processing message %s failed", message_id)
        finally:
            if typing is not None:
                typing.cancel()

    async def _typing(self, chat_id: int, message_id: int | None = None) -> None:
        """"typing..." once the reply has taken `typing_after_s` (queued or slow): a reply that is out
        sooner needs none, and each indicator is a Bot API call counted against the bot's rate. A
        receiver (no reply of its own to wait for) asks the store whether a worker answered meanwhile."""
        await asyncio.sleep(self.cfg.typing_after_s)
        if message_id is not None and await self.pipeline.store.run(self._answered, message_id):
            return
        with contextlib.suppress(TelegramError):
            await self.bot.send_chat_action(chat_id, "typing")

    def _answered(self, message_id: int) -> bool:
        with self.pipeline.store.session() as s:
            return s.scalar(select(Message.status).where(Message.id == message_id)) in ("handled", "dead")

    async def _answer_callback(self, callback_query_id: str) -> None:
        """Stop the button's spinner. Best effort: an expired query is not worth a retry."""
        with contextlib.suppress(TelegramError):
            await self.bot.answer_callback_query(callback_query_id)

    async def _edit(self, edit: Edit) -> None:
        res = apply_edit(self.pipeline.store, edit)
        if res is None:
            self.metrics["telegram_edits_ignored"] += 1
            return
        self.metrics["telegram_edits"] += 1
        if edit.moderate:  # post clean, then edit into a scam link: the edit is judged in groups
            try:
                await self.pipeline.moderate_edit(res.message_id, storable(edit.text), dict(edit.meta), {
                    "channel": CHANNEL, "chat_id": edit.chat_id, "user_id": edit.user_id})
            except Exception:  # noqa: BLE001 - the edit is stored; moderation is best effort
                log.exception("telegram: moderating an edit failed")
        if res.escalation_id is not None:
            try:
                await self.pipeline.operators.fan_message(res.escalation_id, f"(edited) {edit.text}")
            except Exception:  # noqa: BLE001 - the transcript already has the edit
                log.exception("telegram: operator notification of an edit failed")


async def _first_of(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _set_on_first(target: asyncio.Event, *events: asyncio.Event) -> None:
    await _first_of(*events)
    target.set()


async def serve(app: App, stop: asyncio.Event, role: str = "all") -> None:
    """`fancare run` entry point: serve `channels.telegram` in `role` until `stop`, then drain."""
    cfg = app.cfg.channels.telegram
    if cfg is None:
        raise RuntimeError("channels.telegram is not configured")
    await TelegramService(app, cfg, role=role).run(stop)
