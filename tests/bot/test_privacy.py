"""Privacy (issue 12, item 7): salted pseudonyms, erasure of review labels and training examples,
no SQL parameters in errors or logs, and the retention policy with its dry run and daily claim."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import privacy
from bot.cli import main
from bot.store import AuditEvent, Contact, Message, NLUResult, Store
from bot.store.models import utcnow
from bot.store.moderation_models import ModerationItem
from bot.store.settings_models import RuntimeSetting
from bot.store.slack_models import SlackPost
from nlu.review import PENDING, REVIEWED, _read, _write
from nlu.training_data import Example, TrainingData


def test_erased_pseudonym_is_a_salted_hmac_not_the_plain_hash(store):
    from bot.store.engagement_models import PollVote

    store.record_inbound(channel="telegram", external_id="1", chat_id="c1", user_id="4242", text="hi")
    with store.session() as s:
        s.add(PollVote(poll_id=1, voter="telegram:4242", options=[0]))
    assert privacy.erase(store, "telegram", "4242").found
    with store.session() as s:
        alias = s.scalars(select(Contact)).one().external_id
        secret = s.get(RuntimeSetting, privacy.SECRET_KEY).value["hmac_sha256"]
        assert s.scalars(select(PollVote)).one().voter == alias
    plain = hashlib.sha256(b"telegram:4242").hexdigest()
    assert alias.startswith("erased:") and plain[:16] not in alias and plain not in alias
    expected = hmac.new(bytes.fromhex(secret), b"telegram:4242", hashlib.sha256).hexdigest()[:24]
    assert alias == f"erased:{expected}"
    with store.session() as s:  # one secret per install: the second use reads the same one
        assert privacy.install_secret(s).hex() == secret


def test_erase_removes_review_labels_and_training_examples(store, tmp_path):
    from bot.review import record_decision, text_key
    from bot.store.review_models import ReviewDecision

    mine, other = "my blender hums like a bee since tuesday", "where is my parcel"
    store.record_inbound(channel="telegram", external_id="1", chat_id="c1", user_id="77", text=mine)
    record_decision(store, [mine], decision="relabel", label="complaint", predicted="faq", occurrences=1,
                    operator="t")
    record_decision(store, [other], decision="accept", label="order_status", predicted="order_status",
                    occurrences=1, operator="t")
    _write(tmp_path / REVIEWED, TrainingData(examples=[Example(mine.upper(), "complaint"),
                                                       Example(other, "order_status")]))
    _write(tmp_path / PENDING, TrainingData(examples=[Example(mine, "blender_noise")]))
    data = privacy.export(store, "telegram", "77", tmp_path)
    assert {e["file"] for e in data["training_examples"]} == {"reviewed.yml", "new_intents.yml"}
    res = privacy.erase(store, "telegram", "77", training_dir=tmp_path)
    assert (res.review_labels, res.training_examples) == (1, 2)
    assert [e.text for e in _read(tmp_path / REVIEWED).examples] == [other]
    assert not (tmp_path / PENDING).exists()
    with store.session() as s:
        assert list(s.scalars(select(ReviewDecision.text_key))) == [text_key(other)]


def test_a_failing_statement_never_shows_its_parameters(store, caplog):
    store.dispose()
    loud = Store(store.url, echo=True)  # echo logs every statement: parameters must stay hidden there too
    caplog.set_level(logging.INFO)
    with loud.session() as s:
        s.add(Contact(channel="t", external_id="dup", display_name="first"))
    with pytest.raises(IntegrityError) as err:
        with loud.session() as s:
            s.add(Contact(channel="t", external_id="dup", display_name="Zelda Secretname +44 7700 900123"))
    logging.getLogger("fancare.test").error("store failed: %s", err.value)
    assert "Secretname" not in str(err.value) and "parameters hidden" in str(err.value)
    assert "Secretname" not in caplog.text and "7700" not in caplog.text
    loud.dispose()


def _seed_old_and_new(store: Store) -> None:
    old = utcnow() - timedelta(days=400)
    for ext, text in (("old", "old words"), ("new", "new words")):
        rec = store.record_inbound(channel="t", external_id=ext, chat_id="c", user_id="f", text=text)
        with store.session() as s:
            m = s.get(Message, rec.message_id)
            m.status = "handled"
            s.add(NLUResult(message_id=m.id, intent="faq", confidence=0.9))
            s.add(ModerationItem(channel="t", chat_id="c", user_id="f", action="hide", rule="r", status="acted"))
            s.add(SlackPost(escalation_id=0, kind="alert", channel="C1", text=text, status="sent"))
    with store.session() as s:
        m = s.scalars(select(Message).where(Message.external_id == "old")).one()
        m.created_at = old
        s.execute(NLUResult.__table__.update().where(NLUResult.message_id == m.id).values(created_at=old))
        s.execute(ModerationItem.__table__.update().where(ModerationItem.id == 1).values(created_at=old))
        s.execute(SlackPost.__table__.update().where(SlackPost.text == "old words").values(created_at=old))
        s.add(AuditEvent(kind="old.event", at=utcnow() - timedelta(days=800)))


def test_retention_dry_run_counts_and_the_real_run_changes_only_old_rows(store):
    _seed_old_and_new(store)
    days = {"messages": 365, "transcripts": 365, "nlu_results": 180, "moderation": 90, "slack_posts": 90,
            "audit": 730}
    dry = privacy.apply_retention(store, days, dry_run=True)
    assert dry.counts == {"messages": 1, "transcripts": 0, "nlu_results": 1, "moderation": 1, "slack_posts": 1,
                          "audit": 1}
    assert "would be" in dry.describe()
    with store.session() as s:  # nothing changed
        assert sorted(s.scalars(select(Message.text))) == ["new words", "old words"]
        assert len(list(s.scalars(select(NLUResult.id)))) == 2
    real = privacy.apply_retention(store, {**days, "audit": None})
    assert real.counts == {k: v for k, v in dry.counts.items() if k != "audit"}
    with store.session() as s:
        assert sorted(s.scalars(select(Message.text))) == ["", "new words"]
        assert len(list(s.scalars(select(NLUResult.id)))) == 1
        assert len(list(s.scalars(select(ModerationItem.id)))) == 1
        assert list(s.scalars(select(SlackPost.text))) == ["new words"]
        assert s.scalar(select(AuditEvent).where(AuditEvent.kind == "old.event")) is not None  # kept: null
    assert privacy.apply_retention(store, days, dry_run=True).counts["messages"] == 0  # idempotent


def test_retention_runs_once_a_day_across_processes(store):
    now = utcnow().replace(hour=3)
    other = Store(store.url)
    assert privacy.claim_daily_retention(store, now)
    assert not privacy.claim_daily_retention(other, now + timedelta(hours=5))
    assert privacy.claim_daily_retention(other, now + timedelta(days=1))
    other.dispose()


DEMO_RETENTION = {"messages": 365, "transcripts": 365, "nlu_results": 180, "moderation": 90, "slack_posts": 90,
                  "audit": 730}  # as the shipped config.yml sets them


def test_retention_keeps_everything_unless_config_names_a_limit():
    from bot.config import FancareConfig

    assert all(v is None for v in FancareConfig().privacy.retention_days.model_dump().values())


def test_cli_privacy_retention(tmp_path, store_url, model_dir, capsys):
    from bot.config import load_config
    from tests.conftest import write_config

    config_path = write_config(tmp_path, store_url, model_dir, privacy={"retention_days": DEMO_RETENTION})
    store = Store(load_config(config_path).store_url())
    store.migrate()
    _seed_old_and_new(store)
    assert main(["privacy", "retention", "--dry-run", "--config", str(config_path)]) == 0
    out = capsys.readouterr().out
    assert "messages: 1 would be anonymised (older than 365 days)" in out
    assert "nlu_results: 1 would be deleted" in out
    assert main(["privacy", "retention", "--config", str(config_path)]) == 0
    assert "messages: 1 were anonymised" in capsys.readouterr().out
    assert main(["privacy", "erase", "--config", str(config_path)]) == 2
    store.dispose()


def test_erase_queues_slack_erasures_and_drops_the_outbox_rows(store):
    from bot.store import Conversation, Escalation
    from bot.store.slack_models import SlackTicket

    rec = store.record_inbound(channel="telegram", external_id="1", chat_id="c1", user_id="55", text="help me")
    with store.session() as s:
        esc = Escalation(conversation_id=rec.conversation_id, queue="general", priority="normal")
        item = ModerationItem(channel="telegram", chat_id="c1", user_id="55", action="hide", rule="r",
                              conversation_id=rec.conversation_id, message_id=rec.message_id, status="acted")
        s.add_all([esc, item])
        s.flush()
        s.add(SlackTicket(escalation_id=esc.id, channel="CCARE", ts="1.1"))
        s.add_all([SlackPost(escalation_id=esc.id, kind="card", channel="#care", text="help me", status="sent", ts="1.1"),
                   SlackPost(escalation_id=esc.id, kind="fan", channel="#care", text="help me", status="sent", ts="1.2"),
                   SlackPost(escalation_id=esc.id, kind="fan", channel="#care", text="more", status="pending"),
                   SlackPost(escalation_id=0, kind="modreview", channel="CMOD", text=f"Moderation: hide (#{item.id})",
                             status="sent", ts="2.1"),
                   SlackPost(escalation_id=0, kind="modreview", channel="CMOD", text=f"Moderation: hide (#{item.id}0)",
                             status="sent", ts="2.2")])
        esc_id = esc.id
    res = privacy.erase(store, "telegram", "55")
    assert (res.slack_messages, res.slack_rows) == (3, 4)
    with store.session() as s:
        rows = list(s.scalars(select(SlackPost).order_by(SlackPost.id)))
        assert [(r.kind, r.text) for r in rows][0][1].endswith("0)")  # someone else's review post stays
        erased = [(r.escalation_id, r.channel, r.blocks[0]["ts"], r.blocks[0]["action"]) for r in rows[1:]]
        assert erased == [(esc_id, "CCARE", "1.1", "update"), (esc_id, "CCARE", "1.2", "delete"),
                          (0, "CMOD", "2.1", "delete")]
        assert all(r.text == privacy.ERASED_TEXT for r in rows[1:])
        assert s.get(Conversation, rec.conversation_id) is not None


async def test_the_daily_job_applies_the_policy_once(store):
    import asyncio

    from bot.config import FancareConfig

    _seed_old_and_new(store)
    stop = asyncio.Event()
    cfg = FancareConfig.model_validate({"privacy": {"retention_days": DEMO_RETENTION}})
    jobs = [asyncio.create_task(privacy.run_retention(store, cfg, stop, interval_s=0.05)) for _ in range(2)]
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*jobs)
    with store.session() as s:
        assert sorted(s.scalars(select(Message.text))) == ["", "new words"]
        runs = list(s.scalars(select(AuditEvent).where(AuditEvent.kind == "privacy.retention")))
        assert len(runs) == 1 and runs[0].data["counts"]["nlu_results"] == 1
