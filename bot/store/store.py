"""`Store`: short transactions over the models; every cross-process guarantee is a SQL statement.

- inbound dedup: the unique (channel, direction, external_id) constraint;
- one worker per inbound message: a conditional UPDATE that claims it with a lease;
- per-conversation ordering across processes: a lease row-lock on the conversation;
- escalation claim: `UPDATE ... WHERE state = 'open'`, so two operators cannot both win.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import and_, create_engine, event, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.store.clean import display_name as clean_display_name
from bot.store.clean import storable, storable_value
from bot.store.clock import StoreClock
from bot.store.models import (
    AuditEvent,
    Base,
    Contact,
    Conversation,
    Escalation,
    Message,
    NLUResult,
    utcnow,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: PostgreSQL advisory lock held while migrating (held to the end of that transaction), "fancare" in hex
MIGRATION_LOCK_KEY = 0x66616E63617265
T = TypeVar("T")


@dataclass(frozen=True)
class InboundRecord:
    message_id: int
    conversation_id: int
    contact_id: int
    created: bool
    status: str


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _forbid_audit_change(*_: Any) -> None:
    raise AppendOnlyError("the audit log is append-only")


class Store:
    """Owns the engine. Methods open and commit their own short transactions."""

    def __init__(self, url: str, echo: bool = False, workers: int | None = None) -> None:
        self.url = url
        # hide_parameters: a failing statement's error and log never carry its bound values (fan text)
        kwargs: dict[str, Any] = {"echo": echo, "future": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: threads that run the message path's store work off the event loop (`run`): one on SQLite (it
        #: has one writer; a second thread would only wait in its busy handler), 4 on a server database;
        #: an in-memory SQLite database is one connection per thread, so there it stays on the caller's
        if workers is None:
            workers = 1 if url.startswith("sqlite") else 4
        self.workers = 0 if _in_memory(url) else max(0, workers)
        self._executor: ThreadPoolExecutor | None = None
        #: lease times: the database's clock on PostgreSQL (several hosts), this process's on SQLite
        self.clock = StoreClock(self.engine)
        #: how long a conversation lease lasts unless the caller says (renewed by each `try_lock_conversation`)
        self.conversation_lease_s = 30.0

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as conn:
            if self.clock.on_server:  # a receiver and workers starting together: one migrates, the others wait
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def drop_all(self) -> None:
        """Tests only: remove every table, including Alembic's version table."""
        from sqlalchemy import MetaData

        found = MetaData()
        found.reflect(self.engine)  # every table present, including ones no model declares (yet)
        found.drop_all(self.engine)
        Base.metadata.drop_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.engine.dispose()

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` (store work: SQL and the ORM around it) in the store's small thread
        pool, so the event loop keeps receiving, parsing and sending while it runs: sqlite3 and psycopg
        release the GIL inside their C calls, and the SQLAlchemy work of one message no longer stalls
        every other conversation. Bounded (`workers` threads): more would only queue on SQLite's
        single writer and on the GIL. With `workers=0` it runs inline."""
        if self.workers == 0:
            return fn(*args, **kwargs)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="fancare-store")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    # -- inbound --------------------------------------------------------------------------
    def contact_for(self, s: Session, channel: str, external_id: str, display_name: str | None,
                    language: str | None) -> Contact:
        c = s.scalar(select(Contact).where(Contact.channel == channel, Contact.external_id == external_id))
        if c is None:
            c = Contact(channel=channel, external_id=external_id, display_name=display_name, language=language)
            try:
                with s.begin_nested():
                    s.add(c)
            except IntegrityError:
                c = s.scalars(select(Contact).where(Contact.channel == channel,
                                                    Contact.external_id == external_id)).one()
        elif display_name and c.display_name != display_name and c.erased_at is None:
            c.display_name = display_name
        return c

    def conversation_for(self, s: Session, channel: str, chat_id: str, contact: Contact) -> Conversation:
        q = select(Conversation).where(Conversation.channel == channel, Conversation.chat_id == chat_id,
                                       Conversation.contact_id == contact.id)
        conv = s.scalar(q)
        if conv is None:
            conv = Conversation(channel=channel, chat_id=chat_id, contact_id=contact.id, state={})
            try:
                with s.begin_nested():
                    s.add(conv)
            except IntegrityError:
                conv = s.scalars(q).one()
        return conv

    def record_inbound(self, *, channel: str, external_id: str, chat_id: str, user_id: str, text: str,
                       display_name: str | None = None, language: str | None = None,
                       payload: dict[str, Any] | None = None) -> InboundRecord:
        """Persist an inbound message once. A second delivery returns the first record. Every field is
        cleaned like text (a lone surrogate in a name can never make the database refuse an update);
        the display name also loses bidi overrides and control characters (it is repeated to people)."""
        channel, external_id, chat_id, user_id, text = (storable_value(v) for v in (channel, external_id, chat_id,
                                                                                    user_id, text))
        display_name = clean_display_name(display_name)
        language = storable(language) if language is not None else None
        payload = storable_value(payload or {})
        with self.session() as s:
            # the hot path (a known fan in a known chat): one SELECT for contact and conversation, one
            # INSERT that is a no-op for a redelivery (ON CONFLICT DO NOTHING), and a commit; a new fan
            # adds one INSERT each for contact and conversation (no savepoints)
            insert_new = _insert_ignoring_duplicates(self.engine.dialect.name)
            if insert_new is not None:
                known = s.execute(
                    select(Contact.id, Contact.display_name, Contact.erased_at, Conversation.id)
                    .outerjoin(Conversation, and_(Conversation.contact_id == Contact.id,
                                                  Conversation.channel == channel, Conversation.chat_id == chat_id))
                    .where(Contact.channel == channel, Contact.external_id == user_id).limit(1)).first()
                if known is None or known[3] is None:  # a redelivery after an erasure is no new fan
                    seen = s.execute(_inbound_by_external_id(channel, external_id)).first()
                    if seen is not None:
                        return InboundRecord(seen[0], seen[1], seen[2], False, seen[3])
                now = utcnow()
                if known is None:
                    contact_id = s.scalar(insert_new(Contact).values(
                        channel=channel, external_id=user_id, display_name=display_name, language=language,
                        created_at=now).on_conflict_do_nothing().returning(Contact.id))
                    if contact_id is None:  # created meanwhile by another delivery
                        contact_id = s.scalar(select(Contact.id).where(Contact.channel == channel,
                                                                       Contact.external_id == user_id))
                    conv_id = None
                else:
                    contact_id, old_name, erased_at, conv_id = known
                    if display_name and old_name != display_name and erased_at is None:
                        s.execute(update(Contact).where(Contact.id == contact_id).values(display_name=display_name))
                if conv_id is None:
                    conv_id = s.scalar(insert_new(Conversation).values(
                        channel=channel, chat_id=chat_id, contact_id=contact_id, state={}, created_at=now,
                        updated_at=now).on_conflict_do_nothing().returning(Conversation.id))
                    if conv_id is None:
                        conv_id = s.scalar(select(Conversation.id).where(
                            Conversation.channel == channel, Conversation.chat_id == chat_id,
                            Conversation.contact_id == contact_id))
                new_id = s.scalar(insert_new(Message).values(
                    conversation_id=conv_id, direction="in", channel=channel, external_id=external_id, sender="fan",
                    text=text, payload=payload or {}, status="received", attempts=0, created_at=now)
                    .on_conflict_do_nothing().returning(Message.id))
                assert conv_id is not None and contact_id is not None
                if new_id is not None:
                    return InboundRecord(int(new_id), int(conv_id), int(contact_id), True, "received")
                seen = s.execute(_inbound_by_external_id(channel, external_id)).one()
                return InboundRecord(seen[0], seen[1], seen[2], False, seen[3])
            existing = s.scalar(select(Message).where(Message.channel == channel, Message.direction == "in",
                                                      Message.external_id == external_id))
            if existing is not None:
                conv = s.get(Conversation, existing.conversation_id)
                assert conv is not None
                return InboundRecord(existing.id, conv.id, conv.contact_id, False, existing.status)
            contact = self.contact_for(s, channel, user_id, display_name, language)
            conv = self.conversation_for(s, channel, chat_id, contact)
            msg = Message(conversation_id=conv.id, direction="in", channel=channel, external_id=external_id,
                          sender="fan", text=text, payload=payload or {}, status="received")
            try:
                with s.begin_nested():
                    s.add(msg)
            except IntegrityError:
                msg = s.scalars(select(Message).where(Message.channel == channel, Message.direction == "in",
                                                      Message.external_id == external_id)).one()
                return InboundRecord(msg.id, conv.id, contact.id, False, msg.status)
            return InboundRecord(msg.id, conv.id, contact.id, True, "received")

    def claim_inbound(self, message_id: int, lease_s: float = 60.0, session: Session | None = None) -> bool:
        """Take the message for processing unless it is handled or leased by a live worker.
        With `session`, the claim joins that transaction (the pipeline claims and reads in one)."""
        now = self.clock.now()
        stmt = (update(Message)
                .where(Message.id == message_id, Message.direction == "in",
                       or_(Message.status == "received",
                           and_(Message.status == "processing", Message.lease_until < now)))
                .values(status="processing", lease_until=self.clock.later(lease_s),
                        attempts=Message.attempts + 1))
        if session is not None:
            return bool(_rows(session.execute(stmt)))
        with self.session() as s:
            return bool(_rows(s.execute(stmt)))

    def dead_letter_inbound(self, message_id: int, error: str) -> bool:
        """Give up on an inbound message that failed processing every time (status "dead")."""
        with self.session() as s:
            m = s.get(Message, message_id)
            if m is None or m.direction != "in" or m.status in ("handled", "dead"):
                return False
            m.status, m.lease_until, m.error = "dead", None, error[:250]
            self.audit(s, "inbound.dead", conversation_id=m.conversation_id,
                       data={"message_id": m.id, "attempts": m.attempts, "error": error[:200]})
            return True

    def unfinished_inbound(self, channel: str | None = None, limit: int = 500) -> list[int]:
        """Inbound messages a crashed or stopped worker left behind (received, or lease expired)."""
        now = self.clock.now()
        with self.session() as s:
            q = select(Message.id).where(Message.direction == "in", or_(
                Message.status == "received", and_(Message.status == "processing", Message.lease_until < now)))
            if channel:
                q = q.where(Message.channel == channel)
            return list(s.scalars(q.order_by(Message.id).limit(limit)))

    # -- conversation lease -----------------------------------------------------------------
    def try_lock_conversation(self, conversation_id: int, owner: str, ttl_s: float | None = None,
                              session: Session | None = None) -> bool:
        """With `session`, the lease joins that transaction (the pipeline leases, claims and reads in one)."""
        now = self.clock.now()
        stmt = (update(Conversation)
                .where(Conversation.id == conversation_id,
                       or_(Conversation.lock_owner.is_(None), Conversation.lock_owner == owner,
                           Conversation.lock_until < now))
                .values(lock_owner=owner, lock_until=self.clock.later(
                    self.conversation_lease_s if ttl_s is None else ttl_s)))
        if session is not None:
            return bool(_rows(session.execute(stmt)))
        with self.session() as s:
            return bool(_rows(s.execute(stmt)))

    def unlock_conversation(self, conversation_id: int, owner: str) -> None:
        with self.session() as s:
            s.execute(update(Conversation)
                      .where(Conversation.id == conversation_id, Conversation.lock_owner == owner)
                      .values(lock_owner=None, lock_until=None))

    # -- outbox -----------------------------------------------------------------------------
    def claim_outbound(self, conversation_id: int | None = None, channel: str | None = None,
                       lease_s: float = 30.0, limit: int = 50) -> list[Message]:
        """Lease pending outbound messages, oldest first; for one conversation only the head of its queue."""
        now = self.clock.now()
        claimed: list[Message] = []
        if conversation_id is not None and channel is None:
            return self._claim_head(conversation_id, now, lease_s)
        with self.session() as s:
            q = select(Message).where(
                Message.direction == "out",
                or_(Message.status == "pending", and_(Message.status == "sending", Message.lease_until < now)),
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
            if conversation_id is not None:
                q = q.where(Message.conversation_id == conversation_id)
            if channel is not None:
                q = q.where(Message.channel == channel)
            # only the heads of their conversations' queues: a retrying (not due) or in-flight head
            # keeps its later messages out of the scan, so blocked rows can never fill the page
            prev = aliased(Message)
            q = q.where(~select(prev.id).where(
                prev.conversation_id == Message.conversation_id, prev.direction == "out", prev.id < Message.id,
                prev.status.in_(("pending", "sending"))).exists())
            seen_convs: set[int] = set()
            for m in s.scalars(q.order_by(Message.id).limit(limit)):
                # keep per-conversation order: skip a conversation whose older message is not sent yet
                if m.conversation_id in seen_convs:
                    continue
                older = s.scalar(select(Message.id).where(
                    Message.conversation_id == m.conversation_id, Message.direction == "out",
                    Message.id < m.id, Message.status.in_(("pending", "sending"))).limit(1))
                if older is not None:
                    continue
                m.claimed_from = m.status  # type: ignore[attr-defined]  # "sending": its lease expired in flight
                res = s.execute(update(Message).where(Message.id == m.id, Message.status == m.status)
                                .values(status="sending", lease_until=self.clock.later(lease_s),
                                        attempts=Message.attempts + 1))
                if _rows(res):
                    seen_convs.add(m.conversation_id)
                    claimed.append(m)
        return claimed

    def _claim_head(self, conversation_id: int, now: Any, lease_s: float) -> list[Message]:
        """The hot path after each reply: lease the oldest unsent message of one conversation, if
        it is due (two statements; a newer message never overtakes an older one)."""
        with self.session() as s:
            head = s.scalar(select(Message).where(
                Message.conversation_id == conversation_id, Message.direction == "out",
                Message.status.in_(("pending", "sending"))).order_by(Message.id).limit(1))
            if head is None:
                return []
            head.claimed_from = head.status  # type: ignore[attr-defined]  # the update below syncs `status`
            # not while another worker's send lease is alive, nor before its retry time (later messages
            # wait behind it); both compared on the store's clock, inside the UPDATE
            res = s.execute(update(Message).where(
                Message.id == head.id, Message.status == head.status,
                or_(Message.status == "pending", Message.lease_until < now),
                or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
                            .values(status="sending", lease_until=self.clock.later(lease_s),
                                    attempts=Message.attempts + 1))
            return [head] if _rows(res) else []

    def mark_sent(self, message_id: int, external_id: str | None, *, more_in: int | None = None) -> bool:
        """Record a send. With `more_in` (a conversation id), also say in the same transaction whether
        that conversation has further unsent messages, so a dispatcher that sent a conversation's last
        reply needs no further round trip to learn it is done. Without it, False."""
        values: dict[str, Any] = {"status": "sent", "handled_at": utcnow(), "lease_until": None}
        if external_id is not None:
            values["external_id"] = external_id
        with self.session() as s:
            s.execute(update(Message).where(Message.id == message_id).values(**values))
            if more_in is None:
                return False
            return s.scalar(select(Message.id).where(
                Message.conversation_id == more_in, Message.direction == "out",
                Message.status.in_(("pending", "sending"))).limit(1)) is not None

    def renew_outbound_lease(self, message_id: int, lease_s: float) -> bool:
        """Extend the lease of a send in progress (a reply waiting in a rate limiter is still ours)."""
        with self.session() as s:
            return bool(_rows(s.execute(update(Message).where(Message.id == message_id, Message.status == "sending")
                                        .values(lease_until=self.clock.later(lease_s)))))

    def mark_send_failed(self, message_id: int, error: str, retry_in_s: float | None,
                         counts: bool = True) -> None:
        """`counts=False` (flood control, 429): the attempt is given back, it never nears the dead letter."""
        with self.session() as s:
            m = s.get(Message, message_id)
            if m is None:
                return
            m.error = error[:250]
            m.lease_until = None
            if not counts:
                m.attempts = max(0, (m.attempts or 0) - 1)
            if retry_in_s is None:
                m.status = "dead"
                self.audit(s, "outbox.dead", conversation_id=m.conversation_id,
                           data={"message_id": m.id, "error": error[:200]})
            else:
                m.status = "pending"
                m.next_attempt_at = self.clock.later(retry_in_s)  # compared with the same clock by the claim

    def add_outbound(self, s: Session, conversation: Conversation, text: str, sender: str = "bot",
                     payload: dict[str, Any] | None = None) -> Message:
        m = Message(conversation_id=conversation.id, direction="out", channel=conversation.channel,
                    external_id=None, sender=sender, text=text, payload=payload or {}, status="pending")
        s.add(m)
        return m

    # -- escalations --------------------------------------------------------------------------
    def claim_escalation(self, escalation_id: int, operator: str) -> tuple[bool, Escalation | None]:
        """Atomic: exactly one of two simultaneous claims wins. Returns (won, escalation)."""
        with self.session() as s:
            res = s.execute(update(Escalation)
                            .where(Escalation.id == escalation_id, Escalation.state == "open")
                            .values(state="claimed", claimed_by=operator, claimed_at=utcnow()))
            won = bool(_rows(res))
            esc = s.get(Escalation, escalation_id)
            if won and esc is not None:
                self.audit(s, "escalation.claimed", actor=operator, conversation_id=esc.conversation_id,
                           data={"escalation_id": escalation_id})
            return won, esc

    def close_escalation(self, escalation_id: int, operator: str, state: str) -> Escalation | None:
        """Resolve or hand back: the conversation returns to the bot."""
        assert state in ("resolved", "handed_back")
        with self.session() as s:
            esc = s.get(Escalation, escalation_id)
            if esc is None or esc.state in ("resolved", "handed_back"):
                return None
            esc.state = state
            esc.resolved_at = utcnow()
            if esc.claimed_by is None:
                esc.claimed_by = operator
            conv = s.get(Conversation, esc.conversation_id)
            if conv is not None and conv.active_escalation_id == esc.id:
                conv.active_escalation_id = None
                st = dict(conv.state or {})
                st["fallbacks"] = 0
                if state == "resolved":
                    st["awaiting_csat"] = esc.id
                conv.state = st
            self.audit(s, f"escalation.{state}", actor=operator, conversation_id=esc.conversation_id,
                       data={"escalation_id": escalation_id})
            return esc

    def mark_parts_sent(self, message_id: int, parts: int) -> None:
        """How many parts of a long outbound message have reached the platform (a retry skips them)."""
        with self.session() as s:
            m = s.get(Message, message_id)
            if m is not None:
                m.payload = {**dict(m.payload or {}), "parts_sent": parts}

    def escalations(self, states: tuple[str, ...] = ("open", "claimed")) -> list[Escalation]:
        with self.session() as s:
            return list(s.scalars(select(Escalation).where(Escalation.state.in_(states)).order_by(Escalation.id)))

    # -- audit --------------------------------------------------------------------------------
    @staticmethod
    def audit(s: Session, kind: str, *, actor: str = "fancare", conversation_id: int | None = None,
              data: dict[str, Any] | None = None) -> None:
        s.add(AuditEvent(kind=kind, actor=actor, conversation_id=conversation_id, data=data or {}))

    # -- privacy ------------------------------------------------------------------------------
    def find_contact(self, s: Session, channel: str, external_id: str) -> Contact | None:
        return s.scalar(select(Contact).where(Contact.channel == channel, Contact.external_id == external_id))

    def export_contact(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """Everything stored about one fan, as JSON-ready data (GDPR access request)."""
        with self.session() as s:
            c = self.find_contact(s, channel, external_id)
            if c is None:
                return None
            convs = list(s.scalars(select(Conversation).where(Conversation.contact_id == c.id)))
            out: dict[str, Any] = {
                "contact": {"channel": c.channel, "external_id": c.external_id, "display_name": c.display_name,
                            "language": c.language, "created_at": c.created_at.isoformat()},
                "conversations": [],
            }
            for conv in convs:
                msgs = s.scalars(select(Message).where(Message.conversation_id == conv.id).order_by(Message.id))
                escs = s.scalars(select(Escalation).where(Escalation.conversation_id == conv.id))
                out["conversations"].append({
                    "chat_id": conv.chat_id, "state": conv.state,
                    "messages": [{"direction": m.direction, "sender": m.sender, "text": m.text,
                                  "at": m.created_at.isoformat()} for m in msgs],
                    "escalations": [{"id": e.id, "queue": e.queue, "state": e.state, "transcript": e.transcript,
                                     "csat": e.csat} for e in escs],
                })
            out.update(self._engagement_and_moderation(s, channel, external_id))
            return out

    @staticmethod
    def _engagement_and_moderation(s: Session, channel: str, external_id: str) -> dict[str, Any]:
        """The fan's giveaway entries, (non-anonymous) poll votes and moderation record."""
        from bot.store.engagement_models import GiveawayEntry, PollVote
        from bot.store.moderation_models import ModerationItem

        who = f"{channel}:{external_id}"
        return {
            "giveaway_entries": [{"giveaway_id": e.giveaway_id, "display_name": e.display_name, "answer": e.answer,
                                  "at": e.created_at.isoformat()}
                                 for e in s.scalars(select(GiveawayEntry).where(GiveawayEntry.entrant == who))],
            "poll_votes": [{"poll_id": v.poll_id, "options": v.options, "at": v.updated_at.isoformat()}
                           for v in s.scalars(select(PollVote).where(PollVote.voter == who))],
            "moderation": [{"action": m.action, "rule": m.rule, "signal": m.signal, "status": m.status,
                            "chat_id": m.chat_id, "at": m.created_at.isoformat()}
                           for m in s.scalars(select(ModerationItem).where(ModerationItem.channel == channel,
                                                                           ModerationItem.user_id == external_id))],
        }

    def erase_contact(self, channel: str, external_id: str, actor: str = "cli", copies: Any = None) -> bool:
        """Erase a fan's personal data: message texts, NLU results, transcripts, name (GDPR erasure).
        Row skeletons stay so that counts and the audit chain remain consistent."""
        with self.session() as s:
            c = self.find_contact(s, channel, external_id)
            if c is None:
                return False
            conv_ids = list(s.scalars(select(Conversation.id).where(Conversation.contact_id == c.id)))
            msg_ids = list(s.scalars(select(Message.id).where(Message.conversation_id.in_(conv_ids))))
            from bot.privacy import erase_copies, pseudonym

            erase_copies(s, conv_ids, copies)  # Slack posts and rows, review labels (before texts go)
            if msg_ids:
                for r in s.scalars(select(NLUResult).where(NLUResult.message_id.in_(msg_ids))):
                    r.entities = []
                s.execute(update(Message).where(Message.id.in_(msg_ids)).values(text="", payload={}))
            s.execute(update(Escalation).where(Escalation.conversation_id.in_(conv_ids)).values(transcript=[]))
            s.execute(update(Conversation).where(Conversation.id.in_(conv_ids)).values(state={}))
            alias = pseudonym(s, channel, external_id)  # HMAC with the per-install secret
            _erase_engagement_and_moderation(s, channel, external_id, alias)
            c.display_name = None
            c.external_id = alias
            c.erased_at = utcnow()
            self.audit(s, "privacy.erased", actor=actor, data={"contact_id": c.id})
            return True


def _erase_engagement_and_moderation(s: Session, channel: str, external_id: str, pseudonym: str) -> None:
    """Giveaways: entries of giveaways still open are withdrawn; in closed ones the name and answer
    go, and the entrant id stays, because the published entries hash of the draw is over those ids
    (docs/verify-a-draw.md) and must stay verifiable. Poll votes and moderation records keep their
    counts under a pseudonym."""
    from bot.store.engagement_models import Giveaway, GiveawayEntry, PollVote
    from bot.store.moderation_models import ModerationItem, ModerationStrike

    who = f"{channel}:{external_id}"
    for e in list(s.scalars(select(GiveawayEntry).where(GiveawayEntry.entrant == who))):
        g = s.get(Giveaway, e.giveaway_id)
        if g is not None and g.status in ("scheduled", "open"):
            s.delete(e)
        else:
            e.display_name, e.answer = None, None
    s.execute(update(PollVote).where(PollVote.voter == who).values(voter=pseudonym))
    for model in (ModerationItem, ModerationStrike):
        s.execute(update(model).where(model.channel == channel, model.user_id == external_id)
                  .values(user_id=pseudonym))


def _in_memory(url: str) -> bool:
    return url.startswith("sqlite") and (url.rstrip("/").endswith(":memory:") or url.rstrip("/") in ("sqlite:", "sqlite:/"))


def _inbound_by_external_id(channel: str, external_id: str) -> Any:
    """(message id, conversation id, contact id, status) of a stored inbound message."""
    return (select(Message.id, Message.conversation_id, Conversation.contact_id, Message.status)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.channel == channel, Message.direction == "in", Message.external_id == external_id))


def _insert_ignoring_duplicates(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT DO NOTHING (SQLite, PostgreSQL), else None."""
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)


def _rows(result: Any) -> int:
    """Rows matched by an UPDATE (a CursorResult; typed loosely by SQLAlchemy's stubs)."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def to_json(value: Any) -> str:
    return json.dumps(value, default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o))
