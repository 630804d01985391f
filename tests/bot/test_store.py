from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from bot.store import AuditEvent, Conversation, Escalation
from bot.store.models import Base
from bot.store.store import AppendOnlyError


def test_migrations_match_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(store):
    store.migrate()


def test_inbound_is_recorded_once(store):
    a = store.record_inbound(channel="t", external_id="1", chat_id="c", user_id="u", text="hi")
    b = store.record_inbound(channel="t", external_id="1", chat_id="c", user_id="u", text="hi")
    assert a.created and not b.created and a.message_id == b.message_id
    assert store.claim_inbound(a.message_id)
    assert not store.claim_inbound(a.message_id)  # leased by the first worker


def test_escalation_claim_race_has_one_winner(store):
    rec = store.record_inbound(channel="t", external_id="2", chat_id="c", user_id="u", text="help")
    with store.session() as s:
        esc = Escalation(conversation_id=rec.conversation_id, queue="general", priority="normal")
        s.add(esc)
        s.flush()
        eid = esc.id
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        results.append(store.claim_escalation(eid, f"op{i}")[0])

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_conversation_lease_excludes_other_owners(store):
    rec = store.record_inbound(channel="t", external_id="3", chat_id="c", user_id="u", text="x")
    assert store.try_lock_conversation(rec.conversation_id, "a")
    assert not store.try_lock_conversation(rec.conversation_id, "b")
    store.unlock_conversation(rec.conversation_id, "a")
    assert store.try_lock_conversation(rec.conversation_id, "b")


def test_audit_log_is_append_only(store):
    with store.session() as s:
        store.audit(s, "test.event", data={"n": 1})
    with pytest.raises(AppendOnlyError), store.session() as s:
        ev = s.scalars(select(AuditEvent)).first()
        ev.kind = "changed"
        s.flush()


def test_export_and_erase_a_fan(store):
    store.record_inbound(channel="t", external_id="4", chat_id="c9", user_id="fan9", text="my email is a@b.example",
                         display_name="Kim")
    data = store.export_contact("t", "fan9")
    assert data["contact"]["display_name"] == "Kim"
    assert data["conversations"][0]["messages"][0]["text"] == "my email is a@b.example"
    assert store.erase_contact("t", "fan9")
    assert store.export_contact("t", "fan9") is None
    with store.session() as s:
        conv = s.scalars(select(Conversation)).one()
        assert conv.state == {}
    dump = repr([(m.text) for m in store.engine.connect().exec_driver_sql("select text from messages")])
    assert "a@b.example" not in dump


def test_erase_covers_giveaways_polls_and_moderation(store):
    from datetime import timedelta

    from bot.store.engagement_models import Giveaway, GiveawayEntry, PollVote
    from bot.store.models import utcnow
    from bot.store.moderation_models import ModerationItem, ModerationStrike

    store.record_inbound(channel="t", external_id="5", chat_id="c1", user_id="fan5", text="hi", display_name="Ana")
    with store.session() as s:
        closed = Giveaway(prize="watch", seed="00", commitment="c", status="closed", closes_at=utcnow(), created_by="x")
        running = Giveaway(prize="buds", seed="00", commitment="c", status="open",
                           closes_at=utcnow() + timedelta(days=1), created_by="x")
        s.add_all([closed, running])
        s.flush()
        s.add_all([GiveawayEntry(giveaway_id=closed.id, entrant="t:fan5", display_name="Ana Real", answer="blue"),
                   GiveawayEntry(giveaway_id=running.id, entrant="t:fan5", display_name="Ana Real"),
                   PollVote(poll_id=1, voter="t:fan5", options=[0]),
                   ModerationItem(channel="t", chat_id="c1", user_id="fan5", action="hide", rule="r", status="acted"),
                   ModerationStrike(channel="t", chat_id="c1", user_id="fan5", rule="r")])
        closed_id = closed.id
    data = store.export_contact("t", "fan5")
    assert [e["display_name"] for e in data["giveaway_entries"]] == ["Ana Real", "Ana Real"]
    assert data["poll_votes"][0]["options"] == [0] and data["moderation"][0]["action"] == "hide"
    assert store.erase_contact("t", "fan5")
    with store.session() as s:
        entries = list(s.scalars(select(GiveawayEntry)))
        assert [(e.giveaway_id, e.display_name, e.answer) for e in entries] == [(closed_id, None, None)]
        assert entries[0].entrant == "t:fan5"  # the published entries hash stays verifiable
        assert s.scalars(select(PollVote)).one().voter.startswith("erased:")
        assert s.scalars(select(ModerationItem)).one().user_id.startswith("erased:")
        assert s.scalars(select(ModerationStrike)).one().user_id.startswith("erased:")
