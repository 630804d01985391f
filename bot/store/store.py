"""`Store`: short transactions over the models; every cross-process guarantee is a SQL statement.

- inbound dedup: the unique (channel, direction, external_id) constraint;
- one worker per inbound message: a conditional UPDATE that claims it with a lease;
- per-conversation ordering across processes: a lease row-lock on the conversation;
- escalation claim: `UPDATE ... WHERE state = 'open'`, so two operators cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, event, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.store.clean import display_name as clean_display_name
from bot.store.clean import storable, storable_value
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

    def __init__(self, url: str, echo: bool = False) -> None:
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

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as conn:
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
        self.engine.dispose()

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
        now = utcnow()
        stmt = (update(Message)
                .where(Message.id == message_id, Message.direction == "in",
                       or_(Message.status == "received",
                           and_(Message.status == "processing", Message.lease_until < now)))
                .values(status="processing", lease_until=now + timedelta(seconds=lease_s),
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
        now = utcnow()
        with self.session() as s:
            q = select(Message.id).where(Message.direction == "in", or_(
                Message.status == "received", and_(Message.status == "processing", Message.lease_until < now)))
            if channel:
                q = q.where(Message.channel == channel)
            return list(s.scalars(q.order_by(Message.id).limit(limit)))

    # -- conversation lease -----------------------------------------------------------------
    def try_lock_conversation(self, conversation_id: int, owner: str, ttl_s: float = 30.0) -> bool:
        now = utcnow()
        with self.session() as s:
            res = s.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id,
                       or_(Conversation.lock_owner.is_(None), Conversation.lock_owner == owner,
                           Conversation.lock_until < now))
                .values(lock_owner=owner, lock_until=now + timedelta(seconds=ttl_s))
            )
            return bool(_rows(res))

    def unlock_conversation(self, conversation_id: int, owner: str) -> None:
        with self.session() as s:
            s.execute(update(Conversation)
                      .where(Conversation.id == conversation_id, Conversation.lock_owner == owner)
                      .values(lock_owner=None, lock_until=None))

    # -- outbox -----------------------------------------------------------------------------
    def claim_outbound(self, conversation_id: int | None = None, channel: str | None = None,
                       lease_s: float = 30.0, limit: int = 50) -> list[Message]:
        """Lease pending outbound messages, oldest first; for one conversation only the head of its queue."""
        now = utcnow()
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
                                .values(status="sending", lease_until=now + timedelta(seconds=lease_s),
                                        attempts=Message.attempts + 1))
                if _rows(res):
                    seen_convs.add(m.conversation_id)
                    claimed.append(m)
        return claimed

    def _claim_head(self, conversation_id: int, now: datetime, lease_s: float) -> list[Message]:
        """The hot path after each reply: lease the oldest unsent message of one conversation, if
        it is due (two statements; a newer message never overtakes an older one)."""
        with self.session() as s:
            head = s.scalar(select(Message).where(
                Message.conversation_id == conversation_id, Message.direction == "out",
                Message.status.in_(("pending", "sending"))).order_by(Message.id).limit(1))
            if head is None:
                return []
            if head.status == "sending" and (head.lease_until is None or head.lease_until >= now):
                return []  # another worker is sending it
            if head.next_attempt_at is not None and head.next_attempt_at > now:
                return []  # waiting for its retry time; later messages wait behind it
            head.claimed_from = head.status  # type: ignore[attr-defined]  # the update below syncs `status`
            res = s.execute(update(Message).where(Message.id == head.id, Message.status == head.status)
                            .values(status="sending", lease_until=now + timedelta(seconds=lease_s),
                                    attempts=Message.attempts + 1))
            return [head] if _rows(res) else []

    def mark_sent(self, message_id: int, external_id: str | None) -> None:
        values: dict[str, Any] = {"status": "sent", "handled_at": utcnow(), "lease_until": None}
        if external_id is not None:
            values["external_id"] = external_id
        with self.session() as s:
            s.execute(update(Message).where(Message.id == message_id).values(**values))

    def renew_outbound_lease(self, message_id: int, lease_s: float) -> bool:
        """Extend the lease of a send in progress (a reply waiting in a rate limiter is still ours)."""
        with self.session() as s:
            return bool(_rows(s.execute(update(Message).where(Message.id == message_id, Message.status == "sending")
                                        .values(lease_until=utcnow() + timedelta(seconds=lease_s)))))

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
                m.next_attempt_at = utcnow() + timedelta(seconds=retry_in_s)

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
