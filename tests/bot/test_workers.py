"""Receivers and workers (bot/workers.py, bot/store/work.py).

The work-queue claim on SQLite and PostgreSQL: each conversation's oldest unfinished message only,
oldest first, one owner per conversation, `SKIP LOCKED` past rows another worker holds, leases on
the database clock. End to end on PostgreSQL: a real receiver (`fancare run --role receiver`) polling
the fake Bot API and three worker processes: each fan's messages, spread over the workers, are
answered in order; a worker killed with SIGKILL mid-conversation loses nothing, and no reply goes
out twice except a send in flight at the kill."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from bot import cli
from bot.store import Conversation, Message, NLUResult, Store
from bot.store.work import claim_work
from tests.bot.channels.telegram_harness import TOKEN_ENV, telegram_config
from tests.bot.processes import CONNECTED, FancareProcesses, logged
from tests.conftest import write_config
from tests.fakes.telegram_server import TOKEN, FakeTelegram, message, user

CH = ["telegram"]


def _record(store: Store, chat: str, n: int, user_id: str | None = None) -> list[int]:
    return [store.record_inbound(channel="telegram", external_id=f"{chat}-{i}", chat_id=chat,
                                 user_id=user_id or chat, text=f"message {i}").message_id for i in range(n)]


def _finish(store: Store, message_id: int, owner: str) -> None:
    """What `Pipeline.process` does to a message and its conversation lease (claim, handle, release)."""
    assert store.claim_inbound(message_id)
    with store.session() as s:
        m = s.get(Message, message_id)
        assert m is not None
        m.status, m.lease_until = "handled", None
    with store.session() as s:
        conv_id = s.scalar(select(Message.conversation_id).where(Message.id == message_id))
    assert conv_id is not None
    store.unlock_conversation(conv_id, owner)


# -- the claim, one statement at a time ------------------------------------------------------------------
def test_claim_takes_the_oldest_message_of_each_conversation_oldest_first(store: Store) -> None:
    a = _record(store, "100", 3)
    b = _record(store, "200", 2)
    items = claim_work(store, "w1", channels=CH, limit=10)
    assert [i.message_id for i in items] == [a[0], b[0]]  # never a[1]: a[0] is older and unfinished
    assert claim_work(store, "w2", channels=CH, limit=10) == []  # both conversations are w1's now
    with store.session() as s:
        owners = {c.lock_owner for c in s.scalars(select(Conversation))}
    assert owners == {"w1"}
    _finish(store, a[0], "w1")
    assert [i.message_id for i in claim_work(store, "w2", channels=CH, limit=10)] == [a[1]]
    assert claim_work(store, "w3", channels=["slack"], limit=10) == []  # a channel this worker cannot answer


def test_claim_waits_behind_an_older_message_in_processing_and_retakes_an_expired_one(store: Store) -> None:
    a = _record(store, "100", 2)
    assert store.claim_inbound(a[0], lease_s=60)  # another process is on it, conversation lease already gone
    assert claim_work(store, "w1", channels=CH, limit=10) == []
    with store.session() as s:  # ... and dies: its lease runs out
        s.execute(update(Message).where(Message.id == a[0])
                  .values(lease_until=Message.lease_until - timedelta(seconds=120)))
    items = claim_work(store, "w1", channels=CH, limit=10)
    assert [(i.message_id, i.attempts) for i in items] == [(a[0], 1)]


def test_claim_limit_and_expired_conversation_leases(store: Store) -> None:
    ids = [_record(store, str(300 + i), 1)[0] for i in range(5)]
    first = claim_work(store, "w1", channels=CH, limit=2, lease_s=60)
    assert [i.message_id for i in first] == ids[:2]
    with store.session() as s:  # w1 died holding its two conversations
        s.execute(update(Conversation).values(lock_until=Conversation.lock_until - timedelta(seconds=120)))
    assert [i.message_id for i in claim_work(store, "w2", channels=CH, limit=10)] == ids


def test_simultaneous_claims_never_share_a_conversation(store: Store) -> None:
    for i in range(24):
        _record(store, str(1000 + i), 2)
    barrier = threading.Barrier(6)
    got: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for _ in range(3):
            mine += [i.conversation_id for i in claim_work(store, name, channels=CH, limit=3)]
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [c for mine in got.values() for c in mine]
    assert len(taken) == len(set(taken)) == 24, got


@pytest.mark.postgres
def test_claim_skips_rows_another_worker_has_locked(store: Store) -> None:
    if not store.clock.on_server:
        pytest.skip("row locks: PostgreSQL only")
    a = _record(store, "100", 1)[0]
    b = _record(store, "200", 1)[0]
    with store.engine.connect() as other:  # a worker in the middle of its claim of conversation "100"
        other.execute(text("SET lock_timeout = '2s'"))
        other.execute(text("SELECT id FROM conversations WHERE chat_id = '100' FOR UPDATE"))
        items = claim_work(store, "w2", channels=CH, limit=10)  # would block (then fail) without SKIP LOCKED
        assert [i.message_id for i in items] == [b]
        other.rollback()
    assert [i.message_id for i in claim_work(store, "w3", channels=CH, limit=10)] == [a]


@pytest.mark.postgres
def test_leases_are_measured_on_the_database_clock(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host whose clock is an hour slow writes leases that the other hosts would read as long
    expired, were they computed on its clock. On PostgreSQL they are the server's."""
    if not store.clock.on_server:
        pytest.skip("SQLite serves one process: its clock is the process clock")
    import bot.store.clock as clock
    import bot.store.store as store_module

    mid = _record(store, "100", 1)[0]
    other = _record(store, "200", 1)[0]
    real = clock.utcnow
    for module in (clock, store_module):  # every process clock the store could read
        monkeypatch.setattr(module, "utcnow", lambda: real() - timedelta(hours=1))  # the slow host
    assert store.claim_inbound(mid, lease_s=60)
    assert [i.message_id for i in claim_work(store, "slow", channels=CH, limit=5)] == [other]
    for module in (clock, store_module):
        monkeypatch.setattr(module, "utcnow", real)  # a host with the right time
    assert not store.claim_inbound(mid, lease_s=60)
    assert claim_work(store, "right", channels=CH, limit=5) == []
    with store.session() as s:
        lease = s.scalar(select(Message.lease_until).where(Message.id == mid))
        server_now = s.scalar(text("SELECT timezone('utc', now())"))
    assert lease is not None and timedelta(seconds=50) < lease - server_now <= timedelta(seconds=60)


async def test_a_message_that_failed_every_try_is_set_aside_and_the_fans_next_one_goes_on(app: Any) -> None:
    from bot.pipeline import MAX_INBOUND_ATTEMPTS
    from bot.workers import Worker

    store = app.store
    ids = _record(store, "100", 2)
    with store.session() as s:  # its last worker died on it, again and again
        s.execute(update(Message).where(Message.id == ids[0]).values(attempts=MAX_INBOUND_ATTEMPTS))
    items = claim_work(store, app.pipeline.owner, channels=CH, limit=5)
    assert [(i.message_id, i.attempts) for i in items] == [(ids[0], MAX_INBOUND_ATTEMPTS)]
    await Worker(app.pipeline, concurrency=1).handle(items[0])
    with store.session() as s:
        assert s.scalar(select(Message.status).where(Message.id == ids[0])) == "dead"
    assert [i.message_id for i in claim_work(store, "w2", channels=CH, limit=5)] == [ids[1]]


@pytest.mark.postgres
def test_processes_starting_together_on_a_new_database_migrate_it_once(store_url: str) -> None:
    """A receiver and workers started at once (docker compose) all run the migrations at start."""
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite serves one process")
    stores = [Store(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(st: Store) -> None:
        barrier.wait()
        try:
            st.migrate()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in stores:
        st.dispose()
    assert errors == []


# -- the command line ---------------------------------------------------------------------------------------
def test_run_and_worker_parse_role_and_concurrency() -> None:
    p = cli.build_parser()
    assert p.parse_args(["run"]).role == "all"
    args = p.parse_args(["run", "--role", "receiver"])
    assert (args.role, args.concurrency) == ("receiver", None)
    assert p.parse_args(["worker", "--concurrency", "4"]).concurrency == 4
    for bad in (["worker", "--concurrency", "0"], ["run", "--role", "boss"]):
        with pytest.raises(SystemExit):
            p.parse_args(bad)


def test_worker_without_a_channel_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "models")
    assert cli.main(["worker", "--config", str(config)]) == 2
    assert "--role worker needs a channel under channels:" in capsys.readouterr().err


# -- the roles in one process, on SQLite ----------------------------------------------------------------------
@pytest.mark.timeout(600)
async def test_a_receiver_only_records_and_a_worker_answers_in_order(
        telegram_server: FakeTelegram, tmp_path: Path, model_dir: Path, nlu_model: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.app import App
    from bot.config import load_config
    from bot.runner import run

    fake = telegram_server
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'fancare.db'}", model_dir, ops={"enabled": False},
                          channels={"telegram": telegram_config(fake)})
    receiver, worker = App(load_config(config), model=nlu_model), App(load_config(config), model=nlu_model)
    stop_r, stop_w = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(run(receiver, stop_r, role="receiver"))]
    chat = 5100
    try:
        for k in range(3):
            fake.push({"message": message(fake, chat, f"{TEXTS[k + 1]} #{k}", from_user=user(chat))})
        await fake.wait_for(lambda: len(_state(receiver.store)["in"]) == 3, timeout=60)
        await asyncio.sleep(1.5)  # time enough to answer, were the receiver answering
        assert {r.status for r in _state(receiver.store)["in"]} == {"received"}
        assert fake.texts(chat) == [] and fake.calls_of("sendChatAction")  # "typing..." comes from the receiver
        tasks.append(asyncio.create_task(run(worker, stop_w, role="worker", concurrency=4)))
        await fake.wait_for(lambda: _all_answered(worker.store, 3), timeout=300)
        _check_order(worker.store, fake, [chat])
        assert worker.pipeline.metrics["worker_processed"] == 3
        assert receiver.pipeline.metrics["worker_processed"] == 0 and receiver.pipeline.metrics["received"] == 3
    finally:
        stop_r.set()
        stop_w.set()
        assert await asyncio.wait_for(asyncio.gather(*tasks), 60) == [0] * len(tasks)
        receiver.close()
        worker.close()


# -- end to end: a receiver, three workers, one PostgreSQL ---------------------------------------------------
FANS = 6
PER_FAN = 5
LEASE_S = 12.0
TEXTS = ["hi there", "where is my order?", "what is your return policy?", "do you ship to Canada?",
         "thanks a lot!", "how long does the battery last?", "can I change my delivery address?"]


def _state(store: Store) -> dict[str, Any]:
    with store.session() as s:
        inbound = list(s.execute(select(Message.id, Message.conversation_id, Message.status)
                                 .where(Message.direction == "in").order_by(Message.id)))
        out = list(s.execute(select(Message.id, Message.conversation_id, Message.status, Message.text)
                             .where(Message.direction == "out").order_by(Message.id)))
        chats = dict(s.execute(select(Conversation.id, Conversation.chat_id)).tuples().all())
        nlu = dict(s.execute(select(NLUResult.message_id, NLUResult.id)).tuples().all())
    return {"in": inbound, "out": out, "chats": chats, "nlu": nlu}


def _all_answered(store: Store, n: int) -> bool:
    st = _state(store)
    return (len(st["in"]) >= n and all(r.status == "handled" for r in st["in"])
            and all(r.status in ("sent", "dead") for r in st["out"]))


def _records(paths: list[Path]) -> dict[int, int]:
    """message id -> index of the worker that processed it (a message a lease re-ran: the last one)."""
    who: dict[int, int] = {}
    for w, p in enumerate(paths):
        if p.exists():
            for line in p.read_text().splitlines():
                who[int(line.split()[0])] = w
    return who


def _push_round(fake: FakeTelegram, base: int, k: int) -> None:
    for f in range(FANS):
        chat = base + f
        fake.push({"message": message(fake, chat, f"{TEXTS[(f + k) % len(TEXTS)]} #{k}",
                                      from_user=user(chat, f"Fan{f}"))})


def _check_order(store: Store, fake: FakeTelegram, chats: list[int], allowed_dupes: int = 0) -> int:
    """Each fan's messages processed in arrival order, and the fan got the stored replies in order.
    Returns the number of repeated sends."""
    st = _state(store)
    by_conv: defaultdict[int, list[int]] = defaultdict(list)
    for r in st["in"]:
        by_conv[r.conversation_id].append(r.id)
    dupes = 0
    for conv_id, mids in by_conv.items():
        chat = int(st["chats"][conv_id])
        if chat not in chats:
            continue
        order = [st["nlu"][m] for m in mids if m in st["nlu"]]
        assert len(order) == len(mids), f"chat {chat}: a message has no NLU result"
        assert order == sorted(order), f"chat {chat}: processed out of arrival order {mids} -> {order}"
        stored = [r.text for r in st["out"] if r.conversation_id == conv_id]
        sent = fake.texts(chat)
        collapsed = [t for i, t in enumerate(sent) if i == 0 or t != sent[i - 1]]
        assert stored and (sent == stored or collapsed == [t for i, t in enumerate(stored)
                                                           if i == 0 or t != stored[i - 1]]), (chat, stored, sent)
        dupes += len(sent) - len(stored)
    assert dupes <= allowed_dupes, f"{dupes} replies sent twice, {allowed_dupes} were in flight at the kill"
    return dupes


@pytest.mark.postgres
@pytest.mark.timeout(900)
async def test_three_workers_answer_each_fan_in_order_and_survive_a_sigkill(
        telegram_server: FakeTelegram, tmp_path: Path, store_url: str, model_dir: Path) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("several processes share the work through PostgreSQL")
    fake = telegram_server
    config = write_config(tmp_path, store_url, model_dir, ops={"port": 0},
                          channels={"telegram": telegram_config(fake, typing_indicator=False)})
    store = Store(store_url)
    store.migrate()
    records = [tmp_path / f"worker{i}.txt" for i in range(3)]
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    async with FancareProcesses(grace_s=20, OMP_NUM_THREADS="1") as processes:
        processes.fancare(["run", "--role", "receiver", "--config", str(config)], tmp_path / "receiver.log")
        workers = [processes.module("tests.bot.worker_process", [str(config), str(records[i]), str(LEASE_S), "2"],
                                    logs[i]) for i in range(3)]
        await fake.wait_for(lambda: all(logged(p, CONNECTED) for p in logs), timeout=600)  # every worker can send
        # phase 1: each fan writes a message every ~0.3 s; three workers answer
        base = 7000
        for k in range(PER_FAN):
            _push_round(fake, base, k)
            await asyncio.sleep(0.3)
        n = FANS * PER_FAN
        await fake.wait_for(lambda: _all_answered(store, n), timeout=600)
        chats = [base + f for f in range(FANS)]
        _check_order(store, fake, chats)
        who = _records(records)
        st = _state(store)
        spread = Counter(len({who[r.id] for r in st["in"] if r.conversation_id == c and r.id in who})
                         for c in {r.conversation_id for r in st["in"]})
        assert len(set(who.values())) >= 2, f"one worker took all the work: {Counter(who.values())}"
        assert any(k >= 2 for k in spread), f"no fan's messages were spread over workers: {spread}"

        # phase 2: a burst from new fans; SIGKILL a worker while it holds a conversation
        base2 = 8000
        for k in range(PER_FAN):
            _push_round(fake, base2, k)

        def leased_by(worker: subprocess.Popen[bytes]) -> list[int]:
            """Messages `worker` is processing: leased, in a conversation whose lease it holds."""
            with store.session() as s:
                return list(s.scalars(select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
                                      .where(Message.direction == "in", Message.status == "processing",
                                             Conversation.lock_owner.contains(f":{worker.pid}:"))))

        await fake.wait_for(lambda: any(leased_by(w) for w in workers), timeout=300)
        v = next((i for i, w in enumerate(workers) if leased_by(w)), 0)  # the first caught mid-message
        victim = workers[v]
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        leased = leased_by(victim)  # what it was processing when it died
        with store.session() as s:
            in_flight = int(s.scalar(select(func.count(Message.id)).where(
                Message.direction == "out", Message.status == "sending")) or 0)
        assert leased, "the victim finished its message between the check and the kill: run again"
        await fake.wait_for(lambda: _all_answered(store, 2 * n), timeout=600)
        _check_order(store, fake, [base2 + f for f in range(FANS)], allowed_dupes=in_flight)
        survivors = _records([r for i, r in enumerate(records) if i != v])
        with store.session() as s:
            attempts = dict(s.execute(select(Message.id, Message.attempts).where(Message.id.in_(leased))).tuples().all())
        for mid in leased:  # re-run by a surviving worker after the lease ran out
            assert mid in survivors and attempts[mid] >= 2, (mid, attempts, survivors.get(mid))
    store.dispose()
