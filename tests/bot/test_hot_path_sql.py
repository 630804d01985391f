"""The message path's round trips to the database (BENCHMARKS.md section 4) and the store's work off
the event loop: counts, not times, so they hold on a loaded machine."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from sqlalchemy import event

from bot.store.counting import SQLCounter
from tests.fakes.recording_channel import RecordingChannel, fan_message

#: one FAQ question of a known fan, answered and sent, in transactions: record (SELECT, INSERT), lease +
#: claim + read (2 UPDATE, 2 SELECT), the open-giveaway lookup (dialogs/engagement.py), the crisis switch
#: (moderation/playbook.py, read once per 2 s), results (3 INSERT, 2 UPDATE), outbox head claim (SELECT,
#: UPDATE), sent + "anything more?" (UPDATE, SELECT). Before the rework: about 27 statements in 8.4.
MAX_STATEMENTS = 17
MAX_TRANSACTIONS = 7


async def test_one_message_of_a_known_fan_stays_within_its_round_trips(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    await app.pipeline.handle(fan_message("hello!"))  # the contact and conversation exist from here on
    with SQLCounter(app.store.engine) as counter:
        res = await app.pipeline.handle(fan_message("how long does shipping to Germany take?"))
    assert res.debug["article"] == "shipping-times" and len(ch.sent) == 2  # the whole path ran
    got = counter.snapshot()
    print("statements / transactions per message:", got)
    assert got["statements"] <= MAX_STATEMENTS, got
    assert got["transactions"] <= MAX_TRANSACTIONS, got
    assert got["rollbacks"] == 0, got


async def test_a_redelivery_is_one_short_transaction(app):
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    msg = fan_message("hello!", ext="redelivered-1")
    await app.pipeline.handle(msg)
    with SQLCounter(app.store.engine) as counter:
        res = await app.pipeline.handle(msg)
    assert res.duplicate and len(ch.sent) == 1
    got = counter.snapshot()
    # record (SELECT, INSERT .. ON CONFLICT DO NOTHING, SELECT the first one) + the outbox head claim
    assert got["statements"] <= 5 and got["transactions"] <= 2, got


async def test_store_work_runs_off_the_event_loop(app):
    """While a message's SQL runs, the loop keeps going: every statement of `handle` runs on one of the
    store's threads, and a slow statement does not stop other coroutines."""
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    threads: set[str] = set()

    def seen(*_: object) -> None:
        threads.add(threading.current_thread().name)

    event.listen(app.store.engine, "before_cursor_execute", seen)
    try:
        await app.pipeline.handle(fan_message("hi there"))
    finally:
        event.remove(app.store.engine, "before_cursor_execute", seen)
    loop_thread = threading.current_thread().name
    # the moderation strikes read stays on the loop (moderation/service.py); everything else is off it
    assert threads and any(t.startswith("fancare-store") for t in threads), threads
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await app.store.run(time.sleep, 0.3)  # a slow store call
    task.cancel()
    assert ticks >= 10, f"the loop ({loop_thread}) was blocked: {ticks} ticks in 0.3 s"


async def test_warm_loads_every_encoder_and_the_language_identifier(app):
    """`Pipeline.warm` (awaited by `process` before its first parse) leaves nothing for a message to
    wait for on the event loop: each encoder of the model is in the encoders' cache, the knowledge
    base's index is built for each and the language identifier is ready."""
    from nlu import encoders, language

    await app.pipeline.warm()
    model = app.pipeline.nlu.model
    for name in model.encoder_names:
        assert (name, model.encoder_paths.get(name)) in encoders._cache, name
    assert language._cached_identifier.cache_info().currsize >= 1
    assert set(model.encoder_names) <= set(app.pipeline.policy.kb._indexes)  # FAQ answers encode nothing more
    await app.pipeline.warm()  # a second call is the same finished load
    assert app.pipeline._warming is not None and app.pipeline._warming[1].done()


async def test_messages_of_many_fans_at_once_commit_in_shared_transactions(app):
    """64 fans writing at once (the benchmark's concurrent case): every one is answered once, and the
    results of messages that finish together share commits (`Pipeline._commit_soon`)."""
    from sqlalchemy import func, select

    from bot.store import Message

    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    fans = [f"fan-{i}" for i in range(64)]
    await asyncio.gather(*(app.pipeline.handle(fan_message("hello!", user=u)) for u in fans))  # contacts exist
    with SQLCounter(app.store.engine) as counter:
        await asyncio.gather(*(app.pipeline.handle(fan_message("how long does shipping to Germany take?", user=u))
                               for u in fans))
    per_fan = Counter(s.chat_id for s in ch.sent)
    assert set(per_fan) == {f"chat-{u}" for u in fans} and len(set(per_fan.values())) == 1, per_fan
    assert app.pipeline.metrics["batched_commits"] >= 1
    with app.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "in", Message.status != "handled")) == 0
        assert s.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "out", Message.status != "sent")) == 0
    got = counter.snapshot()
    print("64 fans at once, per message:", {k: v / 64 for k, v in got.items() if isinstance(v, int)})
    assert got["transactions"] < 64 * MAX_TRANSACTIONS, got


def test_a_new_fans_first_message_is_one_short_transaction(store):
    """Contact, conversation and message of a new fan: INSERTs that are no-ops on a race (ON CONFLICT
    DO NOTHING), no savepoints; a redelivery returns the first record and creates nothing."""
    from sqlalchemy import func, select

    from bot.store import Contact

    with SQLCounter(store.engine) as counter:
        first = store.record_inbound(channel="test", external_id="e1", chat_id="c1", user_id="new-fan", text="hi",
                                     display_name="Ana")
    got = counter.snapshot()
    assert first.created and got["statements"] <= 5 and got["transactions"] == 1, got
    again = store.record_inbound(channel="test", external_id="e1", chat_id="c1", user_id="new-fan", text="hi")
    assert (again.created, again.message_id, again.conversation_id, again.contact_id, again.status) == (
        False, first.message_id, first.conversation_id, first.contact_id, "received")
    store.erase_contact("test", "new-fan")  # the fan's id is replaced by a pseudonym
    late = store.record_inbound(channel="test", external_id="e1", chat_id="c1", user_id="new-fan", text="hi")
    assert not late.created and late.message_id == first.message_id
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1  # no contact for a redelivery
