"""Privacy: erasure that reaches every copy of a fan's words, salted pseudonyms, and retention.

- `erase`: the store's erasure (`Store.erase_contact`: texts, transcripts, name, engagement and
  moderation records) plus the copies outside those tables: the fan's Slack card and thread posts
  (the card is edited to `ERASED_TEXT`, the relayed messages deleted, through the durable Slack
  outbox so Slack being down only delays it), their `slack_posts` rows, the review labels keyed by
  their wordings, and their texts in `training_data/reviewed.yml` (and the pending new-intent file).
- `pseudonym`: the erased fan's id is an HMAC-SHA256 with a per-install secret that is generated
  once and kept in `runtime_settings` (`privacy_secret`), so nobody can recompute it from the
  Telegram id alone.
- `apply_retention`: per kind of data (`privacy.retention_days` in config.yml), rows older than
  the limit are deleted or anonymised; `dry_run` only counts. `claim_daily_retention` makes
  `fancare run` apply it once a day across all processes (a conditional UPDATE on one row).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import AuditEvent, Conversation, Escalation, Message, NLUResult, utcnow
from bot.store.settings_models import RuntimeSetting

if TYPE_CHECKING:
    from bot.config import FancareConfig
    from bot.store import Store

log = logging.getLogger("fancare.privacy")
ERASED_TEXT = "[erased at the fan's request]"
SECRET_KEY = "privacy_secret"
RETENTION_KEY = "privacy_retention"


# -- salted pseudonyms ------------------------------------------------------------------------------
def install_secret(s: Session) -> bytes:
    """The per-install pseudonym key: generated on first use, then the same for every process."""
    value = s.scalar(select(RuntimeSetting.value).where(RuntimeSetting.key == SECRET_KEY))
    if not value:
        try:
            with s.begin_nested():
                s.add(RuntimeSetting(key=SECRET_KEY, value={"hmac_sha256": secrets.token_hex(32)},
                                     updated_by="fancare", updated_at=utcnow()))
        except IntegrityError:
            pass  # another process created it first: use theirs
        value = s.scalar(select(RuntimeSetting.value).where(RuntimeSetting.key == SECRET_KEY)
                         .execution_options(populate_existing=True))
    return bytes.fromhex(str((value or {})["hmac_sha256"]))


def pseudonym(s: Session, channel: str, external_id: str) -> str:
    digest = hmac.new(install_secret(s), f"{channel}:{external_id}".encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:24]}"


# -- erasure ------------------------------------------------------------------------------------------
@dataclass
class EraseResult:
    found: bool
    slack_messages: int = 0  # Slack messages queued for chat.update / chat.delete
    slack_rows: int = 0  # slack_posts rows removed
    review_labels: int = 0
    training_examples: int = 0

    def describe(self) -> str:
        if not self.found:
            return "no such fan"
        return (f"erased; {self.slack_messages} Slack message(s) queued for erasure, {self.slack_rows} Slack "
                f"outbox row(s) removed, {self.review_labels} review label(s) and {self.training_examples} "
                f"training example(s) removed")


def _fan_texts(s: Session, conv_ids: list[int]) -> list[str]:
    if not conv_ids:
        return []
    return [t for t in s.scalars(select(Message.text).where(Message.conversation_id.in_(conv_ids),
                                                            Message.direction == "in", Message.text != ""))]


def erase_copies(s: Session, conv_ids: list[int], result: EraseResult | None = None) -> EraseResult:
    """Inside `Store.erase_contact`'s transaction, before the texts are wiped: the Slack posts and
    outbox rows of the fan's escalations and the review labels of their wordings."""
    from bot.review import text_key
    from bot.store.moderation_models import ModerationItem
    from bot.store.review_models import ReviewDecision
    from bot.store.slack_models import SlackPost, SlackTicket

    res = result or EraseResult(found=True)
    if not conv_ids:
        return res
    texts = _fan_texts(s, conv_ids)
    keys = sorted({text_key(t) for t in texts})
    for i in range(0, len(keys), 500):
        res.review_labels += int(getattr(s.execute(delete(ReviewDecision).where(
            ReviewDecision.text_key.in_(keys[i:i + 500]))), "rowcount", 0) or 0)
    esc_ids = list(s.scalars(select(Escalation.id).where(Escalation.conversation_id.in_(conv_ids))))
    tickets = {t.escalation_id: t for t in s.scalars(select(SlackTicket).where(SlackTicket.escalation_id.in_(esc_ids)))}
    posts = list(s.scalars(select(SlackPost).where(SlackPost.escalation_id.in_(esc_ids), SlackPost.kind != "erase")
                           .order_by(SlackPost.id))) if esc_ids else []
    # moderation review posts quote the fan's message; they name the item as "(#ID)" (slack_moderation.py)
    for item_id in s.scalars(select(ModerationItem.id).where(ModerationItem.conversation_id.in_(conv_ids))):
        posts += list(s.scalars(select(SlackPost).where(SlackPost.escalation_id == 0, SlackPost.kind == "modreview",
                                                        SlackPost.text.contains(f"(#{item_id})"))))
    for p in posts:
        ticket = tickets.get(p.escalation_id)
        if p.status == "sent" and p.ts and p.kind not in ("update", "file"):
            where = ticket.channel if ticket is not None and ticket.ts else p.channel
            action = "update" if p.kind == "card" else "delete"
            s.add(SlackPost(escalation_id=p.escalation_id, kind="erase", channel=where, text=ERASED_TEXT,
                            blocks=[{"ts": p.ts, "action": action}], in_thread=False, status="pending", attempts=0))
            res.slack_messages += 1
        s.delete(p)
        res.slack_rows += 1
    return res


def erase_training_examples(training_dir: Path, texts: list[str]) -> int:
    """Remove the fan's texts from `reviewed.yml` and the pending new-intent file."""
    from nlu.review import PENDING, REVIEWED, _key, _read, _write
    from nlu.training_data import TrainingData

    wanted = {_key(t) for t in texts if _key(t)}
    removed = 0
    if not wanted:
        return 0
    for path in (training_dir / REVIEWED, training_dir / PENDING):
        if not path.exists():
            continue
        td = _read(path)
        keep = [e for e in td.examples if _key(e.text) not in wanted]
        if len(keep) != len(td.examples):
            removed += len(td.examples) - len(keep)
            _write(path, TrainingData(examples=keep))
    return removed


def erase(store: Store, channel: str, external_id: str, *, actor: str = "cli",
          training_dir: Path | None = None) -> EraseResult:
    """Erase a fan everywhere (see the module docstring). Slack edits go out with the next outbox pass."""
    with store.session() as s:
        c = store.find_contact(s, channel, external_id)
        if c is None:
            return EraseResult(found=False)
        texts = _fan_texts(s, list(s.scalars(select(Conversation.id).where(Conversation.contact_id == c.id))))
    res = EraseResult(found=True)
    if not store.erase_contact(channel, external_id, actor=actor, copies=res):
        return EraseResult(found=False)
    if training_dir is not None:
        res.training_examples = erase_training_examples(training_dir, texts)
    log.info("erased a fan (%s): %s Slack messages, %s outbox rows, %s labels, %s examples", channel,
             res.slack_messages, res.slack_rows, res.review_labels, res.training_examples)
    return res


def export(store: Store, channel: str, external_id: str, training_dir: Path | None = None) -> dict[str, Any] | None:
    """`Store.export_contact` plus the copies: Slack posts about the fan, their reviewed examples."""
    from bot.store.slack_models import SlackPost
    from nlu.review import PENDING, REVIEWED, _key, _read

    data = store.export_contact(channel, external_id)
    if data is None:
        return None
    with store.session() as s:
        c = store.find_contact(s, channel, external_id)
        assert c is not None
        conv_ids = list(s.scalars(select(Conversation.id).where(Conversation.contact_id == c.id)))
        texts = _fan_texts(s, conv_ids)
        esc_ids = list(s.scalars(select(Escalation.id).where(Escalation.conversation_id.in_(conv_ids)))) if conv_ids else []
        data["slack_posts"] = [{"escalation_id": p.escalation_id, "kind": p.kind, "text": p.text, "status": p.status,
                                "at": p.created_at.isoformat()}
                               for p in s.scalars(select(SlackPost).where(SlackPost.escalation_id.in_(esc_ids))
                                                  .order_by(SlackPost.id))] if esc_ids else []
    wanted = {_key(t) for t in texts}
    examples: list[dict[str, str]] = []
    if training_dir is not None:
        for path in (training_dir / REVIEWED, training_dir / PENDING):
            if path.exists():
                examples += [{"text": e.text, "intent": e.intent, "file": path.name}
                             for e in _read(path).examples if _key(e.text) in wanted]
    data["training_examples"] = examples
    return data


# -- retention ----------------------------------------------------------------------------------------
@dataclass
class RetentionReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)  # kind -> rows deleted / anonymised (or that would be)
    days: dict[str, int | None] = field(default_factory=dict)

    def describe(self) -> str:
        verb = "would be" if self.dry_run else "were"
        lines = [f"{kind}: {n} {verb} {'anonymised' if kind in ANONYMISED else 'deleted'}"
                 f" (older than {self.days[kind]} days)" for kind, n in self.counts.items()]
        skipped = [k for k, d in self.days.items() if d is None]
        if skipped:
            lines.append("kept forever: " + ", ".join(skipped))
        return "\n".join(lines)


ANONYMISED = ("messages", "transcripts")


def _retention_statements(kind: str, cutoff: datetime) -> list[tuple[Any, Any]]:
    """(count query, change statement) pairs for one kind of data."""
    from bot.store.moderation_models import ModerationItem, ModerationStrike
    from bot.store.slack_models import SlackPost

    where: tuple[Any, ...]
    if kind == "messages":  # text and payload go; the row stays for counts and the outbox's bookkeeping
        where = (Message.created_at < cutoff, Message.text != "",
                 Message.status.in_(("handled", "sent", "dead", "failed")))
        return [(select(func.count()).select_from(Message).where(*where),
                 update(Message).where(*where).values(text="", payload={}))]
    if kind == "transcripts":
        where = (Escalation.created_at < cutoff, Escalation.state.in_(("resolved", "handed_back")),
                 cast(Escalation.transcript, String) != "[]")
        return [(select(func.count()).select_from(Escalation).where(*where),
                 update(Escalation).where(*where).values(transcript=[]))]
    if kind == "nlu_results":
        return [(select(func.count()).select_from(NLUResult).where(NLUResult.created_at < cutoff),
                 delete(NLUResult).where(NLUResult.created_at < cutoff))]
    if kind == "moderation":
        return [(select(func.count()).select_from(ModerationItem).where(ModerationItem.created_at < cutoff,
                                                                       ModerationItem.status != "pending"),
                 delete(ModerationItem).where(ModerationItem.created_at < cutoff, ModerationItem.status != "pending")),
                (select(func.count()).select_from(ModerationStrike).where(ModerationStrike.at < cutoff),
                 delete(ModerationStrike).where(ModerationStrike.at < cutoff))]
    if kind == "slack_posts":
        where = (SlackPost.created_at < cutoff, SlackPost.status.in_(("sent", "dead")))
        return [(select(func.count()).select_from(SlackPost).where(*where), delete(SlackPost).where(*where))]
    if kind == "audit":  # the only deletion the append-only log allows: whole rows past retention
        return [(select(func.count()).select_from(AuditEvent).where(AuditEvent.at < cutoff),
                 delete(AuditEvent).where(AuditEvent.at < cutoff))]
    raise ValueError(f"unknown kind of data: {kind}")


def apply_retention(store: Store, retention_days: dict[str, int | None], *, dry_run: bool = False,
                    now: datetime | None = None, actor: str = "retention") -> RetentionReport:
    now = now or utcnow()
    rep = RetentionReport(dry_run=dry_run, days=dict(retention_days))
    with store.session() as s:
        for kind, days in retention_days.items():
            if days is None:
                continue
            cutoff = now - timedelta(days=days)
            total = 0
            for count_q, change in _retention_statements(kind, cutoff):
                total += int(s.scalar(count_q) or 0)
                if not dry_run:
                    s.execute(change.execution_options(synchronize_session=False))
            rep.counts[kind] = total
        if not dry_run:
            store.audit(s, "privacy.retention", actor=actor, data={"counts": rep.counts})
    return rep


def claim_daily_retention(store: Store, now: datetime | None = None) -> bool:
    """True for exactly one caller per UTC day, across processes (a conditional UPDATE)."""
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with store.session() as s:
        if s.get(RuntimeSetting, RETENTION_KEY) is None:
            try:
                with s.begin_nested():
                    s.add(RuntimeSetting(key=RETENTION_KEY, value={}, updated_by="retention",
                                         updated_at=today - timedelta(days=1)))
            except IntegrityError:
                pass
    with store.session() as s:
        res = s.execute(update(RuntimeSetting).where(RuntimeSetting.key == RETENTION_KEY,
                                                     RuntimeSetting.updated_at < today)
                        .values(updated_at=now, value={"last_run": today.date().isoformat()}))
        return int(getattr(res, "rowcount", 0) or 0) == 1


def retention_days(cfg: FancareConfig) -> dict[str, int | None]:
    return cfg.privacy.retention_days.model_dump()


async def run_retention(store: Store, cfg: FancareConfig, stop: asyncio.Event, interval_s: float = 3600.0) -> None:
    """`fancare run`: apply the retention policy once a day (whichever process claims the day)."""
    while not stop.is_set():
        try:
            if await asyncio.to_thread(claim_daily_retention, store):
                rep = await asyncio.to_thread(apply_retention, store, retention_days(cfg))
                log.info("retention applied: %s", rep.counts)
        except Exception as exc:  # noqa: BLE001 - try again next hour; never stop the bot
            log.warning("retention failed: %s", type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass


def training_dir_of(cfg: FancareConfig) -> Path:
    from bot.review_cli import training_dir

    return training_dir(cfg)

