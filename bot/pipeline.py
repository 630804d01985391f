"""The one path every message takes, whatever the channel.

    record inbound (idempotent) -> per-conversation lock -> NLU -> signals (on the NLU's embedding)
    -> moderation verdict -> dialog policy -> actions -> persist outbound + state + moderation record
    in one transaction -> send (retried, in order) -> platform moderation actions (the crisis watch reads the store)

Crash safety: the inbound row is written before anything else; processing results and the outbound
rows are committed together with the inbound's "handled" status. A crash before that commit leaves
the message "received"/"processing" and `recover()` re-runs it; a crash after it leaves outbound rows
"pending" and the dispatcher sends them. Only a crash between a platform accepting a message and
our "sent" commit can repeat a send (counted in `metrics["possible_duplicate_sends"]`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, insert, select, update

from bot.channels.base import Channel, Incoming, PermanentSendError, RetryableSendError
from bot.operators import LocalInbox, OperatorInbox
from bot.store import AuditEvent, Contact, Conversation, Escalation, Message, NLUResult, Store
from bot.store.clean import display_name as clean_display_name
from bot.store.clean import storable  # noqa: F401 - `bot.pipeline.storable` is the one text cleaner
from bot.store.models import epoch_seconds, utcnow
from dialogs.arbitration import FAQ_SCORE
from dialogs.domain import Button, Domain, Outgoing
from dialogs.policy import SILENT_INTENTS, URGENT_ASK, Decision, DialogPolicy, EscalationRequest, Turn
from dialogs.repair import is_question
from dialogs.waiting import PUBLIC_CHAT_TYPES, WaitingRules, wait_reply
from moderation import ModerationPolicy, Verdict
from moderation.actions import Target
from moderation.context import PRIVATE, in_context, is_toxic, relay_text, where
from moderation.service import Moderator
from moderation.signals import Signals
from nlu.conversation_language import STATE_KEY as LANGUAGE_KEY
from nlu.conversation_language import LanguageChoice, choose_language, confirmation
from nlu.encoders import get_encoder
from nlu.language import DEFAULT_LANGUAGES, detect_language
from nlu.language import configure as configure_languages
from nlu.model import ParseResult
from nlu.service import NLUService

log = logging.getLogger("fancare.pipeline")
MAX_SEND_ATTEMPTS = 8
#: processing tries of one inbound message before it is dead-lettered and the operators are told
MAX_INBOUND_ATTEMPTS = 5
#: most messages' results committed in one transaction (`Pipeline._commit_soon`)
COMMIT_BATCH = 64


def is_admin_message(meta: dict[str, Any]) -> bool:
    """Who no rule acts on: a group admin, an anonymous admin (sent as the group itself) and the
    brand's channel speaking under its own post. A comment under a channel post is a fan's."""
    if meta.get("is_admin"):
        return True
    sender_chat = meta.get("sender_chat")
    if sender_chat is None:
        return False
    post = meta.get("channel_post") or {}
    return str(sender_chat) in (str(meta.get("chat_id")), str(post.get("chat_id")), str(meta.get("linked_chat_id")))


def _signal_summary(sig: Signals) -> dict[str, Any]:
    """What an operator sees on an escalation: how the fan sounds and what was found (no values)."""
    return {"sentiment": sig.sentiment, "sentiment_score": round(sig.sentiment_score, 3),
            "offensive": round(sig.offensive, 3), "hate": round(sig.hate, 3), "spam": round(sig.spam, 3),
            "pii": sorted(sig.pii), "language": sig.language}


def _sent_at(meta: dict[str, Any], stored_at: datetime) -> float:
    """When the fan sent a message, in epoch seconds: the platform's timestamp (`sent_at`, Telegram's
    `date`) when it is plausible, else the time fancare stored it."""
    stored = epoch_seconds(stored_at)
    sent = meta.get("sent_at")
    if isinstance(sent, (int, float)) and not isinstance(sent, bool) and stored - 86_400 * 7 <= sent <= stored + 60:
        return float(sent)
    return stored


def _load_for_serving(model: Any, kb: Any) -> None:
    """`Pipeline.warm`'s thread: the language identifier, the model's encoders and the knowledge
    base's index for each (its articles encoded: a minute on a loaded machine without the cache
    file), each built once per process (the loaders keep a cache and a lock, so this waits for a
    load already under way)."""
    detect_language("warm-up")
    names = list(getattr(model, "encoder_names", []))
    for name in names:
        get_encoder(name, model.encoder_paths.get(name))
    if kb is not None:
        kb.warm(names)


@dataclass
class _Inbound:
    """What processing one message reads from the store, in the transaction that leases its conversation
    and claims it (`Pipeline._lease_claim_read`); `_commit` reuses it instead of loading the rows again."""

    channel: str
    text: str
    meta: dict[str, Any]
    external_id: str | None
    state: dict[str, Any]
    esc_info: tuple[int, str] | None
    place: int | None
    name: str | None
    language: str | None
    who: dict[str, str]
    arrived: float
    received_at: datetime
    recent: list[tuple[str, float]]
    pressed: bool
    #: set by `_commit` when the results commit also let go of the conversation lease
    released: bool = False


#: `_lease_claim_read`'s answer while another process holds the conversation lease
_BUSY = object()


class _NotClaimed(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Rolls back `_lease_claim_read`'s transaction (the lease with it) when the message is not ours."""


@dataclass(frozen=True)
class HandleResult:
    message_id: int
    conversation_id: int
    duplicate: bool = False
    replies: int = 0
    debug: dict[str, Any] | None = None


class Pipeline:
    def __init__(self, store: Store, nlu: NLUService, policy: DialogPolicy, domain: Domain, *,
                 moderation: ModerationPolicy | None = None, operators: OperatorInbox | None = None,
                 channels: dict[str, Channel] | None = None, queue_priority: dict[str, str] | None = None,
                 transcript_messages: int = 10, moderator: Moderator | None = None) -> None:
        self.store = store
        self.nlu = nlu
        self.policy = policy
        self.domain = domain
        self.moderator = moderator or Moderator(policy=moderation or ModerationPolicy())
        self.moderation = self.moderator.policy
        self.operators: OperatorInbox = operators or LocalInbox()
        self.channels: dict[str, Channel] = dict(channels or {})
        self.queue_priority = queue_priority or {}
        self.transcript_messages = transcript_messages
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.metrics: Counter[str] = Counter()
        self._locks: dict[int, asyncio.Lock] = {}
        self.last_debug: dict[int, dict[str, Any]] = {}
        self._chat_ids: dict[int, str] = {}
        self._released: set[int] = set()
        #: polls and giveaways (dialogs.engagement.Engagement), asked before the policy when set
        self.engagement: Any = None
        #: the crisis playbook (moderation.playbook.CrisisPlaybook): adjusts decisions while it is on
        self.playbook: Any = None
        #: while a ticket waits for a person: support hours, wait estimate, FAQ answers (`escalation:`)
        self.waiting = WaitingRules()
        #: the current time (aware) for support hours; tests set it
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        #: the outbound send lease (renewed while a send waits, e.g. in a rate limiter); inbound lease
        self.send_lease_s = 30.0
        self.inbound_lease_s = 60.0
        #: the languages fans are answered in (`brand.languages`) and the one used before any is known
        self.languages: list[str] = list(DEFAULT_LANGUAGES)
        self.default_language = "en"
        #: bot/ops/metrics.py's OpsMetrics when served by `fancare run`: told of each message processed and sent
        self.observer: Any = None
        #: `time.monotonic()` after which no further send is started (a stop within its deadline); None: no limit
        self.send_until: float | None = None
        #: `warm()`'s loading, per NLU model served (a swapped-in model may read another encoder)
        self._warming: tuple[Any, asyncio.Future[None]] | None = None
        #: results waiting for the next batched commit (`_commit_soon`), and whether one is running
        self._commit_queue: list[tuple[tuple[Any, ...], _Inbound, asyncio.Future[Any]]] = []
        self._committing = False

    async def warm(self) -> None:
        """Load, in a thread, what a message would otherwise wait for *on the event loop*: every
        encoder the NLU model reads (with `encoder: cascade` MiniLM loads in the background after
        `NLUModel.load`, and the first burst shed to it used to block the loop until torch was
        imported: seconds in which nobody was answered), the knowledge base's index (built on the first
        FAQ question otherwise: 68 s of a stalled loop measured on a loaded machine) and the language
        identifier (`set_languages` starts it in the background; `detect_language` waits for it under
        a lock). `process` awaits
        this before its first parse; `fancare run` can await it before taking work. Cheap once done."""
        model = getattr(self.nlu, "model", None)
        if self._warming is None or self._warming[0] is not model:
            kb = getattr(self.policy, "kb", None)
            self._warming = (model, asyncio.ensure_future(asyncio.to_thread(_load_for_serving, model, kb)))
        await asyncio.shield(self._warming[1])

    def set_languages(self, languages: list[str], default: str, *, high_accuracy: bool = False,
                      warm: bool = True, table: Path | None = None) -> None:
        """The brand's languages; the identifier for them loads now, in the background (seconds), not
        on the first fan's message. `warm=False` (a receiver, which processes no message): on first use."""
        self.languages = list(dict.fromkeys([default, *languages]))
        self.default_language = default
        configure_languages(self.languages, high_accuracy=high_accuracy, warm=warm, table=table)

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    # -- entry point ------------------------------------------------------------------------------
    async def handle(self, incoming: Incoming) -> HandleResult:
        """Process one fan message end to end. Delivering the same message twice answers it once."""
        rec = await self.store.run(
            self.store.record_inbound, channel=incoming.channel, external_id=incoming.external_id, chat_id=incoming.chat_id,
            user_id=incoming.user_id, text=storable(incoming.text), display_name=incoming.display_name,
            language=incoming.language, payload=dict(incoming.meta))
        if not rec.created:
            self.metrics["duplicates"] += 1
            if rec.status == "handled":
                await self.dispatch(rec.conversation_id)
                return HandleResult(rec.message_id, rec.conversation_id, duplicate=True)
        self.metrics["received"] += 1
        replies = await self.process(rec.message_id, rec.conversation_id)
        await self.dispatch(rec.conversation_id)
        return HandleResult(rec.message_id, rec.conversation_id, duplicate=not rec.created, replies=replies,
                            debug=self.last_debug.pop(rec.message_id, None))

    async def recover(self) -> int:
        """Finish what a crashed or stopped process left: unprocessed inbound, unsent outbound."""
        n = 0
        for mid in self.store.unfinished_inbound():
            with self.store.session() as s:
                m = s.get(Message, mid)
                conv_id = m.conversation_id if m else None
            if m is not None and m.attempts >= MAX_INBOUND_ATTEMPTS:
                await self._dead_inbound(m)
                continue
            if conv_id is not None and m is not None and m.channel in self.channels:
                try:
                    await self.process(mid, conv_id)
                except Exception:  # noqa: BLE001 - one failing message must not hold up the others
                    log.exception("recovery of message %s failed (attempt %s)", mid, m.attempts + 1)
                    continue
                n += 1
        await self.dispatch()
        return n

    async def _dead_inbound(self, m: Message) -> None:
        """An inbound message that failed every time: dead-letter it and tell the operators once."""
        if not self.store.dead_letter_inbound(m.id, f"processing failed {m.attempts} times"):
            return
        self.metrics["inbound_dead"] += 1
        log.error("inbound message %s (%s) dead-lettered after %s attempts", m.id, m.channel, m.attempts)
        note = getattr(self.operators, "note", None)
        if note is not None:
            try:
                await note(f"A fan message (#{m.id} on {m.channel}) could not be processed after "
                           f"{m.attempts} attempts and was set aside; the fan got no answer.")
            except Exception:  # noqa: BLE001 - the dead letter is stored either way
                log.exception("operator note about inbound message %s failed", m.id)

    # -- ordering -----------------------------------------------------------------------------------
    @asynccontextmanager
    async def conversation_lock(self, conversation_id: int, *, lease: bool = True) -> AsyncIterator[None]:
        """In-process lock plus a store lease, so two processes never interleave one conversation.
        `lease=False`: the caller takes the store lease itself, in its first transaction (`process`)."""
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        async with lock:
            delay = 0.005
            while lease and not await self.store.run(self.store.try_lock_conversation, conversation_id, self.owner):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            try:
                yield
            finally:
                if conversation_id in self._released:  # `_commit` already let go of the lease
                    self._released.discard(conversation_id)
                else:
                    await self.store.run(self.store.unlock_conversation, conversation_id, self.owner)

    # -- processing -----------------------------------------------------------------------------------
    async def _begin(self, message_id: int, conversation_id: int) -> _Inbound | None:
        """Lease the conversation, claim the message and read what processing needs, in one
        transaction off the event loop; retried with backoff while another process holds the lease.
        None: the message is not ours to process (handled, or leased by a live worker)."""
        delay = 0.005
        while True:
            got = await self.store.run(self._lease_claim_read, message_id, conversation_id)
            if got is not _BUSY:
                return got if isinstance(got, _Inbound) else None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _lease_claim_read(self, message_id: int, conversation_id: int) -> _Inbound | object | None:
        """`_begin`'s transaction (runs in the store's thread pool): _BUSY when the conversation lease is
        another's, None when the claim fails (then the lease update is rolled back with it)."""
        try:
            with self.store.session() as s:
                if not self.store.try_lock_conversation(conversation_id, self.owner, session=s):
                    return _BUSY
                if not self.store.claim_inbound(message_id, lease_s=self.inbound_lease_s, session=s):
                    raise _NotClaimed
                row = s.execute(
                    select(Message.channel, Message.text, Message.payload, Message.external_id, Message.created_at,
                           Conversation.chat_id, Conversation.state, Conversation.active_escalation_id,
                           Contact.display_name, Contact.language, Contact.external_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .outerjoin(Contact, Contact.id == Conversation.contact_id)
                    .where(Message.id == message_id)).one()
                (channel, text, payload, external_id, created_at, chat_id, conv_state, active_esc,
                 contact_name, contact_language, user_id) = row
                meta = dict(payload or {})
                state = dict(conv_state or {})
                esc = s.get(Escalation, active_esc) if active_esc else None
                # the queue position for the one "waiting for a human" acknowledgement (one query)
                place = (self._queue_position(s, esc) if esc is not None and esc.state == "open"
                         and state.get("acked_escalation") != esc.id and self._gets_wait_text(esc, meta) else None)
                # the fan's earlier messages here within the flood window, from the store: every process
                # sharing the database counts the same flood (moderation/spam.py). Times are the platform's
                # send times where it gives them, so a backlog delivered at once after downtime is no flood.
                recent = [(t, _sent_at(pl or {}, at)) for t, at, pl in s.execute(
                    select(Message.text, Message.created_at, Message.payload).where(
                        Message.conversation_id == conversation_id, Message.direction == "in",
                        Message.id < message_id,
                        Message.created_at >= created_at - timedelta(seconds=self.moderator.flood_window_s))
                    .order_by(Message.id.desc()).limit(50))]
                # a button press forces an intent only when the bot itself sent that button in this chat
                pressed = bool(meta.get("button")) and self._bot_sent_button(s, channel, chat_id, text,
                                                                             meta.get("button_on"))
                return _Inbound(
                    channel=channel, text=text, meta=meta, external_id=external_id, state=state,
                    esc_info=(esc.id, esc.state) if esc is not None else None, place=place,
                    name=clean_display_name(contact_name), language=contact_language,
                    who={"channel": channel, "chat_id": chat_id, "user_id": user_id or ""},
                    arrived=_sent_at(meta, created_at), received_at=created_at, recent=recent, pressed=pressed)
        except _NotClaimed:
            return None

    async def process(self, message_id: int, conversation_id: int) -> int:
        try:  # before taking any lease: never block the loop on a loading encoder (seconds after start)
            await self.warm()
        except Exception:  # noqa: BLE001 - the parse below reports (and apologises) for a broken encoder
            log.exception("loading the NLU encoders or the language identifier failed")
        async with self.conversation_lock(conversation_id, lease=False):
            inbound = await self._begin(message_id, conversation_id)
            if inbound is None:
                return 0
            text, meta, state, esc_info, place = (inbound.text, inbound.meta, inbound.state, inbound.esc_info,
                                                  inbound.place)
            name, language, who, arrived = inbound.name, inbound.language, inbound.who, inbound.arrived
            received_at, recent, pressed = inbound.received_at, inbound.recent, inbound.pressed
            gate = getattr(self.channels.get(inbound.channel), "gate", None)
            parse: ParseResult | None = None
            lang_choice: LanguageChoice | None = None
            verdict = Verdict()
            signals: Signals | None = None
            relay = False
            try:
                parse = await self.nlu.parse(text, payload=pressed)
                signals, verdict = self._moderate(text, parse, meta, who, recent, arrived)
                context = where(meta)  # private / group / comment decides what the verdict may do
                verdict = in_context(verdict, context)
                owned = bool(esc_info and esc_info[1] in ("open", "claimed"))
                # the conversation's sticky language (nlu/conversation_language.py), not this message's alone
                lang_choice = choose_language(text, state, languages=self.languages, default=self.default_language,
                                              contact_language=language)
                turn = Turn(conversation_id, text, display_name=name, language=lang_choice.language)
                if verdict.blocks_reply:
                    decision = Decision(state=state, action=f"moderation:{verdict.action}")
                    relay = owned  # a human owns the conversation: they still see it, flagged
                elif meta.get("button") and not pressed:  # a forged or foreign button payload
                    decision = Decision(state=state, action="button:refused")
                    decision.replies.append(Outgoing(text=self.domain.phrase("button.unavailable", turn.language)))
                elif esc_info and esc_info[1] in ("open", "claimed"):
                    decision = self._while_escalated(parse, state, turn, esc_info, place=place,
                                                     private=meta.get("chat_type") not in PUBLIC_CHAT_TYPES)
                    relay = True
                elif lang_choice.request_only and (context == PRIVATE or lang_choice.reason == "command"):
                    # "/language es", "in English please" (in a group only the command): confirmed in that language
                    decision = Decision(state=state, action=f"language:{lang_choice.reason}")
                    decision.replies.append(Outgoing(text=confirmation(lang_choice, self.languages)))
                elif self.moderator.is_appeal(text):  # "why was my comment deleted?": a human answers
                    decision = Decision(state=state, action=f"escalate:{self.moderator.appeal_queue}")
                    decision.escalate = EscalationRequest(self.moderator.appeal_queue, {
                        "intent": "moderation_appeal", "language": parse.language,
                        "last_moderation": self.moderator.last_action(self.store, **who)})
                    decision.replies.append(Outgoing(text="", response="utter_handoff"))
                else:
                    hooked = self.engagement.decide(parse, state, turn, who, meta) if self.engagement else None
                    private = context == PRIVATE
                    # a request addressed to the bot in a group that moderation let through is answered
                    # like a private one, not silenced for a spam/abuse reading (BENCHMARKS.md section 12)
                    asked = private or bool(meta.get("addressed"))
                    decision = hooked or await self.policy.decide(
                        self._private_reading(parse, text, signals) if asked else parse, state, turn)
                    if gate is not None:  # the channel may silence or redirect (e.g. group chats)
                        decision = gate(meta, parse, state, decision)
                    if self.playbook is not None:  # a crisis: complaints to humans, public FAQ paused
                        decision = self.playbook.apply(meta, parse, state, turn, decision)
                    if private:  # never dropped without a word: boundary, "one moment", no silence
                        decision = self._private_care(decision, verdict, signals, parse, turn, arrived)
                if not verdict.blocks_reply and lang_choice.state:  # a hidden message never sets the language
                    decision.state = {**(decision.state or {}), **lang_choice.state}
            except Exception as exc:  # noqa: BLE001 - the fan gets an apology, the message stays
                log.error("pipeline error on message %s in conversation %s: %s", message_id, conversation_id,
                          type(exc).__name__, exc_info=True)
                self.metrics["errors"] += 1
                turn = Turn(conversation_id, text, display_name=name,
                            language=state.get(LANGUAGE_KEY) or language or self.default_language)
                decision = Decision(state=state, action="error")
                decision.replies.append(self.domain.render("utter_apology", {}, language=turn.language,
                                                           seed=str(message_id)))
            new_esc, item_id = await self._commit_soon(
                (message_id, conversation_id, parse, decision, turn, verdict,
                 esc_info[0] if relay and esc_info else None, signals, who), inbound,
                alone=decision.escalate is not None)
            if inbound.released:
                self._released.add(conversation_id)
        self.policy.note_languages(decision, turn)  # replies not in the fan's language, and why
        notes = decision.debug.get("language_notes") or []
        self.last_debug[message_id] = {
            "intent": parse.intent if parse else None,
            "confidence": round(parse.confidence, 3) if parse else None,
            "fallback": parse.fallback if parse else None,
            # "pl (utter_order_status: no pl translation, answered in en)" when a reply fell back
            "language": f"{turn.language} ({'; '.join(notes)})" if notes else turn.language,
            # this message's own reading and why the reply language is what it is (kept, switched, asked, ...)
            "detected_language": lang_choice.detected if lang_choice else None,
            "language_reason": lang_choice.reason if lang_choice else None,
            "encoder": parse.encoder if parse else None,
            "entities": [{"entity": e["entity"], "value": e["value"]} for e in (parse.entities if parse else [])],
            # the runners-up and the policy's steps: why a reading led to this action, for a trainer
            "ranking": [[i, round(c, 3)] for i, c in (parse.ranking[:3] if parse else [])],
            "events": [kind for kind, _ in decision.events],
            "action": decision.action,
            "article": next((d.get("article") for k, d in decision.events if k == "faq.answered"), None),
            "moderation": verdict.action,
            "moderation_rule": verdict.rule,
            "signals": signals.as_dict() if signals else None,
        }
        if len(self.last_debug) > 1000:
            self.last_debug.clear()
        if self.observer is not None:  # metrics: messages by intent and action, latency to replies stored
            self.observer.processed(who["channel"], conversation_id, epoch_seconds(received_at),
                                    self.last_debug[message_id], len(decision.replies))
        if new_esc is not None:
            await self._notify(self.operators.escalation_opened(new_esc[0], new_esc[1], new_esc[2]))
        if relay and esc_info:
            await self._notify(self.operators.fan_message(esc_info[0], relay_text(text, verdict, signals)))
        note = getattr(self.operators, "note", None)
        for kind, data in decision.events:
            if kind == "action.failed" and note is not None:  # the fan got an apology; the team gets a note
                await self._notify(note(f"custom action {data.get('action')} failed in flow {data.get('flow')} "
                                        f"(conversation {conversation_id}): {data.get('error')}"))
        await self._after_moderation(verdict, meta, who, item_id)
        return len(decision.replies)

    def _moderate(self, text: str, parse: ParseResult, meta: dict[str, Any], who: dict[str, str],
                  recent: list[tuple[str, float]] | None = None,
                  arrived: float | None = None) -> tuple[Signals | None, Verdict]:
        """Signals on the NLU's embedding, then the verdict. A failure here never costs the fan a
        reply: it is logged and the message is allowed (pattern rules still apply)."""
        try:
            signals = self.moderator.signals(text, embedding=parse.embedding, encoder=parse.encoder,
                                             sender=who["user_id"], chat=who["chat_id"], language=parse.language,
                                             recent=recent, now=arrived, intents=parse.ranking)
            admin = is_admin_message(meta)
            return signals, self.moderator.judge(self.store, text, signals, is_admin=admin, **who)
        except Exception as exc:  # noqa: BLE001
            log.error("moderation failed: %s", type(exc).__name__, exc_info=True)
            self.metrics["moderation_errors"] += 1
            return None, self.moderation.check(text)

    async def moderate_edit(self, message_id: int, text: str, meta: dict[str, Any],
                            who: dict[str, str]) -> Verdict:
        """An edited message in a group or under a channel post is judged like a new one (post clean,
        then edit it into a scam link): the verdict is recorded on the stored message `message_id`
        and enforced. The dialog does not run again; an edit never counts towards flood."""
        parse = await self.nlu.parse(text)
        _signals, verdict = self._moderate(text, parse, meta, who, [], epoch_seconds(utcnow()))
        item_id = None
        if verdict.action != "allow":
            with self.store.session() as s:
                m = s.get(Message, message_id)
                if m is None:
                    return verdict
                item_id = self.moderator.record(s, verdict, message_id=message_id,
                                                conversation_id=m.conversation_id, **who)
                self.store.audit(s, f"moderation.{verdict.action}", conversation_id=m.conversation_id,
                                 data={"message_id": message_id, "rule": verdict.rule, "dry_run": verdict.dry_run,
                                       "edited": True})
        await self._after_moderation(verdict, meta, who, item_id)
        return verdict

    async def _after_moderation(self, verdict: Verdict, meta: dict[str, Any], who: dict[str, str],
                                item_id: int | None) -> None:
        ext = meta.get("message_id")
        sender_chat = meta.get("sender_chat")
        target = Target(who["channel"], who["chat_id"], who["user_id"], str(ext) if ext is not None else None,
                        str(sender_chat) if sender_chat is not None else None)
        try:
            await self.moderator.after_commit(verdict, target)
        except Exception:  # noqa: BLE001 - the message is handled; moderation side effects are best effort
            log.exception("moderation side effects failed")
        if item_id is not None:  # the review queue (Slack posts it with Restore / Confirm / Ban)
            review = getattr(self.operators, "moderation_item", None)
            if review is not None:
                await self._notify(review(item_id))

    async def crisis_alert(self, alert: Any, history: list[tuple[int, int, int]]) -> None:
        """A crisis early-warning alert (moderation/crisis_feed.py) to the operator port, if it takes them."""
        notify = getattr(self.operators, "crisis_alert", None)
        if notify is not None:
            await self._notify(notify(alert, history))

    def _private_reading(self, parse: ParseResult, text: str, signals: Signals | None = None) -> ParseResult:
        """In a private chat spam and abuse are not reasons for silence: the policy reads the message
        as its next-best intent (a fallback when that one is unsure). Emoji-only messages keep their
        reading (the policy asks what happened); a scam or phishing link stays silenced (recorded)."""
        if parse.intent not in SILENT_INTENTS or not any(c.isalnum() for c in text):
            return parse
        if signals is not None and "scam_link" in signals.spam_reasons:
            return parse
        threshold = float(getattr(getattr(self.nlu, "model", None), "threshold", 0.5))
        for intent, conf in parse.ranking:
            if intent not in SILENT_INTENTS:
                return replace(parse, intent=intent, confidence=conf, fallback=parse.fallback or conf < threshold)
        return replace(parse, intent="out_of_scope", fallback=True)

    def _private_care(self, decision: Decision, verdict: Verdict, signals: Signals | None, parse: ParseResult,
                      turn: Turn, arrived: float) -> Decision:
        """A private chat (moderation/context.py): a calm boundary before the answer when the fan is
        abusive, one "I'm reading, one moment" per flood window, and never a silent decision."""
        seed = f"{turn.conversation_id}:{turn.text}"
        values = {"name": turn.display_name or "there"}
        front: list[Outgoing] = []
        abusive = is_toxic(verdict, signals) or (parse.intent == "abuse" and not parse.fallback)
        if abusive:
            front.append(self.domain.render("utter_calm_boundary", values, language=turn.language, seed=seed))
            decision.events.append(("moderation.boundary", {"rule": verdict.rule, "intent": parse.intent}))
            if (decision.action in ("fallback", "offer_human", "out_of_scope") and decision.escalate is None
                    and "utter_ask_what_happened" in self.domain.responses):
                # "you guys suck" and nothing else: not "Sorry, I didn't get that" after the boundary, but
                # what happened (and a button for a person)
                decision.replies = [self.domain.render("utter_ask_what_happened", values, language=turn.language,
                                                       seed=seed)]
                decision.action = "ask_what_happened"
        flood_at = next((r.min_score for r in self.moderation.rules if r.signal == "flood"), 8.0)
        if signals is not None and signals.flood >= flood_at:
            if arrived - float((decision.state or {}).get("flood_ack_at") or 0) > self.moderator.flood_window_s:
                front.append(self.domain.render("utter_reading_moment", values, language=turn.language, seed=seed))
                decision.state = {**(decision.state or {}), "flood_ack_at": arrived}
        scam = signals is not None and "scam_link" in signals.spam_reasons  # the one silence left
        if not decision.replies and decision.escalate is None and decision.action == "silent" and not scam:
            decision.replies.append(self.domain.render("utter_default", values, language=turn.language, seed=seed))
        decision.replies[:0] = front
        return decision

    def _while_escalated(self, parse: ParseResult, state: dict[str, Any], turn: Turn,
                         esc_info: tuple[int, str], *, place: int | None = None, private: bool = True) -> Decision:
        """A human has (or is about to have) the conversation: the bot relays and stays quiet,
        except for a crisis and, while nobody has claimed it, one acknowledgement (with the queue
        position or the support hours when `place` is given) and FAQ answers (`answer_while_waiting`)."""
        esc_id, esc_state = esc_info
        decision = Decision(state=state, action="relay")
        values: dict[str, Any] = {"ticket": esc_id, "name": turn.display_name or "there"}
        # a crisis reading pages the team from the bar at which a fan outside a ticket is asked about
        # one (`URGENT_ASK`); under it the message is relayed to the person, who reads it anyway
        # ("the picture from my beam projector is blurry": crisis 0.55, not an urgent page)
        if parse.intent == "crisis" and not parse.fallback and parse.confidence >= URGENT_ASK:
            decision.events.append(("escalation.upgraded", {"escalation_id": esc_id, "queue": "crisis"}))
            decision.replies.append(self.domain.render("utter_crisis", values, language=turn.language,
                                                       seed=str(esc_id)))
        elif esc_state == "open":
            if self.waiting.answer_while_waiting and private:
                self._answer_while_waiting(parse, turn, decision, esc_id)
            if state.get("acked_escalation") != esc_id:
                decision.state = {**state, "acked_escalation": esc_id}
                values["wait_text"] = self._wait_text(turn, esc_id, place) if place is not None else ""
                decision.replies.append(self.domain.render("utter_waiting_for_human", values,
                                                           language=turn.language, seed=str(esc_id)))
        return decision

    def _answer_while_waiting(self, parse: ParseResult, turn: Turn, decision: Decision, esc_id: int) -> None:
        """A FAQ question the knowledge base answers confidently (as the policy would), the ticket open."""
        faq = parse.intent == "faq" and not parse.fallback
        if not (faq or is_question(parse.text)):
            return
        # a question read as another intent ("what is your return policy?" -> refund) needs a closer article
        bar = self.policy.kb_threshold if faq else max(self.policy.kb_threshold, FAQ_SCORE)
        found = self.policy.answer_from_kb(parse, turn, bar)
        if found is not None:
            reply, data = found
            decision.replies.append(reply)
            decision.events.append(("faq.answered", {**data, "escalation_id": esc_id}))

    @staticmethod
    def _bot_sent_button(s: Any, channel: str, chat_id: str, payload: str, button_on: Any = None) -> bool:
        """True when `payload` is a button the bot sent in this chat (the pressed message first, when the
        channel names it, else the chat's recent outbound messages): forged callback data is not."""
        def has(p: dict[str, Any] | None) -> bool:
            return any(b.get("payload") == payload for b in (p or {}).get("buttons", []) if isinstance(b, dict))
        q = (select(Message.payload).join(Conversation, Conversation.id == Message.conversation_id)
             .where(Message.direction == "out", Message.channel == channel, Conversation.channel == channel,
                    Conversation.chat_id == chat_id))
        if button_on is not None and any(has(p) for p in s.scalars(
                q.where(Message.external_id.in_((str(button_on), f"{chat_id}:{button_on}"))))):
            return True
        return any(has(p) for p in s.scalars(q.order_by(Message.id.desc()).limit(1000)))

    @staticmethod
    def _gets_wait_text(esc: Escalation, meta: dict[str, Any] | None) -> bool:
        """Private chats outside the crisis queue are told when to expect a person (a crisis is urgent)."""
        return (esc.queue != "crisis" and esc.priority != "urgent"
                and (meta or {}).get("chat_type") not in PUBLIC_CHAT_TYPES)

    @staticmethod
    def _queue_position(s: Any, esc: Escalation) -> int:
        """1 + the unclaimed escalations of the same queue opened before this one."""
        ahead = s.scalar(select(func.count()).select_from(Escalation).where(
            Escalation.queue == esc.queue, Escalation.state == "open", Escalation.id < esc.id))
        return int(ahead or 0) + 1

    def _wait_text(self, turn: Turn, ticket: int, place: int) -> str:
        """"You're number 2 in the queue; ..." within support hours, else when the team is back."""
        name, values = wait_reply(self.waiting, place, self.clock(),
                                  phrase=lambda key, **v: self.domain.phrase(key, turn.language, **v))
        return self.domain.render(name, {**values, "ticket": ticket, "name": turn.display_name or "there"},
                                  language=turn.language, seed=str(ticket)).text

    async def _notify(self, coro: Any) -> None:
        try:
            await coro
        except Exception:  # noqa: BLE001 - the escalation is stored; the operator port retries on its own
            log.exception("operator notification failed")

    def _commit(self, message_id: int, conversation_id: int, parse: ParseResult | None, decision: Decision,
                turn: Turn, verdict: Verdict, relay_to: int | None, signals: Signals | None = None,
                who: dict[str, str] | None = None, *, inbound: _Inbound | None = None,
                session: Any = None) -> tuple[tuple[int, str, str] | None, int | None]:
        """Everything the message decided, in one transaction (`session`: one shared with other
        messages' commits, `_commit_many`); (escalation opened, moderation item id).
        Runs in the store's thread pool. Core statements, not ORM objects, on the common path: one
        INSERT of the NLU result, one of the replies, one of the audit events, one UPDATE each of the
        message ("handled") and of the conversation (state, and the lease let go in the same commit)."""
        new_esc: tuple[int, str, str] | None = None
        item_id: int | None = None
        audits: list[dict[str, Any]] = []

        def audit(kind: str, data: dict[str, Any]) -> None:
            audits.append({"kind": kind, "actor": "fancare", "conversation_id": conversation_id, "data": data,
                           "at": utcnow()})

        with self.store.session() if session is None else nullcontext(session) as s:
            if inbound is None:  # (a caller outside `process`): the few fields the commit needs
                channel, text, payload, external_id = s.execute(
                    select(Message.channel, Message.text, Message.payload, Message.external_id)
                    .where(Message.id == message_id)).one()
                payload = dict(payload or {})
            else:
                channel, text, payload, external_id = inbound.channel, inbound.text, inbound.meta, inbound.external_id
            conv_values: dict[str, Any] = {}
            if parse is not None:
                s.execute(insert(NLUResult).values(
                    message_id=message_id, intent=parse.intent, confidence=parse.confidence,
                    fallback=parse.fallback, ranking=[list(r) for r in parse.ranking[:5]],
                    entities=parse.entities, language=parse.language, encoder=parse.encoder,
                    model_version=parse.model_version, created_at=utcnow(),
                    signals={"moderation": verdict.action, "rule": verdict.rule,
                             **({"verdict": verdict.details} if verdict.action != "allow" else {}),
                             **(signals.as_dict() if signals else {})}))
            if verdict.action != "allow" and who is not None:
                item_id = self.moderator.record(s, verdict, message_id=message_id, conversation_id=conversation_id,
                                                **who)
            if verdict.action != "allow":
                audit(f"moderation.{verdict.action}",
                      {"message_id": message_id, "rule": verdict.rule, "dry_run": verdict.dry_run})
            if decision.escalate is not None:
                req = decision.escalate
                priority = req.priority or self.queue_priority.get(req.queue, "normal")
                transcript = self._transcript(s, conversation_id)
                reason = {**req.reason, **({"signals": _signal_summary(signals)} if signals else {})}
                esc = Escalation(conversation_id=conversation_id, queue=req.queue, priority=priority,
                                 reason=reason, transcript=transcript, state="open")
                s.add(esc)
                s.flush()
                conv_values["active_escalation_id"] = esc.id
                waiting = [i for i, r in enumerate(decision.replies) if r.text == "" and r.response]
                self.policy.render_escalated(decision, turn, esc.id)
                if waiting and self._gets_wait_text(esc, payload):  # "... (ticket #1). You're first in the queue"
                    last = decision.replies[waiting[-1]]
                    extra = self._wait_text(turn, esc.id, self._queue_position(s, esc))
                    decision.replies[waiting[-1]] = replace(last, text=f"{last.text} {extra}".strip())
                audit("escalation.opened", {"escalation_id": esc.id, "queue": req.queue, "priority": priority})
                new_esc = (esc.id, req.queue, priority)
            if relay_to is not None:
                esc2 = s.get(Escalation, relay_to)
                if esc2 is not None and any(k == "escalation.upgraded" for k, _ in decision.events):
                    esc2.queue, esc2.priority = "crisis", self.queue_priority.get("crisis", "urgent")
                    new_esc = (esc2.id, esc2.queue, esc2.priority)
                if esc2 is not None:
                    esc2.transcript = [*list(esc2.transcript or []), {"from": "fan", "text": text[:2000],
                                                                      "at": utcnow().isoformat()},
                                       *({"from": "bot", "text": r.text[:2000], "at": utcnow().isoformat()}
                                         for r in decision.replies if r.response == "utter_faq_answer")]
            if decision.csat is not None:
                esc3 = s.get(Escalation, decision.csat[0])
                if esc3 is not None:
                    esc3.csat = decision.csat[1]
                    audit("escalation.csat", {"escalation_id": esc3.id, "rating": decision.csat[1]})
            now = utcnow()
            outbound = []
            for r in decision.replies:
                if not r.text:
                    continue
                out_payload = r.as_payload()
                if external_id:
                    out_payload["reply_to"] = payload.get("reply_to_id") if payload else None
                outbound.append({"conversation_id": conversation_id, "direction": "out", "channel": channel,
                                 "external_id": None, "sender": "bot", "text": storable(r.text),
                                 "payload": out_payload, "status": "pending", "attempts": 0, "created_at": now})
            if outbound:  # one executemany, in reply order (the outbox sends by id)
                s.execute(insert(Message), outbound)
            for kind, data in decision.events:
                audit(kind, {"message_id": message_id, **data})
            if audits:
                s.execute(insert(AuditEvent), audits)
            s.execute(update(Message).where(Message.id == message_id)
                      .values(status="handled", handled_at=now, lease_until=None))
            # the conversation lease is let go in the same commit (only if it is still this process's)
            mine = Conversation.lock_owner == self.owner
            s.execute(update(Conversation).where(Conversation.id == conversation_id).values(
                state=decision.state, updated_at=now, **conv_values,
                lock_owner=case((mine, None), else_=Conversation.lock_owner),
                lock_until=case((mine, None), else_=Conversation.lock_until)))
        if inbound is not None:
            inbound.released = True
        else:
            self._released.add(conversation_id)
        return new_esc, item_id

    async def _commit_soon(self, args: tuple[Any, ...], inbound: _Inbound, *, alone: bool = False,
                           ) -> tuple[tuple[int, str, str] | None, int | None]:
        """`_commit` off the loop, batched: while one commit runs, the results of other conversations
        that finish meanwhile queue up and are committed together in the next transaction (like the
        NLU's encoder batches: no timer, a lone message commits at once). Each message keeps its own
        all-or-nothing commit because a failed batch is rolled back and its messages are committed
        one by one. `alone`: a commit that opens an escalation renders replies with the new ticket
        number, so it never joins a batch that might be rolled back and retried."""
        if alone or self.store.workers == 0:
            return await self.store.run(self._commit, *args, inbound=inbound)
        fut: asyncio.Future[tuple[tuple[int, str, str] | None, int | None]] = (
            asyncio.get_running_loop().create_future())
        self._commit_queue.append((args, inbound, fut))
        if not self._committing:
            self._committing = True
            asyncio.get_running_loop().create_task(self._drain_commits())
        return await fut

    async def _drain_commits(self) -> None:
        try:
            while self._commit_queue:
                await asyncio.sleep(0)  # let results that finish together join the batch
                batch, self._commit_queue = self._commit_queue[:COMMIT_BATCH], self._commit_queue[COMMIT_BATCH:]
                results: list[Any] | None = None
                if len(batch) > 1:
                    try:
                        results = await self.store.run(self._commit_many, [(a, i) for a, i, _ in batch])
                        self.metrics["batched_commits"] += 1
                    except Exception:  # noqa: BLE001 - retried one by one below: one bad message fails alone
                        log.warning("a batch of %s commits failed; committing them one by one", len(batch))
                for n, (args, inbound, fut) in enumerate(batch):
                    if fut.done():  # cancelled while waiting
                        continue
                    if results is not None:
                        fut.set_result(results[n])
                        continue
                    try:
                        fut.set_result(await self.store.run(self._commit, *args, inbound=inbound))
                    except Exception as exc:  # noqa: BLE001 - the message's own `process` reports it
                        fut.set_exception(exc)
        finally:
            self._committing = False

    def _commit_many(self, jobs: list[tuple[tuple[Any, ...], _Inbound]],
                     ) -> list[tuple[tuple[int, str, str] | None, int | None]]:
        """Several messages' `_commit`s in one transaction (the store's thread pool)."""
        with self.store.session() as s:
            return [self._commit(*args, inbound=inbound, session=s) for args, inbound in jobs]

    def _transcript(self, s: Any, conversation_id: int) -> list[dict[str, Any]]:
        rows = list(s.scalars(select(Message).where(Message.conversation_id == conversation_id)
                              .order_by(Message.id.desc()).limit(self.transcript_messages)))
        return [{"from": m.sender, "text": m.text[:2000], "at": m.created_at.isoformat()} for m in reversed(rows)]

    # -- sending ----------------------------------------------------------------------------------------
    async def dispatch(self, conversation_id: int | None = None) -> int:
        """Send pending outbound messages (for one conversation, or all), oldest first, each once."""
        sent = 0
        while True:
            if self.send_until is not None and time.monotonic() >= self.send_until:
                return sent  # stopping: what is left stays in the outbox for the next start
            batch = await self.store.run(self.store.claim_outbound, conversation_id=conversation_id,
                                         lease_s=self.send_lease_s)
            batch = [m for m in batch if m.channel in self.channels]
            if not batch:
                return sent
            results = await asyncio.gather(*(self._send_one(m, more_in=conversation_id) for m in batch))
            sent += sum(ok for ok, _ in results)
            if not any(ok for ok, _ in results):
                return sent
            if conversation_id is not None and not any(more for _, more in results):
                return sent  # the conversation's last reply went out: no further claim needed

    def _chat_id(self, conversation_id: int) -> str:
        with self.store.session() as s:
            return s.scalar(select(Conversation.chat_id).where(Conversation.id == conversation_id)) or ""

    async def _send_one(self, m: Message, *, more_in: int | None = None) -> tuple[bool, bool]:
        """Send one claimed outbound message: (sent, more unsent in conversation `more_in`, when given)."""
        channel = self.channels[m.channel]
        chat_id = self._chat_ids.get(m.conversation_id)
        if chat_id is None:  # a conversation's chat never changes: look it up once
            chat_id = await self.store.run(self._chat_id, m.conversation_id)
            if len(self._chat_ids) > 100_000:
                self._chat_ids.clear()
            self._chat_ids[m.conversation_id] = chat_id
        payload = m.payload or {}
        out = Outgoing(text=m.text, buttons=tuple(Button(b["title"], b["payload"]) for b in payload.get("buttons", [])),
                       response=payload.get("response"))
        # claimed while "sending" (its lease expired): a worker died after starting this send, it may have gone
        # out. `claimed_from`: the status before the claim (the claim's update rewrites `m.status` to "sending")
        if getattr(m, "claimed_from", m.status) == "sending":
            self.metrics["possible_duplicate_sends"] += 1
        renew = asyncio.create_task(self._keep_lease(m.id))
        try:
            send_parts = getattr(channel, "send_parts", None)
            if send_parts is not None:  # long messages go out in parts: the progress is stored
                ext = await send_parts(chat_id, out, reply_to=payload.get("reply_to"), meta=payload,
                                       start=int(payload.get("parts_sent") or 0),
                                       on_part=lambda n: self.store.mark_parts_sent(m.id, n))
            else:
                ext = await channel.send(chat_id, out, reply_to=payload.get("reply_to"), meta=payload)
        except RetryableSendError as exc:
            renew.cancel()
            if exc.retry_after is not None:  # flood control: wait as told, never a failed attempt
                await self.store.run(self.store.mark_send_failed, m.id, str(exc), exc.retry_after, counts=False)
            else:
                retry = min(2 ** m.attempts, 300)
                await self.store.run(self.store.mark_send_failed, m.id, str(exc),
                                     retry if m.attempts < MAX_SEND_ATTEMPTS else None)
            self.metrics["send_retries"] += 1
            return False, False
        except PermanentSendError as exc:
            renew.cancel()
            await self.store.run(self.store.mark_send_failed, m.id, str(exc), None)
            self.metrics["send_dead"] += 1
            return False, False
        except Exception as exc:  # noqa: BLE001 - network errors and the like: retry with backoff
            renew.cancel()
            log.warning("send failed on %s: %s", m.channel, type(exc).__name__)
            await self.store.run(self.store.mark_send_failed, m.id, type(exc).__name__,
                                 min(2 ** m.attempts, 300) if m.attempts < MAX_SEND_ATTEMPTS else None)
            self.metrics["send_retries"] += 1
            return False, False
        except BaseException:  # cancelled: the lease lapses and the send is retried
            renew.cancel()
            raise
        renew.cancel()
        more = await self.store.run(self.store.mark_sent, m.id, ext, more_in=more_in)
        self.metrics["sent"] += 1
        if self.observer is not None:
            self.observer.sent(m.conversation_id)
        return True, more

    async def _keep_lease(self, message_id: int) -> None:
        """While a send is in progress (e.g. waiting in a rate limiter), keep its lease alive so no
        other worker claims it again and sends it twice."""
        while True:
            await asyncio.sleep(self.send_lease_s / 3)
            try:
                if not await self.store.run(self.store.renew_outbound_lease, message_id, self.send_lease_s):
                    return
            except Exception:  # noqa: BLE001 - try again next round
                log.warning("could not renew the send lease of message %s", message_id)

    async def run_outbox(self, interval_s: float = 0.5, stop: asyncio.Event | None = None) -> None:
        """Poll the outbox (operator replies written by other processes, retries that came due)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.dispatch()
            except Exception:  # noqa: BLE001
                log.exception("outbox dispatch failed")
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass
